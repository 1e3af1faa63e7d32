import {
  describeSyscall,
  driveClockExternally,
  ENOSYS,
  endSleep,
  Machine,
  type MachineOptions,
  type Process,
  SignalError,
  type SignalName,
  sleepWake,
  takeSleep,
} from "@faultline/kernel";
import { type SiCodeName, signalNumber } from "@faultline/mm";
import type { ExitRequest, SimKernel, SimSignalFrame } from "./kernel-port";

/**
 * Calls the simulator implements itself (a worker per process): fork and waitpid are handled before
 * the kernel is asked, exit through the worker's own exit. Reached here under another name or number
 * (`sys.call(57)`, `sys.call("wait4", …)`), they would make a process without a worker: -ENOSYS.
 */
const RUNTIME_CALLS = new Set(["fork", "clone", "exit", "wait4"]);

/**
 * A @faultline/kernel Machine as the simulator's kernel: syscalls go through the kernel's syscall
 * table (`Syscalls.call`: a name or number it does not list is -ENOSYS, nothing else on the object
 * is reachable), faults to the process's MMU target. From here on the simulation drives the
 * machine's clock: its processes' sleeps are handed over (takeSleep) instead of moving the clock.
 */
export function machineKernel(m: Machine): SimKernel & { readonly machine: Machine } {
  const proc = (pid: number): Process => {
    const p = m.process(pid);
    if (!p) throw new Error(`no process ${pid}`);
    return p;
  };
  driveClockExternally(m);
  return {
    machine: m,
    mem: m.mem,
    spawn: (name) => m.spawn(name ? { name } : {}).pid,
    mm: (pid) => proc(pid).mm,
    target: (pid) => proc(pid).mmu.target,
    syscall(pid, name, args) {
      const row = describeSyscall(name);
      if (!row || RUNTIME_CALLS.has(row.name)) return -ENOSYS;
      try {
        return proc(pid).sys.call(name, ...args);
      } catch (e) {
        // An argument C could not have passed: refused before the kernel was entered. The reply
        // carries the TypeError and the worker throws it (SimKernel.syscall).
        if (e instanceof TypeError) return e;
        throw e;
      }
    },
    fork: (pid) => proc(pid).sys.fork(),
    clone: (pid, flags) => proc(pid).sys.clone(flags),
    exit(pid, how: ExitRequest) {
      const p = m.process(pid);
      if (p?.state !== "running") return;
      if ("code" in how) p.sys.exit(how.code);
      else if ((how.signal === "SIGSEGV" || how.signal === "SIGBUS") && how.siCode !== undefined) {
        // As the in-thread MMU reports it: the segfault line in dmesg, then do_exit.
        m.fatalSignal(p, new SignalError(how.signal, how.siCode as SiCodeName, how.addr ?? 0));
      } else m.terminate(p, { signal: how.signal as SignalName });
    },
    waitpid(pid, child, options) {
      const r = proc(pid).sys.waitpid(child, options);
      return typeof r === "number" ? r : [r.pid, r.status];
    },
    signo: (name) => signalNumber(name) || 9,
    forceSigFault(pid, sig) {
      const p = m.process(pid);
      if (p?.state !== "running" || (sig.signal !== "SIGSEGV" && sig.signal !== "SIGBUS")) return null;
      const e = new SignalError(
        sig.signal,
        sig.code as SiCodeName,
        sig.addr,
        undefined,
        sig.pkey ?? undefined,
      );
      const f = m.forceSigFault(p, e);
      return f && toSimFrame(f);
    },
    takeSignalFrames(pid) {
      const p = m.process(pid);
      return p?.state === "running" ? m.takeSignalFrames(p).map(toSimFrame) : [];
    },
    ended(pid) {
      const p = m.process(pid);
      if (!p || p.state === "running") return null;
      return p.exitSignal ? { signal: p.exitSignal } : { code: p.exitCode ?? 0 };
    },
    handledSignals(pid) {
      const p = m.process(pid);
      return { list: p ? [...p.handledSignals] : [], count: p?.handledSignalCount ?? 0 };
    },
    clock: {
      now: () => m.clockNs,
      advance: (ns) => m.advanceClock(ns),
      nextDeadline: () => m.nextClockDeadline(),
    },
    takeSleep: (pid) => takeSleep(m, pid),
    sleepWake: (pid) => sleepWake(m, pid),
    endSleep: (pid) => endSleep(m, pid),
  };
}

/** A kernel frame as the worker gets it: handlers are the worker's ids (user addresses), sets are lists. */
function toSimFrame(f: ReturnType<Machine["forceSigFault"]> & object): SimSignalFrame {
  const saved: number[] = [];
  for (let n = 1; n <= 64; n++) if (f.saved & (1n << BigInt(n - 1))) saved.push(n);
  return { handler: typeof f.handler === "number" ? f.handler : 0, info: { ...f.info }, saved };
}

/** The machine to simulate: one already built, or the options to build it with. */
export async function toMachine(machine: Machine | MachineOptions): Promise<Machine> {
  return machine instanceof Machine ? machine : Machine.create(machine);
}
