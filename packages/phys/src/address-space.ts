/**
 * Dispatch (system/physmem.c: address_space_read/write, flatview_read/write and their _continue
 * loops): an AddressSpace renders its root region into a FlatView (flatview.ts) on every topology
 * change and sends each load and store, little-endian, to the range that decodes it: a bank directly,
 * an MMIO region through its dispatch (memory-region.ts, memory_region_dispatch_read/write).
 *
 * Results, not inference: every access ends in a MemTxResult (memtx.ts), computed where the access
 * is decided, and a load hands its value out separately (`physReadTx(addr, size, out)`, as QEMU's
 * address_space_read fills a buffer and memory_region_dispatch_read a `*pval`). The plain
 * `physRead*` return the value alone (all-ones where nothing answers), the `physWrite*` the result.
 * A guest mistake is also logged (GuestLog), never thrown.
 *
 * Hot paths, for the MMU built on top:
 * - `physRead32(addr)` etc. first try the most recently used bank-backed FlatRange (QEMU's
 *   `mru_section`, commit 729633c2): a bounds check and one typed-array load. Otherwise the FlatView is
 *   binary-searched.
 * - `translatePage(pfn, out?)` says what backs one page frame (FlatView.translatePage): only "bank"
 *   pages may be accessed directly through `MemoryBanks` views; everything else must go through
 *   physRead/physWrite, one access at a time. It fills a caller-provided (or internal scratch) object,
 *   so it does not allocate.
 * - `pageEntry(pfn)` is the same answer packed in one number (no object at all), cached per page:
 *   PAGE_ENTRY_NONE unless the page is directly bank-backed, else a page entry (encoding.ts; decode
 *   with `pageEntryBank/Offset/Writable`).
 * - `mmioPage(pfn)` resolves a page inside one MMIO range once (mmio-page.ts): a TLB keeps it and
 *   dispatches to the region without the FlatView search (QEMU's TLB_MMIO).
 * - `generation` increases and `onChange` listeners run whenever the FlatView changes (a BAR moved,
 *   decode toggled, a region added): a TLB that cached `pageEntry` or `mmioPage` results must drop
 *   them then.
 *
 * A little over ~500 lines on purpose: the fast paths (MRU ranges, the page-entry cache) and the slow
 * dispatch they fall back to share private state that must stay in one class (and monomorphic) to be
 * fast; regions (memory-region.ts), rendering (flatview.ts) and results (memtx.ts) already live apart.
 */
import type { MemoryBanks } from "./banks";
import { PAGE_ENTRY_NONE, PHYS_ADDR_LIMIT, pageEntryOf, physOf } from "./encoding";
import { hex } from "./errors";
import {
  type FlatRange,
  type FlatRangeDescriptor,
  FlatView,
  NO_BANK,
  type PageTranslation,
} from "./flatview";
import type { MemoryRegion } from "./memory-region";
import {
  type AccessSize,
  allOnes,
  BYTE_MASK,
  FLOATING_BYTE,
  GuestLog,
  MEMTX_ACCESS_ERROR,
  MEMTX_DECODE_ERROR,
  MEMTX_OK,
  type MemTxResult,
  type MemTxValue,
  maskValue,
} from "./memtx";
import { type MmioPage, ResolvedMmioPage } from "./mmio-page";

/** Options of an `AddressSpace`. */
export interface AddressSpaceOptions {
  /** Shared guest-error log (a machine passes one log to all its buses). */
  readonly log?: GuestLog;
}

/** The per-page cache of `pageEntry`: direct-mapped, 2^12 slots (16 MiB worth of pages). */
const PAGE_CACHE_BITS = 12;
const PAGE_CACHE_SIZE = 1 << PAGE_CACHE_BITS;
/** A pageTag slot that holds no pfn. */
const NO_PFN = -1;
/** The highest index of an empty MRU range (its lowest is 0), so every index fails its bounds check. */
const MRU_EMPTY = -1;
const EMPTY_U32 = new Uint32Array(0);
const EMPTY_U8 = new Uint8Array(0);
const U32_MASK = 0xffffffffn;
/** `decode` results that are not a range index. */
const DECODE_UNASSIGNED = -1;
const DECODE_SPLIT = -2;

