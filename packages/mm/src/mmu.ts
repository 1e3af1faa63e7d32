// The software MMU: TLB, page walk and the accessors programs use. About 600 lines in one file on
// purpose: the TLB-hit paths are the hottest code in Faultline and V8 keeps them fast when the fields
// they touch live on one class (see the `declare` fields and bench/mm.bench.ts).
import type { MemoryBanks, MmioPage, PhysMemory } from "@faultline/phys";
import {
  FAULT_OK,
  FAULT_OOM,
  FAULT_SEGV_ACCERR,
  FAULT_SEGV_MAPERR,
  FAULT_SEGV_PKUERR,
  FAULT_SIGBUS,
  faultPkey,
} from "./fault";
import type { Mm } from "./mm";
import type { TlbClient } from "./mm_types";
import { _PAGE_ACCESSED, _PAGE_DIRTY, _PAGE_PRESENT, _PAGE_RW, _PAGE_USER } from "./pgtable";
import type { PhysAccess } from "./phys-access";
import { SignalError } from "./signal";

/** A fault the MMU hands to the kernel; returns FAULT_OK or why the access cannot be served. */
export type FaultHook = (addr: number, write: boolean) => number;
/** The kernel killed the process while serving the fault (an oops in a driver, an OOM kill). */
export const FAULT_KILLED = 5;

/** Options of an `Mmu`: TLB size, and a shared TLB buffer for MMUs in workers. */
export interface MmuOptions {
  /** Direct-mapped TLB entries (power of two, default 256). */
  readonly tlbEntries?: number;
  /**
   * Keep the TLB in this buffer (for a kernel in another thread to invalidate entries directly), laid
   * out as `tlbBufferLayout(n)` says; at least `tlbBufferBytes(n)` bytes. Default: private arrays.
   */
  readonly tlbBuffer?: SharedArrayBuffer;
  /**
   * The bank the TLB hit path indexes directly (default: the first RAM bank). Pages elsewhere are
   * still cached, and served through the bank list. Tests pass -1 to send every page that way.
   */
  readonly mainBank?: number;
}

/**
 * Byte offsets of a shared TLB of `n` entries: read tags, write tags (Float64: the page's address, plus
 * TLB_OTHER_BANK when the page is not in the main RAM view, NaN = invalid), bank and byte offset of the
 * page (Int32). The kernel side decodes a tag with `tlbTagPage`.
 */
export const tlbBufferLayout = (n: number) => ({
  rTag: 0,
  wTag: 8 * n,
  tBank: 16 * n,
  tBase: 20 * n,
});
/** Bytes of a shared TLB buffer for `n` entries. */
export const tlbBufferBytes = (n: number): number => 24 * n;

/**
 * Added to the tag of a page that lives outside the main RAM view (device RAM, ROM, RAM beyond the
 * first bank). The hit paths compare the tag with `addr - (addr & (4096 - size))`, which for an
 * aligned access is the page's address and otherwise exceeds it by less than 4: never page + 8, so
 * such entries always miss the fast compare and are served by the bank-indexed path (QEMU's TLB flag
 * bits in the low bits of the address compare, for the same reason).
 */
export const TLB_OTHER_BANK = 8;
/**
 * Added to the tag of an MMIO page (QEMU's TLB_MMIO): the entry holds the page resolved to its region
 * (PhysAccess.mmioPage), and the slow paths dispatch to it without a walk or a FlatView search. Like
 * TLB_OTHER_BANK it never equals `addr - (addr & (4096 - size))`, so the hit paths miss it, and it
 * differs from TLB_OTHER_BANK so the bank paths never take it for a bank page.
 */
export const TLB_MMIO = 16;
/** The virtual page address a TLB tag caches (NaN for an invalid entry). */
export const tlbTagPage = (tag: number): number => tag - (tag % 4096);
/** What an MMU needs: the RAM banks, where tables and pages live, the PGD, and the kernel for faults. */
export interface MmuTarget {
  readonly mem: PhysMemory;
  readonly phys: PhysAccess;
  readonly pgdRoot: number;
  readonly fault: FaultHook;
  /**
   * The PKRU register of the thread this MMU runs: Int32 [0], shared with the kernel (Mm.pkru). Every
   * walk checks the PTE's protection key against it. Absent: 0, every key allows everything (no PKU).
   */
  readonly pkru?: Int32Array;
}

const TWO32 = 2 ** 32;
/** cachedLoc's answers when it has no location: the page is not cached, or cached as MMIO. */
const NOT_CACHED = -1;
const CACHED_MMIO = -2;
/** 2^n for the page-walk shifts: a table lookup, not Math.pow, on the walk. */
const POW2: readonly number[] = Array.from({ length: 64 }, (_, n) => 2 ** n);
const TWO20 = 2 ** 20;
/**
 * storeSlow's second argument: the value's low 32 bits plus the store's size times 2^32 (one
 * argument for two: see storeSlow).
 */
