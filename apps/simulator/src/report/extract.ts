// Reads a machine into the report model (model.ts): its /proc/iomem tree, and each process's VMAs and
// PTEs with the frames behind them. A run captures each process just before it exits (observe.ts), so a
// report shows every process of a scenario with the most it ever mapped at the end; extractMachine()
// captures the live processes of a machine at once. Reads only: nothing here changes the machine.
import type { Machine } from "@faultline/kernel";
import {
  _PAGE_PRESENT,
  _PAGE_RW,
  _PAGE_SPECIAL,
  type Mm,
  ptePfn,
  ShmemFile,
  VM_SHARED,
  type Vma,
  vmaName,
  vmFlagsString,
} from "@faultline/mm";
import { ISA_END_ADDRESS, ISA_START_ADDRESS, PG_anon, type Resource } from "@faultline/phys";
import type {
  Backing,
  EraModel,
  FaultModel,
  FrameModel,
  IomemKind,
  IomemModel,
  ProcessModel,
  PteModel,
  VmaModel,
} from "./model";

const PAGE = 4096;
/** A PCI function's resource as pci_resource_name()-style names print it ("0000:00:02.0"). */
const PCI_NAME = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

function iomemKind(r: Resource, parent: IomemKind | null): IomemKind {
  if (r.name === "System RAM") return "ram";
  if (/^reserved$/i.test(r.name)) return "reserved";
  if (r.name.startsWith("PCI Bus")) return "window";
  if (PCI_NAME.test(r.name) && parent === "window") return "bar";
  if (r.name === "Video RAM area" || r.name === "System ROM" || r.name === "Video ROM") return "legacy";
  // A top-level resource in the legacy hole is an ISA device's memory; anything nested in a BAR, RAM
  // or a device is a driver's claim (request_mem_region).
  if (parent === null && r.start >= ISA_START_ADDRESS && r.end < ISA_END_ADDRESS) return "isa";
  return "claim";
}

/** The /proc/iomem tree, flattened depth-first. */
export function iomemModel(machine: Machine): IomemModel[] {
  const out: IomemModel[] = [];
  const walk = (rs: readonly Resource[], depth: number, parent: IomemKind | null) => {
    for (const r of rs) {
      const kind = iomemKind(r, parent);
      out.push({ start: r.start, end: r.end, name: r.name, depth, kind });
      walk(r.children, depth + 1, kind);
    }
  };
  walk(machine.phys.iomemTree().root.children, 0, null);
  return out;
}

function backingOf(v: Vma): Backing {
  if (v.vmFile instanceof ShmemFile) return "shmem";
  if (v.vmFile) return v.vmFile.path.startsWith("/dev/") ? "device" : "file";
  return "anon";
}

const perms = (f: number) =>
  `${f & 1 ? "r" : "-"}${f & 2 ? "w" : "-"}${f & 4 ? "x" : "-"}${f & 0x80 ? "s" : "p"}`;

interface MutableFrame {
  pfn: number;
  hasPage: boolean;
  refcount: number;
  mapcount: number;
  flags: number;
  cowOf: number;
  mappers: Set<number>;
}

/**
 * Gathers one era: process captures, faults and the frames they touched, then `finish()` gives the
 * EraModel. `tick` counts kernel entries; observe.ts advances it.
 */
export class EraCollector {
  tick = 0;
  private readonly processes: ProcessModel[] = [];
  /** The frames as now allocated, by pfn; a frame freed and allocated again gets a new record. */
  private readonly frames = new Map<number, MutableFrame>();
  /** Records of frames that went back to the allocator (their pfn may be in `frames` again). */
  private readonly retired: MutableFrame[] = [];
  /** The pfns each captured process mapped (to retire the ones its exit freed). */
  private readonly mappedBy = new Map<number, number[]>();
  /** COW faults seen before their copy was captured: copy pfn → original pfn. */
  private readonly pendingCow = new Map<number, number>();
  private readonly faults: FaultModel[] = [];
  /** file page ("dev:ino:pgoff") → the frame a shared or read mapping of it maps. */
  private readonly filePages = new Map<string, number>();
  /** Anon frames in private file/device mappings whose original is looked up at finish(). */
  private readonly cowCandidates: Array<{ frame: MutableFrame; key: string }> = [];

  constructor(private readonly machine: Machine) {}

  private frame(pfn: number, pid: number): MutableFrame {
    const mem = this.machine.mem;
    const hasPage = mem.pfnValid(pfn);
    let f = this.frames.get(pfn);
    if (!f) {
      const cowOf = this.pendingCow.get(pfn) ?? -1;
      this.pendingCow.delete(pfn);
      f = { pfn, hasPage, refcount: 0, mapcount: 0, flags: 0, cowOf, mappers: new Set() };
      this.frames.set(pfn, f);
    }
    f.mappers.add(pid);
    this.mappedBy.get(pid)?.push(pfn);
    if (!hasPage) return f;
    f.refcount = Math.max(f.refcount, mem.refcount[pfn]!);
    f.mapcount = Math.max(f.mapcount, mem.mapcount[pfn]!);
    f.flags |= mem.flags[pfn]!;
    return f;
  }

