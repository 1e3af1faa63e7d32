/**
 * kernel/exit.c: do_exit, exit_notify (the parent's SIGCHLD, via kernel/signal.c's do_notify_parent),
 * release_task (reap), wait4; and the fatal-signal path that ends in do_exit.
 *
 * Not modelled: init and subreapers (an orphan's parent becomes null, and an orphan that exits stays a
 * zombie: no init reaps it), stopped and continued children (job control: CLD_STOPPED, CLD_CONTINUED,
 * WUNTRACED and WCONTINUED find nothing), ptrace, pdeath_signal, and si_utime/si_stime.
 */
import { type SignalError, type SignalName, signalNumber } from "@faultline/mm";
import { __WALL, __WCLONE, __WNOTHREAD, ECHILD, EINVAL, WCONTINUED, WNOHANG, WUNTRACED } from "../constants";
import { SIGCHLD } from "../signal";
import { enterKernel, leaveKernel } from "./current";
import { exitItimers } from "./itimer-state";
import type { Kernel, Task } from "./kernel";
import { accountExitedThread } from "./posix-cpu-timers";
import { RLIMIT_CORE } from "./resource";
import { DEFAULT_COREDUMP, sigmask } from "./sighand";

/**
 * How a task ends: exit(code) (that thread only), exit_group(code) (`group`: every thread), or a
 * fatal signal (always the whole thread group: zap_other_threads).
 */
export type ExitHow = { readonly signal?: SignalName; readonly code?: number; readonly group?: boolean };

/**
 * do_exit(): fds closed (files released when their last reference goes), the mm torn down (every
 * VMA closed once, every frame released), children reparented; a zombie until waited for. A thread
 * other than the last one of its group leaves the mm and the fd table to the others; a thread that
 * is not the group leader is reaped at once (its parent never waits for it).
 */
export function doExit(k: Kernel, t: Task, how: ExitHow): void {
  if (t.state !== "running") return;
  if (how.signal || how.group)
    for (const o of [...t.group]) if (o !== t && o.state === "running") exitTask(k, o, how);
  exitTask(k, t, how);
}

function exitTask(k: Kernel, t: Task, how: ExitHow): void {
  t.state = "zombie";
  t.killPending = false;
  if (how.signal) {
    const signo = signalNumber(how.signal);
    t.exitSignal = how.signal;
    t.exitCode = 128 + signo;
    t.waitStatus = signo | (dumpsCore(t, signo) ? WCOREFLAG : 0);
  } else {
    const code = (how.code ?? 0) & 0xff;
    t.exitSignal = null;
    t.exitCode = code;
    t.waitStatus = code << 8;
  }
  const heir = [...t.group].find((o) => o !== t && o.state === "running") ?? null;
  const prevT = k.current;
  k.current = t;
  const prev = enterKernel(k);
  try {
    if (!heir || heir.fds !== t.fds) {
      for (const [fd, f] of [...t.fds]) {
        t.fds.delete(fd);
        f.put();
      }
    }
    if (!heir) {
      t.mm.exit();
      exitItimers(k, t);
    }
    t.mm.tlbClients.delete(t.mmu);
    t.mmu.flushAll();
  } finally {
    leaveKernel(prev);
    k.current = prevT;
  }
  // forget_original_parent(): children go to another thread of the group, or to nobody (init is not
  // modelled); reparent_leader() makes an orphan's exit signal SIGCHLD again.
  for (const c of k.tasks.values()) {
    if (c.parent !== t) continue;
    c.parent = heir;
    if (!heir && c.pid === c.tgid) c.exitNotifySignal = SIGCHLD;
  }
  // A thread that is not the leader is reaped at once (release_task from exit_notify).
  if (t.pid !== t.tgid) {
    accountExitedThread(t);
    t.group.delete(t);
    releaseTask(k, t);
  }
  // exit_notify() for a leader that exits last, release_task() for the last thread after its leader:
  // the parent hears of the process once its whole thread group is gone, never of a single thread.
  if (!heir) {
    const leader = k.tasks.get(t.tgid);
    if (leader?.state === "zombie" && doNotifyParent(k, leader)) releaseTask(k, leader);
  }
}

/** WCOREDUMP's bit of a wait status (coredump_finish sets it in the group's exit code). */
/** The core-dumped bit of a wait status (WCOREFLAG). */
export const WCOREFLAG = 0x80;
/** binfmt_elf's min_coredump: a core limit below a page writes nothing (do_coredump). */
const MIN_COREDUMP = 4096;

