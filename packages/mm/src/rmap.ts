// Mapping and unmapping pages: the rmap counters (mm/rmap.c), the mm counters (add_mm_counter), zapping
// PTEs (mm/memory.c zap_page_range_single, unmap_mapping_range) and the mmu_gather (mm/mmu_gather.c)
// that frees what a zap removed only after the TLB flush.
import { PG_anon, PG_dirty, PG_lazyfree, PG_mlocked, PhysError, type PhysMemory } from "@faultline/phys";
import { PAGE } from "./internal";
import type { AddressSpaceMapping, MmStruct, Vma } from "./mm_types";
import { pgprotCacheBits } from "./pgprot";
import {
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_PRESENT,
  _PAGE_SPECIAL,
  _PAGE_USER,
  pfnPte,
  pteFlags,
  pteHoldsPage,
  pteIsGuardMarker,
  ptePfn,
} from "./pgtable";

/** add_mm_counter(): the page's kind (anon, shmem, file) decides which RSS counter moves. */
export function rssAdd(mm: MmStruct, vma: Vma, pfn: number, delta: number): void {
  if (Atomics.load(mm.mem.flags, pfn) & PG_anon) mm.rssAnon += delta;
  else if (vma.vmFile?.mapping.swapBacked) mm.rssShmem += delta;
  else mm.rssFile += delta;
  if (delta > 0 && mm.rss > mm.hiwaterRss) mm.hiwaterRss = mm.rss;
}

/**
 * vm_normal_page(): the struct page behind a PTE, or -1 for special entries (zero page, PFNMAP) and
 * for entries that hold no page (guard markers).
 */
export function vmNormalPfn(mm: MmStruct, pte: number): number {
  if (pteFlags(pte) & _PAGE_SPECIAL || !pteHoldsPage(pte)) return -1;
  const pfn = ptePfn(pte);
  return mm.mem.pfnValid(pfn) ? pfn : -1;
}

/** Maps a normal page: the PTE takes over one reference the caller holds, and adds one mapcount. */
export function mapPage(mm: MmStruct, vma: Vma, slot: number, pfn: number, flags: number): void {
  Atomics.add(mm.mem.mapcount, pfn, 1);
  rssAdd(mm, vma, pfn, 1);
  // mk_pte(page, vma->vm_page_prot): the VMA's cache bits too (a driver's pgprot_noncached VMA).
  const cache = pgprotCacheBits(vma.vmPageProt);
  mm.pgd.setPte(slot, pfnPte(pfn, flags | cache | _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED), vma.vmPkey);
}

/**
 * Removes one PTE, dropping the mapcount a normal page had through it. The page's reference is
 * queued, not dropped: it is released after the TLB flush (mmu_gather), so no CPU can still reach
 * a frame that went back to the allocator.
 */
function zapPte(mm: MmStruct, vma: Vma, slot: number, pte: number): void {
  mm.pgd.setPte(slot, 0);
  const pfn = vmNormalPfn(mm, pte);
  if (pfn < 0) return;
  // zap_present_folio_ptes(): a dirty PTE dirties a file page (its data must reach the file); an
  // anonymous page is not marked (a lazy-free one another process still maps stays clean).
  if (pteFlags(pte) & _PAGE_DIRTY && !(Atomics.load(mm.mem.flags, pfn) & PG_anon))
    Atomics.or(mm.mem.flags, pfn, PG_dirty);
  Atomics.sub(mm.mem.mapcount, pfn, 1);
  rssAdd(mm, vma, pfn, -1);
  mm.gather.push(pfn);
}

/**
 * Who hears of a page found in a bad state while a zap releases it (the kernel: the "BUG: Bad page
 * state" report), per physical memory. Without one, the first such error is thrown once the zap is done.
 */
export type BadPageHandler = (mm: MmStruct, pfn: number, error: PhysError) => void;
const badPageHandlers = new WeakMap<PhysMemory, BadPageHandler>();

