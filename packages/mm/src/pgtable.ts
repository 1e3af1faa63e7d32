import {
  __GFP_ZERO,
  fromHalves,
  high32,
  locationBank,
  locationOffset,
  PAGE_SIZE,
  PG_table,
  type PhysMemory,
  pfnOf,
  physOf,
} from "@faultline/phys";

/**
 * x86-64 4-level page tables (PGD/PUD/PMD/PTE, 9 bits each) kept in real frames from the buddy
 * allocator, so any thread holding the shared RAM can walk them as the hardware does.
 *
 * A PTE is handled as one JS number: `pfn * 4096 + (low 12 flag bits)`, plus 2^52 for NX. That is
 * exact in a double (pfns have at most 40 bits). In memory it is the usual little-endian 64-bit entry.
 * This file owns that encoding: nobody else does its arithmetic. Build an entry with pfnPte(), read it
 * with ptePfn() / pteFlags(), change its flag bits with pteSetFlags() / pteClearFlags() / pteModify()
 * (the kernel's pfn_pte, pte_pfn, pte_flags, pte_set_flags, pte_clear_flags, pte_modify in
 * arch/x86/include/asm/pgtable.h); the protection key bits (59..62) live only in memory, written by
 * setPte() and read by readPkey() / pteWordPkey(). A slot is the location (phys's encoding.ts) of an
 * entry in its table's frame.
 */
export const _PAGE_PRESENT = 0x001;
export const _PAGE_RW = 0x002;
export const _PAGE_USER = 0x004;
export const _PAGE_PWT = 0x008;
export const _PAGE_PCD = 0x010;
export const _PAGE_ACCESSED = 0x020;
export const _PAGE_DIRTY = 0x040;
/** _PAGE_PROTNONE (bit 8, global when present): a PROT_NONE entry, not present to the MMU but still holding its page. */
export const _PAGE_PROTNONE = 0x100;
/** _PAGE_BIT_SOFTW1: the kernel's pte_special() bit (zero page, VM_PFNMAP/VM_MIXEDMAP entries). */
export const _PAGE_SPECIAL = 0x200;
/** Our own software bit: the entry was installed for a VM_PFNMAP range (remapPfnRange/vmfInsertPfn). */
export const _PAGE_PFNMAP = 0x400;
export const _PAGE_NX = 2 ** 52;
/**
 * A guard-region marker (MADV_GUARD_INSTALL, 6.13): an entry that is neither present nor PROT_NONE and
 * holds no page. The kernel encodes it as a swap entry of type SWP_PTE_MARKER carrying PTE_MARKER_GUARD
 * (include/linux/swapops.h make_pte_marker); here it is this one value. A fault on it is SIGSEGV
 * (mm/memory.c handle_pte_marker); munmap and exit drop it (ZAP_FLAG_DROP_MARKER), other zaps keep it.
 */
export const PTE_MARKER_GUARD = 0x800;
/** is_guard_pte_marker(): whether `pte` is a guard marker. */
export const pteIsGuardMarker = (pte: number): boolean => pte === PTE_MARKER_GUARD;
/** pte_present() || pte_protnone(): the entry holds a page (it is not empty and not a marker). */
export const pteHoldsPage = (pte: number): boolean => (pte & (_PAGE_PRESENT | _PAGE_PROTNONE)) !== 0;
/**
 * Protection key bits 59..62 of a PTE (_PAGE_PKEY_BIT0..3): bits 27..30 of the entry's high word. They
 * are not part of the JS-number form of a PTE (it has no room above NX); setPte() writes them from its
 * `pkey` argument, readPkey() (pteWordPkey()) reads them, and the MMU's walk checks them against PKRU.
 */
export const PTE_PKEY_SHIFT_HI = 27;
const TABLE_FLAGS = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY;
/** 2^n for the page-walk shifts: a table lookup, not Math.pow, on the walk. */
const POW2: readonly number[] = Array.from({ length: 64 }, (_, n) => 2 ** n);

