import { BANK_BYTES_MAX, type BanksDescriptor, MemoryBanks } from "./banks";
import {
  __GFP_ZERO,
  MAX_ORDER,
  PAGE_SIZE,
  PFN_SECTION_SHIFT,
  PG_anon,
  PG_anon_exclusive,
  PG_buddy,
  PG_dirty,
  PG_head,
  PG_reserved,
  PG_table,
} from "./constants";
import { PhysError } from "./errors";
import { makeRamFrameLookup, type RamRange, ramLayout } from "./layout";

/** Kernel virtual address of the direct map (__va(0)); 2^52 keeps every kernel address exact in a double. */
export const PAGE_OFFSET = 2 ** 52;

const FRAMES_PER_BANK = BANK_BYTES_MAX / PAGE_SIZE;

// Layout of the allocator's shared control block (Int32 slots).
const B_LOCK = 0;
const B_NR_FREE = 1;
const B_HEAD = 2; // MAX_ORDER + 1 free-list heads
const B_COUNT = B_HEAD + MAX_ORDER + 1; // MAX_ORDER + 1 per-order counters (/proc/buddyinfo)
const B_SLOTS = B_COUNT + MAX_ORDER + 1;
const NIL = -1;

export interface PhysMemoryOptions {
  /** Bytes of System RAM (default 256 MiB). */
  readonly ramBytes?: number;
}

/** Everything a worker needs to attach to the same physical memory. */
export interface PhysMemoryDescriptor {
  readonly ramBytes: number;
  readonly banks: BanksDescriptor;
  readonly ramBanks: readonly number[];
  readonly memmap: readonly SharedArrayBuffer[];
  readonly buddy: SharedArrayBuffer;
  readonly zeroPfn: number;
  readonly totalRamPages: number;
}

/**
 * A `struct page` handle. The page's state lives in the shared memmap arrays; the handle only names
 * the pfn, and one PhysMemory hands out one handle per pfn, so `===` compares pages.
 */
export class Page {
  /** @internal */
  constructor(
    readonly mem: PhysMemory,
    readonly pfn: number,
  ) {}
  /** page_count(): the reference count. */
  get count(): number {
    return Atomics.load(this.mem.refcount, this.pfn);
  }
  /** page_mapcount(): how many page-table entries map this page. */
  get mapcount(): number {
    return Atomics.load(this.mem.mapcount, this.pfn);
  }
  get flags(): number {
    return Atomics.load(this.mem.flags, this.pfn);
  }
  /** The page's 4 KiB as bytes (kmap()). */
  bytes(): Uint8Array {
    return this.mem.frameBytes(this.pfn);
  }
  toString(): string {
    return `page(pfn ${this.pfn.toString(16)})`;
  }
}

/**
 * System RAM, the memmap (`struct page` per pfn of every present section) and the buddy allocator,
 * all in SharedArrayBuffers so several worker threads use one physical memory.
 */
export class PhysMemory {
  readonly ramBytes: number;
  readonly ramRanges: readonly RamRange[];
  readonly banks: MemoryBanks;
  /** Bank id of each GiB of the RAM image. */
  readonly ramBanks: readonly number[];
  /** One past the highest pfn that has a struct page. */
  readonly maxPfn: number;
  readonly refcount: Int32Array;
  readonly mapcount: Int32Array;
  readonly flags: Int32Array;
  /** Buddy order of a free or allocated block head, -1 elsewhere. */
  readonly order: Int32Array;
  readonly next: Int32Array;
  readonly prev: Int32Array;
  readonly zeroPfn: number;
  /** Pages of RAM handed to the allocator at boot (MemTotal). */
  readonly totalRamPages: number;
  readonly ramFrameOf: (pfn: number) => number;
  private readonly ctl: Int32Array;
  private readonly sectionValid: Uint8Array;
  private readonly pageCache = new Map<number, Page>();
  private readonly descriptor: PhysMemoryDescriptor;