const STORE1 = TWO32;
const STORE2 = 2 * TWO32;
const STORE4 = 4 * TWO32;
/**
 * Linux retries a fault forever when a handler keeps returning without installing anything (the LDD3
 * port's scullp VM_FAULT_NOPAGE bug hangs the process); a simulation reports SIGBUS instead of hanging.
 */
const MAX_FAULT_RETRIES = 8;

/**
 * The CPU side of a process: the only way it touches memory. Translates through the page tables in
 * shared memory as x86 hardware does (setting accessed/dirty bits), caches translations in a
 * direct-mapped software TLB whose hit path allocates nothing, and raises page faults to the kernel.
 *
 * 64-bit accesses use `bigint`. Addresses are plain numbers (user space is 47 bits).
 */
export class Mmu implements TlbClient {
  declare private readonly mask: number;
  /**
   * Tags: the page address cached for reads / for writes (+ TLB_OTHER_BANK outside the main view,
   * NaN = invalid); the bank and the page's byte offset in it, which the hit path adds to the offset
   * in the page (only this MMU writes them; the kernel side reads them to release frames).
   */
  declare private readonly rTag: Float64Array;
  declare private readonly wTag: Float64Array;
  declare private readonly tBank: Int32Array;
  declare private readonly tBase: Int32Array;
  /** The resolved MMIO page of each entry tagged TLB_MMIO (stale elsewhere: the tags decide). */
  declare private readonly tMmio: Array<MmioPage | null>;
  /**
   * The main RAM view: the first RAM bank, where the buddy allocator hands out almost every page (all
   * of them on a machine of up to 1 GiB). A hit on it is one tag compare and one typed-array index
   * (QEMU's addend, as a base offset into one view); other banks go through `u8[tBank[i]]`.
   */
  declare private readonly mainBank: number;
  declare private readonly ram8: Uint8Array;
  declare private readonly ram16: Uint16Array;
  declare private readonly ram32: Uint32Array;
  declare private readonly u8: Uint8Array[];
  declare private readonly u16: Uint16Array[];
  declare private readonly u32: Uint32Array[];
  declare private readonly banks: MemoryBanks;
  declare private readonly pkru: Int32Array;
  /** Physical address of the last MMIO translation (translate() returned MMIO). */
  private mmioPaddr = 0;
  /** TLB misses served by a walk, and faults raised (for tests and benches). */
  walks = 0;
  faults = 0;

  constructor(
    readonly target: MmuTarget,
    options: MmuOptions = {},
  ) {
    const n = options.tlbEntries ?? 256;
    if (n & (n - 1) || n < 1 || n > 2 ** 20)
      throw new RangeError(`tlbEntries ${n} is not a power of two up to 2^20`);
    this.mask = n - 1;
    const buf = options.tlbBuffer;
    if (buf) {
      if (buf.byteLength < tlbBufferBytes(n))
        throw new RangeError(`tlbBuffer: ${buf.byteLength} bytes, need ${tlbBufferBytes(n)}`);
      const at = tlbBufferLayout(n);
      this.rTag = new Float64Array(buf, at.rTag, n);
      this.wTag = new Float64Array(buf, at.wTag, n);
      this.tBank = new Int32Array(buf, at.tBank, n);
      // The hit path reads tBase here, in the buffer the kernel thread made, not a private copy the
      // worker allocates: V8 compiles a hit's array reads to an address in the instruction when the
      // array's memory is in the low 2 GiB (the main thread's C heap, with Node's non-PIE binary) and
      // to an extra 10-byte constant load when it is not (a worker thread's own C heap). A private
      // copy made a bare worker's TLB-hit loads and stores ~10% slower than the same loops in the main
      // thread (store32 1.74 vs 1.54 × the raw store; the simulator's worker load32 1.46-1.58 vs 1.41).
      this.tBase = new Int32Array(buf, at.tBase, n);
    } else {
      // Arrays V8 allocates itself (no user-visible buffer) index faster than views on a given
      // buffer: about a third off every TLB hit (bench/mm.bench.ts).
      this.rTag = new Float64Array(n);
      this.wTag = new Float64Array(n);
      this.tBank = new Int32Array(n);
      this.tBase = new Int32Array(n);
    }
    this.tMmio = new Array<MmioPage | null>(n).fill(null);
    this.flushAll();
    this.pkru = target.pkru ?? new Int32Array(1);
    this.banks = target.mem.banks;
    this.u8 = this.banks.u8;
    this.u16 = this.banks.u16;
    this.u32 = this.banks.u32;
    this.mainBank = options.mainBank ?? target.mem.ramBanks[0] ?? 0;
    this.ram8 = this.u8[this.mainBank] ?? new Uint8Array(8);
    this.ram16 = this.u16[this.mainBank] ?? new Uint16Array(4);
    this.ram32 = this.u32[this.mainBank] ?? new Uint32Array(2);
  }