/** The flag bits of the JS-number form: the low 12 (PTE_FLAGS_MASK without NX and the key bits). */
export const PTE_FLAGS_MASK = PAGE_SIZE - 1;
/** Address bits 32..51 of an entry, in its high word (PTE_PFN_MASK above bit 31). */
const PTE_HI_PFN_MASK = 0xfffff;
/** NX (bit 63) in the high word: its bit 31. */
const PTE_HI_NX_BIT = 31;
const PTE_HI_NX = 0x80000000;

/** pte_pfn(): the frame an entry points to. */
export const ptePfn = (pte: number): number => pfnOf(pte % _PAGE_NX);
/** pte_flags(): the low flag bits (present, rw, user, accessed, dirty, protnone, software bits). */
export const pteFlags = (pte: number): number => pte & PTE_FLAGS_MASK;
/** pfn_pte(): the entry for frame `pfn` with flag bits `flags` (and NX). */
export const pfnPte = (pfn: number, flags: number, nx = false): number =>
  (nx ? _PAGE_NX : 0) + physOf(pfn) + flags;
/** pte_set_flags(): `pte` with the flag bits `bits` set (pte_mkwrite, pte_mkdirty, pte_mkyoung …). */
export const pteSetFlags = (pte: number, bits: number): number => pte + (bits & ~pte & PTE_FLAGS_MASK);
/** pte_clear_flags(): `pte` with the flag bits `bits` cleared (pte_wrprotect, pte_mkclean …). */
export const pteClearFlags = (pte: number, bits: number): number => pte - (bits & pte & PTE_FLAGS_MASK);
/** pte_modify(): the same frame (and NX) with the flag bits replaced by `flags`. */
export const pteModify = (pte: number, flags: number): number => pte - pteFlags(pte) + flags;
/** The protection key in an entry's high word (bits 59..62 of the entry). */
export const pteWordPkey = (hi: number): number => (hi >>> PTE_PKEY_SHIFT_HI) & 15;

/** Slot address of an entry: bank id * 2^32 + byte offset in the bank. */
export type PteSlot = number;
export const NO_TABLE = -1;
export const TABLE_OOM = -2;

/** x86-64 four-level page tables in shared memory: the PGD of one address space and its walks. */
export class PageTables {
  readonly root: number;
  /** Used entries per table, keyed by the table's location (the kernel keeps this in its struct page). */
  private readonly used = new Map<number, number>();
  /** pfn of each table, keyed by location. */
  private readonly tablePfn = new Map<number, number>();
  declare private readonly u32s: Uint32Array[];

  private constructor(
    readonly mem: PhysMemory,
    root: number,
  ) {
    this.root = root;
    this.u32s = mem.banks.u32;
    this.track(root);
  }

  /** A fresh, empty PGD; null when memory is exhausted. */
  static create(mem: PhysMemory): PageTables | null {
    const root = PageTables.allocTable(mem);
    return root < 0 ? null : new PageTables(mem, root);
  }

  /**
   * The page tables rooted at `root` as they are in memory (a restored snapshot): the per-table entry
   * counts and table frames are rebuilt by walking them. Throws (naming the entry) when a table pointer
   * leads to a frame that is not RAM or not marked PG_table, or a table is reached twice.
   */
  static adopt(mem: PhysMemory, root: number): PageTables {
    const check = (pfn: number, what: string) => {
      if (!Number.isInteger(pfn) || pfn < 0 || pfn >= mem.maxPfn || mem.ramLocate(pfn) < 0)
        throw new Error(`${what}: pfn 0x${pfn.toString(16)} is not RAM`);
      if (!(mem.flags[pfn]! & PG_table))
        throw new Error(`${what}: frame 0x${pfn.toString(16)} is not a page table (no PG_table)`);
    };
    check(root, "page table root");
    const pt = new PageTables(mem, root);
    const walk = (table: number, level: number): void => {
      const loc = mem.ramLocate(table);
      let used = 0;
      for (let i = 0; i < 512; i++) {
        const e = pt.readSlot(loc + i * 8);
        if (e === 0) continue;
        used++;
        if (level === 0) continue;
        const child = ptePfn(e);
        check(child, `page table entry ${i} of table 0x${table.toString(16)}`);
        if (pt.tablePfn.has(mem.ramLocate(child)))
          throw new Error(`page table 0x${child.toString(16)} is reached twice`);
        pt.track(child);
        walk(child, level - 1);
      }
      pt.used.set(loc, used);
    };
    walk(root, 3);
    return pt;
  }