  private constructor(desc: PhysMemoryDescriptor, banks: MemoryBanks) {
    this.descriptor = desc;
    this.ramBytes = desc.ramBytes;
    this.ramRanges = ramLayout(desc.ramBytes);
    this.banks = banks;
    this.ramBanks = desc.ramBanks;
    const [rc, mc, fl, or, nx, pv] = desc.memmap.map((b) => new Int32Array(b));
    this.refcount = rc!;
    this.mapcount = mc!;
    this.flags = fl!;
    this.order = or!;
    this.next = nx!;
    this.prev = pv!;
    this.maxPfn = this.refcount.length;
    this.ctl = new Int32Array(desc.buddy);
    this.zeroPfn = desc.zeroPfn;
    this.totalRamPages = desc.totalRamPages;
    this.ramFrameOf = makeRamFrameLookup(this.ramRanges);
    // A section has a memmap iff it holds some RAM, or is section 0 (which spans the ISA hole).
    this.sectionValid = new Uint8Array((this.maxPfn >> PFN_SECTION_SHIFT) + 1);
    this.sectionValid[0] = 1;
    for (const r of this.ramRanges) {
      for (
        let s = Math.floor(r.start / PAGE_SIZE) >> PFN_SECTION_SHIFT;
        s <= (r.end / PAGE_SIZE - 1) >> PFN_SECTION_SHIFT;
        s++
      ) {
        this.sectionValid[s] = 1;
      }
    }
  }

  /** Boots physical memory: nothing is touched beyond the struct pages of free-block heads. */
  static create(options: PhysMemoryOptions = {}): PhysMemory {
    const ramBytes = options.ramBytes ?? 256 * 1024 * 1024;
    const ranges = ramLayout(ramBytes);
    const banks = new MemoryBanks();
    const ramBanks: number[] = [];
    for (let off = 0; off < ramBytes; off += BANK_BYTES_MAX) {
      ramBanks.push(banks.allocate(Math.min(BANK_BYTES_MAX, ramBytes - off), `ram${ramBanks.length}`));
    }
    const lastPfn = Math.max(...ranges.map((r) => r.end / PAGE_SIZE));
    const sectionPages = 1 << PFN_SECTION_SHIFT;
    const maxPfn = Math.ceil(lastPfn / sectionPages) * sectionPages;
    const memmap = Array.from({ length: 6 }, () => new SharedArrayBuffer(maxPfn * 4));
    const buddy = new SharedArrayBuffer(B_SLOTS * 4);
    const desc: PhysMemoryDescriptor = {
      ramBytes,
      banks: banks.describe(),
      ramBanks,
      memmap,
      buddy,
      zeroPfn: 0,
      totalRamPages: 0,
    };
    const mem = new PhysMemory(desc, banks);
    mem.boot();
    return mem;
  }

  /** Rebuilds a PhysMemory over the shared buffers of another thread's (see `share()`). */
  static attach(desc: PhysMemoryDescriptor): PhysMemory {
    return new PhysMemory(desc, MemoryBanks.attach(desc.banks));
  }

  share(): PhysMemoryDescriptor {
    return { ...this.descriptor, banks: this.banks.describe() };
  }

