// A kernel reduced to what the runtime tests need, straight over Mm: anonymous mmap, munmap,
// mprotect, madvise, fork, exit, waitpid, getpid. Stands in for @faultline/kernel's Machine.
import { ECHILD, EINVAL, Mm, type MmuTarget, ramOnly } from "@faultline/mm";
import { PhysMemory } from "@faultline/phys";
import type { SimKernel } from "../../src/index";

interface Proc {
  pid: number;
  parent: number;
  mm: Mm;
  target: MmuTarget;
  status: number | null;
}

export function mmKernel(ramBytes = 32 * 1024 * 1024): SimKernel & { procs: Map<number, Proc> } {
  const mem = PhysMemory.create({ ramBytes });
  const phys = ramOnly(mem);
  const procs = new Map<number, Proc>();
  let nextPid = 1;
  const add = (mm: Mm, parent: number): number => {
    const pid = nextPid++;
    procs.set(pid, {
      pid,
      parent,
      mm,
      status: null,
      target: { mem, phys, pgdRoot: mm.pgd.root, fault: (a, w) => mm.handleFault(a, w) },
    });
    return pid;
  };
  const proc = (pid: number) => {
    const p = procs.get(pid);
    if (!p) throw new Error(`no pid ${pid}`);
    return p;
  };
  return {
    mem,
    procs,
    spawn: () => add(new Mm(phys), 0),
    mm: (pid) => proc(pid).mm,
    target: (pid) => proc(pid).target,
    signo: (name) => ({ SIGKILL: 9, SIGBUS: 7, SIGSEGV: 11 })[name] ?? 9,
    syscall(pid, name, args) {
      const mm = proc(pid).mm;
      const n = args.map(Number);
      switch (name) {
        case "getpid":
          return pid;
        case "mmap":
          return mm.mmap(n[0]!, n[1]!, n[2]!, n[3]!, null, n[5]!);
        case "munmap":
          return mm.munmap(n[0]!, n[1]!);
        case "mprotect":
          return mm.mprotect(n[0]!, n[1]!, n[2]!);
        case "madvise":
          return mm.madvise(n[0]!, n[1]!, n[2]!);
        default:
          return -EINVAL;
      }
    },
    fork(pid) {
      const child = proc(pid).mm.fork();
      return typeof child === "number" ? child : add(child, pid);
    },
    exit(pid, how) {
      const p = proc(pid);
      p.mm.exit();
      p.status =
        "code" in how ? (how.code & 0xff) << 8 : ({ SIGKILL: 9, SIGBUS: 7, SIGSEGV: 11 }[how.signal] ?? 9);
    },
    waitpid(pid, child, _options) {
      const kids = [...procs.values()].filter((p) => p.parent === pid && (child === -1 || p.pid === child));
      if (!kids.length) return -ECHILD;
      const z = kids.find((p) => p.status !== null);
      if (!z) return 0;
      procs.delete(z.pid);
      return [z.pid, z.status!] as const;
    },
  };
}