  /** An MMU for an in-thread process: faults go straight to `mm.handleFault` (or `fault` if given). */
  static forMm(mm: Mm, fault?: FaultHook, options?: MmuOptions): Mmu {
    const mmu = new Mmu(
      {
        mem: mm.mem,
        phys: mm.phys,
        pgdRoot: mm.pgd.root,
        fault: fault ?? ((a, w) => mm.handleFault(a, w)),
        pkru: mm.pkru,
      },
      options,
    );
    mm.tlbClients.add(mmu);
    return mmu;
  }

  // ---- TLB maintenance ----------------------------------------------------------------------

  /** The mm exited: drop everything and fault (SIGSEGV) on any further access. */
  release(): void {
    this.released = true;
    this.flushAll();
  }

  private released = false;

  flushAll(): void {
    this.rTag.fill(Number.NaN);
    this.wTag.fill(Number.NaN);
    // The tags decide; this only lets go of the regions (a removed device) for the collector.
    this.tMmio.fill(null);
  }

  flushRange(start: number, end: number): void {
    const first = Math.floor(start / 4096);
    const last = Math.ceil(end / 4096);
    if (last - first > this.mask) {
      this.flushAll();
      return;
    }
    for (let vpn = first; vpn < last; vpn++) this.dropEntry(vpn * 4096);
  }

  /** Invalidates whatever the TLB caches for the page holding `addr`. */
  protected dropEntry(addr: number): void {
    const page = addr - (addr % 4096);
    const i = (addr >>> 12) & this.mask;
    if (tlbTagPage(this.rTag[i]!) === page) this.rTag[i] = Number.NaN;
    if (tlbTagPage(this.wTag[i]!) === page) this.wTag[i] = Number.NaN;
  }

  /**
   * Throws if any TLB entry caches what a page walk would not give now: every read tag must be a
   * page the walk lets this thread read, at the cached bank and offset (in the main view exactly when
   * untagged), an MMIO entry the very page the bus resolves now (PhysAccess.mmioPage), and every
   * write tag a page that is writable, dirty and allowed by PKRU. The TLB invariant behind every
   * shootdown; tests call it after each step (mm's model runner does, and the kernel's
   * checkInvariants for every running thread).
   */
  checkTlb(): void {
    for (let i = 0; i <= this.mask; i++) {
      for (const write of [false, true]) {
        const tag = (write ? this.wTag : this.rTag)[i]!;
        if (Number.isNaN(tag)) continue;
        const page = tlbTagPage(tag);
        const where = `TLB slot ${i} (${write ? "write" : "read"}) caches 0x${page.toString(16)}`;
        if ((page / 4096) % (this.mask + 1) !== i) throw new Error(`${where} in the wrong slot`);
        const lo = this.walk(page);
        if (!this.permits(lo, write)) throw new Error(`${where}, which the walk does not allow`);
        if (write && (lo & _PAGE_DIRTY) === 0) throw new Error(`${where}, whose PTE is clean`);
        const pfn = (lo >>> 12) + (this.hiWord & 0xfffff) * TWO20;
        const loc = this.target.phys.locatePage(pfn);
        if (tag === page + TLB_MMIO) {
          // An MMIO entry: still MMIO, and the very page the bus resolves now (same FlatView).
          const now = loc < 0 ? (this.target.phys.mmioPage?.(pfn) ?? null) : null;
          if (now === null || now !== this.tMmio[i])
            throw new Error(`${where} as MMIO, which the bus no longer resolves to the cached region page`);
          continue;
        }
        if (loc !== this.tBank[i]! * TWO32 + this.tBase[i]!)
          throw new Error(`${where} at location ${this.tBank[i]}:${this.tBase[i]}, the walk says ${loc}`);
        if (write && !this.target.phys.pageWritable(pfn)) throw new Error(`${where}, a read-only page`);
        const main = this.tBank[i] === this.mainBank;
        if (main !== (tag === page)) throw new Error(`${where} with a wrong main-view tag`);
      }
    }
  }

  // ---- hot paths ----------------------------------------------------------------------------
  // The slot is bits 12.. of the address ((addr >>> 12) & mask: V8 truncates the double with one
  // instruction), and one compare checks page and alignment at once: `addr - (addr & (4096 - size))`
  // is the page's address only when the access is aligned. The offset in the page is then
  // `addr & (4096 - size)` too. No division, no floor, one tag, one base, one view.

  load8(addr: number): number {
    const i = (addr >>> 12) & this.mask;
    const off = addr & 4095;
    if (this.rTag[i] === addr - off) return this.ram8[this.tBase[i]! + off]!;
    return this.loadSlow(addr, 1);
  }

  load16(addr: number): number {
    const i = (addr >>> 12) & this.mask;
    const off = addr & 4094;
    if (this.rTag[i] === addr - off) return this.ram16[(this.tBase[i]! + off) >>> 1]!;
    return this.loadSlow(addr, 2);
  }

  load32(addr: number): number {
    const i = (addr >>> 12) & this.mask;
    const off = addr & 4092;
    if (this.rTag[i] === addr - off) return this.ram32[(this.tBase[i]! + off) >>> 2]!;
    return this.loadSlow(addr, 4);
  }

