// arch/x86/mm/pat/memtype.c and memtype_interval.c: the memory type (cache mode) of every physical
// range someone maps with a chosen cache mode (ioremap*, remap_pfn_range of a whole VMA,
// arch_io_reserve_memtype_wc), so two mappings of one range never disagree: a request that conflicts
// is refused or, where the caller accepts it, answered with the type already in force.
//
// The model's machine: PAT is enabled with Linux's default layout (pgprot.ts), RAM has no memtype
// but its page's (always write-back here: no set_memory_uc/wc), the legacy ISA range is untracked, and
// the MTRRs say write-back for RAM and uncachable for everything else (the firmware's usual setup), so
// a write-back request for device memory becomes uncached-minus as pat_x_mtrr_type() makes it.
import { ISA_END_ADDRESS, ISA_START_ADDRESS, PAGE_SIZE, type PhysMemory } from "@faultline/phys";
import { EBUSY, EINVAL } from "./errno";
import {
  _PAGE_CACHE_MODE_UC,
  _PAGE_CACHE_MODE_UC_MINUS,
  _PAGE_CACHE_MODE_WB,
  _PAGE_CACHE_MODE_WC,
  _PAGE_CACHE_MODE_WP,
  _PAGE_CACHE_MODE_WT,
  cattrName,
  type PageCacheMode,
  pgprot2cachemode,
  pgprotSetCachemode,
} from "./pgprot";

/** struct memtype: [start, end) of physical memory and its type. */
export interface Memtype {
  readonly start: number;
  readonly end: number;
  readonly type: PageCacheMode;
}

/**
 * Where memtype.c's messages go (pr_info/pr_warn/pr_err, with the kernel's loglevel digit) and who
 * `current` is for the "comm:pid" they carry. The kernel installs it; alone, mm prints nothing.
 */
export interface MemtypeLog {
  printk(level: 3 | 4 | 6, text: string): void;
  /** current->comm and current->pid, or null outside a process. */
  current(): { readonly comm: string; readonly pid: number } | null;
}

const hex = (n: number): string => n.toString(16);
/** printk's %#010Lx. */
const hex010 = (n: number): string => `0x${hex(n).padStart(8, "0")}`;

/** is_ISA_range(): the legacy hole, always mapped write-back by PAT and never tracked. */
const isUntrackedPatRange = (start: number, end: number): boolean =>
  start >= ISA_START_ADDRESS && end <= ISA_END_ADDRESS;

/**
 * is_new_memtype_allowed() (arch/x86/include/asm/memtype.h): may a caller that asked for `pcmOld` live
 * with `pcmNew`? Never write-back for an uncached, write-combining or write-through request, never
 * write-combining for a write-through one; anything goes in the untracked ISA range.
 */
export function isNewMemtypeAllowed(paddr: number, size: number, pcmOld: number, pcmNew: number): boolean {
  if (isUntrackedPatRange(paddr, paddr + size)) return true;
  if (
    (pcmOld === _PAGE_CACHE_MODE_UC_MINUS && pcmNew === _PAGE_CACHE_MODE_WB) ||
    (pcmOld === _PAGE_CACHE_MODE_WC && pcmNew === _PAGE_CACHE_MODE_WB) ||
    (pcmOld === _PAGE_CACHE_MODE_WT && pcmNew === _PAGE_CACHE_MODE_WB) ||
    (pcmOld === _PAGE_CACHE_MODE_WT && pcmNew === _PAGE_CACHE_MODE_WC)
  )
    return false;
  return true;
}

/** A memtype tree in a machine snapshot: [start, end, type] entries in order; pfn, type pairs of RAM. */
export interface MemtypesState {
  readonly entries: ReadonlyArray<readonly [number, number, number]>;
  readonly ram: readonly number[];
}

