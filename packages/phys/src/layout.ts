import { FOUR_GIB, ISA_END_ADDRESS, ISA_START_ADDRESS, PAGE_SIZE, PCI_HOLE_START } from "./constants";
import { pfnOf } from "./encoding";

/** One contiguous stretch of System RAM in the physical address space (end exclusive). */
export interface RamRange {
  readonly start: number;
  readonly end: number;
  /** Index of the first frame of this range in the RAM image (the concatenation of all RAM). */
  readonly firstFrame: number;
}

/**
 * Where a PC firmware puts RAM of a given size (what the e820 map reports): 640 KiB below the ISA hole,
 * the rest from 1 MiB up to the 32-bit PCI hole, and what would overlap that hole above 4 GiB.
 */
export function ramLayout(ramBytes: number): RamRange[] {
  if (!Number.isSafeInteger(ramBytes) || ramBytes % PAGE_SIZE !== 0 || ramBytes < 2 * 1024 * 1024) {
    throw new RangeError(`ramBytes ${ramBytes}: must be a multiple of ${PAGE_SIZE} and at least 2 MiB`);
  }
  // As QEMU's pc machine does: the ISA hole hides the RAM behind it (those 384 KiB are lost), and
  // what would overlap the 32-bit PCI hole is moved above 4 GiB.
  const ranges: RamRange[] = [];
  let frame = 0;
  const add = (start: number, end: number) => {
    ranges.push({ start, end, firstFrame: frame });
    frame += (end - start) / PAGE_SIZE;
  };
  add(0, ISA_START_ADDRESS);
  add(ISA_END_ADDRESS, Math.min(ramBytes, PCI_HOLE_START));
  if (ramBytes > PCI_HOLE_START) add(FOUR_GIB, FOUR_GIB + ramBytes - PCI_HOLE_START);
  return ranges;
}

/** Bytes of RAM the layout actually exposes (ramBytes less the ISA hole). */
export function ramImageBytes(ranges: readonly RamRange[]): number {
  return ranges.reduce((n, r) => n + r.end - r.start, 0);
}

/** Frame index in the RAM image of a physical pfn, or -1 when the pfn is not System RAM. */
export function makeRamFrameLookup(ranges: readonly RamRange[]): (pfn: number) => number {
  const starts = ranges.map((r) => pfnOf(r.start));
  const ends = ranges.map((r) => pfnOf(r.end));
  const firsts = ranges.map((r) => r.firstFrame);
  const n = ranges.length;
  return (pfn: number) => {
    for (let i = 0; i < n; i++) {
      if (pfn >= starts[i]! && pfn < ends[i]!) return firsts[i]! + pfn - starts[i]!;
    }
    return -1;
  };
}