  load64(addr: number): bigint {
    const lo = this.load32(addr);
    const hi = this.load32(addr + 4);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  store8(addr: number, value: number): void {
    const i = (addr >>> 12) & this.mask;
    const off = addr & 4095;
    if (this.wTag[i] === addr - off) this.ram8[this.tBase[i]! + off] = value;
    else this.storeSlow(addr, (value >>> 0) + STORE1);
  }

  store16(addr: number, value: number): void {
    const i = (addr >>> 12) & this.mask;
    const off = addr & 4094;
    if (this.wTag[i] === addr - off) this.ram16[(this.tBase[i]! + off) >>> 1] = value;
    else this.storeSlow(addr, (value >>> 0) + STORE2);
  }

  store32(addr: number, value: number): void {
    const i = (addr >>> 12) & this.mask;
    const off = addr & 4092;
    if (this.wTag[i] === addr - off) this.ram32[(this.tBase[i]! + off) >>> 2] = value;
    else this.storeSlow(addr, (value >>> 0) + STORE4);
  }

  store64(addr: number, value: bigint): void {
    const v = BigInt.asUintN(64, value);
    // Check both halves are writable before storing either (an x86 store is all or nothing).
    if ((addr & 4095) > 4088) {
      this.translate(addr, true);
      this.translate(addr - (addr & 4095) + 4096, true);
    }
    this.store32(addr, Number(v & 0xffffffffn));
    this.store32(addr + 4, Number(v >> 32n));
  }

  // ---- bulk ---------------------------------------------------------------------------------

  /**
   * Reads `len` bytes starting at `addr` (crossing pages; faults as the loads would) into a new
   * array the caller owns. Give it back with `recycle` when done and the next `read` of the same
   * length reuses its memory (see `recycle`); one that is never given back is simply collected.
   */
  read(addr: number, len: number): Uint8Array {
    if (!Number.isSafeInteger(len) || len < 0)
      throw new TypeError(`mmu.read: length must be a non-negative integer, got ${argText(len)}`);
    const out = readResult(len);
    try {
      this.readInto(addr, out);
    } catch (e) {
      // Nobody saw it: back to the pool as it is (the next read overwrites every byte).
      recycleBytes(out);
      throw e;
    }
    return out;
  }

  /**
   * Gives back an array `read` returned, once the caller is done with it: its memory goes to a small
   * pool that later `read`s of the same length take from, so a loop of read-use-recycle touches
   * the same host memory each time instead of new pages (a fresh megabyte costs a host page fault
   * per 4 KiB wherever the C heap gave freed memory back; see UNZEROED_MIN). As with `free`, the
   * array is no longer the caller's: a later `read` of that length refills its memory and hands it to
   * someone else, so keep no view of it. It is not detached: detaching any ArrayBuffer turns off V8's
   * ArrayBufferDetaching protector for the whole thread, after which every typed-array access checks
   * its buffer, and a TLB-hit load32 takes ~40% longer (2.0× a raw read instead of 1.5×:
   * bench/mm.bench.ts, section "detached").
   * Throws a TypeError for anything that is not a live result of `read` (recycled already, or not
   * read's) and for one the caller detached (transferred away).
   */
  recycle(bytes: Uint8Array): void {
    const len = issued.get(bytes as object);
    if (len === undefined)
      throw new TypeError(
        `mmu.recycle: not a live result of mmu.read (recycled already, or not read's): ${argText(bytes)}`,
      );
    if (bytes.length !== len) {
      issued.delete(bytes);
      throw new TypeError("mmu.recycle: this result of mmu.read was detached (transferred?) before recycle");
    }
    recycleBytes(bytes);
  }

  /**
   * Reads `dst.length` bytes into `dst`. Runs of pages that are contiguous in one bank (as the buddy
   * allocator usually hands them out) are copied with a single `set`.
   */
  readInto(addr: number, dst: Uint8Array): void {
    if (!(dst instanceof Uint8Array))
      throw new TypeError(`mmu.readInto: destination must be a Uint8Array, got ${argText(dst)}`);
    if (!Number.isInteger(addr))
      throw new TypeError(`mmu: the address must be an integer, got ${argText(addr)}`);
    let done = 0;
    const len = dst.length;
    while (done < len) {
      const a = addr + done;
      let loc = this.cachedLoc(a, this.rTag);
      if (loc === NOT_CACHED) loc = this.translate(a, false);
      if (loc < 0) {
        // MMIO: byte by byte (through the cached MMIO page or the bus).
        const n = Math.min(4096 - (a & 4095), len - done);
        for (let k = 0; k < n; k++) dst[done + k] = this.loadSlow(a + k, 1);
        done += n;
        continue;
      }
      const bank = Math.floor(loc / TWO32);
      const base = loc % TWO32;
      const n = this.contiguous(a, bank, base, len - done, this.rTag, false);
      dst.set(this.u8[bank]!.subarray(base, base + n), done);
      done += n;
    }
  }

  /**
   * How many of `left` bytes from `addr` (bank `bank`, byte `base` in it) lie contiguously in that
   * bank: the following pages are filled into the TLB when the walk allows it, and the run ends at
   * the first page that is elsewhere, not mapped yet, or MMIO.
   */
  private contiguous(
    addr: number,
    bank: number,
    base: number,
    left: number,
    tags: Float64Array,
    write: boolean,
  ): number {
    const first = Math.min(4096 - (addr & 4095), left);
    if (first === left) return left;
    // The following pages: runs the TLB already holds where expected go by cachedRun, a loop with no
    // call in it (a call in the loop made every step reload its values from the stack: walking the
    // 256 pages of a 1 MiB readInto cost 4% of the copy; now ~1%); a page where a run stops is looked
    // up in full and filled.
    const pages = Math.ceil((left - first) / 4096);
    const next = addr - (addr & 4095) + 4096;
    const tag = next + (bank === this.mainBank ? 0 : TLB_OTHER_BANK);
    const slot = (addr >>> 12) + 1;
    const expect = base + first;
    let k = 0;
    for (;;) {
      k += cachedRun(
        tags,
        this.tBank,
        this.tBase,
        this.mask,
        slot + k,
        tag + k * 4096,
        bank,
        expect + k * 4096,
        pages - k,
      );
      if (k === pages) return left;
      const page = next + k * 4096;
      let loc = this.cachedLoc(page, tags);
      if (loc < 0 && this.tryFill(page, write)) loc = this.cachedLoc(page, tags);
      if (loc !== bank * TWO32 + expect + k * 4096) return first + k * 4096;
      k++;
    }
  }

  /** Fills the TLB for `addr` if the walk allows the access without a fault; false otherwise. */
  private tryFill(addr: number, write: boolean): boolean {
    const lo = this.walk(addr);
    if (!this.permits(lo, write) || this.released) return false;
    // translate() walks again, on purpose: a subclass may guard its walks (the sim's worker MMU does).
    this.translate(addr, write);
    return true;
  }

  /**
   * The location (bank * 2^32 + byte offset) of `addr` if the TLB caches its page in `tags` (either
   * view), CACHED_MMIO if it caches it as an MMIO page, NOT_CACHED otherwise. The slow paths' TLB
   * lookup: unaligned accesses, other banks, MMIO, bulk copies.
   */
  private cachedLoc(addr: number, tags: Float64Array): number {
    if (typeof addr !== "number") return NOT_CACHED;
    const i = (addr >>> 12) & this.mask;
    const off = addr & 4095;
    const t = tags[i]!;
    if (t !== addr - off && t !== addr - off + TLB_OTHER_BANK)
      return t === addr - off + TLB_MMIO ? CACHED_MMIO : NOT_CACHED;
    return this.tBank[i]! * TWO32 + this.tBase[i]! + off;
  }

  /**
   * A load from a page that is not directly backed (translate() returned -1, or the TLB caches the
   * page as MMIO): through the cached MMIO page when there is one, else through the bus. Apart from
   * loadSlow so that loadSlow, inlined into the hit paths' callers, stays as small as it was.
   */
  private loadMmio(addr: number, size: 1 | 2 | 4): number {
    const i = (addr >>> 12) & this.mask;
    if (this.rTag[i] === addr - (addr & 4095) + TLB_MMIO) return this.tMmio[i]!.read(addr & 4095, size);
    return this.target.phys.physRead(this.mmioPaddr, size, addr);
  }

  /** Writes `bytes` at `addr`, page by page (a fault part-way leaves the earlier pages written, as on Linux). */
  write(addr: number, bytes: ArrayLike<number>): void {
    if (typeof bytes !== "object" || bytes === null || !Number.isSafeInteger(bytes.length))
      throw new TypeError(
        `mmu.write: bytes must be a Uint8Array or an array of bytes, got ${argText(bytes)}`,
      );
    if (!Number.isInteger(addr))
      throw new TypeError(`mmu: the address must be an integer, got ${argText(addr)}`);
    const src = bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes);
    let done = 0;
    const len = src.length;
    while (done < len) {
      const a = addr + done;
      let loc = this.cachedLoc(a, this.wTag);
      if (loc === NOT_CACHED) loc = this.translate(a, true);
      if (loc < 0) {
        const n = Math.min(4096 - (a & 4095), len - done);
        for (let k = 0; k < n; k++) this.storeSlow(a + k, src[done + k]! + STORE1);
        done += n;
        continue;
      }
      const bank = Math.floor(loc / TWO32);
      const base = loc % TWO32;
      const n = this.contiguous(a, bank, base, len - done, this.wTag, true);
      this.u8[bank]!.set(src.subarray(done, done + n), base);
      done += n;
    }
  }