/**
 * The memtype tree of one physical machine (memtype_rbroot) and the functions of memtype.c that work
 * on it. Entries are kept sorted by start; entries with one start keep their insertion order, as the
 * interval tree's in-order walk does. Identical ranges may be reserved more than once (an ioremap and
 * a user mapping of the same BAR): each reservation is its own entry and is freed by its own call.
 */
export class Memtypes {
  private readonly entries: Memtype[] = [];
  /** Per-page memtype of RAM pages reserved through memtype_reserve (reserve_ram_pages_type). */
  private readonly ramTypes = new Map<number, PageCacheMode>();
  log: MemtypeLog | null = null;

  constructor(private readonly mem: PhysMemory) {}

  /** Every entry, in the order /sys/kernel/debug/x86/pat_memtype_list prints them. */
  list(): readonly Memtype[] {
    return this.entries;
  }

  /** The text of /sys/kernel/debug/x86/pat_memtype_list (memtype_seq_show; `end` is exclusive). */
  render(): string {
    let s = "PAT memtype list:\n";
    for (const e of this.entries)
      s += `PAT: [mem 0x${hex(e.start).padStart(16, "0")}-0x${hex(e.end).padStart(16, "0")}] ${cattrName(e.type)}\n`;
    return s;
  }

  private print(level: 3 | 4 | 6, text: (who: string) => string): void {
    const log = this.log;
    if (!log) return;
    const c = log.current();
    log.printk(level, text(c ? `${c.comm}:${c.pid}` : "swapper/0:0"));
  }

  /** System RAM in the model: pages with a struct page outside the ISA hole. */
  private pfnIsRam(pfn: number): boolean {
    return (
      this.mem.pfnValid(pfn) && !(pfn >= ISA_START_ADDRESS / PAGE_SIZE && pfn < ISA_END_ADDRESS / PAGE_SIZE)
    );
  }

  /** pat_pagerange_is_ram(): 1 if [start, end) is all RAM, 0 if none of it is, -1 if mixed. */
  pagerangeIsRam(start: number, end: number): -1 | 0 | 1 {
    const first = Math.floor(start / PAGE_SIZE);
    const last = Math.ceil(end / PAGE_SIZE);
    let ram = 0;
    for (let pfn = first; pfn < last; pfn++) if (this.pfnIsRam(pfn)) ram++;
    return ram === 0 ? 0 : ram === last - first ? 1 : -1;
  }

  /** pat_x_mtrr_type(): a write-back request for memory the MTRRs do not call write-back is UC-. */
  private mtrrType(start: number, end: number, req: PageCacheMode): PageCacheMode {
    if (req !== _PAGE_CACHE_MODE_WB) return req;
    return this.pagerangeIsRam(start, end) === 1 ? _PAGE_CACHE_MODE_WB : _PAGE_CACHE_MODE_UC_MINUS;
  }

  /**
   * memtype_reserve(start, end, req_type, new_type): reserves [start, end) with `req`. With `acceptOther`
   * (the caller passed a new_type pointer) an overlap with entries of one other type is accepted and the
   * new entry takes their type; without it, any overlap of another type is -EBUSY. Returns the type
   * granted (≥ 0) or -errno.
   */
  reserve(start: number, end: number, req: PageCacheMode, acceptOther: boolean): number {
    if (start >= end) {
      this.print(
        4,
        () => `memtype_reserve failed: [mem ${hex010(start)}-${hex010(end - 1)}], req ${cattrName(req)}`,
      );
      return -EINVAL;
    }
    if (isUntrackedPatRange(start, end)) return _PAGE_CACHE_MODE_WB;
    const actual = this.mtrrType(start, end, req);
    const isRam = this.pagerangeIsRam(start, end);
    if (isRam === 1) return this.reserveRamPagesType(start, end, req);
    if (isRam < 0) return -EINVAL;
    // memtype_check_insert() → memtype_check_conflict(): the first overlapping entry decides (or, with
    // no new_type, must agree); every other overlapping one must have that same type.
    let found: PageCacheMode = actual;
    let first = true;
    for (const e of this.entries) {
      if (e.start >= end || e.end <= start) continue;
      if (first) {
        first = false;
        if (e.type !== found && !acceptOther) return this.conflict(start, end, actual, req, found, e.type);
        found = e.type;
      } else if (e.type !== found) return this.conflict(start, end, actual, req, found, e.type);
    }
    const type = acceptOther ? found : actual;
    this.insert({ start, end, type });
    return type;
  }