  private boot(): void {
    const { ctl } = this;
    // Only the ISA hole's struct pages need writing; every other pfn starts as zeros (untouched).
    this.order.fill(-1, 0, Math.min(this.maxPfn, 1 << PFN_SECTION_SHIFT));
    for (let o = 0; o <= MAX_ORDER; o++) ctl[B_HEAD + o] = NIL;
    // Every pfn of a valid section starts reserved with one reference (memblock-reserved memory),
    // then RAM is released to the buddy allocator: that is what free_all_bootmem does.
    const sectionPages = 1 << PFN_SECTION_SHIFT;
    for (let pfn = 0; pfn < sectionPages && pfn < this.maxPfn; pfn++) {
      if (this.ramFrameOf(pfn) < 0) {
        this.flags[pfn] = PG_reserved;
        this.refcount[pfn] = 1;
      }
    }
    let total = 0;
    for (const r of this.ramRanges) {
      let pfn = r.start / PAGE_SIZE;
      const end = r.end / PAGE_SIZE;
      // pfn 0 stays reserved as on a PC (real-mode IVT and BIOS data area).
      if (pfn === 0) {
        this.order[0] = -1;
        this.flags[0] = PG_reserved;
        this.refcount[0] = 1;
        pfn = 1;
      }
      while (pfn < end) {
        let o = MAX_ORDER;
        while (o > 0 && (pfn % (1 << o) !== 0 || pfn + (1 << o) > end)) o--;
        this.order[pfn] = -1;
        this.pushFree(pfn, o);
        total += 1 << o;
        pfn += 1 << o;
      }
    }
    // The zero page: one reserved frame, never written (ZERO_PAGE(0)).
    const zero = this.allocPfn(0, __GFP_ZERO);
    Atomics.or(this.flags, zero, PG_reserved);
    total -= 1;
    (this as { zeroPfn: number }).zeroPfn = zero;
    (this as { totalRamPages: number }).totalRamPages = total;
    (this.descriptor as { zeroPfn: number }).zeroPfn = zero;
    (this.descriptor as { totalRamPages: number }).totalRamPages = total;
  }

  // ---- struct page --------------------------------------------------------------------------

  /** pfn_valid(): the pfn lies in a section that has a memmap (RAM, and the ISA hole). */
  pfnValid(pfn: number): boolean {
    return (
      Number.isInteger(pfn) &&
      pfn >= 0 &&
      pfn < this.maxPfn &&
      this.sectionValid[pfn >> PFN_SECTION_SHIFT] === 1
    );
  }

  /** pfn_to_page(). A pfn without a struct page is a caller bug, reported with what to do instead. */
  pfnToPage(pfn: number): Page {
    if (!this.pfnValid(pfn)) {
      throw new PhysError(
        "ENOPAGE",
        `pfnToPage(0x${pfn.toString(16)}): no struct page: not system memory (PCI MMIO); use remapPfnRange`,
      );
    }
    let page = this.pageCache.get(pfn);
    if (!page) {
      page = new Page(this, pfn);
      this.pageCache.set(pfn, page);
    }
    return page;
  }

  pageToPfn(page: Page): number {
    return page.pfn;
  }

  /** page_address(): the page's kernel virtual address in the direct map. */
  pageAddress(page: Page): number {
    return PAGE_OFFSET + page.pfn * PAGE_SIZE;
  }

  /** get_page(): takes a reference. Taking one on a free frame is a use-after-free and is refused. */
  getPage(page: Page | number): void {
    const pfn = typeof page === "number" ? page : page.pfn;
    this.assertPfn(pfn, "getPage");
    if (Atomics.load(this.flags, pfn) & PG_buddy) {
      throw new PhysError("EFREE", `getPage(pfn 0x${pfn.toString(16)}): the frame is free (use after free)`);
    }
    Atomics.add(this.refcount, pfn, 1);
  }

  /**
   * put_page(): drops a reference; the last put frees the block (its order was recorded when it
   * was allocated). Returns true when the frame went back to the allocator.
   */
  putPage(page: Page | number): boolean {
    const pfn = typeof page === "number" ? page : page.pfn;
    this.assertPfn(pfn, "putPage");
    const rc = this.refcount;
    for (;;) {
      const old = Atomics.load(rc, pfn);
      if (old <= 0 || (old === 1 && Atomics.load(this.flags, pfn) & PG_reserved)) {
        throw new PhysError(
          "EREFCOUNT",
          `putPage(pfn 0x${pfn.toString(16)}): refcount ${old} would go below ${old <= 0 ? "zero" : "its boot reference (reserved page)"}`,
        );
      }
      if (Atomics.compareExchange(rc, pfn, old, old - 1) === old) {
        if (old === 1) {
          this.releaseBlock(pfn);
          return true;
        }
        return false;
      }
    }
  }

  pageCount(pfn: number): number {
    return Atomics.load(this.refcount, pfn);
  }