  // ---- slow paths ---------------------------------------------------------------------------

  private loadSlow(addr: number, size: 1 | 2 | 4): number {
    if ((addr & 4095) > 4096 - size) {
      // Crosses a page: both pages must be readable first. si_addr is the access address when the
      // first page faults, the second page's start when only it does (as x86 reports it).
      this.translate(addr, false);
      this.translate(addr - (addr & 4095) + 4096, false);
      let v = 0;
      for (let k = size - 1; k >= 0; k--) v = v * 256 + this.loadSlow(addr + k, 1);
      return v;
    }
    let loc = this.cachedLoc(addr, this.rTag);
    if (loc === NOT_CACHED) loc = this.translate(addr, false);
    if (loc < 0) return this.loadMmio(addr, size);
    const bank = Math.floor(loc / TWO32);
    const off = loc % TWO32;
    if ((off & (size - 1)) === 0) {
      if (size === 4) return this.u32[bank]![off >>> 2]!;
      if (size === 2) return this.u16[bank]![off >>> 1]!;
    }
    const u8 = this.u8[bank]!;
    if (size === 1) return u8[off]!;
    if (size === 2) return u8[off]! | (u8[off + 1]! << 8);
    return (u8[off]! | (u8[off + 1]! << 8) | (u8[off + 2]! << 16) | (u8[off + 3]! << 24)) >>> 0;
  }