/** Whether [addr, addr + size) lies inside the decodable physical address space. */
const inAddressSpace = (addr: number, size: number): boolean =>
  Number.isSafeInteger(addr) && addr >= 0 && addr + size <= PHYS_ADDR_LIMIT;

/**
 * An address space over a root region (address_space_init): renders its FlatView on every topology
 * change and dispatches loads and stores, little-endian.
 */
export class AddressSpace {
  readonly log: GuestLog;
  /** Increases on every FlatView change. */
  generation = 0;
  private view!: FlatView;
  private readonly listeners = new Set<(as: AddressSpace) => void>();
  // MRU bank-backed range for reads (RAM and ROM) and for writes (RAM and device RAM), as QEMU's TLB
  // addend: `addr - rdDelta` is the byte's index in the bank, valid from rdLo (the range's first byte)
  // to rdHi1 / rdHi4 / rdHi8 (the last index where an access of 1 / 4 / 8 bytes still fits). The
  // bounds are precomputed per size so the hit path is one subtraction, two compares and the load.
  private rdDelta = 0;
  private rdLo = 0;
  private rdHi1 = MRU_EMPTY;
  private rdHi4 = MRU_EMPTY;
  private rdHi8 = MRU_EMPTY;
  private rdU32: Uint32Array = EMPTY_U32;
  private rdU8: Uint8Array = EMPTY_U8;
  private wrDelta = 0;
  private wrLo = 0;
  private wrHi1 = MRU_EMPTY;
  private wrHi4 = MRU_EMPTY;
  private wrU32: Uint32Array = EMPTY_U32;
  private wrU8: Uint8Array = EMPTY_U8;
  private readonly pageTag = new Float64Array(PAGE_CACHE_SIZE).fill(NO_PFN);
  private readonly pageVal = new Float64Array(PAGE_CACHE_SIZE);
  private readonly scratch: PageTranslation = {
    kind: "unassigned",
    bank: NO_BANK,
    offset: NO_BANK,
    writable: false,
    region: null,
    regionOffset: 0,
  };
  /** The MMIO pages handed out in this FlatView, by pfn (dropped on every rebuild). */
  private readonly mmioPages = new Map<number, ResolvedMmioPage>();
  /** Where the plain physRead* have dispatch put the value (they return it, not the result). */
  private readonly loaded: MemTxValue = { value: 0 };

  constructor(
    readonly name: string,
    readonly root: MemoryRegion,
    readonly banks: MemoryBanks,
    options: AddressSpaceOptions = {},
  ) {
    this.log = options.log ?? new GuestLog();
    root.spaces.add(this);
    this.rebuild();
  }

  /** The current FlatView (sorted, non-overlapping). */
  get flatView(): readonly FlatRange[] {
    return this.view.ranges;
  }

  describeFlatView(): FlatRangeDescriptor[] {
    return this.view.describe();
  }