  private static allocTable(mem: PhysMemory): number {
    const pfn = mem.allocPfn(0, __GFP_ZERO);
    if (pfn >= 0) Atomics.or(mem.flags, pfn, PG_table);
    return pfn;
  }

  /** Number of frames used by page tables (the PageTables: line of meminfo, in pages). */
  get tablePages(): number {
    return this.used.size;
  }

  private track(pfn: number): void {
    const loc = this.mem.ramLocate(pfn);
    this.used.set(loc, 0);
    this.tablePfn.set(loc, pfn);
  }

  private slotOf(tablePfn: number, index: number): PteSlot {
    const loc = this.mem.ramLocate(tablePfn);
    return loc + index * 8;
  }

  readSlot(slot: PteSlot): number {
    const w = locationOffset(slot) >>> 2;
    const u32 = this.u32s[locationBank(slot)]!;
    const lo = Atomics.load(u32, w);
    const hi = u32[w + 1]!;
    return (hi >>> PTE_HI_NX_BIT ? _PAGE_NX : 0) + fromHalves(lo, hi & PTE_HI_PFN_MASK);
  }

  /** The protection key of the entry in `slot` (0 without PKU). */
  readPkey(slot: PteSlot): number {
    return pteWordPkey(this.u32s[locationBank(slot)]![(locationOffset(slot) >>> 2) + 1]!);
  }

  private writeSlot(slot: PteSlot, pte: number, pkey = 0): void {
    const w = locationOffset(slot) >>> 2;
    const u32 = this.u32s[locationBank(slot)]!;
    const nx = pte >= _PAGE_NX;
    const v = nx ? pte - _PAGE_NX : pte;
    const hi = high32(v);
    const lo = v >>> 0;
    // Publish carefully for concurrent walkers: clear the present word first, then the high word,
    // then the low word (with the present bit) last.
    Atomics.store(u32, w, 0);
    // Only entries holding a page carry a key: empty entries and markers (swap-entry form) have none.
    const key = lo & (_PAGE_PRESENT | _PAGE_PROTNONE) ? pkey << PTE_PKEY_SHIFT_HI : 0;
    u32[w + 1] = (hi | key | (nx ? PTE_HI_NX : 0)) >>> 0;
    Atomics.store(u32, w, lo >>> 0);
  }

  /** Sets accessed/dirty bits in place, as the hardware does on a walk. */
  orFlags(slot: PteSlot, bits: number): void {
    Atomics.or(this.u32s[locationBank(slot)]!, locationOffset(slot) >>> 2, bits);
  }

  /**
   * The slot of the PTE for `addr`, walking PGD→PUD→PMD. With `alloc`, missing tables are allocated
   * (TABLE_OOM when memory is exhausted); without, NO_TABLE when a level is missing.
   */
  pteSlot(addr: number, alloc: boolean): PteSlot {
    let table = this.root;
    for (let shift = 39; shift >= 21; shift -= 9) {
      const idx = Math.floor(addr / POW2[shift]!) & 511;
      const slot = this.slotOf(table, idx);
      const e = this.readSlot(slot);
      if (e === 0) {
        if (!alloc) return NO_TABLE;
        const next = PageTables.allocTable(this.mem);
        if (next < 0) return TABLE_OOM;
        this.track(next);
        this.writeSlot(slot, pfnPte(next, TABLE_FLAGS));
        this.bumpUsed(slot, 1);
        table = next;
      } else {
        table = ptePfn(e);
      }
    }
    return this.slotOf(table, Math.floor(addr / PAGE_SIZE) & 511);
  }

