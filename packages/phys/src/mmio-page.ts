/**
 * An MMIO page resolved once, for a software TLB to keep (QEMU's TLB_MMIO entries, whose iotlb half
 * holds the MemoryRegionSection and the page's offset in it, so io_readx/io_writex dispatch to the
 * region without decoding the address again).
 *
 * `AddressSpace.mmioPage(pfn)` hands one out when the whole page lies inside one MMIO FlatRange; an
 * access through it is the access `physRead`/`physWrite` would make at the same physical address
 * (same region, same offset, same refusal and log entry), minus the FlatView search. A handle belongs
 * to the FlatView it was resolved in: after a topology change (a BAR moved, decoding turned off, a
 * region removed) it dispatches through the bus again, so even a TLB that missed its flush could not
 * reach a region the bus no longer decodes there. TLBs still drop their MMIO entries on every FlatView
 * change (AddressSpace.onChange), and `Mmu.checkTlb` audits that they did.
 */
import type { MemoryRegion } from "./memory-region";
import { type GuestLog, type MemTxValue, maskValue } from "./memtx";

/** One page of MMIO as a TLB entry caches it: loads and stores at an offset in the page. */
export interface MmioPage {
  /** The page's physical address. */
  readonly paddr: number;
  /** A load of `size` bytes at `offset` in the page (offset + size ≤ 4096): its value, all-ones if refused. */
  read(offset: number, size: 1 | 2 | 4): number;
  /** A store of the low `size` bytes of `value` at `offset` in the page. */
  write(offset: number, size: 1 | 2 | 4, value: number): void;
}

/** What a resolved page needs of its address space: the log, the FlatView's generation, the bus. */
export interface MmioPageSpace {
  readonly log: GuestLog;
  readonly generation: number;
  physRead(addr: number, size: 1 | 2 | 4): number | bigint;
  physWrite(addr: number, size: 1 | 2 | 4, value: number): unknown;
}

/** @internal An MmioPage of one FlatView (AddressSpace.mmioPage creates them). */
export class ResolvedMmioPage implements MmioPage {
  private readonly out: MemTxValue = { value: 0 };

  constructor(
    private readonly space: MmioPageSpace,
    private readonly generation: number,
    /** The region that decodes the page, and the page's offset in it. */
    readonly region: MemoryRegion,
    readonly regionOffset: number,
    readonly paddr: number,
  ) {}

  /** Whether the FlatView this page was resolved in is still the current one. */
  get current(): boolean {
    return this.space.generation === this.generation;
  }

  read(offset: number, size: 1 | 2 | 4): number {
    if (this.space.generation !== this.generation)
      return this.space.physRead(this.paddr + offset, size) as number;
    this.region.dispatchRead(this.regionOffset + offset, size, this.out, this.space.log, this.paddr + offset);
    return this.out.value as number;
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    if (this.space.generation !== this.generation) {
      this.space.physWrite(this.paddr + offset, size, value);
      return;
    }
    const v = maskValue(value, size);
    this.region.dispatchWrite(this.regionOffset + offset, size, v, this.space.log, this.paddr + offset);
  }
}