  private conflict(
    start: number,
    end: number,
    actual: PageCacheMode,
    req: PageCacheMode,
    found: PageCacheMode,
    other: PageCacheMode,
  ): number {
    this.print(
      6,
      (who) =>
        `x86/PAT: ${who} conflicting memory types ${hex(start)}-${hex(end)} ${cattrName(found)}<->${cattrName(other)}`,
    );
    this.print(
      6,
      () =>
        `x86/PAT: memtype_reserve failed [mem ${hex010(start)}-${hex010(end - 1)}], track ${cattrName(actual)}, req ${cattrName(req)}`,
    );
    return -EBUSY;
  }

  private insert(m: Memtype): void {
    let i = this.entries.length;
    while (i > 0 && this.entries[i - 1]!.start > m.start) i--;
    this.entries.splice(i, 0, m);
  }

  /** reserve_ram_pages_type(): RAM keeps its memtype in struct page; only WB pages may change type. */
  private reserveRamPagesType(start: number, end: number, req: PageCacheMode): number {
    if (req === _PAGE_CACHE_MODE_WP) return -EINVAL;
    // "We do not support strong UC" (a WARN_ON_ONCE in the kernel): RAM gets UC- instead.
    const type = req === _PAGE_CACHE_MODE_UC ? _PAGE_CACHE_MODE_UC_MINUS : req;
    const first = Math.floor(start / PAGE_SIZE);
    const last = Math.floor(end / PAGE_SIZE);
    for (let pfn = first; pfn < last; pfn++) {
      const t = this.ramTypes.get(pfn) ?? _PAGE_CACHE_MODE_WB;
      if (t !== _PAGE_CACHE_MODE_WB) {
        this.print(
          6,
          () =>
            `x86/PAT: reserve_ram_pages_type failed [mem ${hex010(start)}-${hex010(end - 1)}], track 0x${hex(t)}, req 0x${hex(type)}`,
        );
        return -EBUSY;
      }
    }
    for (let pfn = first; pfn < last; pfn++)
      if (type === _PAGE_CACHE_MODE_WB) this.ramTypes.delete(pfn);
      else this.ramTypes.set(pfn, type);
    return type;
  }

  /**
   * memtype_free(start, end): drops the entry that is exactly [start, end) (6.16+: no partial frees,
   * pfnmap tracking always frees what it reserved). 0 or -EINVAL ("freeing invalid memtype").
   */
  free(start: number, end: number): number {
    if (isUntrackedPatRange(start, end)) return 0;
    const isRam = this.pagerangeIsRam(start, end);
    if (isRam === 1) {
      // free_ram_pages_type(): back to write-back.
      for (let pfn = Math.floor(start / PAGE_SIZE); pfn < Math.floor(end / PAGE_SIZE); pfn++)
        this.ramTypes.delete(pfn);
      return 0;
    }
    if (isRam < 0) return -EINVAL;
    const i = this.entries.findIndex((e) => e.start === start && e.end === end);
    if (i < 0) {
      this.print(
        6,
        (who) => `x86/PAT: ${who} freeing invalid memtype [mem ${hex010(start)}-${hex010(end - 1)}]`,
      );
      return -EINVAL;
    }
    this.entries.splice(i, 1);
    return 0;
  }

  /**
   * Whether a reservation of exactly [start, end) is on record (or none is needed: RAM, the ISA range),
   * for invariant checks of what the VMAs' pfnmap_track_ctx hold.
   */
  holds(start: number, end: number): boolean {
    if (isUntrackedPatRange(start, end) || this.pagerangeIsRam(start, end) !== 0) return true;
    return this.entries.some((e) => e.start === start && e.end === end);
  }