  /** Registers a FlatView-change listener (a MemoryListener, e.g. an MMU's TLB); returns unsubscribe. */
  onChange(listener: (as: AddressSpace) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops rendering (address_space_destroy). */
  destroy(): void {
    this.root.spaces.delete(this);
  }

  /** @internal Renders the tree again; throws (leaving the old view) if it cannot be rendered. */
  rebuild(): void {
    this.view = FlatView.render(this.root);
    this.rdLo = this.wrLo = 0;
    this.rdHi1 = this.rdHi4 = this.rdHi8 = this.wrHi1 = this.wrHi4 = MRU_EMPTY;
    this.rdU32 = this.wrU32 = EMPTY_U32;
    this.rdU8 = this.wrU8 = EMPTY_U8;
    this.pageTag.fill(NO_PFN);
    this.mmioPages.clear();
    this.generation++;
    for (const l of this.listeners) l(this);
  }

  /** Index of the FlatRange containing addr, or -1. */
  findIndex(addr: number): number {
    return this.view.findIndex(addr);
  }

  /** The FlatRange containing addr (memory_region_find), or null. */
  find(addr: number): FlatRange | null {
    const i = this.view.findIndex(addr);
    return i < 0 ? null : this.view.ranges[i]!;
  }

  // ---- pages ------------------------------------------------------------------------------------

  /** See flatview.ts. Fills `out` (default: an internal scratch object, valid until the next call). */
  translatePage(pfn: number, out: PageTranslation = this.scratch): PageTranslation {
    return this.view.translatePage(pfn, out);
  }

  /** translatePage packed in one number (see header); cached per page, allocation-free. */
  pageEntry(pfn: number): number {
    const slot = pfn & (PAGE_CACHE_SIZE - 1);
    if (this.pageTag[slot] !== pfn) this.fillPageEntry(pfn, slot);
    // One return, from the Float64Array: V8 then keeps the result an unboxed double. A second return
    // of the miss path's value (typed only as "any": PAGE_ENTRY_NONE is an imported binding) made it
    // box every hit into a fresh HeapNumber, twice the cost of a hit (measured, Node 20).
    return this.pageVal[slot]!;
  }

  /**
   * The page at `pfn` as one MMIO page (mmio-page.ts) when the whole page lies inside one MMIO range,
   * else null (RAM, ROM, unassigned, or several ranges). The same object for the same pfn until the
   * FlatView changes.
   */
  mmioPage(pfn: number): MmioPage | null {
    const known = this.mmioPages.get(pfn);
    if (known) return known;
    const t = this.view.translatePage(pfn, this.scratch);
    if (t.kind !== "mmio") return null;
    const page = new ResolvedMmioPage(this, this.generation, t.region!, t.regionOffset, physOf(pfn));
    this.mmioPages.set(pfn, page);
    return page;
  }

  private fillPageEntry(pfn: number, slot: number): void {
    const t = this.view.translatePage(pfn, this.scratch);
    this.pageTag[slot] = pfn;
    this.pageVal[slot] = t.kind === "bank" ? pageEntryOf(t.bank, t.writable, t.offset) : PAGE_ENTRY_NONE;
  }

  // ---- loads and stores -------------------------------------------------------------------------

  physRead8(addr: number): number {
    const b = addr - this.rdDelta;
    if (b >= this.rdLo && b <= this.rdHi1) return this.rdU8[b]!;
    this.dispatchRead(addr, 1, this.loaded);
    return this.loaded.value as number;
  }

  physRead16(addr: number): number {
    this.dispatchRead(addr, 2, this.loaded);
    return this.loaded.value as number;
  }

  /** The hot path: one bounds check against the MRU range and one aligned typed-array load. */
  physRead32(addr: number): number {
    // An index in the bank, not an address, so the compares stay small integers (banks are < 2^30
    // bytes); bank-backed ranges start on page boundaries, so b is aligned when the address is.
    const b = addr - this.rdDelta;
    if (b >= this.rdLo && b <= this.rdHi4 && (b & 3) === 0) return this.rdU32[b >>> 2]!;
    this.dispatchRead(addr, 4, this.loaded);
    return this.loaded.value as number;
  }

  physRead64(addr: number): bigint {
    this.dispatchRead(addr, 8, this.loaded);
    return this.loaded.value as bigint;
  }

  /** A 64-bit load as two u32 halves written into out[0] (low) and out[1] (high): no bigint. */
  physRead64Split(addr: number, out: Uint32Array | number[]): void {
    const b = addr - this.rdDelta;
    if (b >= this.rdLo && b <= this.rdHi8 && (b & 7) === 0) {
      const i = b >>> 2;
      out[0] = this.rdU32[i]!;
      out[1] = this.rdU32[i + 1]!;
      return;
    }
    this.dispatchRead(addr, 8, this.loaded);
    const v = this.loaded.value as bigint;
    out[0] = Number(v & U32_MASK);
    out[1] = Number(v >> 32n);
  }

  /** physRead of size 1, 2, 4 (number) or 8 (bigint). */
  physRead(addr: number, size: AccessSize): number | bigint {
    this.dispatchRead(addr, size, this.loaded);
    return this.loaded.value;
  }

  /**
   * A load of `size` bytes (address_space_read of one access): the value goes to `out.value`
   * (all-ones where nothing answers), the transaction result is returned. Use when the caller must
   * know whether the access decoded (the plain physRead* only log).
   */
  physReadTx(addr: number, size: AccessSize, out: MemTxValue): MemTxResult {
    return this.dispatchRead(addr, size, out);
  }

  physWrite8(addr: number, value: number): MemTxResult {
    const b = addr - this.wrDelta;
    if (b >= this.wrLo && b <= this.wrHi1) {
      this.wrU8[b] = value;
      return MEMTX_OK;
    }
    return this.dispatchWrite(addr, 1, maskValue(value, 1));
  }

  physWrite16(addr: number, value: number): MemTxResult {
    return this.dispatchWrite(addr, 2, maskValue(value, 2));
  }

  physWrite32(addr: number, value: number): MemTxResult {
    const b = addr - this.wrDelta;
    if (b >= this.wrLo && b <= this.wrHi4 && (b & 3) === 0) {
      this.wrU32[b >>> 2] = value;
      return MEMTX_OK;
    }
    return this.dispatchWrite(addr, 4, maskValue(value, 4));
  }

  physWrite64(addr: number, value: bigint): MemTxResult {
    return this.dispatchWrite(addr, 8, BigInt.asUintN(64, value));
  }

  physWrite(addr: number, size: AccessSize, value: number | bigint): MemTxResult {
    if (size === 8) return this.dispatchWrite(addr, 8, BigInt.asUintN(64, BigInt(value)));
    return this.dispatchWrite(addr, size, maskValue(Number(value), size));
  }

  // ---- dispatch ---------------------------------------------------------------------------------

  /**
   * Which FlatRange decodes all of [addr, addr + size): its index, DECODE_UNASSIGNED when nothing
   * decodes any of it (or it leaves the physical address space), DECODE_SPLIT when it straddles ranges.
   */
  private decode(addr: number, size: AccessSize): number {
    if (!inAddressSpace(addr, size)) return DECODE_UNASSIGNED;
    const view = this.view;
    const i = view.findIndex(addr);
    if (i >= 0) return addr + size <= view.ranges[i]!.end ? i : DECODE_SPLIT;
    return view.nextStartAfter(addr) >= addr + size ? DECODE_UNASSIGNED : DECODE_SPLIT;
  }

  /** One load (flatview_read): the result returned, the value in out.value. */
  private dispatchRead(addr: number, size: AccessSize, out: MemTxValue): MemTxResult {
    const i = this.decode(addr, size);
    if (i === DECODE_UNASSIGNED) {
      // On a PC nothing drives the bus: the read floats to all-ones (master abort).
      this.log.record({
        kind: "unassigned-read",
        addr,
        size,
        isWrite: false,
        region: null,
        message: `read of ${size} bytes at unassigned address ${hex(addr)} returns all-ones`,
      });
      out.value = allOnes(size);
      return MEMTX_DECODE_ERROR;
    }
    if (i === DECODE_SPLIT) {
      const bytes = new Uint8Array(size);
      const result = this.splitAccess(addr, bytes, false);
      let v = 0n;
      for (let b = size - 1; b >= 0; b--) v = (v << 8n) | BigInt(bytes[b]!);
      out.value = size === 8 ? v : Number(v);
      return result;
    }
    const r = this.view.ranges[i]!;
    if (r.bank < 0) return r.region.dispatchRead(r.offset + (addr - r.start), size, out, this.log, addr);
    this.rememberRead(r);
    const dv = this.banks.dv[r.bank]!;
    const o = r.bankOffset + (addr - r.start);
    switch (size) {
      case 1:
        out.value = dv.getUint8(o);
        break;
      case 2:
        out.value = dv.getUint16(o, true);
        break;
      case 4:
        out.value = dv.getUint32(o, true);
        break;
      default:
        out.value = dv.getBigUint64(o, true);
    }
    return MEMTX_OK;
  }

  /** One store (flatview_write). */
  private dispatchWrite(addr: number, size: AccessSize, value: number | bigint): MemTxResult {
    const i = this.decode(addr, size);
    if (i === DECODE_UNASSIGNED) {
      this.log.record({
        kind: "unassigned-write",
        addr,
        size,
        isWrite: true,
        region: null,
        message: `write of ${hex(value)} (${size} bytes) to unassigned address ${hex(addr)} dropped`,
      });
      return MEMTX_DECODE_ERROR;
    }
    if (i === DECODE_SPLIT) {
      const bytes = new Uint8Array(size);
      let v = BigInt(value);
      for (let b = 0; b < size; b++, v >>= 8n) bytes[b] = Number(v & BYTE_MASK);
      return this.splitAccess(addr, bytes, true);
    }
    const r = this.view.ranges[i]!;
    if (r.bank < 0) return r.region.dispatchWrite(r.offset + (addr - r.start), size, value, this.log, addr);
    if (!r.writable) {
      this.log.record({
        kind: "rom-write",
        addr,
        size,
        isWrite: true,
        region: r.region.name,
        message: `write of ${hex(value)} (${size} bytes) to ROM ${r.region.name} at ${hex(addr)} dropped`,
      });
      return MEMTX_ACCESS_ERROR;
    }
    this.rememberWrite(r);
    const dv = this.banks.dv[r.bank]!;
    const o = r.bankOffset + (addr - r.start);
    switch (size) {
      case 1:
        dv.setUint8(o, value as number);
        break;
      case 2:
        dv.setUint16(o, value as number, true);
        break;
      case 4:
        dv.setUint32(o, value as number, true);
        break;
      default:
        dv.setBigUint64(o, value as bigint, true);
    }
    return MEMTX_OK;
  }

  /**
   * An access that straddles ranges: composed byte by byte over RAM, ROM and holes, as a bus cycle
   * split by the CPU would be; MMIO never sees a split access, so touching one refuses the whole
   * access (a read then floats to all-ones).
   */
  private splitAccess(addr: number, bytes: Uint8Array, isWrite: boolean): MemTxResult {
    const size = bytes.length;
    for (let a = addr; a < addr + size; a++) {
      const r = this.find(a);
      if (!r || r.bank >= 0) continue;
      this.log.record({
        kind: "invalid-access",
        addr,
        size,
        isWrite,
        region: this.find(addr)?.region.name ?? null,
        message: `${isWrite ? "write" : "read"} of ${size} bytes at ${hex(addr)} straddles an MMIO region boundary: refused`,
      });
      if (!isWrite) bytes.fill(FLOATING_BYTE);
      return MEMTX_ACCESS_ERROR;
    }
    return this.bulk(addr, bytes, isWrite);
  }

  private rememberRead(r: FlatRange): void {
    this.rdDelta = r.start - r.bankOffset;
    this.rdLo = r.bankOffset;
    this.rdHi1 = r.bankOffset + (r.end - r.start) - 1;
    this.rdHi4 = this.rdHi1 - 3;
    this.rdHi8 = this.rdHi1 - 7;
    this.rdU32 = this.banks.u32[r.bank]!;
    this.rdU8 = this.banks.u8[r.bank]!;
  }

  private rememberWrite(r: FlatRange): void {
    this.wrDelta = r.start - r.bankOffset;
    this.wrLo = r.bankOffset;
    this.wrHi1 = r.bankOffset + (r.end - r.start) - 1;
    this.wrHi4 = this.wrHi1 - 3;
    this.wrU32 = this.banks.u32[r.bank]!;
    this.wrU8 = this.banks.u8[r.bank]!;
  }

  // ---- bulk -------------------------------------------------------------------------------------

  /** Reads `length` bytes from `addr` across region boundaries (address_space_read). */
  readBytes(addr: number, length: number): Uint8Array {
    const dst = new Uint8Array(length);
    this.readBytesInto(addr, dst);
    return dst;
  }

  /** Reads dst.length bytes into dst; unassigned bytes read 0xff. */
  readBytesInto(addr: number, dst: Uint8Array): MemTxResult {
    return this.bulk(addr, dst, false);
  }

  /** Writes src at addr across region boundaries (address_space_write); ROM and holes drop bytes. */
  writeBytes(addr: number, src: Uint8Array): MemTxResult {
    return this.bulk(addr, src, true);
  }

  /** flatview_read_continue / flatview_write_continue: range by range, results OR-ed. */
  private bulk(addr: number, buf: Uint8Array, isWrite: boolean): MemTxResult {
    const end = addr + buf.length;
    const rw = isWrite ? "write" : "read";
    if (!inAddressSpace(addr, buf.length)) {
      if (!isWrite) buf.fill(FLOATING_BYTE);
      this.log.record({
        kind: isWrite ? "unassigned-write" : "unassigned-read",
        addr,
        size: buf.length,
        isWrite,
        region: null,
        message: `${rw} of ${buf.length} bytes at ${hex(addr)}: outside the physical address space`,
      });
      return MEMTX_DECODE_ERROR;
    }
    const view = this.view;
    let result = MEMTX_OK;
    let pos = addr;
    while (pos < end) {
      const i = view.findIndex(pos);
      if (i < 0) {
        const stop = Math.min(end, view.nextStartAfter(pos));
        if (!isWrite) buf.fill(FLOATING_BYTE, pos - addr, stop - addr);
        this.log.record({
          kind: isWrite ? "unassigned-write" : "unassigned-read",
          addr: pos,
          size: stop - pos,
          isWrite,
          region: null,
          message: `${rw} of ${stop - pos} bytes at unassigned address ${hex(pos)} ${isWrite ? "dropped" : "returns all-ones"}`,
        });
        result |= MEMTX_DECODE_ERROR;
        pos = stop;
        continue;
      }
      const r = view.ranges[i]!;
      const stop = Math.min(end, r.end);
      const bo = pos - addr;
      const n = stop - pos;
      if (r.bank >= 0) {
        const u8 = this.banks.u8[r.bank]!;
        const o = r.bankOffset + (pos - r.start);
        if (!isWrite) buf.set(u8.subarray(o, o + n), bo);
        else if (r.writable) u8.set(buf.subarray(bo, bo + n), o);
        else {
          this.log.record({
            kind: "rom-write",
            addr: pos,
            size: n,
            isWrite,
            region: r.region.name,
            message: `write of ${n} bytes to ROM ${r.region.name} at ${hex(pos)} dropped`,
          });
          result |= MEMTX_ACCESS_ERROR;
        }
      } else {
        const off = r.offset + (pos - r.start);
        result |= r.region.dispatchBulk(off, buf.subarray(bo, bo + n), isWrite, this.log, pos);
      }
      pos = stop;
    }
    return result;
  }

  /**
   * Consistency of the FlatView: sorted, non-empty, non-overlapping, bank-backed ranges inside their
   * banks, MMIO ranges inside their regions. Throws a PhysError naming the first bad range.
   */
  checkInvariants(): void {
    this.view.checkInvariants(this.name, this.banks);
  }
}
