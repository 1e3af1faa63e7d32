/**
 * Flattening (system/memory.c: render_memory_region, flatview_simplify, generate_memory_topology):
 * a region tree becomes a FlatView, the sorted, non-overlapping list of [start, end) ranges each
 * decoded by one leaf region, which every access dispatches through.
 *
 * A region is rendered only where higher-priority siblings, visited first, left holes (fillHoles),
 * which is how priorities and fall-through (memory.rst "Visibility") come out. Pieces of one region
 * that touch and continue each other are merged afterwards, so a region is one range wherever it can
 * be.
 */
import type { MemoryBanks } from "./banks";
import { PAGE_SIZE } from "./constants";
import { PHYS_ADDR_LIMIT, physOf } from "./encoding";
import { hex, PhysError, span } from "./errors";
import {
  KIND_ALIAS,
  KIND_CONTAINER,
  KIND_RAM,
  KIND_RAM_DEVICE,
  type MemoryRegion,
  type RegionKind,
} from "./memory-region";
import { BusError } from "./memtx";

/** One piece of the rendered address space: [start, end) decoded by one leaf region. */
export interface FlatRange {
  readonly start: number;
  readonly end: number;
  readonly region: MemoryRegion;
  /** Offset of `start` within `region`. */
  readonly offset: number;
  /** Bank and byte offset of `start` for bank-backed ranges (else NO_BANK). */
  readonly bank: number;
  readonly bankOffset: number;
  readonly writable: boolean;
}

/** Plain-data description of a FlatRange (for workers, tests, `info mtree`-like dumps). */
export interface FlatRangeDescriptor {
  readonly start: number;
  readonly end: number;
  readonly name: string;
  readonly kind: RegionKind;
  readonly bank: number;
  readonly bankOffset: number;
  readonly writable: boolean;
}

/** What backs one page frame (`FlatView.translatePage`). */
export type PageKind = "bank" | "mmio" | "unassigned" | "mixed";

/** What the flat view decodes a page to: its region, kind and offset. */
export interface PageTranslation {
  kind: PageKind;
  /** "bank": bank id and byte offset of the page's first byte in it; NO_BANK otherwise. */
  bank: number;
  offset: number;
  writable: boolean;
  /** "mmio": the region and the page's offset in it; null otherwise. */
  region: MemoryRegion | null;
  regionOffset: number;
}

/** `FlatRange.bank` and `.bankOffset` of a range that is not bank-backed. */
export const NO_BANK = -1;

/** Nesting of containers and aliases beyond which the tree is taken to loop (an alias cycle). */
const MAX_DEPTH = 64;

/** render_memory_region(): renders `mr` placed at `base`, clipped to [clipStart, clipEnd). */
function render(
  mr: MemoryRegion,
  base: number,
  clipStart: number,
  clipEnd: number,
  out: FlatRange[],
  depth: number,
): void {
  if (!mr.enabled) return;
  const s = Math.max(base, clipStart);
  const e = Math.min(base + mr.size, clipEnd);
  if (s >= e) return;
  if (depth > MAX_DEPTH) {
    throw new BusError(
      "EBUSY",
      `region "${mr.name}": aliases and containers nest deeper than ${MAX_DEPTH} (a loop?)`,
      {
        region: mr.name,
      },
    );
  }
  if (mr.k === KIND_ALIAS) {
    render(mr.aliasTarget!, base - mr.aliasOffset, s, e, out, depth + 1);
  } else if (mr.k === KIND_CONTAINER) {
    for (const sub of mr.subregions) render(sub, base + sub.addr, s, e, out, depth + 1);
  } else {
    fillHoles(out, mr, base, s, e);
  }
}

/** Inserts the parts of [s, e) that higher-priority regions left uncovered; `out` stays sorted. */
function fillHoles(out: FlatRange[], mr: MemoryRegion, base: number, s: number, e: number): void {
  let i = 0;
  while (i < out.length && out[i]!.end <= s) i++;
  let pos = s;
  while (pos < e) {
    const next = out[i];
    if (next && next.start <= pos) {
      pos = Math.max(pos, next.end);
      i++;
      continue;
    }
    const holeEnd = Math.min(e, next ? next.start : e);
    out.splice(i, 0, makeRange(mr, pos, holeEnd, pos - base));
    i++;
    pos = holeEnd;
  }
}

function makeRange(mr: MemoryRegion, start: number, end: number, offset: number): FlatRange {
  const banked = mr.isBankBacked;
  return {
    start,
    end,
    region: mr,
    offset,
    bank: banked ? mr.bank : NO_BANK,
    bankOffset: banked ? mr.bankOffset + offset : NO_BANK,
    writable: mr.k === KIND_RAM || mr.k === KIND_RAM_DEVICE,
  };
}