  /**
   * A store the TLB hit path does not serve: `sized` is the value's low 32 bits plus its size (1, 2
   * or 4) times 2^32 (STORE1, STORE2, STORE4).
   *
   * Its shape is for V8 (Node 20's TurboFan), as bench/mm.bench.ts measures it: the store hit paths
   * call it with two arguments, and it is too big to be inlined into them (over V8's 460-byte
   * --max-inlined-bytecode-size; the MMIO store is written out here partly for that). Inlined into a
   * program's loop, or called out of line with size and value apart (three arguments), its call made
   * TurboFan keep the loop's counter in memory on every iteration, TLB hits included: store32 was
   * 1.53× (inlined) and 1.99× (three arguments) the raw store, against 1.37× this way.
   */
  private storeSlow(addr: number, sized: number): void {
    const size = Math.floor(sized / TWO32) as 1 | 2 | 4;
    const value = sized >>> 0;
    if ((addr & 4095) > 4096 - size) {
      // Make sure both pages are writable first: a faulting store changes nothing.
      this.translate(addr, true);
      this.translate(addr - (addr & 4095) + 4096, true);
      let v = value;
      for (let k = 0; k < size; k++) {
        this.storeSlow(addr + k, (v & 0xff) + STORE1);
        v >>>= 8;
      }
      return;
    }
    let loc = this.cachedLoc(addr, this.wTag);
    if (loc === NOT_CACHED) loc = this.translate(addr, true);
    if (loc < 0) {
      // Not directly backed (translate() returned -1, or the TLB caches the page as MMIO): through
      // the cached MMIO page when there is one, else through the bus; the low `size` bytes.
      const v = size === 4 ? value : value & (size === 2 ? 0xffff : 0xff);
      const i = (addr >>> 12) & this.mask;
      if (this.wTag[i] === addr - (addr & 4095) + TLB_MMIO) this.tMmio[i]!.write(addr & 4095, size, v);
      else this.target.phys.physWrite(this.mmioPaddr, size, v, addr);
      return;
    }
    const bank = Math.floor(loc / TWO32);
    const off = loc % TWO32;
    if ((off & (size - 1)) === 0) {
      // Aligned: one store, as loadSlow reads (and as x86 makes an aligned store, whole at once to
      // another worker; byte by byte it could see a torn value).
      if (size === 4) {
        this.u32[bank]![off >>> 2] = value;
        return;
      }
      if (size === 2) {
        this.u16[bank]![off >>> 1] = value;
        return;
      }
    }
    const u8 = this.u8[bank]!;
    let v = value;
    for (let k = 0; k < size; k++) {
      u8[off + k] = v & 0xff;
      v >>>= 8;
    }
  }

  /** Reads a page-table entry word pair at a slot; returns the low word and sets `hiWord`. */
  private hiWord = 0;
  private readEntry(tablePfn: number, index: number): number {
    const loc = this.target.mem.ramLocate(tablePfn);
    const bank = Math.floor(loc / TWO32);
    const w = ((loc >>> 0) >>> 2) + index * 2;
    const u32 = this.u32[bank]!;
    const lo = Atomics.load(u32, w);
    this.hiWord = u32[w + 1]!;
    return lo;
  }

  /** PKRU's rights for the key of the PTE the last walk() read (bits 59..62: hiWord bits 27..30). */
  private pkeyRights(): number {
    return (this.pkru[0]! >>> ((this.hiWord >>> 26) & 30)) & 3;
  }

  /** Does the PTE `lo` (high word in hiWord) allow the access: present, user, writable, and its key? */
  private permits(lo: number, write: boolean): boolean {
    if (!(lo & _PAGE_PRESENT) || !(lo & _PAGE_USER) || (write && !(lo & _PAGE_RW))) return false;
    const rights = this.pkeyRights();
    return write ? rights === 0 : (rights & 1) === 0;
  }

  /** pfn of the PTE table the last successful walk() ended in. */
  private pteTable = 0;