  getPte(addr: number): number {
    const slot = this.pteSlot(addr, false);
    return slot < 0 ? 0 : this.readSlot(slot);
  }

  /** Installs (or replaces) the PTE in `slot` with protection key `pkey`, keeping the table's used count. */
  setPte(slot: PteSlot, pte: number, pkey = 0): void {
    const old = this.readSlot(slot);
    if (old === 0 && pte !== 0) this.bumpUsed(slot, 1);
    else if (old !== 0 && pte === 0) this.bumpUsed(slot, -1);
    this.writeSlot(slot, pte, pkey);
  }

  private bumpUsed(slot: PteSlot, delta: number): void {
    const base = slot - (locationOffset(slot) & (PAGE_SIZE - 1));
    this.used.set(base, (this.used.get(base) ?? 0) + delta);
  }

  /** Entry `index` (0..511) of the table in frame `tablePfn`, any level (the page-table dump's walk). */
  tableEntry(tablePfn: number, index: number): number {
    return this.readSlot(this.slotOf(tablePfn, index));
  }

  /**
   * Calls `fn(addr, slot, pte)` for every non-empty PTE in [start, end), skipping missing tables
   * whole (the walk of zap_pte_range and friends).
   */
  forEach(start: number, end: number, fn: (addr: number, slot: PteSlot, pte: number) => void): void {
    this.walkLevel(this.root, 39, 0, start, end, fn);
  }

  private walkLevel(
    table: number,
    shift: number,
    base: number,
    start: number,
    end: number,
    fn: (addr: number, slot: PteSlot, pte: number) => void,
  ): void {
    const span = POW2[shift]!;
    const first = Math.max(0, Math.floor((start - base) / span));
    const last = Math.min(511, Math.floor((end - 1 - base) / span));
    for (let i = first; i <= last; i++) {
      const slot = this.slotOf(table, i);
      const e = this.readSlot(slot);
      if (e === 0) continue;
      const addr = base + i * span;
      if (shift === 12) fn(addr, slot, e);
      else this.walkLevel(ptePfn(e), shift - 9, addr, start, end, fn);
    }
  }

  /**
   * free_pgtables(): frees every table under [start, end) that no longer holds an entry, and the
   * upper-level entries that pointed to it. Call after zapping a range.
   */
  freeEmpty(start: number, end: number): void {
    if (end <= start) return;
    this.freeLevel(this.root, 39, 0, start, end);
  }

  private freeLevel(table: number, shift: number, base: number, start: number, end: number): void {
    if (shift === 12) return;
    const span = POW2[shift]!;
    const first = Math.max(0, Math.floor((start - base) / span));
    const last = Math.min(511, Math.floor((end - 1 - base) / span));
    for (let i = first; i <= last; i++) {
      const slot = this.slotOf(table, i);
      const e = this.readSlot(slot);
      if (e === 0) continue;
      const child = ptePfn(e);
      this.freeLevel(child, shift - 9, base + i * span, start, end);
      const loc = this.mem.ramLocate(child);
      if ((this.used.get(loc) ?? 0) === 0) {
        this.setPte(slot, 0);
        this.used.delete(loc);
        this.tablePfn.delete(loc);
        Atomics.and(this.mem.flags, child, ~PG_table);
        this.mem.putPage(child);
      }
    }
  }

  /** Frees every table including the PGD (exit). All PTEs must already be zapped. */
  destroy(): void {
    this.freeEmpty(0, 2 ** 48);
    const loc = this.mem.ramLocate(this.root);
    this.used.delete(loc);
    this.tablePfn.delete(loc);
    Atomics.and(this.mem.flags, this.root, ~PG_table);
    this.mem.putPage(this.root);
  }

  /** Table frames this mm holds (for invariant checks). */
  tableFrames(): number[] {
    return [...this.tablePfn.values()];
  }
}
