// A SimKernel that watches a run for the report: the machine's own kernel (machineKernel), with each
// process's address space captured just before it exits and each page fault classified as the kernel
// served it (minor, copy-on-write, a driver's fault handler, SIGBUS …). It only reads the machine around
// the calls it passes on, so a run observed and a run not observed do the same thing.
import type { Machine } from "@faultline/kernel";
import {
  _PAGE_PRESENT,
  FAULT_KILLED,
  FAULT_OK,
  FAULT_OOM,
  FAULT_SIGBUS,
  type MmuTarget,
  ptePfn,
  VM_SHARED,
} from "@faultline/mm";
import { PG_anon } from "@faultline/phys";
import { machineKernel, type SimKernel } from "@faultline/sim";
import type { EraCollector } from "./extract";
import type { FaultKind } from "./model";

export interface ObserveHooks {
  /** The name to give a process in the report (its program), asked at capture time. */
  readonly nameOf: (pid: number) => string;
  /** Called after each process exit (a progress bar counts them). */
  readonly onExit?: (pid: number) => void;
}

const exitText = (how: { code: number } | { signal: string }) =>
  "signal" in how ? how.signal : `exit ${how.code}`;

/** The machine's kernel, observed by `c`. */
export function observedKernel(machine: Machine, c: EraCollector, hooks: ObserveHooks): SimKernel {
  const k = machineKernel(machine);
  const pteAt = (pid: number, addr: number): number => {
    const p = machine.process(pid);
    if (!p || p.mm.dead) return 0;
    return p.mm.pgd.getPte(addr - (addr % 4096));
  };
  const classify = (pid: number, addr: number, write: boolean, r: number, before: number): void => {
    const after = pteAt(pid, addr);
    const pfn = after & _PAGE_PRESENT ? ptePfn(after) : -1;
    const fromPfn = before & _PAGE_PRESENT ? ptePfn(before) : -1;
    const vma = machine.process(pid)?.mm.vmaLookup(addr) ?? null;
    const mem = machine.mem;
    const anonAfter = pfn >= 0 && mem.pfnValid(pfn) && (mem.flags[pfn]! & PG_anon) !== 0;
    let kind: FaultKind;
    if (r === FAULT_SIGBUS) kind = "sigbus";
    else if (r === FAULT_OOM) kind = "oom";
    else if (r === FAULT_KILLED) kind = "killed";
    else if (r !== FAULT_OK) kind = "segv";
    // do_wp_page() copying a read-only page, or do_cow_fault() copying a private file page on first write.
    else if (write && vma && !(vma.vmFlags & VM_SHARED) && anonAfter && (fromPfn >= 0 || vma.vmFile))
      kind = "cow";
    else if (vma?.vmOps && (vma.vmOps.fault || vma.vmOps.nopage)) kind = "driver";
    else kind = "minor";
    c.fault({ pid, addr, write, kind, pfn, fromPfn: kind === "cow" ? fromPfn : -1 });
  };
  // Everything the machine's port offers passes through (threads, handled signals, the clock and its
  // sleepers, and whatever it offers later): a port missing one would change the run (a caught SIGBUS
  // would kill). Only what the report watches is wrapped.
  return {
    ...k,
    target(pid): MmuTarget {
      const t = k.target(pid);
      return {
        mem: t.mem,
        phys: t.phys,
        pgdRoot: t.pgdRoot,
        ...(t.pkru ? { pkru: t.pkru } : {}),
        fault: (addr, write) => {
          c.tick++;
          const before = pteAt(pid, addr);
          const r = t.fault(addr, write);
          classify(pid, addr, write, r, before);
          return r;
        },
      };
    },
    syscall(pid, name, args) {
      c.tick++;
      return k.syscall(pid, name, args);
    },
    fork(pid) {
      c.tick++;
      return k.fork(pid);
    },
    exit(pid, how) {
      c.tick++;
      const p = machine.process(pid);
      if (p?.state === "running") c.capture(pid, hooks.nameOf(pid), exitText(how));
      else if (p) c.capture(pid, hooks.nameOf(pid), p.exitSignal ?? `exit ${p.exitCode ?? 0}`);
      k.exit(pid, how);
      c.released(pid);
      hooks.onExit?.(pid);
    },
    ...(k.clone
      ? {
          clone: (pid: number, flags: number) => {
            c.tick++;
            return k.clone!(pid, flags);
          },
        }
      : {}),
  };
}