/** flatview_simplify(): merges neighbours that continue the same region. */
function simplify(ranges: FlatRange[]): FlatRange[] {
  const out: FlatRange[] = [];
  for (const r of ranges) {
    const last = out[out.length - 1];
    if (
      last &&
      last.region === r.region &&
      last.end === r.start &&
      last.offset + (r.start - last.start) === r.offset
    ) {
      out[out.length - 1] = makeRange(r.region, last.start, r.end, last.offset);
    } else out.push(r);
  }
  return out;
}

/**
 * A rendered address space (QEMU's FlatView): its ranges and their starts, binary-searched. Immutable:
 * a topology change renders a new one.
 */
export class FlatView {
  readonly ranges: readonly FlatRange[];
  /** `ranges[i].start`, unboxed for the search. */
  private readonly starts: Float64Array;

  private constructor(ranges: FlatRange[]) {
    this.ranges = ranges;
    this.starts = Float64Array.from(ranges, (r) => r.start);
  }

  /** generate_memory_topology(): renders the tree under `root`; throws a BusError on an alias loop. */
  static render(root: MemoryRegion): FlatView {
    const out: FlatRange[] = [];
    render(root, 0, 0, Math.min(root.size, PHYS_ADDR_LIMIT), out, 0);
    return new FlatView(simplify(out));
  }

  /** Index of the range containing addr, or -1. */
  findIndex(addr: number): number {
    const starts = this.starts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (starts[mid]! <= addr) lo = mid + 1;
      else hi = mid - 1;
    }
    if (hi < 0) return -1;
    return addr < this.ranges[hi]!.end ? hi : -1;
  }

  /** Index of the first range starting above addr (ranges.length if none). */
  insertionPoint(addr: number): number {
    const starts = this.starts;
    let lo = 0;
    let hi = starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (starts[mid]! <= addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Start of the first range above addr, +Infinity if none: where a hole at addr ends. */
  nextStartAfter(addr: number): number {
    const j = this.insertionPoint(addr);
    return j < this.ranges.length ? this.ranges[j]!.start : Number.POSITIVE_INFINITY;
  }

  /**
   * For one page frame: is the whole page directly backed by a memory bank (`kind: "bank"`, with
   * `bank`, the byte `offset` of the page in the bank and `writable`), inside one MMIO region
   * (`"mmio"`, with the region and the page's offset in it), `"unassigned"`, or split between several
   * ranges (`"mixed"`: sub-page regions)? Fills and returns `out`.
   */
  translatePage(pfn: number, out: PageTranslation): PageTranslation {
    const start = physOf(pfn);
    const end = start + PAGE_SIZE;
    out.bank = NO_BANK;
    out.offset = NO_BANK;
    out.writable = false;
    out.region = null;
    out.regionOffset = 0;
    const i = this.findIndex(start);
    const r = i < 0 ? null : this.ranges[i]!;
    if (r && r.end >= end) {
      if (r.bank >= 0) {
        out.kind = "bank";
        out.bank = r.bank;
        out.offset = r.bankOffset + (start - r.start);
        out.writable = r.writable;
      } else {
        out.kind = "mmio";
        out.region = r.region;
        out.regionOffset = r.offset + (start - r.start);
      }
      return out;
    }
    // Not one range: is anything at all inside the page?
    const next = this.ranges[r ? i + 1 : this.insertionPoint(start)];
    out.kind = r || (next && next.start < end) ? "mixed" : "unassigned";
    return out;
  }

  describe(): FlatRangeDescriptor[] {
    return this.ranges.map((r) => ({
      start: r.start,
      end: r.end,
      name: r.region.name,
      kind: r.region.kind,
      bank: r.bank,
      bankOffset: r.bankOffset,
      writable: r.writable,
    }));
  }

  /**
   * Sorted, non-empty, non-overlapping, bank-backed ranges inside their banks, MMIO ranges inside
   * their regions. Throws a PhysError naming the first bad range (`name` is the address space's).
   */
  checkInvariants(name: string, banks: MemoryBanks): void {
    let prevEnd = 0;
    for (const r of this.ranges) {
      const at = `${name}: flat range ${span(r.start, r.end - r.start)} (${r.region})`;
      if (r.start >= r.end) throw new PhysError("EINVARIANT", `${at}: empty`);
      if (r.start < prevEnd) throw new PhysError("EINVARIANT", `${at}: overlaps the previous range`);
      if (r.offset < 0 || r.offset + (r.end - r.start) > r.region.size) {
        throw new PhysError("EINVARIANT", `${at}: offset ${hex(r.offset)} outside the region`);
      }
      if (r.bank >= 0) {
        const buf = banks.buffers[r.bank];
        if (!buf || r.bankOffset < 0 || r.bankOffset + (r.end - r.start) > buf.byteLength) {
          throw new PhysError("EINVARIANT", `${at}: outside bank ${r.bank}`);
        }
      }
      prevEnd = r.end;
    }
  }
}