  /** The tree as a machine snapshot keeps it: entries in order, and RAM pages' types (pfn, type pairs). */
  saveState(): MemtypesState {
    return {
      entries: this.entries.map((e) => [e.start, e.end, e.type] as const),
      ram: [...this.ramTypes].sort((a, b) => a[0] - b[0]).flat(),
    };
  }

  /**
   * Replaces the tree with a saved one (a restored machine's: what its drivers reserved again at probe
   * is dropped for the reservations the snapshot had). Checked whole first: a bad entry is an Error
   * naming it and the tree is unchanged.
   */
  restoreState(s: MemtypesState): void {
    const types: readonly number[] = [
      _PAGE_CACHE_MODE_WB,
      _PAGE_CACHE_MODE_WC,
      _PAGE_CACHE_MODE_UC_MINUS,
      _PAGE_CACHE_MODE_UC,
      _PAGE_CACHE_MODE_WT,
      _PAGE_CACHE_MODE_WP,
    ];
    const addr = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
    if (!Array.isArray(s?.entries) || !Array.isArray(s.ram) || s.ram.length % 2)
      throw new Error("memtypes: expected entries and pfn, type pairs");
    const entries = s.entries.map((e, i): Memtype => {
      if (!Array.isArray(e) || !addr(e[0]) || !addr(e[1]) || e[1] <= e[0] || !types.includes(e[2]))
        throw new Error(`memtype ${i}: not a [start, end, type] range`);
      if (i > 0 && s.entries[i - 1]![0] > e[0]) throw new Error(`memtype ${i}: out of order`);
      if (this.pagerangeIsRam(e[0], e[1]) !== 0) throw new Error(`memtype ${i}: RAM has no memtype entry`);
      return { start: e[0], end: e[1], type: e[2] as PageCacheMode };
    });
    const ram = new Map<number, PageCacheMode>();
    for (let i = 0; i < s.ram.length; i += 2) {
      const pfn = s.ram[i]!;
      const type = s.ram[i + 1]!;
      if (!addr(pfn) || !this.pfnIsRam(pfn) || !types.includes(type) || type === _PAGE_CACHE_MODE_WB)
        throw new Error(`memtype of RAM page ${String(pfn)}: not a RAM page with a non-WB type`);
      ram.set(pfn, type as PageCacheMode);
    }
    this.entries.splice(0, this.entries.length, ...entries);
    this.ramTypes.clear();
    for (const [pfn, type] of ram) this.ramTypes.set(pfn, type);
  }

  /** lookup_memtype(): the type in force at `paddr` (UC- for untracked device memory, WB in the ISA hole). */
  lookup(paddr: number): PageCacheMode {
    if (isUntrackedPatRange(paddr, paddr + PAGE_SIZE)) return _PAGE_CACHE_MODE_WB;
    const pfn = Math.floor(paddr / PAGE_SIZE);
    if (this.pfnIsRam(pfn)) return this.ramTypes.get(pfn) ?? _PAGE_CACHE_MODE_WB;
    // memtype_lookup(): the first entry (lowest start) that contains the address.
    for (const e of this.entries) {
      if (e.start > paddr) break;
      if (e.end > paddr) return e.type;
    }
    return _PAGE_CACHE_MODE_UC_MINUS;
  }

  // ---- the pfnmap side (reserve_pfn_range, free_pfn_range, pfnmap_*) ----------------------------

