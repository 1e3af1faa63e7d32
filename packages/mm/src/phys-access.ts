import type { MmioPage, PhysMemory } from "@faultline/phys";

/**
 * What the mm layer needs of the physical machine beyond RAM frames: where a pfn's bytes live
 * (RAM, device RAM and ROM are SharedArrayBuffer banks) and how to reach MMIO.
 */
export interface PhysAccess {
  readonly mem: PhysMemory;
  /** bank id * 2^32 + byte offset when the page is backed directly by a bank, else -1 (MMIO, unassigned). */
  locatePage(pfn: number): number;
  /** False for ROM pages: stores are dropped (and reported by the bus). */
  pageWritable(pfn: number): boolean;
  /**
   * An MMIO access. `vaddr` is the virtual address the MMU translated to `paddr` (through a PTE that
   * allows the access): a kernel serving another thread's MMU checks it against that process's page
   * tables instead of trusting a physical address (packages/sim).
   */
  physRead(paddr: number, size: 1 | 2 | 4, vaddr?: number): number;
  physWrite(paddr: number, size: 1 | 2 | 4, value: number, vaddr?: number): void;
  /**
   * The page at `pfn` resolved to its MMIO region (phys's AddressSpace.mmioPage), or null when it is
   * not one MMIO page. An MMU caches it in its TLB (QEMU's TLB_MMIO) and sends accesses straight to
   * it; the same object for a pfn until the FlatView changes, when every TLB is flushed. Absent: MMIO
   * accesses walk and go through physRead/physWrite every time (a worker's MMU, whose devices live in
   * the kernel's thread).
   */
  mmioPage?(pfn: number): MmioPage | null;
}

/** A machine with nothing but RAM (tests of the mm layer alone). Other addresses read all-ones. */
export function ramOnly(mem: PhysMemory): PhysAccess {
  return {
    mem,
    locatePage: (pfn) => mem.ramLocate(pfn),
    pageWritable: () => true,
    physRead: (_paddr, size) => (size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff),
    physWrite: () => {},
  };
}