  /**
   * After `pid` exited: the frames its exit freed are retired, so a later process that gets the same
   * pfn from the allocator is not drawn as sharing it.
   */
  released(pid: number): void {
    const mem = this.machine.mem;
    for (const pfn of this.mappedBy.get(pid) ?? []) {
      const f = this.frames.get(pfn);
      if (f?.hasPage && mem.refcount[pfn] === 0) {
        this.retired.push(f);
        this.frames.delete(pfn);
      }
    }
    this.mappedBy.delete(pid);
  }

  /** A fault the MMU of `pid` raised, classified by observe.ts. */
  fault(f: Omit<FaultModel, "tick">): void {
    this.faults.push({ tick: this.tick, ...f });
    if (f.kind === "cow" && f.pfn >= 0 && f.fromPfn >= 0) {
      const to = this.frames.get(f.pfn);
      if (to) to.cowOf = f.fromPfn;
      else this.pendingCow.set(f.pfn, f.fromPfn);
    }
  }

  /** Captures the address space of `pid` as it is now. */
  capture(pid: number, name: string, exit: string): void {
    const p = this.machine.process(pid);
    if (!p) return;
    const mm = p.mm;
    this.mappedBy.set(pid, []);
    const vmas = mm.dead ? [] : [...mm].map((v) => this.vma(mm, v, pid));
    this.processes.push({
      pid,
      ppid: p.parent?.pid ?? 0,
      name,
      exit,
      capturedAt: this.tick,
      tablePages: mm.dead ? 0 : mm.pgd.tablePages,
      vmas,
    });
  }

  private vma(mm: Mm, v: Vma, pid: number): VmaModel {
    const ptes: PteModel[] = [];
    const mem = this.machine.mem;
    const file = v.vmFile;
    const privateFile = file !== null && !(v.vmFlags & VM_SHARED);
    mm.pgd.forEach(v.vmStart, v.vmEnd, (addr, _slot, pte) => {
      if (!(pte & _PAGE_PRESENT)) return;
      const pfn = ptePfn(pte);
      const index = (addr - v.vmStart) / PAGE;
      ptes.push({ index, pfn, writable: (pte & _PAGE_RW) !== 0, special: (pte & _PAGE_SPECIAL) !== 0 });
      const frame = this.frame(pfn, pid);
      if (!file) return;
      const key = `${file.devMajor}:${file.devMinor}:${file.ino}:${v.vmPgoff + index}`;
      const anon = mem.pfnValid(pfn) && (mem.flags[pfn]! & PG_anon) !== 0;
      if (privateFile && anon) this.cowCandidates.push({ frame, key });
      else if (!anon && !this.filePages.has(key)) this.filePages.set(key, pfn);
    });
    return {
      start: v.vmStart,
      end: v.vmEnd,
      flags: v.vmFlags,
      perms: perms(v.vmFlags),
      vmFlags: vmFlagsString(v.vmFlags).trim(),
      backing: backingOf(v),
      name: vmaName(v),
      pgoff: v.vmPgoff,
      ptes,
    };
  }

  finish(era: string): EraModel {
    const m = this.machine;
    const zeroPfn = m.zeroPage ? m.mem.zeroPfn : -1;
    // A COW copy the faults did not see being made (made by a syscall, or captured from a machine):
    // its original is the frame another mapping of the same file page maps.
    for (const c of this.cowCandidates) {
      const orig = this.filePages.get(c.key);
      if (c.frame.cowOf < 0 && orig !== undefined) c.frame.cowOf = orig;
    }
    // Sorted by pfn; a pfn allocated again after a free has a record per allocation, earliest first.
    const frames: FrameModel[] = [...this.retired, ...this.frames.values()]
      .sort((a, b) => a.pfn - b.pfn)
      .map((f) => ({
        pfn: f.pfn,
        hasPage: f.hasPage,
        refcount: f.refcount,
        mapcount: f.mapcount,
        flags: f.flags,
        zero: f.pfn === zeroPfn,
        cowOf: f.cowOf,
        mappers: [...f.mappers].sort((a, b) => a - b),
      }));
    return {
      era,
      ramBytes: m.mem.ramBytes,
      totalRamPages: m.mem.totalRamPages,
      freePages: m.mem.nrFreePages,
      zeroPfn,
      iomem: iomemModel(m),
      processes: [...this.processes].sort((a, b) => a.pid - b.pid),
      frames,
      faults: [...this.faults],
      ticks: this.tick,
    };
  }
}

/** The machine as it is now: every running process captured at once. */
export function extractMachine(
  machine: Machine,
  era: string = machine.era,
  names: ReadonlyMap<number, string> = new Map(),
): EraModel {
  const c = new EraCollector(machine);
  for (const p of machine.processes()) {
    if (p.state === "running") c.capture(p.pid, names.get(p.pid) ?? p.comm, "running");
  }
  return c.finish(era);
}