  /**
   * reserve_pfn_range(paddr, size, &prot, strict_prot) with strict_prot 0: RAM (or a range with some) is only looked up (its
   * type replaces the request, with a warning); other memory is reserved, and a different type granted
   * replaces the request when is_new_memtype_allowed() accepts it. Returns the pgprot to use or -EINVAL.
   */
  reservePfnRange(paddr: number, size: number, prot: number): number {
    const want = pgprot2cachemode(prot);
    // `if (is_ram)`: a range mixing RAM and device memory (-1) is treated as RAM too, looked up by its
    // first page and not reserved.
    if (this.pagerangeIsRam(paddr, paddr + size) !== 0) {
      const pcm = this.lookup(paddr);
      if (pcm !== want) {
        this.print(
          4,
          (who) =>
            `x86/PAT: ${who} map pfn RAM range req ${cattrName(want)} for [mem ${hex010(paddr)}-${hex010(paddr + size - 1)}], got ${cattrName(pcm)}`,
        );
        return pgprotSetCachemode(prot, pcm);
      }
      return prot;
    }
    const got = this.reserve(paddr, paddr + size, want, true);
    if (got < 0) return -EINVAL;
    if (got !== want) {
      if (!isNewMemtypeAllowed(paddr, size, want, got)) {
        this.free(paddr, paddr + size);
        this.print(
          3,
          (who) =>
            `x86/PAT: ${who} map pfn expected mapping type ${cattrName(want)} for [mem ${hex010(paddr)}-${hex010(paddr + size - 1)}], got ${cattrName(got)}`,
        );
        return -EINVAL;
      }
      return pgprotSetCachemode(prot, got as PageCacheMode);
    }
    return prot;
  }

  /** free_pfn_range(): only device memory has an entry to free. */
  freePfnRange(paddr: number, size: number): void {
    if (this.pagerangeIsRam(paddr, paddr + size) === 0) this.free(paddr, paddr + size);
  }

  /**
   * pfnmap_setup_cachemode(): no reservation, the type already in force for every page of the range
   * (one type for all, else -EINVAL). Returns the pgprot with that type, or -EINVAL.
   */
  setupCachemode(pfn: number, size: number, prot: number): number {
    let paddr = pfn * PAGE_SIZE;
    const pcm = this.lookup(paddr);
    for (let left = size; left > PAGE_SIZE; left -= PAGE_SIZE) {
      paddr += PAGE_SIZE;
      if (this.lookup(paddr) !== pcm) return -EINVAL;
    }
    return pgprotSetCachemode(prot, pcm);
  }

  /**
   * memtype_reserve_io() (arch_io_reserve_memtype_wc's body): reserve, accept another type only if
   * is_new_memtype_allowed(), else free it again and -EBUSY. Returns the type granted or -errno.
   */
  reserveIo(start: number, end: number, req: PageCacheMode): number {
    const got = this.reserve(start, end, req, true);
    if (got < 0) return got;
    if (!isNewMemtypeAllowed(start, end - start, req, got)) {
      this.free(start, end);
      return -EBUSY;
    }
    return got;
  }
}

/**
 * struct pfnmap_track_ctx (mm/memory.c, 6.16+): a whole-VMA remap_pfn_range()'s reservation of
 * [pfn, pfn + size), referenced by each VMA that descends from the one mapped (kref); the last
 * reference dropped frees it (pfnmap_track_ctx_release → pfnmap_untrack → free_pfn_range).
 */
export class PfnmapTrackCtx {
  private refs = 1;
  constructor(
    private readonly memtypes: Memtypes,
    readonly pfn: number,
    readonly size: number,
  ) {}

  /** kref_get() (vm_area_dup). */
  get(): void {
    this.refs++;
  }

  /** kref_put() (vm_area_free). */
  put(): void {
    if (--this.refs === 0) this.memtypes.freePfnRange(this.pfn * PAGE_SIZE, this.size);
  }
}

const trees = new WeakMap<PhysMemory, Memtypes>();

/**
 * The memtype tree of the machine whose physical memory is `mem` (memtype_rbroot is one per machine:
 * every address space and the kernel's ioremap share it).
 */
export function memtypesOf(mem: PhysMemory): Memtypes {
  let m = trees.get(mem);
  if (!m) {
    m = new Memtypes(mem);
    trees.set(mem, m);
  }
  return m;
}
