import { Machine, type MachineOptions, type Process, SignalError, type SignalName } from "@faultline/kernel";
import type { SiCodeName } from "@faultline/mm";
import type { ExitRequest, SimKernel } from "./kernel-port";

const SIGNO: Record<string, number> = { SIGBUS: 7, SIGKILL: 9, SIGSEGV: 11 };

/**
 * A @faultline/kernel Machine as the simulator's kernel: syscalls go through the kernel's syscall
 * table (`Syscalls.call`: a name or number it does not list is -ENOSYS, nothing else on the object
 * is reachable), faults to the process's MMU target.
 */
export function machineKernel(m: Machine): SimKernel & { readonly machine: Machine } {
  const proc = (pid: number): Process => {
    const p = m.process(pid);
    if (!p) throw new Error(`no process ${pid}`);
    return p;
  };
  return {
    machine: m,
    mem: m.mem,
    spawn: (name) => m.spawn(name ? { name } : {}).pid,
    mm: (pid) => proc(pid).mm,
    target: (pid) => proc(pid).mmu.target,
    syscall(pid, name, args) {
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
    signo: (name) => SIGNO[name] ?? 9,
  };
}

/** The machine to simulate: one already built, or the options to build it with. */
export async function toMachine(machine: Machine | MachineOptions): Promise<Machine> {
  return machine instanceof Machine ? machine : Machine.create(machine);
}