  /** The frame's bytes (kmap()); only for pfns backed by RAM. */
  frameBytes(pfn: number): Uint8Array {
    const frame = this.ramFrameOf(pfn);
    if (frame < 0) throw new PhysError("ENORAM", `frame 0x${pfn.toString(16)} is not System RAM`);
    const bank = this.ramBanks[Math.floor(frame / FRAMES_PER_BANK)]!;
    const off = (frame % FRAMES_PER_BANK) * PAGE_SIZE;
    return this.banks.u8[bank]!.subarray(off, off + PAGE_SIZE);
  }

  /** Bank id and byte offset of a RAM pfn, packed as bank * 2^32 + offset; -1 if not RAM. */
  ramLocate(pfn: number): number {
    const frame = this.ramFrameOf(pfn);
    if (frame < 0) return -1;
    return (
      this.ramBanks[Math.floor(frame / FRAMES_PER_BANK)]! * 2 ** 32 + (frame % FRAMES_PER_BANK) * PAGE_SIZE
    );
  }

  private assertPfn(pfn: number, what: string): void {
    if (!this.pfnValid(pfn)) {
      throw new PhysError("ENOPAGE", `${what}(pfn 0x${pfn.toString(16)}): no struct page: not system memory`);
    }
  }

  // ---- buddy allocator ----------------------------------------------------------------------

  private lock(): void {
    const ctl = this.ctl;
    for (let spins = 0; Atomics.compareExchange(ctl, B_LOCK, 0, 1) !== 0; spins++) {
      if (spins > 200) {
        // Contended: sleep until the holder wakes us (state 2 = someone is waiting).
        if (Atomics.exchange(ctl, B_LOCK, 2) === 0) return;
        Atomics.wait(ctl, B_LOCK, 2, 10);
      }
    }
  }

  private unlock(): void {
    if (Atomics.exchange(this.ctl, B_LOCK, 0) === 2) Atomics.notify(this.ctl, B_LOCK, 1);
  }

  private pushFree(pfn: number, o: number): void {
    const { ctl, next, prev } = this;
    const head = ctl[B_HEAD + o]!;
    next[pfn] = head;
    prev[pfn] = NIL;
    if (head !== NIL) prev[head] = pfn;
    ctl[B_HEAD + o] = pfn;
    ctl[B_COUNT + o]!++;
    ctl[B_NR_FREE]! += 1 << o;
    this.order[pfn] = o;
    this.flags[pfn] = PG_buddy;
  }

  private unlinkFree(pfn: number, o: number): void {
    const { ctl, next, prev } = this;
    const n = next[pfn]!;
    const p = prev[pfn]!;
    if (p === NIL) ctl[B_HEAD + o] = n;
    else next[p] = n;
    if (n !== NIL) prev[n] = p;
    ctl[B_COUNT + o]!--;
    ctl[B_NR_FREE]! -= 1 << o;
    this.order[pfn] = -1;
    this.flags[pfn] = 0;
  }

  /**
   * alloc_pages(): a block of 2^order frames, refcount 1 on its head, or -1 when memory is
   * exhausted (the caller turns that into -ENOMEM or VM_FAULT_OOM).
   */
  allocPfn(order: number, gfp = 0): number {
    if (!Number.isInteger(order) || order < 0 || order > MAX_ORDER) return -1;
    this.lock();
    let pfn = NIL;
    try {
      let o = order;
      while (o <= MAX_ORDER && this.ctl[B_HEAD + o] === NIL) o++;
      if (o > MAX_ORDER) return -1;
      pfn = this.ctl[B_HEAD + o]!;
      this.unlinkFree(pfn, o);
      // Split: the upper halves go back to the lower orders (expand() in mm/page_alloc.c).
      while (o > order) {
        o--;
        this.pushFree(pfn + (1 << o), o);
      }
      this.order[pfn] = order;
      this.flags[pfn] = PG_head;
      this.refcount[pfn] = 1;
      this.mapcount[pfn] = 0;
    } finally {
      this.unlock();
    }
    if (gfp & __GFP_ZERO) this.zeroFrames(pfn, 1 << order);
    return pfn;
  }

