/**
 * Dirty logging of pages written by devices (QEMU's DIRTY_MEMORY_VGA / DIRTY_MEMORY_MIGRATION
 * clients: physical_memory_set_dirty_range() on a DMA write, a per-frame bitmap a client reads and
 * clears). Off until a client starts it; then every bus-master write marks the frames it touched.
 * CPU stores through page tables are not logged here (the PTE dirty bit records those).
 */
import { PAGE_SIZE } from "./constants";

/** Which pages of a region DMA or stores dirtied, page by page (memory_region_get_dirty). */
export class DirtyLog {
  private bits: Uint8Array | null = null;
  private clients = 0;

  /** The log covers frames [0, nrFrames): frames above (PCI windows) are not tracked. */
  constructor(readonly nrFrames: number) {}

  /** A client starts logging (memory_global_dirty_log_start); the bitmap starts clean. */
  start(): void {
    if (this.clients++ === 0) this.bits = new Uint8Array(Math.ceil(this.nrFrames / 8));
  }

  /** A client stops; the bitmap goes when the last one does. */
  stop(): void {
    if (this.clients === 0) throw new RangeError("DirtyLog.stop: logging was not started");
    if (--this.clients === 0) this.bits = null;
  }

  get logging(): boolean {
    return this.bits !== null;
  }

  /** Marks the frames of [addr, addr + len) (no-op when not logging). */
  markRange(addr: number, len: number): void {
    const bits = this.bits;
    if (!bits || len <= 0) return;
    const last = Math.min(Math.floor((addr + len - 1) / PAGE_SIZE), this.nrFrames - 1);
    for (let pfn = Math.floor(addr / PAGE_SIZE); pfn <= last; pfn++) bits[pfn >>> 3]! |= 1 << (pfn & 7);
  }

  isDirty(pfn: number): boolean {
    const bits = this.bits;
    return !!bits && pfn >= 0 && pfn < this.nrFrames && (bits[pfn >>> 3]! & (1 << (pfn & 7))) !== 0;
  }

  /**
   * cpu_physical_memory_test_and_clear_dirty(): the dirty frames of [startPfn, startPfn + n), in
   * order, and clears them.
   */
  testAndClear(startPfn: number, n: number): number[] {
    const bits = this.bits;
    if (!bits) return [];
    const out: number[] = [];
    const end = Math.min(startPfn + n, this.nrFrames);
    for (let pfn = Math.max(0, startPfn); pfn < end; pfn++) {
      const m = 1 << (pfn & 7);
      if (bits[pfn >>> 3]! & m) {
        out.push(pfn);
        bits[pfn >>> 3]! &= ~m;
      }
    }
    return out;
  }
}
