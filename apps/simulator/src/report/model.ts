// The memory-map model behind `faultline report`: what a machine (or a run of a scenario on it) looked
// like, as plain data. Versioned and msgpack-serialisable, so the HTML report, a saved report file and a
// snapshot carry the same thing. Only touched frames are listed (a 64 GiB machine with a few mapped
// pages is a few entries), and RAM is described by ranges, never frame by frame.

/** Bumped on any change a reader of an older model could misread. */
export const REPORT_MODEL_VERSION = 1;
export const REPORT_MODEL_FORMAT = "faultline-report";

/** What /proc/iomem names a resource, sorted into what the map draws differently. */
export type IomemKind = "ram" | "reserved" | "legacy" | "window" | "bar" | "isa" | "claim";

/** One /proc/iomem resource, depth-first as r_show() prints them (end inclusive, as struct resource). */
export interface IomemModel {
  readonly start: number;
  readonly end: number;
  readonly name: string;
  readonly depth: number;
  readonly kind: IomemKind;
}

/** How a VMA is backed: anonymous memory, a device's pages (char device), a file or shmem object. */
export type Backing = "anon" | "device" | "file" | "shmem";

/** One PTE of a VMA: which page of the VMA, which frame, and how it maps it. */
export interface PteModel {
  /** Page index within the VMA (vaddr = vma.start + index * 4096). */
  readonly index: number;
  readonly pfn: number;
  readonly writable: boolean;
  /** _PAGE_SPECIAL: no struct page behind it for vm_normal_page() (the zero page, remap_pfn_range). */
  readonly special: boolean;
}

export interface VmaModel {
  readonly start: number;
  /** Exclusive, as vm_end. */
  readonly end: number;
  readonly flags: number;
  /** "rw-s" as /proc/PID/maps prints them. */
  readonly perms: string;
  /** The smaps VmFlags mnemonics ("rd wr sh mr mw me ms io pf"). */
  readonly vmFlags: string;
  readonly backing: Backing;
  /** The maps name column (a path, or [heap]-style vm_ops name), null when empty. */
  readonly name: string | null;
  readonly pgoff: number;
  readonly ptes: readonly PteModel[];
}

export interface ProcessModel {
  readonly pid: number;
  readonly ppid: number;
  /** The scenario's program name (or the process's comm). */
  readonly name: string;
  /** How it ended ("exit 0", "SIGBUS"), or "running" when captured alive. */
  readonly exit: string;
  /** The kernel entry (tick) at which its address space was captured: just before it exited. */
  readonly capturedAt: number;
  /** Page-table pages of its mm (pgd.tablePages). */
  readonly tablePages: number;
  readonly vmas: readonly VmaModel[];
}

/**
 * Frames the captures saw mapped, one record per allocation: a pfn freed by one process's exit and
 * allocated to another later has two records, each with its own mappers. Refcount and mapcount are the
 * highest any capture saw. A PTE's frame is the record of its pfn whose mappers hold the PTE's pid.
 */
export interface FrameModel {
  readonly pfn: number;
  /** Whether a struct page stands behind it (pfn_valid); BAR frames have none. */
  readonly hasPage: boolean;
  readonly refcount: number;
  readonly mapcount: number;
  /** struct page flags (PG_* of @faultline/phys), 0 without a struct page. */
  readonly flags: number;
  readonly zero: boolean;
  /** The frame this one is a copy-on-write copy of (-1: not a COW copy, or the original is unknown). */
  readonly cowOf: number;
  /** The pids that mapped it. */
  readonly mappers: readonly number[];
}

export type FaultKind = "minor" | "cow" | "driver" | "sigbus" | "segv" | "oom" | "killed";

/** One page fault a process's MMU raised to the kernel, in kernel-entry order. */
export interface FaultModel {
  readonly tick: number;
  readonly pid: number;
  readonly addr: number;
  readonly write: boolean;
  readonly kind: FaultKind;
  /** The frame the PTE maps after the fault (-1: none). */
  readonly pfn: number;
  /** For a COW fault: the frame mapped before it (-1: none was). */
  readonly fromPfn: number;
}

export interface EraModel {
  readonly era: string;
  readonly ramBytes: number;
  readonly totalRamPages: number;
  readonly freePages: number;
  /** The zero page's frame, -1 when the machine has none. */
  readonly zeroPfn: number;
  readonly iomem: readonly IomemModel[];
  readonly processes: readonly ProcessModel[];
  readonly frames: readonly FrameModel[];
  readonly faults: readonly FaultModel[];
  /** The last kernel entry counted (the timeline's length). */
  readonly ticks: number;
}

export interface ReportModel {
  readonly format: typeof REPORT_MODEL_FORMAT;
  readonly version: typeof REPORT_MODEL_VERSION;
  /** The @faultline/simulator version that wrote it. */
  readonly faultline: string;
  readonly scenario: { readonly name: string; readonly description: string };
  readonly eras: readonly EraModel[];
}