  /** alloc_pages() returning a struct page, or null on exhaustion. */
  allocPages(order: number, gfp = 0): Page | null {
    const pfn = this.allocPfn(order, gfp);
    return pfn < 0 ? null : this.pfnToPage(pfn);
  }

  /**
   * __free_pages(): drops the allocation's reference; the block returns to the allocator when that
   * was the last one. Freeing a frame that is not an allocated block head of that order is refused.
   */
  freePages(page: Page | number, order: number): void {
    const pfn = typeof page === "number" ? page : page.pfn;
    const where = `freePages(pfn 0x${Number(pfn).toString(16)}, order ${order})`;
    if (!this.pfnValid(pfn) || this.ramFrameOf(pfn) < 0) {
      throw new PhysError("EINVAL", `${where}: not a RAM frame`);
    }
    const f = Atomics.load(this.flags, pfn);
    if (f & PG_buddy || !(f & PG_head) || Atomics.load(this.refcount, pfn) <= 0) {
      throw new PhysError("EFREE", `${where}: the frame is not allocated`);
    }
    if (f & PG_reserved) throw new PhysError("EINVAL", `${where}: the frame is reserved`);
    const actual = Atomics.load(this.order, pfn);
    if (actual !== order) {
      throw new PhysError("EORDER", `${where}: the block was allocated with order ${actual}`);
    }
    this.putPage(pfn);
  }

  private releaseBlock(pfn: number): void {
    const f = Atomics.load(this.flags, pfn);
    if (!(f & PG_head) || f & PG_reserved) {
      // A non-head page (tail of a higher-order block) or a reserved one never goes to the allocator.
      throw new PhysError(
        "EREFCOUNT",
        `frame 0x${pfn.toString(16)} dropped to refcount 0 but is not an allocated block head`,
      );
    }
    let o = Atomics.load(this.order, pfn);
    Atomics.store(this.mapcount, pfn, 0);
    this.lock();
    try {
      this.flags[pfn] = 0;
      // Coalesce with free buddies of the same order (__free_one_page).
      while (o < MAX_ORDER) {
        const buddy = pfn ^ (1 << o);
        if (buddy >= this.maxPfn || !(this.flags[buddy]! & PG_buddy) || this.order[buddy] !== o) break;
        this.unlinkFree(buddy, o);
        pfn = Math.min(pfn, buddy);
        o++;
      }
      this.pushFree(pfn, o);
    } finally {
      this.unlock();
    }
  }

  private zeroFrames(pfn: number, n: number): void {
    for (let i = 0; i < n; i++) this.frameBytes(pfn + i).fill(0);
  }

  /** Free pages (MemFree / nr_free_pages()). */
  get nrFreePages(): number {
    return Atomics.load(this.ctl, B_NR_FREE);
  }

  /** Free blocks per order, as one line of /proc/buddyinfo counts. */
  buddyinfo(): number[] {
    const out: number[] = [];
    for (let o = 0; o <= MAX_ORDER; o++) out.push(Atomics.load(this.ctl, B_COUNT + o));
    return out;
  }

  /** /proc/buddyinfo text (one zone, as on a machine with only ZONE_NORMAL). */
  renderBuddyinfo(): string {
    return `Node 0, zone   Normal ${this.buddyinfo()
      .map((n) => String(n).padStart(6))
      .join(" ")} \n`;
  }

  /** The MemTotal/MemFree lines of /proc/meminfo. */
  renderMeminfo(extra: ReadonlyArray<readonly [string, number]> = []): string {
    const line = (k: string, kb: number) => `${`${k}:`.padEnd(16)}${String(kb).padStart(8)} kB\n`;
    return (
      line("MemTotal", this.totalRamPages * 4) +
      line("MemFree", this.nrFreePages * 4) +
      extra.map(([k, v]) => line(k, v)).join("")
    );
  }