/** Registers the handler of bad pages found by zaps over `mem` (null: none). */
export function setBadPageHandler(mem: PhysMemory, handler: BadPageHandler | null): void {
  if (handler) badPageHandlers.set(mem, handler);
  else badPageHandlers.delete(mem);
}

/**
 * tlb_finish_mmu(): flush, then release the gathered references. A reference the allocator refuses
 * to drop (a PTE that never held one: a fault handler that forgot get_page) is a bad page, as
 * bad_page() treats it: the frame is quarantined (never handed out again), the handler reports it,
 * and the rest of the zap goes on, so every teardown path (munmap, MAP_FIXED, mremap, MADV_DONTNEED,
 * exit) leaves the allocator consistent.
 */
function tlbFinishMmu(mm: MmStruct, start: number, end: number): void {
  mm.flushTlbRange(start, end);
  const g = mm.gather;
  let failure: PhysError | null = null;
  for (let i = 0; i < g.length; i++) {
    const pfn = g[i]!;
    try {
      mm.mem.putPage(pfn);
    } catch (e) {
      if (!(e instanceof PhysError) || e.code !== "EREFCOUNT") {
        g.length = 0;
        throw e;
      }
      mm.mem.quarantinePage(pfn);
      const handler = badPageHandlers.get(mm.mem);
      if (handler) handler(mm, pfn, e);
      else failure ??= e;
    }
  }
  g.length = 0;
  if (failure) throw failure;
}

/** struct zap_details: what a zap leaves in place. */
export interface ZapDetails {
  /** Private COW copies stay (unmap_mapping_range without even_cows). */
  readonly keepAnon?: boolean;
  /** Guard markers go too (ZAP_FLAG_DROP_MARKER): only when the range itself goes away. */
  readonly dropMarkers?: boolean;
}
/** unmap_vmas()'s details: munmap, MAP_FIXED over a range, exit; guard markers are dropped. */
export const ZAP_UNMAP: ZapDetails = { dropMarkers: true };
const ZAP_DEFAULT: ZapDetails = {};
const ZAP_KEEP_ANON: ZapDetails = { keepAnon: true };

/**
 * zap_page_range_single(): removes every PTE of `vma` in [start, end), flushes the TLBs, and
 * releases the pages. Guard markers stay unless `details.dropMarkers` (zap_nonpresent_ptes).
 */
export function zapPageRange(
  mm: MmStruct,
  vma: Vma,
  start: number,
  end: number,
  details: ZapDetails = ZAP_DEFAULT,
): void {
  const s = Math.max(start, vma.vmStart);
  const e = Math.min(end, vma.vmEnd);
  if (e <= s) return;
  const keepAnon = details.keepAnon === true;
  const dropMarkers = details.dropMarkers === true;
  mm.pgd.forEach(s, e, (_addr, slot, pte) => {
    if (pteIsGuardMarker(pte)) {
      if (dropMarkers) mm.pgd.setPte(slot, 0);
      return;
    }
    if (keepAnon) {
      const pfn = vmNormalPfn(mm, pte);
      if (pfn >= 0 && Atomics.load(mm.mem.flags, pfn) & PG_anon) return;
    }
    zapPte(mm, vma, slot, pte);
  });
  tlbFinishMmu(mm, s, e);
}

/**
 * MADV_PAGEOUT's reclaim of one VMA's range with no swap (madvise_cold_or_pageout_pte_range(), then
 * reclaim_pages() → shrink_folio_list()), for pages only this PTE maps ("do not interfere with other
 * mappings"); the zero page, pages off the LRU (a driver's own) and mlocked ones stay.
 * - A page of the page cache (shmem: the only cache here) is unmapped (try_to_unmap()); shmem_writeout()
 *   then finds no swap and keeps it in the cache, dirty, so the next access faults the same page back
 *   in. The process may page out its files' pages (can_do_file_pageout(): Faultline keeps no file
 *   owners, so every process is the owner).
 * - An anonymous page stays mapped (add_to_swap() fails), unless MADV_FREE made it lazy-free: then
 *   try_to_unmap_one() discards it when it is clean and nothing else holds it (the next access sees a
 *   fresh page); one written since (dirty PTE or page) or pinned stays and is an ordinary anonymous
 *   page again (folio_set_swapbacked()). Accessed bits are ignored (reclaim_pages()).
 */
