/**
 * Physical memory as the kernel's page allocator sees it: System RAM in banks, the memmap (one
 * `struct page` per pfn) and the buddy allocator (mm/page_alloc.c), all in SharedArrayBuffers.
 *
 * Longer than our ~500 lines on purpose: PhysMemory is one object over one shared control block. The
 * memmap, the free lists, the never-touched ranges and the lock that guards them are one state whose
 * invariants (`checkInvariants`) span all of it; split across files it would need its private fields
 * made public to every other thread's code.
 */
import { BANK_BYTES_MAX, type BanksDescriptor, MemoryBanks } from "./banks";
import {
  __GFP_MEMALLOC,
  __GFP_ZERO,
  ISA_END_ADDRESS,
  MAX_ORDER,
  PAGE_SIZE,
  PG_anon,
  PG_anon_exclusive,
  PG_buddy,
  PG_dirty,
  PG_head,
  PG_quarantined,
  PG_reserved,
  PG_table,
} from "./constants";
import {
  directMapAddress,
  LOCATION_NONE,
  locationBank,
  locationOf,
  locationOffset,
  pfnOf,
  physOf,
} from "./encoding";
import { hex, PhysError } from "./errors";
import { makeRamFrameLookup, type RamRange, ramImageBytes, ramLayout } from "./layout";
import { type PhysMemoryState, restoreMemoryState, saveMemoryState } from "./memory-state";
import {
  MAX_NR_ZONES,
  NR_RAM_ZONES,
  nodeZones,
  pfnZone,
  ZONE_DMA,
  ZONE_DMA32,
  ZONE_END_PFN,
  ZONE_MOVABLE,
  ZONE_NORMAL,
  ZONE_START_PFN,
  type Zone,
} from "./mmzone";

const FRAMES_PER_BANK = BANK_BYTES_MAX / PAGE_SIZE;
const ZEROES = new Uint8Array(PAGE_SIZE);
/** Pages of the ISA hole, missing from the RAM image between 640 KiB and 1 MiB. */
const ISA_HOLE_PAGES = 0x60;

/** pfns below 1 MiB (low RAM and the ISA hole) all have a struct page. */
const ISA_END_PFN = ISA_END_ADDRESS / PAGE_SIZE;
const MAX_ORDER_PAGES = 1 << MAX_ORDER;

// Layout of the allocator's shared control block (Int32 slots).
const B_LOCK = 0;
/**
 * Not kept up to date: nr_free_pages() is the sum of the zones' NR_FREE_PAGES (`nrFreePages`). The
 * slot stays so that a saved control block keeps its layout (snapshot format 2), and `saveState` fills
 * it in for Faultline versions that read the node's count from it.
 */
const B_NR_FREE = 1;
// Per zone (ZONE_DMA, ZONE_DMA32, ZONE_NORMAL; struct zone's free_area[]): MAX_ORDER + 1 free-list
// heads, MAX_ORDER + 1 per-order block counters (/proc/buddyinfo), and the zone's free pages
// (NR_FREE_PAGES). Zone edges are MAX_ORDER aligned, so a block and its buddy share a zone.
const B_ZONES = 2;
const Z_HEAD = 0;
const Z_COUNT = MAX_ORDER + 1;
const Z_FREE = 2 * (MAX_ORDER + 1);
/** Allocations served from the zone (the NUMA_HIT event: one node, so every one is a local hit). */
const Z_NUMA_HIT = Z_FREE + 1;
const Z_STRIDE = Z_NUMA_HIT + 1;
/** The zone's block of the control block: zoneBase(z) + Z_HEAD + o is its order-o list head. */
const zoneBase = (z: number) => B_ZONES + z * Z_STRIDE;
// Per RAM range and zone (slot r * NR_RAM_ZONES + z), [start, end) pfns of MAX_ORDER blocks that are
// free but were never put on a free list: linking them at boot would write one struct page per 4 MiB,
// i.e. every page of the memmap.
const B_UNTOUCHED = B_ZONES + NR_RAM_ZONES * Z_STRIDE;
const MAX_RAM_RANGES = 3; // below the ISA hole, below the PCI hole, above 4 GiB (ramLayout)
const NR_UNTOUCHED = MAX_RAM_RANGES * NR_RAM_ZONES;
/** Frames taken out of circulation (`quarantinePage`). */
const B_QUARANTINED = B_UNTOUCHED + 2 * NR_UNTOUCHED;
const B_SLOTS = B_QUARANTINED + 1;
const NIL = -1;
/** `order` of a frame that heads no block (free or allocated). */
const NO_ORDER = -1;
/** memmap arrays: refcount, mapcount, flags, order, next, prev. */
const MEMMAP_ARRAYS = 6;
const DEFAULT_RAM_BYTES = 256 * 1024 * 1024;
const KIB = 1024;

// Lock word states (Drepper, "Futexes Are Tricky", mutex3): 0 free, 1 held, 2 held and maybe waited on.
const UNLOCKED = 0;
const LOCKED = 1;
const CONTENDED = 2;
/** Tries before sleeping: short, since workers may outnumber cores and a spinning waiter steals the holder's. */
const LOCK_SPINS = 64;

// gfp_zone(): the highest zone an allocation may use, from its zone modifiers (__GFP_DMA 1,
// __GFP_HIGHMEM 2, __GFP_DMA32 4, __GFP_MOVABLE 8; GFP_ZONE_TABLE with no ZONE_HIGHMEM on x86-64, so
// __GFP_HIGHMEM alone means ZONE_NORMAL). -1: a combination GFP_ZONE_BAD rejects (the kernel BUGs).
const GFP_ZONEMASK = 0x0f;
const GFP_ZONE_TABLE = [
  ZONE_NORMAL, // 0
  ZONE_DMA, // __GFP_DMA
  ZONE_NORMAL, // __GFP_HIGHMEM
  -1,
  ZONE_DMA32, // __GFP_DMA32
  -1,
  -1,
  -1,
  ZONE_NORMAL, // __GFP_MOVABLE
  ZONE_DMA, // __GFP_MOVABLE | __GFP_DMA
  ZONE_MOVABLE, // __GFP_MOVABLE | __GFP_HIGHMEM
  -1,
  ZONE_DMA32, // __GFP_MOVABLE | __GFP_DMA32
  -1,
  -1,
  -1,
];