  /**
   * Allocator and struct page consistency: free lists well formed and aligned, no free block inside
   * another, no two free buddies left uncoalesced, counters equal to the lists, free frames unreferenced
   * and unmapped, reserved frames referenced, and free + allocated + reserved = total.
   */
  checkInvariants(): void {
    this.lock();
    try {
      const free = new Uint8Array(this.maxPfn);
      let nrFree = 0;
      for (let o = 0; o <= MAX_ORDER; o++) {
        let count = 0;
        let prevPfn = NIL;
        for (let pfn = this.ctl[B_HEAD + o]!; pfn !== NIL; pfn = this.next[pfn]!) {
          const at = `free list order ${o}, pfn 0x${pfn.toString(16)}`;
          if (this.prev[pfn] !== prevPfn) throw new PhysError("EINVARIANT", `${at}: broken prev link`);
          if (pfn % (1 << o) !== 0) throw new PhysError("EINVARIANT", `${at}: not aligned to its order`);
          if (!(this.flags[pfn]! & PG_buddy) || this.order[pfn] !== o) {
            throw new PhysError("EINVARIANT", `${at}: head lacks PG_buddy/order`);
          }
          for (let i = 0; i < 1 << o; i++) {
            const p = pfn + i;
            if (free[p])
              throw new PhysError("EINVARIANT", `${at}: frame 0x${p.toString(16)} is on two free lists`);
            if (this.ramFrameOf(p) < 0)
              throw new PhysError("EINVARIANT", `${at}: frame 0x${p.toString(16)} is not RAM`);
            if (this.refcount[p] !== 0 || this.mapcount[p] !== 0) {
              throw new PhysError(
                "EINVARIANT",
                `${at}: free frame 0x${p.toString(16)} has refcount ${this.refcount[p]} mapcount ${this.mapcount[p]}`,
              );
            }
            free[p] = 1;
          }
          const buddy = pfn ^ (1 << o);
          if (
            o < MAX_ORDER &&
            buddy < this.maxPfn &&
            this.flags[buddy]! & PG_buddy &&
            this.order[buddy] === o
          ) {
            throw new PhysError(
              "EINVARIANT",
              `${at}: its buddy 0x${buddy.toString(16)} is free too (not coalesced)`,
            );
          }
          count++;
          nrFree += 1 << o;
          prevPfn = pfn;
        }
        if (count !== this.ctl[B_COUNT + o]) {
          throw new PhysError(
            "EINVARIANT",
            `order ${o}: ${count} blocks listed, counter says ${this.ctl[B_COUNT + o]}`,
          );
        }
      }
      if (nrFree !== this.ctl[B_NR_FREE]) {
        throw new PhysError("EINVARIANT", `${nrFree} free pages listed, counter says ${this.ctl[B_NR_FREE]}`);
      }
      let allocated = 0;
      let reserved = 0;
      for (let pfn = 0; pfn < this.maxPfn; pfn++) {
        if (this.ramFrameOf(pfn) < 0 || free[pfn]) continue;
        const f = this.flags[pfn]!;
        if (f & PG_buddy)
          throw new PhysError(
            "EINVARIANT",
            `frame 0x${pfn.toString(16)} has PG_buddy but is on no free list`,
          );
        if (f & PG_reserved) {
          reserved++;
          if (this.refcount[pfn]! < 1)
            throw new PhysError(
              "EINVARIANT",
              `reserved frame 0x${pfn.toString(16)} has refcount ${this.refcount[pfn]}`,
            );
        } else allocated++;
        if (this.refcount[pfn]! < 0 || this.mapcount[pfn]! < 0) {
          throw new PhysError("EINVARIANT", `frame 0x${pfn.toString(16)}: negative refcount/mapcount`);
        }
      }
      const totalRam = this.ramBytes / PAGE_SIZE;
      if (nrFree + allocated + reserved !== totalRam) {
        throw new PhysError(
          "EINVARIANT",
          `free ${nrFree} + used ${allocated} + reserved ${reserved} != total ${totalRam}`,
        );
      }
    } finally {
      this.unlock();
    }
  }

  /** Pages allocated and not reserved (for leak checks: equal before and after a workload). */
  get nrAllocatedPages(): number {
    return this.totalRamPages - this.nrFreePages;
  }
}

export { PG_anon, PG_anon_exclusive, PG_dirty, PG_table };