export function pageoutRange(mm: MmStruct, vma: Vma, start: number, end: number): void {
  const s = Math.max(start, vma.vmStart);
  const e = Math.min(end, vma.vmEnd);
  if (e <= s) return;
  const mem = mm.mem;
  const cache = vma.vmFile?.mapping.swapBacked === true;
  const out: number[] = [];
  mm.pgd.forEach(s, e, (addr, slot, pte) => {
    const pfn = vmNormalPfn(mm, pte);
    if (pfn < 0 || Atomics.load(mem.mapcount, pfn) !== 1) return;
    const pf = Atomics.load(mem.flags, pfn);
    // An unevictable (mlocked) page goes back to its LRU list untouched (folio_isolate_lru()).
    if (pf & PG_mlocked) return;
    if (pf & PG_anon) {
      if (!(pf & PG_lazyfree)) return;
      // try_to_unmap_one(): the PTE's dirty bit goes to the page, then a clean page only the PTE
      // holds is discarded; one written since, or held by someone else (a pin), is put back.
      const dirty = (pteFlags(pte) & _PAGE_DIRTY) !== 0;
      if (dirty) Atomics.or(mem.flags, pfn, PG_dirty);
      if (!dirty && !(pf & PG_dirty) && Atomics.load(mem.refcount, pfn) === 1) zapPte(mm, vma, slot, pte);
      else Atomics.and(mem.flags, pfn, ~PG_lazyfree);
      return;
    }
    if (!cache) return;
    zapPte(mm, vma, slot, pte);
    out.push(vma.vmPgoff + (addr - vma.vmStart) / PAGE, pfn);
  });
  tlbFinishMmu(mm, s, e);
  if (!cache || out.length === 0) return;
  // The cache frees what is clean (never written) once the PTEs' references are gone.
  const mapping = vma.vmFile!.mapping;
  for (let i = 0; i < out.length; i += 2) mapping.reclaimClean(out[i]!, out[i + 1]!);
}

/**
 * unmap_mapping_range() (mm/memory.c): removes, in every process, the PTEs that map bytes
 * [holeBegin, holeBegin + holeLen) of the object behind `mapping` (holeLen 0: to the end of the object).
 * The next access faults and asks the driver again. Private COW copies stay unless `evenCows`
 * (truncation passes 1, a driver revoking its pages 0). As in the kernel, the range is taken in whole
 * pages: the page holding holeBegin, and holeLen rounded up.
 */
export function unmapMappingRange(
  mapping: AddressSpaceMapping,
  holeBegin: number,
  holeLen: number,
  evenCows = false,
): void {
  const first = Math.floor(holeBegin / PAGE);
  const last = holeLen === 0 ? Number.POSITIVE_INFINITY : first + Math.ceil(holeLen / PAGE);
  unmapMappingPages(mapping, first, last, evenCows);
}

/** unmap_mapping_pages(): the same walk over page offsets [first, last) of the object. */
export function unmapMappingPages(
  mapping: AddressSpaceMapping,
  first: number,
  last: number,
  evenCows: boolean,
): void {
  for (const vma of [...mapping.vmas]) {
    const vFirst = vma.vmPgoff;
    const vLast = vma.vmPgoff + (vma.vmEnd - vma.vmStart) / PAGE;
    const a = Math.max(first, vFirst);
    const b = Math.min(last, vLast);
    if (a >= b) continue;
    zapPageRange(
      vma.vmMm,
      vma,
      vma.vmStart + (a - vFirst) * PAGE,
      vma.vmStart + (b - vFirst) * PAGE,
      evenCows ? ZAP_DEFAULT : ZAP_KEEP_ANON,
    );
  }
}