/**
 * Whether dying of `signo` dumps core: a signal whose default action is "core" (sig_kernel_coredump)
 * and an RLIMIT_CORE soft limit of at least a page. Faultline models the kernel's default core_pattern
 * ("core", a file in the working directory, which it takes to be writable) without writing the file;
 * a pipe core_pattern, which ignores the limit, and the dumpable flag are not modelled.
 */
function dumpsCore(t: Task, signo: number): boolean {
  if (!(DEFAULT_COREDUMP & sigmask(signo))) return false;
  const cur = t.rlim[RLIMIT_CORE]!.cur;
  return cur === -1 || cur >= MIN_COREDUMP;
}

/**
 * kernel/signal.c's do_notify_parent() (internal/signal.ts doNotifyParent), which signal.ts installs
 * here when it loads: signal.ts already calls this file's doExit for a default action that kills, and
 * the import goes one way only.
 */
let notifyParent: ((k: Kernel, p: Task) => boolean) | null = null;

export function setNotifyParent(f: (k: Kernel, p: Task) => boolean): void {
  notifyParent = f;
}

function doNotifyParent(k: Kernel, p: Task): boolean {
  if (!notifyParent)
    throw new Error("kernel: internal/signal.ts was not loaded (it installs do_notify_parent)");
  return notifyParent(k, p);
}

/** The thread group still has a running thread (a zombie leader cannot be reaped yet: delay_group_leader). */
export const groupAlive = (t: Task): boolean => [...t.group].some((o) => o.state === "running");

/** release_task(): a reaped zombie leaves the task list. */
export function releaseTask(k: Kernel, t: Task): void {
  t.state = "dead";
  k.tasks.delete(t.pid);
}

/**
 * A fatal signal from an unresolved fault: the "segfault at …" line in dmesg (show_signal_msg), then
 * the process dies of it.
 */
export function fatalSignal(k: Kernel, t: Task, e: SignalError): void {
  if (t.state !== "running") return;
  // A fault forced on a task whose handler was blocked dies without the line (show_signal_msg).
  if (e.signal === "SIGSEGV" && !t.sig.quietFault) {
    k.log.printk(
      6,
      `${t.comm}[${t.pid}]: segfault at ${e.addr.toString(16)} ip 0000000000401000 sp 00007ffffffde000 error ${e.code === "SEGV_ACCERR" ? 7 : 4}`,
    );
  }
  doExit(k, t, { signal: e.signal });
}

/** exit(2) */
export function sysExit(k: Kernel, t: Task, code: number): number {
  doExit(k, t, { code });
  return 0;
}

/** What waitpid returns for a reaped child: `status` encoded as Linux's wait status (WIFEXITED…). */
export interface WaitResult {
  readonly pid: number;
  readonly status: number;
}

/**
 * wait4(2) as waitpid (pid -1: any child). Never blocks: a zombie child is reaped and returned as
 * { pid, status }; with only running children the answer is 0 (as with WNOHANG); no such child
 * is -ECHILD (a child reaped at once, its parent ignoring SIGCHLD, is no child any more). Which
 * children count (eligible_child): by default those whose exit signal is SIGCHLD, with __WCLONE the
 * others, with __WALL all; with __WNOTHREAD only the caller's own, not its threads'.
 */
export function sysWait4(k: Kernel, t: Task, pid: number, options: number): WaitResult | number {
  // kernel_wait4(): unknown option bits are -EINVAL. Every process here is in one process group,
  // so pid 0 and pid < -1 (a group) select any child, as pid -1 does.
  if (options & ~(WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WALL | __WCLONE)) return -EINVAL;
  const any = pid <= 0;
  // Children of any thread of the group; threads themselves are nobody's children to wait for.
  const clone = (options & __WCLONE) !== 0;
  const kids = [...k.tasks.values()].filter(
    (c) =>
      c.parent !== null &&
      (options & __WNOTHREAD ? c.parent === t : c.parent.group === t.group) &&
      c.pid === c.tgid &&
      (any || c.pid === pid) &&
      (options & __WALL || (c.exitNotifySignal !== SIGCHLD) === clone),
  );
  if (!kids.length) return -ECHILD;
  // Blocking is impossible in a synchronous model: a wait without WNOHANG answers as if it had it.
  const z = kids.find((c) => c.state === "zombie" && !groupAlive(c));
  if (!z) return 0;
  releaseTask(k, z);
  return { pid: z.pid, status: z.waitStatus ?? 0 };
}
