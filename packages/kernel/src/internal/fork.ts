/**
 * kernel/fork.c: a task is created here, either fresh (what the machine spawns: an empty mm and
 * the console on fds 0-2) or as fork's child (copy_process: the COW copy of the mm, the fd table
 * copied).
 */
import { Mm, Mmu, type MmuTarget, SignalError } from "@faultline/mm";
import { EFAULT } from "../constants";
import { SIGCHLD } from "../signal";
import { fatalSignal } from "./exit";
import { pageFault } from "./fault";
import { copyCloseOnExec } from "./fdtable";
import { openStdio } from "./fs";
import type { Kernel, Task } from "./kernel";
import { applyRlimits, defaultRlimits } from "./resource";
import { SigHand, TaskSignals } from "./sighand";
import { deliverPending, forceSigFault, runFrame } from "./signal";

/**
 * The MMU of one process: the mm package's Mmu, plus what the kernel does with a signal the hardware
 * raises (force_sig_fault): a handler the process installed runs, and the access throws a handled
 * SignalError (the process lives on); otherwise the process is dead before the SignalError reaches
 * the caller.
 */
class TaskMmu extends Mmu {
  constructor(
    target: MmuTarget,
    private readonly onSignal: (e: SignalError) => SignalError,
  ) {
    super(target);
  }
  override translate(addr: number, write: boolean): number {
    try {
      return super.translate(addr, write);
    } catch (e) {
      if (SignalError.is(e) && !e.handled) throw this.onSignal(e);
      throw e;
    }
  }
}

/**
 * A fault signal for `t`: runs its handler and returns the handled SignalError to throw (as if the
 * handler siglongjmp'd out), or ends the process and returns `e`.
 */
function faultSignal(k: Kernel, t: Task, e: SignalError): SignalError {
  const frame = e.signal === "SIGKILL" ? null : forceSigFault(t, e);
  if (!frame) {
    fatalSignal(k, t, e);
    return e;
  }
  if (typeof frame.handler === "function") runFrame(t, frame);
  else t.sig.blocked = frame.saved; // a handler address no runtime here can run: as if it returned at once
  // siglongjmp restores the mask with sigprocmask, whose return delivers what the mask held back.
  if (t.sig.pending !== 0n) deliverPending(k, t);
  return new SignalError(e.signal, e.code, e.addr, undefined, e.pkey, true);
}

/**
 * A task around `mm`, on the task list, its MMU faulting into this kernel. `thread`: a new thread of
 * that task's group (clone.ts: same mm, signal handlers, limits and fd table).
 */
export function newTask(k: Kernel, mm: Mm, parent: Task | null, comm: string, thread?: Task): Task {
  const target: MmuTarget = {
    mem: mm.mem,
    phys: mm.phys,
    get pgdRoot() {
      return mm.dead ? k.deadPgd : mm.pgd.root;
    },
    fault: (addr, write) => pageFault(k, t, addr, write),
    pkru: mm.pkru,
  };
  const mmu = new TaskMmu(target, (e) => faultSignal(k, t, e));
  const pid = k.nextPid++;
  const t: Task = {
    pid,
    tgid: thread ? thread.tgid : pid,
    group: thread ? thread.group : new Set(),
    minflt: 0,
    majflt: 0,
    nsyscalls: 0,
    comm,
    mm,
    mmu,
    state: "running",
    parent,
    exitCode: null,
    exitSignal: null,
    waitStatus: null,
    // copy_process(): -1 for a thread; fork's SIGCHLD (clone.ts sets its own).
    exitNotifySignal: thread ? -1 : SIGCHLD,
    killPending: false,
    fds: thread ? thread.fds : new Map(),
    sighand: thread ? thread.sighand : parent ? new SigHand(parent.sighand) : new SigHand(),
    sig: new TaskSignals(),
    rlim: thread ? thread.rlim : parent ? [...parent.rlim] : defaultRlimits(),
    capIpcLock: (thread ?? parent)?.capIpcLock ?? true,
    capSysTime: (thread ?? parent)?.capSysTime ?? true,
  };
  t.group.add(t);
  if (!thread) applyRlimits(t);
  // fork and clone: the blocked set is inherited, nothing pending is.
  const from = thread ?? parent;
  if (from) t.sig.blocked = from.sig.blocked;
  mm.tlbClients.add(mmu);
  k.tasks.set(t.pid, t);
  return t;
}

/** A new process with an empty address space and fds 0-2 open on /dev/console. */
export function spawnTask(k: Kernel, comm: string): Task {
  const mm = new Mm(k.physAccess, { era: k.era, pku: k.cpu.pku, zeroPage: k.zeroPage });
  const t = newTask(k, mm, null, comm);
  openStdio(k, t);
  return t;
}

/** copy_process() for fork's child once its mm is built: the fd table is copied (each file gets a reference). */
export function copyProcess(k: Kernel, parent: Task, mm: Mm): Task {
  const c = newTask(k, mm, parent, parent.comm);
  for (const [fd, f] of parent.fds) {
    f.get();
    c.fds.set(fd, f);
  }
  copyCloseOnExec(parent, c);
  return c;
}

/**
 * fork(2): the child's pid (running, with a COW copy of the address space and a copy of the fd
 * table). -ENOMEM when memory runs out.
 */
export function sysFork(k: Kernel, t: Task): number {
  return forkProcess(k, t, SIGCHLD);
}

/** fork(2) and clone(2) without CLONE_VM: the child's pid; `exitSignal` is what its exit sends to t. */
export function forkProcess(k: Kernel, t: Task, exitSignal: number): number {
  const child = t.mm.fork();
  if (typeof child === "number") return child;
  if (t.killPending) {
    // vm_ops->open oopsed while copying: the half-built child goes, the parent dies on return.
    child.exit();
    return -EFAULT;
  }
  const c = copyProcess(k, t, child);
  c.exitNotifySignal = exitSignal;
  return c.pid;
}

/** getpid(2) */
export function sysGetpid(_k: Kernel, t: Task): number {
  return t.tgid;
}

/**
 * getppid(2). A process spawned by the machine has no parent here (as init's parent, 0); an orphan's
 * parent is gone too, reported as 0 rather than an init that cannot wait for it.
 */
export function sysGetppid(_k: Kernel, t: Task): number {
  return t.parent?.tgid ?? 0;
}