  /**
   * The hardware walk PGD→PUD→PMD→PTE: the low word of the PTE (its high word in hiWord, its table in
   * pteTable), or the non-present entry of the first missing level.
   */
  private walk(addr: number): number {
    let table = this.target.pgdRoot;
    for (let shift = 39; shift > 12; shift -= 9) {
      const e = this.readEntry(table, Math.floor(addr / POW2[shift]!) & 511);
      if (!(e & _PAGE_PRESENT)) return e;
      table = (e >>> 12) + (this.hiWord & 0xfffff) * TWO20;
    }
    this.pteTable = table;
    return this.readEntry(table, Math.floor(addr / 4096) & 511);
  }

  /**
   * The page walk: returns the byte's location (bank * 2^32 + offset) for directly backed pages,
   * filling the TLB, or -1 for MMIO (the physical address is left in mmioPaddr). Raises the fault
   * and throws the resulting signal when the walk cannot satisfy the access.
   */
  translate(addr: number, write: boolean): number {
    if (!(Number.isInteger(addr) && addr >= 0 && addr < 2 ** 47)) {
      // Not an address at all (NaN, a string, undefined…): a bug in the program, not a fault. An
      // integer outside user space is an address the CPU faults on.
      if (!Number.isInteger(addr))
        throw new TypeError(`mmu: the address must be an integer, got ${argText(addr)}`);
      this.deliver(addr, FAULT_SEGV_MAPERR);
    }
    if (this.released) this.deliver(addr, FAULT_SEGV_MAPERR, "the address space is gone (process exited)");
    for (let attempt = 0; ; attempt++) {
      this.walks++;
      const lo = this.walk(addr);
      if (this.permits(lo, write)) {
        const pfn = (lo >>> 12) + (this.hiWord & 0xfffff) * TWO20;
        const need = _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0);
        if ((lo & need) !== need) this.setBits(this.pteTable, Math.floor(addr / 4096) & 511, need);
        const loc = this.target.phys.locatePage(pfn);
        const off = addr & 4095;
        const writable = loc >= 0 && this.target.phys.pageWritable(pfn);
        const i = (addr >>> 12) & this.mask;
        const page = addr - off;
        // Writes hit the TLB only once the PTE is writable and dirty (so the first store walks) and
        // PKRU allows them; the same rule for RAM and MMIO entries.
        const dirtyRw = write || (lo & (_PAGE_RW | _PAGE_DIRTY)) === (_PAGE_RW | _PAGE_DIRTY);
        if (loc < 0 || (write && !writable)) {
          this.mmioPaddr = pfn * 4096 + off;
          // A page inside one MMIO region enters the TLB as such (QEMU's TLB_MMIO); unassigned pages,
          // pages split between regions and ROM stores keep going through the bus every time.
          const mmio = loc < 0 ? (this.target.phys.mmioPage?.(pfn) ?? null) : null;
          if (mmio !== null) this.fillMmio(i, page, mmio, dirtyRw && this.pkeyRights() === 0);
          return -1;
        }
        const bank = Math.floor(loc / TWO32);
        const base = loc % TWO32;
        this.tBank[i] = bank;
        this.tBase[i] = base;
        const tag = bank === this.mainBank ? page : page + TLB_OTHER_BANK;
        this.rTag[i] = tag;
        this.wTag[i] = dirtyRw && writable && this.pkeyRights() === 0 ? tag : Number.NaN;
        return loc + off;
      }
      if (attempt >= MAX_FAULT_RETRIES)
        this.deliver(addr, FAULT_SIGBUS, "the fault handler made no progress");
      this.faults++;
      const r = this.target.fault(addr, write);
      if (r !== FAULT_OK) this.deliver(addr, r);
    }
  }

  /** Caches an MMIO page in slot `i`: its read tag, and its write tag when `cacheWrites`. */
  private fillMmio(i: number, page: number, mmio: MmioPage, cacheWrites: boolean): void {
    const tag = page + TLB_MMIO;
    this.tMmio[i] = mmio;
    this.tBank[i] = -1;
    this.tBase[i] = 0;
    this.rTag[i] = tag;
    this.wTag[i] = cacheWrites ? tag : Number.NaN;
  }

  private setBits(tablePfn: number, index: number, bits: number): void {
    const loc = this.target.mem.ramLocate(tablePfn);
    Atomics.or(this.u32[Math.floor(loc / TWO32)]!, ((loc >>> 0) >>> 2) + index * 2, bits);
  }

  /**
   * Raises the signal of a fault the MMU cannot resolve. A subclass may deliver it first (the sim's
   * worker runs the program's handler here, so its accessors need no try/catch: one around a TLB
   * hit costs the loop a fifth), as long as it throws.
   */
  protected deliver(addr: number, code: number, detail?: string): never {
    throw faultSignal(code, addr, detail);
  }
}

/**
 * How many of the next `pages` pages the TLB holds in consecutive slots from `slot` (wrapped by
 * `mask`) with tags `tag`, `tag + 4096`, … at `bank`, offsets `base`, `base + 4096`, …: the
 * contiguous part of a bulk copy (Mmu.contiguous). No call inside, so the loop keeps its values in
 * registers.
 */