/** Options of `PhysMemory.create`. */
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
  declare readonly banks: MemoryBanks;
  /** Bank id of each GiB of the RAM image. */
  declare readonly ramBanks: readonly number[];
  /** One past the highest pfn that has a struct page. */
  readonly maxPfn: number;
  declare readonly refcount: Int32Array;
  declare readonly mapcount: Int32Array;
  declare readonly flags: Int32Array;
  /**
   * Buddy order of a block head: meaningful where flags has PG_buddy (free) or PG_head (allocated),
   * stale or 0 elsewhere (never-touched frames are not initialised, see `boot`).
   */
  declare readonly order: Int32Array;
  declare readonly next: Int32Array;
  declare readonly prev: Int32Array;
  readonly zeroPfn: number;
  /** Pages of RAM handed to the allocator at boot (MemTotal). */
  readonly totalRamPages: number;
  declare readonly ramFrameOf: (pfn: number) => number;
  declare private readonly lowFastStart: number;
  declare private readonly lowFastEnd: number;
  declare private readonly lowFastBase: number;
  declare private readonly ctl: Int32Array;
  /**
   * Per RAM zone z and highest zone h of a request, at [z * MAX_NR_ZONES + h]: the free pages zone z
   * must keep above the low (wmarkLow) or min (wmarkMin) watermark plus lowmem_reserve[h].
   * Computed from the layout, so identical in every attached thread; all zero during boot.
   */
  declare private readonly wmarkLow: Int32Array;
  declare private readonly wmarkMin: Int32Array;
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
    // RAM from 1 MiB on is the RAM image shifted down by the ISA hole: within the first bank, a
    // pfn's location is one subtraction away.
    const low = this.ramRanges[1];
    this.lowFastStart = low ? pfnOf(low.start) : 0;
    this.lowFastEnd = low ? Math.min(pfnOf(low.end), FRAMES_PER_BANK + ISA_HOLE_PAGES) : 0;
    // The location of pfn p in that stretch is lowFastBase + physOf(p - ISA_HOLE_PAGES). The base is
    // the bank's own location (0 for bank 0, a small integer V8 keeps as is); folding the hole into it
    // made it a negative double, stored boxed, which cost ~10% per call (measured, Node 20).
    this.lowFastBase = locationOf(this.ramBanks[0] ?? 0, 0);
    this.wmarkLow = new Int32Array(NR_RAM_ZONES * MAX_NR_ZONES);
    this.wmarkMin = new Int32Array(NR_RAM_ZONES * MAX_NR_ZONES);
    if (desc.totalRamPages > 0) this.setupZoneWatermarks();
  }

  /** The node's zones (DMA, DMA32, Normal, Movable, Device) as /proc/zoneinfo shows them. */
  zones(): Zone[] {
    return nodeZones(this.ramRanges, [this.zeroPfn]);
  }

  /** init_per_zone_wmark_min(): the marks the allocator checks, from the zones' managed pages. */
  private setupZoneWatermarks(): void {
    const zones = this.zones();
    for (let z = 0; z < NR_RAM_ZONES; z++) {
      const zone = zones[z]!;
      for (let h = 0; h < MAX_NR_ZONES; h++) {
        const reserve = zone.lowmemReserve[h]!;
        this.wmarkLow[z * MAX_NR_ZONES + h] = zone.low + reserve;
        this.wmarkMin[z * MAX_NR_ZONES + h] = zone.min + reserve;
      }
    }
  }

  /**
   * Boots physical memory. Nothing is touched but the first MiB's struct pages and the few free blocks at
   * the unaligned edges of each RAM range; RAM and the rest of the memmap are zero-filled shared
   * buffers that the OS commits only when first written.
   */
  static create(options: PhysMemoryOptions = {}): PhysMemory {
    const ramBytes = options.ramBytes ?? DEFAULT_RAM_BYTES;
    const ranges = ramLayout(ramBytes);
    const banks = new MemoryBanks();
    const ramBanks: number[] = [];
    const imageBytes = ramImageBytes(ranges);
    for (let off = 0; off < imageBytes; off += BANK_BYTES_MAX) {
      ramBanks.push(banks.allocate(Math.min(BANK_BYTES_MAX, imageBytes - off), `ram${ramBanks.length}`));
    }
    // The memmap covers every pfn up to the top of RAM (holes included, unused there) so a pfn indexes it.
    const maxPfn = Math.max(...ranges.map((r) => r.end / PAGE_SIZE));
    const slot = Int32Array.BYTES_PER_ELEMENT;
    const memmap = Array.from({ length: MEMMAP_ARRAYS }, () => new SharedArrayBuffer(maxPfn * slot));
    const buddy = new SharedArrayBuffer(B_SLOTS * slot);
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
    for (let z = 0; z < NR_RAM_ZONES; z++)
      for (let o = 0; o <= MAX_ORDER; o++) ctl[zoneBase(z) + Z_HEAD + o] = NIL;
    // The ISA hole has struct pages, reserved with one reference (memblock-reserved memory; see
    // init_unavailable_range() in mm/mm_init.c); RAM is then released to the buddy allocator, as
    // memblock_free_all() does.
    for (let pfn = 0; pfn < ISA_END_PFN; pfn++) {
      if (this.ramFrameOf(pfn) < 0) {
        this.flags[pfn] = PG_reserved;
        this.refcount[pfn] = 1;
        this.order[pfn] = NO_ORDER;
      }
    }
    let total = 0;
    this.ramRanges.forEach((r, i) => {
      let pfn = r.start / PAGE_SIZE;
      const end = r.end / PAGE_SIZE;
      // pfn 0 stays reserved as on a PC (real-mode IVT and BIOS data area).
      if (pfn === 0) {
        this.order[0] = NO_ORDER;
        this.flags[0] = PG_reserved;
        this.refcount[0] = 1;
        pfn = 1;
      }
      total += end - pfn;
      // The MAX_ORDER-aligned middle of the range stays untouched: allocPfn takes blocks from it only
      // when the free lists cannot serve a request.
      const midStart = Math.ceil(pfn / MAX_ORDER_PAGES) * MAX_ORDER_PAGES;
      const midEnd = Math.floor(end / MAX_ORDER_PAGES) * MAX_ORDER_PAGES;
      if (midStart < midEnd) {
        this.freeRange(pfn, midStart);
        this.freeRange(midEnd, end);
        // One never-touched stretch per zone the middle crosses.
        for (let z = 0; z < NR_RAM_ZONES; z++) {
          const s = Math.max(midStart, ZONE_START_PFN[z]!);
          const e = Math.min(midEnd, ZONE_END_PFN[z]!);
          if (s >= e) continue;
          const slot = B_UNTOUCHED + 2 * (i * NR_RAM_ZONES + z);
          ctl[slot] = s;
          ctl[slot + 1] = e;
          const blocks = (e - s) / MAX_ORDER_PAGES;
          ctl[zoneBase(z) + Z_COUNT + MAX_ORDER]! += blocks;
          ctl[zoneBase(z) + Z_FREE]! += blocks * MAX_ORDER_PAGES;
        }
      } else {
        this.freeRange(pfn, end);
      }
    });
    // The zero page: one reserved frame, never written (ZERO_PAGE(0)).
    const zero = this.allocPfn(0, __GFP_ZERO);
    Atomics.or(this.flags, zero, PG_reserved);
    total -= 1;
    (this as { zeroPfn: number }).zeroPfn = zero;
    (this as { totalRamPages: number }).totalRamPages = total;
    (this.descriptor as { zeroPfn: number }).zeroPfn = zero;
    (this.descriptor as { totalRamPages: number }).totalRamPages = total;
    this.setupZoneWatermarks();
  }

  /** Puts [pfn, end) on the free lists as the largest aligned blocks that fit (boot only). */
  private freeRange(pfn: number, end: number): void {
    while (pfn < end) {
      let o = MAX_ORDER;
      while (o > 0 && (pfn % (1 << o) !== 0 || pfn + (1 << o) > end)) o--;
      this.pushFree(pfnZone(pfn), pfn, o);
      pfn += 1 << o;
    }
  }

  // ---- struct page --------------------------------------------------------------------------

  /**
   * pfn_valid(): the pfn has a struct page, which is exactly RAM and the ISA hole. (Linux answers per
   * sparsemem section, so a PCI BAR sharing the last RAM section would pass; the model is exact.)
   */
  pfnValid(pfn: number): boolean {
    return Number.isInteger(pfn) && pfn >= 0 && (pfn < ISA_END_PFN || this.ramFrameOf(pfn) >= 0);
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
    return directMapAddress(physOf(page.pfn));
  }

  /**
   * get_page(): takes a reference on a page that already has one. A page at refcount 0 is free (a use
   * after free) or a tail of a higher-order block (split it with `splitPage` first, as vm_insert_page
   * in mm/memory.c demands); both are refused, as folio_get()'s VM_BUG_ON on a zero refcount does.
   */
  getPage(page: Page | number): void {
    const pfn = typeof page === "number" ? page : page.pfn;
    this.assertPfn(pfn, "getPage");
    const rc = this.refcount;
    for (;;) {
      const old = Atomics.load(rc, pfn);
      if (old <= 0) {
        const free = Atomics.load(this.flags, pfn) & PG_buddy || old < 0;
        throw new PhysError(
          "EFREE",
          `getPage(pfn 0x${pfn.toString(16)}): refcount is ${old}: ${free ? "the frame is free (use after free)" : "free, or a tail page of a higher-order block (use splitPage)"}`,
        );
      }
      if (Atomics.compareExchange(rc, pfn, old, old + 1) === old) return;
    }
  }

  /**
   * put_page(): drops a reference; the last put frees the block (its order was recorded when it
   * was allocated). Returns true when the frame went back to the allocator.
   */
  putPage(page: Page | number): boolean {
    const pfn = typeof page === "number" ? page : page.pfn;
    this.assertPfn(pfn, "putPage");
    return this.dropRef(pfn);
  }

  /** put_page_testzero() and the free it triggers; pfn has a struct page. */
  private dropRef(pfn: number): boolean {
    const rc = this.refcount;
    for (;;) {
      const old = Atomics.load(rc, pfn);
      // Refused before the decrement, so a refused put leaves the page as it was. Only an allocated
      // block head goes back to the allocator: a reserved page keeps its boot reference.
      if (old === 1 || old <= 0) {
        const f = Atomics.load(this.flags, pfn);
        if (old <= 0 || f & PG_reserved || !(f & PG_head)) {
          throw new PhysError(
            "EREFCOUNT",
            `putPage(pfn 0x${pfn.toString(16)}): refcount ${old} would go below ${old <= 0 ? "zero" : f & PG_reserved ? "its boot reference (reserved page)" : "one on a frame that is not an allocated block head"}`,
          );
        }
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

  /** The location (encoding.ts: bank * 2^32 + byte offset) of a RAM pfn; LOCATION_NONE if not RAM. */
  ramLocate(pfn: number): number {
    // Fast path: RAM between 1 MiB and the end of the first bank (page tables and most pages).
    // physOf() written out: the imported call cost about a fifth of this path (Node 20, measured).
    if (pfn >= this.lowFastStart && pfn < this.lowFastEnd)
      return this.lowFastBase + (pfn - ISA_HOLE_PAGES) * PAGE_SIZE;
    const frame = this.ramFrameOf(pfn);
    if (frame < 0) return LOCATION_NONE;
    return locationOf(this.ramBanks[Math.floor(frame / FRAMES_PER_BANK)]!, physOf(frame % FRAMES_PER_BANK));
  }

  private assertPfn(pfn: number, what: string): void {
    if (!this.pfnValid(pfn)) {
      throw new PhysError("ENOPAGE", `${what}(pfn 0x${pfn.toString(16)}): no struct page: not system memory`);
    }
  }

  // ---- buddy allocator ----------------------------------------------------------------------

  /**
   * zone->lock, shared by every thread attached to this memory. A thread that has slept must take the
   * lock as CONTENDED, never LOCKED: otherwise the holder's unlock would see LOCKED, wake nobody, and
   * the other sleepers would be lost (the bug mutex2 of "Futexes Are Tricky" fixes). No wait timeout:
   * the protocol itself guarantees the wakeup.
   */
  private lock(): void {
    const ctl = this.ctl;
    let c = Atomics.compareExchange(ctl, B_LOCK, UNLOCKED, LOCKED);
    if (c === UNLOCKED) return;
    for (let spins = 0; spins < LOCK_SPINS; spins++) {
      if (Atomics.load(ctl, B_LOCK) === UNLOCKED) {
        c = Atomics.compareExchange(ctl, B_LOCK, UNLOCKED, LOCKED);
        if (c === UNLOCKED) return;
      }
    }
    c = Atomics.exchange(ctl, B_LOCK, CONTENDED);
    while (c !== UNLOCKED) {
      Atomics.wait(ctl, B_LOCK, CONTENDED);
      c = Atomics.exchange(ctl, B_LOCK, CONTENDED);
    }
  }

  private unlock(): void {
    if (Atomics.exchange(this.ctl, B_LOCK, UNLOCKED) === CONTENDED) Atomics.notify(this.ctl, B_LOCK, 1);
  }

  /** __add_to_free_list(): pfn heads a free block of order o; z is pfnZone(pfn), which the caller knows. */
  private pushFree(z: number, pfn: number, o: number): void {
    const { ctl, next, prev } = this;
    const zb = zoneBase(z);
    const head = ctl[zb + Z_HEAD + o]!;
    next[pfn] = head;
    prev[pfn] = NIL;
    if (head !== NIL) prev[head] = pfn;
    ctl[zb + Z_HEAD + o] = pfn;
    ctl[zb + Z_COUNT + o]!++;
    ctl[zb + Z_FREE]! += 1 << o;
    this.order[pfn] = o;
    this.flags[pfn] = PG_buddy;
  }

  /** del_page_from_free_list(): the free block of order o at pfn, in zone z, leaves its list. */
  private unlinkFree(z: number, pfn: number, o: number): void {
    const { ctl, next, prev } = this;
    const n = next[pfn]!;
    const p = prev[pfn]!;
    const zb = zoneBase(z);
    if (p === NIL) ctl[zb + Z_HEAD + o] = n;
    else next[p] = n;
    if (n !== NIL) prev[n] = p;
    ctl[zb + Z_COUNT + o]!--;
    ctl[zb + Z_FREE]! -= 1 << o;
    this.order[pfn] = NO_ORDER;
    this.flags[pfn] = 0;
  }

  /**
   * alloc_pages(): a block of 2^order frames, refcount 1 on its head, or -1 when memory is
   * exhausted (the caller turns that into -ENOMEM or VM_FAULT_OOM).
   *
   * The zone comes from the zonelist as get_page_from_freelist() walks it: from the highest zone the
   * gfp allows (gfp_zone(): ZONE_NORMAL for GFP_KERNEL, ZONE_DMA32 for GFP_DMA32, ZONE_DMA for GFP_DMA)
   * down to ZONE_DMA, the first zone whose free pages, less the 2^order - 1 the request leaves
   * unusable, stay above its low watermark plus its lowmem_reserve against that highest zone and that
   * has a free block big enough (zone_watermark_ok()). When no zone passes at the low mark, the slow
   * path retries at the min mark (ALLOC_WMARK_MIN: kswapd woken, no reclaim to wait for here); then
   * __GFP_MEMALLOC, and only it, walks the zonelist once more ignoring the marks; past that the kernel
   * would reclaim or OOM-kill, and we fail.
   */
  allocPfn(order: number, gfp = 0): number {
    if (!Number.isInteger(order) || order < 0 || order > MAX_ORDER) return -1;
    const high = GFP_ZONE_TABLE[gfp & GFP_ZONEMASK]!;
    if (high < 0)
      throw new PhysError("EINVAL", `allocPfn: gfp 0x${gfp.toString(16)} names no zone (GFP_ZONE_BAD)`);
    this.lock();
    let pfn = NIL;
    try {
      // The passes of mm/page_alloc.c, in order: __alloc_frozen_pages_noprof() tries
      // get_page_from_freelist() at ALLOC_WMARK_LOW for every gfp; __alloc_pages_slowpath() retries at
      // ALLOC_WMARK_MIN (gfp_to_alloc_flags(), after wake_all_kswapds()), and only at its retry: label
      // does __gfp_pfmemalloc_flags() give __GFP_MEMALLOC ALLOC_NO_WATERMARKS. So a memalloc request
      // takes a lower zone above its low mark before dipping below the marks of a higher one.
      pfn = this.getPageFromFreelist(order, high, this.wmarkLow);
      if (pfn === NIL) pfn = this.getPageFromFreelist(order, high, this.wmarkMin);
      if (pfn === NIL && gfp & __GFP_MEMALLOC) pfn = this.getPageFromFreelist(order, high, null);
      if (pfn === NIL) return -1;
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

  /**
   * get_page_from_freelist(), lock held: from the first zone from `high` down whose free pages pass
   * `marks` (null: no watermark) and that holds a free block of at least `order`, takes the smallest
   * such block (__rmqueue_smallest()) and gives back what it does not need; returns the block's first
   * frame, or NIL.
   */
  private getPageFromFreelist(order: number, high: number, marks: Int32Array | null): number {
    const ctl = this.ctl;
    for (let z = high < NR_RAM_ZONES ? high : NR_RAM_ZONES - 1; z >= 0; z--) {
      const zb = zoneBase(z);
      const free = ctl[zb + Z_FREE]!;
      if (free === 0) continue;
      // __zone_watermark_ok(): free - (2^order - 1) must stay above mark + lowmem_reserve[high].
      if (marks && free - ((1 << order) - 1) <= marks[z * MAX_NR_ZONES + high]!) continue;
      // The per-order counters include the never-touched MAX_ORDER blocks, which no list holds.
      let o = order;
      while (o <= MAX_ORDER && ctl[zb + Z_COUNT + o]! <= 0) o++;
      if (o > MAX_ORDER) continue;
      let pfn = ctl[zb + Z_HEAD + o]!;
      if (pfn !== NIL) this.unlinkFree(z, pfn, o);
      else {
        pfn = this.takeUntouched(z);
        if (pfn === NIL) return NIL; // counters and ranges disagree: checkInvariants names how
      }
      ctl[zb + Z_NUMA_HIT]!++;
      // Split: the upper halves go back to the lower orders (expand()).
      while (o > order) {
        o--;
        this.pushFree(z, pfn + (1 << o), o);
      }
      return pfn;
    }
    return NIL;
  }

  /** Takes zone z's lowest never-touched MAX_ORDER block (its struct pages are still all zero), or NIL. */
  private takeUntouched(z: number): number {
    const ctl = this.ctl;
    for (let r = 0; r < MAX_RAM_RANGES; r++) {
      const i = B_UNTOUCHED + 2 * (r * NR_RAM_ZONES + z);
      const start = ctl[i]!;
      if (start < ctl[i + 1]!) {
        ctl[i] = start + MAX_ORDER_PAGES;
        ctl[zoneBase(z) + Z_COUNT + MAX_ORDER]!--;
        ctl[zoneBase(z) + Z_FREE]! -= MAX_ORDER_PAGES;
        return start;
      }
    }
    return NIL;
  }

  /**
   * split_page() (mm/page_alloc.c): turns an allocated order-N block into 2^N order-0 pages with one
   * reference each, to be freed one by one; what a driver does before mapping the pages of a
   * higher-order allocation separately.
   */
  splitPage(page: Page | number, order: number): void {
    const pfn = typeof page === "number" ? page : page.pfn;
    this.checkFreeable(pfn, order, "splitPage");
    for (let i = 1; i < 1 << order; i++) {
      Atomics.store(this.order, pfn + i, 0);
      Atomics.store(this.refcount, pfn + i, 1);
      // A tail quarantinePage marked stays marked: freed, it is leaked as bad_page() leaks it.
      Atomics.store(this.flags, pfn + i, PG_head | (Atomics.load(this.flags, pfn + i) & PG_quarantined));
    }
    Atomics.store(this.order, pfn, 0);
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
    this.checkFreeable(pfn, order, "freePages");
    this.dropRef(pfn);
  }

  /**
   * Refuses, with nothing changed, a pfn that is not the head of an allocated block of `order`. No
   * closure or string is made unless refusing: this runs on every free, and a per-call closure costs
   * more than the free itself once a loader wraps it (esbuild keepNames under tsx/vitest).
   */
  private checkFreeable(pfn: number, order: number, what: string): void {
    if (!Number.isInteger(pfn) || this.ramFrameOf(pfn) < 0)
      this.refuseFree("EINVAL", "not a RAM frame", pfn, order, what);
    const f = Atomics.load(this.flags, pfn);
    if (f & PG_reserved) this.refuseFree("EINVAL", "the frame is reserved", pfn, order, what);
    if (f & PG_buddy || !(f & PG_head) || Atomics.load(this.refcount, pfn) <= 0) {
      this.refuseFree("EFREE", "the frame is not allocated", pfn, order, what);
    }
    const actual = Atomics.load(this.order, pfn);
    if (actual !== order)
      this.refuseFree("EORDER", `the block was allocated with order ${actual}`, pfn, order, what);
  }

  private refuseFree(code: string, why: string, pfn: number, order: number, what: string): never {
    throw new PhysError(code, `${what}(pfn 0x${Number(pfn).toString(16)}, order ${order}): ${why}`);
  }

  /** The block headed by pfn, whose last reference was just dropped, goes back to the free lists. */
  private releaseBlock(pfn: number): void {
    const o = Atomics.load(this.order, pfn);
    Atomics.store(this.mapcount, pfn, 0);
    this.lock();
    try {
      this.flags[pfn]! &= PG_quarantined;
      this.order[pfn] = NO_ORDER;
      if (this.ctl[B_QUARANTINED]! > 0) this.freeAroundQuarantined(pfn, o);
      else this.freeBlockLocked(pfn, o);
    } finally {
      this.unlock();
    }
  }

  /**
   * Frees [pfn, pfn + 2^o) but for its quarantined frames: the rest goes back as the largest aligned
   * blocks that hold none (free_pages_prepare() leaks a block with a bad page; we keep the good ones).
   */
  private freeAroundQuarantined(pfn: number, o: number): void {
    let bad = false;
    for (let i = 0; i < 1 << o && !bad; i++) bad = (this.flags[pfn + i]! & PG_quarantined) !== 0;
    if (!bad) this.freeBlockLocked(pfn, o);
    else if (o > 0) {
      this.freeAroundQuarantined(pfn, o - 1);
      this.freeAroundQuarantined(pfn + (1 << (o - 1)), o - 1);
    } // else the quarantined frame itself: out of circulation
  }

  /** __free_one_page(), zone->lock held: the block goes on a free list, merged with free buddies. */
  private freeBlockLocked(head: number, order: number): void {
    const z = pfnZone(head); // the merged block's too: zone edges are MAX_ORDER aligned
    let pfn = head;
    let o = order;
    // Coalesce with free buddies of the same order (__free_one_page).
    // A never-touched block is MAX_ORDER, so it is never a buddy here: lower orders merge only with
    // listed blocks, and MAX_ORDER blocks do not merge.
    while (o < MAX_ORDER) {
      const buddy = pfn ^ (1 << o);
      if (buddy >= this.maxPfn || !(this.flags[buddy]! & PG_buddy) || this.order[buddy] !== o) break;
      this.unlinkFree(z, buddy, o);
      pfn = Math.min(pfn, buddy);
      o++;
    }
    this.pushFree(z, pfn, o);
  }

  /**
   * Takes a frame out of circulation for good, as the kernel does with a page it found in a bad state
   * (bad_page() leaks it; take_page_off_buddy() for a free one): a free frame is split off its buddy
   * block; an allocated one is marked, and freeing its block later frees everything else; a reserved
   * one stays as it is. Its refcount and mapcount stay as they were (frozen); it is never handed out
   * again. Returns false when the frame was already quarantined.
   */
  quarantinePage(page: Page | number): boolean {
    const pfn = typeof page === "number" ? page : page.pfn;
    this.assertPfn(pfn, "quarantinePage");
    this.lock();
    try {
      if (this.flags[pfn]! & PG_quarantined) return false;
      this.touchUntouched(pfn);
      const z = pfnZone(pfn);
      for (let o = 0; o <= MAX_ORDER; o++) {
        const head = pfn & ~((1 << o) - 1);
        if (this.flags[head]! & PG_buddy && this.order[head] === o) {
          // take_page_off_buddy(): unlink the free block, give back all of it but this frame.
          this.unlinkFree(z, head, o);
          let start = head;
          for (let so = o - 1; so >= 0; so--) {
            const upper = start + (1 << so);
            if (pfn >= upper) {
              this.pushFree(z, start, so);
              start = upper;
            } else this.pushFree(z, upper, so);
          }
          this.order[pfn] = NO_ORDER;
          this.flags[pfn] = 0;
          break;
        }
      }
      this.flags[pfn]! |= PG_quarantined;
      this.ctl[B_QUARANTINED]!++;
      return true;
    } finally {
      this.unlock();
    }
  }

  /** Frames taken out of circulation by `quarantinePage`. */
  get nrQuarantinedPages(): number {
    return Atomics.load(this.ctl, B_QUARANTINED);
  }

  /** Whether `quarantinePage` took this frame out of circulation. */
  isQuarantined(pfn: number): boolean {
    return this.pfnValid(pfn) && (Atomics.load(this.flags, pfn) & PG_quarantined) !== 0;
  }

  /**
   * Lock held: a never-touched range that holds pfn gives its blocks up to and including pfn's to
   * the free lists, so that pfn's block can be handled as a listed one.
   */
  private touchUntouched(pfn: number): void {
    const ctl = this.ctl;
    for (let i = B_UNTOUCHED; i < B_QUARANTINED; i += 2) {
      if (pfn < ctl[i]! || pfn >= ctl[i + 1]!) continue;
      while (ctl[i]! <= pfn) {
        const start = ctl[i]!;
        ctl[i] = start + MAX_ORDER_PAGES;
        const z = pfnZone(start);
        const zb = zoneBase(z);
        ctl[zb + Z_COUNT + MAX_ORDER]!--;
        ctl[zb + Z_FREE]! -= MAX_ORDER_PAGES;
        for (let p = start; p < start + MAX_ORDER_PAGES; p++) {
          this.refcount[p] = 0;
          this.mapcount[p] = 0;
          this.flags[p] = 0;
        }
        this.pushFree(z, start, MAX_ORDER);
      }
    }
  }

  private zeroFrames(pfn: number, n: number): void {
    // fill() on a SharedArrayBuffer view stores byte by byte (relaxed atomics, ~1 µs a page);
    // copying a zeroed private page in is about seven times faster.
    for (let i = 0; i < n; i++) {
      const loc = this.ramLocate(pfn + i);
      this.banks.u8[locationBank(loc)]!.set(ZEROES, locationOffset(loc));
    }
  }

  /** Free pages (MemFree / nr_free_pages(): the sum of the zones' NR_FREE_PAGES). */
  get nrFreePages(): number {
    const ctl = this.ctl;
    let n = 0;
    for (let z = 0; z < NR_RAM_ZONES; z++) n += Atomics.load(ctl, zoneBase(z) + Z_FREE);
    return n;
  }

  /**
   * Free frames whose struct pages nothing has written yet (the never-touched MAX_ORDER middles of the
   * RAM ranges, handed out lazily): what boot and large allocations leave for the host to commit.
   */
  get nrUntouchedPages(): number {
    let n = 0;
    for (let i = B_UNTOUCHED; i < B_QUARANTINED; i += 2) {
      const start = Atomics.load(this.ctl, i);
      const end = Atomics.load(this.ctl, i + 1);
      if (end > start) n += end - start;
    }
    return n;
  }

  /** Free blocks per order, as one line of /proc/buddyinfo counts. */
  buddyinfo(): number[] {
    const out: number[] = [];
    for (let o = 0; o <= MAX_ORDER; o++) {
      let n = 0;
      for (let z = 0; z < NR_RAM_ZONES; z++) n += Atomics.load(this.ctl, zoneBase(z) + Z_COUNT + o);
      out.push(n);
    }
    return out;
  }

  /**
   * Free blocks per order in each populated zone of x86-64 (ZONE_DMA below 16 MiB, ZONE_DMA32 below
   * 4 GiB, ZONE_NORMAL above), as /proc/buddyinfo lists them: each zone's own free_area counters.
   */
  buddyinfoByZone(): { readonly zone: string; readonly counts: number[] }[] {
    const zones = this.zones();
    const out: { zone: string; counts: number[] }[] = [];
    for (let z = 0; z < NR_RAM_ZONES; z++) {
      // populated_zone(): a zone is listed when RAM lies in it.
      if (zones[z]!.presentPages === 0) continue;
      const counts: number[] = [];
      for (let o = 0; o <= MAX_ORDER; o++) counts.push(Atomics.load(this.ctl, zoneBase(z) + Z_COUNT + o));
      out.push({ zone: zones[z]!.name, counts });
    }
    return out;
  }

  /** Allocations each RAM zone served since boot (zone_numa_event_state(NUMA_HIT)). */
  zoneNumaHits(): number[] {
    const out: number[] = [];
    for (let z = 0; z < NR_RAM_ZONES; z++) out.push(Atomics.load(this.ctl, zoneBase(z) + Z_NUMA_HIT));
    return out;
  }

  /** Free pages of each RAM zone (ZONE_DMA, ZONE_DMA32, ZONE_NORMAL): zone_page_state(NR_FREE_PAGES). */
  zoneFreePages(): number[] {
    const out: number[] = [];
    for (let z = 0; z < NR_RAM_ZONES; z++) out.push(Atomics.load(this.ctl, zoneBase(z) + Z_FREE));
    return out;
  }

  /**
   * /proc/buddyinfo text: one line per populated zone (frag_show: "Node %d, zone %8s " and "%6lu ").
   * `dma32: false` prints the layout before ZONE_DMA32 (x86-64 gained it in v2.6.15, commit a2f1b4249007
   * "x86_64: Add 4GB DMA32 zone"): everything above 16 MiB is Normal. The counts add up exactly, since
   * no free block straddles 4 GiB (a 4 MiB block never crosses a 4 GiB boundary).
   */
  renderBuddyinfo(options: { readonly dma32?: boolean } = {}): string {
    let zones = this.buddyinfoByZone();
    if (options.dma32 === false) {
      const dma32 = zones.find((z) => z.zone === "DMA32");
      const normal = zones.find((z) => z.zone === "Normal");
      if (dma32) {
        const counts = dma32.counts.map((n, o) => n + (normal?.counts[o] ?? 0));
        zones = [...zones.filter((z) => z !== dma32 && z !== normal), { zone: "Normal", counts }];
      }
    }
    return zones
      .map(
        ({ zone, counts }) =>
          `Node 0, zone ${zone.padStart(8)} ${counts.map((n) => String(n).padStart(6)).join(" ")} \n`,
      )
      .join("");
  }

  /** The MemTotal/MemFree lines of /proc/meminfo. */
  renderMeminfo(extra: ReadonlyArray<readonly [string, number]> = []): string {
    const line = (k: string, kb: number) => `${`${k}:`.padEnd(16)}${String(kb).padStart(8)} kB\n`;
    return (
      line("MemTotal", (this.totalRamPages * PAGE_SIZE) / KIB) +
      line("MemFree", (this.nrFreePages * PAGE_SIZE) / KIB) +
      extra.map(([k, v]) => line(k, v)).join("")
    );
  }

  /**
   * Allocator and struct page consistency: free lists well formed and aligned, no free block inside
   * another, no two free buddies left uncoalesced, counters equal to the lists, free frames unreferenced
   * and unmapped, reserved frames referenced, and free + allocated + reserved = total. Never-touched
   * blocks are checked by their bounds only, so that the check does not fault in their memmap.
   */
  checkInvariants(): void {
    const fail = (msg: string): never => {
      throw new PhysError("EINVARIANT", msg);
    };
    this.lock();
    try {
      const free = new Uint8Array(this.maxPfn);
      let nrFree = 0;
      // Never-touched blocks: aligned MAX_ORDER blocks inside their own RAM range.
      // Never-touched blocks: aligned MAX_ORDER blocks inside their own RAM range and zone.
      const untouched: Array<readonly [number, number]> = [];
      const zoneFree = [0, 0, 0];
      const zoneUntouchedBlocks = [0, 0, 0];
      for (let i = 0; i < NR_UNTOUCHED; i++) {
        const start = this.ctl[B_UNTOUCHED + 2 * i]!;
        const end = this.ctl[B_UNTOUCHED + 2 * i + 1]!;
        if (start >= end) continue;
        const r = this.ramRanges[Math.floor(i / NR_RAM_ZONES)];
        const z = i % NR_RAM_ZONES;
        if (!r || start % MAX_ORDER_PAGES || end % MAX_ORDER_PAGES) fail(`untouched range ${i} misaligned`);
        if (r && (start < r.start / PAGE_SIZE || end > r.end / PAGE_SIZE)) {
          fail(`untouched range ${hex(start)}-${hex(end)} leaves its RAM range`);
        }
        if (start < ZONE_START_PFN[z]! || end > ZONE_END_PFN[z]!) {
          fail(`untouched range ${hex(start)}-${hex(end)} leaves its zone ${z}`);
        }
        untouched.push([start, end]);
        nrFree += end - start;
        zoneFree[z]! += end - start;
        zoneUntouchedBlocks[z]! += (end - start) / MAX_ORDER_PAGES;
      }
      const isUntouched = (pfn: number) => untouched.some(([s, e]) => pfn >= s && pfn < e);
      for (let z = 0; z < NR_RAM_ZONES; z++)
        for (let o = 0; o <= MAX_ORDER; o++) {
          let count = 0;
          let prevPfn = NIL;
          for (let pfn = this.ctl[zoneBase(z) + Z_HEAD + o]!; pfn !== NIL; pfn = this.next[pfn]!) {
            const at = `free list zone ${z} order ${o}, pfn ${hex(pfn)}`;
            if (pfn >= 0 && pfnZone(pfn) !== z) fail(`${at}: on the lists of another zone`);
            if (pfn < 0 || pfn >= this.maxPfn) fail(`${at}: out of range`);
            if (this.prev[pfn] !== prevPfn) fail(`${at}: broken prev link`);
            if (pfn % (1 << o) !== 0) fail(`${at}: not aligned to its order`);
            if (!(this.flags[pfn]! & PG_buddy) || this.order[pfn] !== o)
              fail(`${at}: head lacks PG_buddy/order`);
            if (isUntouched(pfn)) fail(`${at}: inside a never-touched range`);
            for (let i = 0; i < 1 << o; i++) {
              const p = pfn + i;
              if (free[p]) fail(`${at}: frame ${hex(p)} is on two free lists`);
              if (this.ramFrameOf(p) < 0) fail(`${at}: frame ${hex(p)} is not RAM`);
              if (i > 0 && this.flags[p]! & PG_buddy) fail(`${at}: frame ${hex(p)} inside has PG_buddy`);
              if (this.flags[p]! & PG_quarantined)
                fail(`${at}: quarantined frame ${hex(p)} is on a free list`);
              if (this.refcount[p] !== 0 || this.mapcount[p] !== 0) {
                fail(
                  `${at}: free frame ${hex(p)} has refcount ${this.refcount[p]} mapcount ${this.mapcount[p]}`,
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
              fail(`${at}: its buddy ${hex(buddy)} is free too (not coalesced)`);
            }
            if (++count > this.maxPfn) fail(`${at}: the list has a cycle`);
            nrFree += 1 << o;
            zoneFree[z]! += 1 << o;
            prevPfn = pfn;
          }
          const listed = o === MAX_ORDER ? count + zoneUntouchedBlocks[z]! : count;
          const counter = this.ctl[zoneBase(z) + Z_COUNT + o];
          if (listed !== counter)
            fail(`zone ${z} order ${o}: ${listed} free blocks, counter says ${counter}`);
        }
      for (let z = 0; z < NR_RAM_ZONES; z++) {
        const counter = this.ctl[zoneBase(z) + Z_FREE];
        if (zoneFree[z] !== counter) fail(`zone ${z}: ${zoneFree[z]} free pages, counter says ${counter}`);
      }
      let allocated = 0;
      let reserved = 0;
      let quarantined = 0;
      const visit = (pfn: number) => {
        const f = this.flags[pfn]!;
        if (f & PG_buddy) fail(`frame ${hex(pfn)} has PG_buddy but is on no free list`);
        if (f & PG_quarantined) quarantined++;
        else if (f & PG_reserved) {
          reserved++;
          if (this.refcount[pfn]! < 1) fail(`reserved frame ${hex(pfn)} has refcount ${this.refcount[pfn]}`);
        } else allocated++;
        if (this.refcount[pfn]! < 0 || this.mapcount[pfn]! < 0)
          fail(`frame ${hex(pfn)}: negative refcount/mapcount`);
      };
      for (const r of this.ramRanges) {
        const end = r.end / PAGE_SIZE;
        for (let pfn = r.start / PAGE_SIZE; pfn < end; pfn++) {
          const skip = untouched.find(([s, e]) => pfn >= s && pfn < e);
          if (skip) {
            pfn = skip[1] - 1;
            continue;
          }
          if (!free[pfn]) visit(pfn);
        }
      }
      for (let pfn = 0; pfn < ISA_END_PFN; pfn++) {
        if (this.ramFrameOf(pfn) < 0 && (!(this.flags[pfn]! & PG_reserved) || this.refcount[pfn]! < 1)) {
          fail(`ISA hole frame ${hex(pfn)} is not reserved with a reference`);
        }
        // Quarantined frames of the ISA hole (not RAM, so not visited above) count too.
        if (this.ramFrameOf(pfn) < 0 && this.flags[pfn]! & PG_quarantined) quarantined++;
      }
      if (quarantined !== this.ctl[B_QUARANTINED]) {
        fail(`${quarantined} quarantined frames, counter says ${this.ctl[B_QUARANTINED]}`);
      }
      const totalRam = ramImageBytes(this.ramRanges) / PAGE_SIZE;
      // A quarantined RAM frame is neither free nor in use: it is accounted for apart.
      const quarantinedRam = quarantined - this.quarantinedOutsideRam();
      if (nrFree + allocated + reserved + quarantinedRam !== totalRam) {
        fail(
          `free ${nrFree} + used ${allocated} + reserved ${reserved} + quarantined ${quarantinedRam} != total ${totalRam}`,
        );
      }
    } finally {
      this.unlock();
    }
  }

  private quarantinedOutsideRam(): number {
    let n = 0;
    for (let pfn = 0; pfn < ISA_END_PFN; pfn++)
      if (this.ramFrameOf(pfn) < 0 && this.flags[pfn]! & PG_quarantined) n++;
    return n;
  }

  // ---- snapshots (memory-state.ts) ----------------------------------------------------------

  /**
   * The state of physical memory for a machine snapshot: allocator block, memmap chunks that are not
   * all zero, and the RAM frames outside the never-touched ranges that are not all zero.
   */
  saveState(): PhysMemoryState {
    const state = saveMemoryState(this.stateTarget());
    // B_NR_FREE as the control block carried it before the count was derived from the zones'.
    new DataView(state.ctl.buffer, state.ctl.byteOffset).setInt32(B_NR_FREE * 4, this.nrFreePages, true);
    return state;
  }

  /**
   * Replaces this memory's state with a saved one (from a machine of the same RAM size). Every index
   * and length is checked before anything is written (PhysError "ESNAPSHOT"); call checkInvariants()
   * after to check the content.
   */
  restoreState(state: unknown): void {
    this.lock();
    try {
      restoreMemoryState(this.stateTarget(), state);
    } finally {
      // The saved lock word is free; the restored block is ours to release.
      Atomics.store(this.ctl, B_LOCK, UNLOCKED);
    }
  }

  private stateTarget() {
    const ranges = this.ramRanges;
    const ctl = this.ctl;
    return {
      ramBytes: this.ramBytes,
      maxPfn: this.maxPfn,
      zeroPfn: this.zeroPfn,
      memmapArrays: [this.refcount, this.mapcount, this.flags, this.order, this.next, this.prev],
      ctl,
      *touchedRamPfns(): Iterable<number> {
        for (let i = 0; i < ranges.length; i++) {
          let pfn = ranges[i]!.start / PAGE_SIZE;
          const end = ranges[i]!.end / PAGE_SIZE;
          // The range's never-touched stretches, one per zone, come in zone order: ascending pfns.
          for (let z = 0; z < NR_RAM_ZONES; z++) {
            const slot = B_UNTOUCHED + 2 * (i * NR_RAM_ZONES + z);
            const us = ctl[slot]!;
            const ue = ctl[slot + 1]!;
            if (us >= ue) continue;
            for (const stop = Math.min(us, end); pfn < stop; pfn++) yield pfn;
            if (pfn < ue) pfn = ue;
          }
          for (; pfn < end; pfn++) yield pfn;
        }
      },
      isRam: (pfn: number) => this.ramFrameOf(pfn) >= 0,
      frameBytes: (pfn: number) => this.frameBytes(pfn),
    };
  }

  /** Pages allocated and not reserved (for leak checks: equal before and after a workload). */
  get nrAllocatedPages(): number {
    return this.totalRamPages - this.nrFreePages;
  }
}

export { PG_anon, PG_anon_exclusive, PG_dirty, PG_quarantined, PG_table };