function cachedRun(
  tags: Float64Array,
  tBank: Int32Array,
  tBase: Int32Array,
  mask: number,
  slot: number,
  tag: number,
  bank: number,
  base: number,
  pages: number,
): number {
  let k = 0;
  let i = slot & mask;
  while (k < pages && tags[i] === tag + k * 4096 && tBank[i] === bank && tBase[i] === base + k * 4096) {
    k++;
    i = (i + 1) & mask;
  }
  return k;
}

/** The signal a fault result (FAULT_*, as a FaultHook returns) delivers for an access at `addr`. */
export function faultSignal(code: number, addr: number, detail?: string): SignalError {
  if ((code & 0xff) === FAULT_SEGV_PKUERR)
    return new SignalError("SIGSEGV", "SEGV_PKUERR", addr, detail, faultPkey(code));
  switch (code) {
    case FAULT_SEGV_ACCERR:
      return new SignalError("SIGSEGV", "SEGV_ACCERR", addr, detail);
    case FAULT_SIGBUS:
      return new SignalError("SIGBUS", "BUS_ADRERR", addr, detail);
    case FAULT_OOM:
    case FAULT_KILLED:
      return new SignalError("SIGKILL", "SI_KERNEL", addr, code === FAULT_OOM ? "out of memory" : detail);
    default:
      return new SignalError("SIGSEGV", "SEGV_MAPERR", addr, detail);
  }
}

/**
 * `read` results from this size up skip the zero fill: readInto overwrites every byte before the
 * array is returned (a fault part-way throws, and the array is dropped unseen). On Node a fresh
 * zeroed megabyte is new memory from calloc, a host page fault per 4 KiB page on every call, while
 * unzeroed memory is often reused from the C heap. Often, not always: a GC frees many results at
 * once, the C heap gives the freed top back to the OS (glibc trims it), and the next results are new
 * pages again, each a host page fault on first touch (on the Firecracker bench VM, which also hands
 * free pages back to its host, ~30 µs a page). So `read` of 1 MiB costs 2× `readInto` while the heap
 * keeps its memory and up to ~100× while it does not, with ~250 faults a call (bench/mm.bench.ts
 * records faults per call beside the times). A result the caller owns has to be memory nobody else
 * holds, and only the caller knows when it is done with it: in loops, `recycle` each result (the
 * next read reuses its memory) or use readInto.
 */
const UNZEROED_MIN = 64 * 1024;
const NodeBuffer = (globalThis as { Buffer?: { allocUnsafeSlow(n: number): Uint8Array } }).Buffer;
function unzeroedBytes(len: number): Uint8Array {
  if (!NodeBuffer) return new Uint8Array(len);
  // A plain Uint8Array over the Buffer's memory (allocUnsafeSlow: its own ArrayBuffer, offset 0).
  const b = NodeBuffer.allocUnsafeSlow(len);
  return new Uint8Array(b.buffer, b.byteOffset, len);
}

// ---- the pool behind read/recycle ----------------------------------------------------------------
// One per thread (module state, shared by every Mmu of the thread: a result is plain memory, and
// read overwrites every byte before it hands one out). Only results of UNZEROED_MIN bytes and more
// are kept, at most READ_POOL_BYTES in all; the rest are dropped for the collector.

/** Every result of `read` not yet given back, with its length (a detached one reads length 0). */
const issued = new WeakMap<object, number>();
/** Pooled buffers by byte length: each the buffer of a result its caller gave back. */
const readPool = new Map<number, ArrayBuffer[]>();
let readPoolBytes = 0;
const READ_POOL_BYTES = 16 * 1024 * 1024;

function readResult(len: number): Uint8Array {
  let out: Uint8Array;
  if (len < UNZEROED_MIN) out = new Uint8Array(len);
  else {
    const pooled = readPool.get(len)?.pop();
    if (pooled) readPoolBytes -= len;
    out = pooled ? new Uint8Array(pooled) : unzeroedBytes(len);
  }
  issued.set(out, len);
  return out;
}

/**
 * `bytes` (a whole-buffer view that only read made) is no longer a live result; its buffer joins the
 * pool if it is large enough and there is room. Nothing is detached (see `Mmu.recycle`).
 */
function recycleBytes(bytes: Uint8Array): void {
  issued.delete(bytes);
  const len = bytes.length;
  if (len < UNZEROED_MIN || readPoolBytes + len > READ_POOL_BYTES) return;
  const buf = bytes.buffer as ArrayBuffer;
  const list = readPool.get(len);
  if (list) list.push(buf);
  else readPool.set(len, [buf]);
  readPoolBytes += len;
}

/** What the pool holds now (for tests: not in the package's index). */
export function readPoolStats(): { bytes: number; buffers: number } {
  let buffers = 0;
  for (const list of readPool.values()) buffers += list.length;
  return { bytes: readPoolBytes, buffers };
}

/** A short text of an argument for a TypeError. */
function argText(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}...` : v);
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "object" && v !== null) return v.constructor?.name ?? "an object";
  return String(v);
}
