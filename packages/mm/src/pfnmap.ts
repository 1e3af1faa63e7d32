// What drivers call to map memory themselves (mm/memory.c): remap_pfn_range from ->mmap,
// vmf_insert_pfn(_prot) and vm_insert_page(s) / vm_map_pages from ->fault or ->mmap, zap_vma_ptes to
// take PTEs back.
import { type Page, PG_anon, PG_reserved } from "@faultline/phys";
import {
  VM_EXEC,
  VM_FAULT_NOPAGE,
  VM_FAULT_OOM,
  VM_FAULT_SIGBUS,
  VM_IO,
  VM_MAYWRITE,
  VM_MIXEDMAP,
  VM_PFNMAP,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
} from "./constants";
import { EBUSY, EFAULT, EINVAL, ENOMEM, ENXIO } from "./errno";
import { isCowMapping, PAGE, pageAlign, vmaPages, vmaWantsWritenotify } from "./internal";
import { memtypesOf, PfnmapTrackCtx } from "./memtype";
import type { MmStruct, Vma } from "./mm_types";
import { cachemode2protval, pgprotCacheBits } from "./pgprot";
import {
  _PAGE_ACCESSED,
  _PAGE_PFNMAP,
  _PAGE_PRESENT,
  _PAGE_PROTNONE,
  _PAGE_RW,
  _PAGE_SPECIAL,
  _PAGE_USER,
  pfnPte,
  TABLE_OOM,
} from "./pgtable";
import { mapPage, zapPageRange } from "./rmap";

/**
 * remap_pfn_range(): maps [addr, addr+size) to consecutive pfns up front with special PTEs, for pfns
 * with or without a struct page. `prot` is the vm_page_prot to use. Returns 0 or -errno.
 */
export function remapPfnRange(
  mm: MmStruct,
  vma: Vma,
  addr: number,
  pfn: number,
  size: number,
  prot: number,
): number {
  const len = pageAlign(size);
  const end = addr + len;
  if (addr % PAGE !== 0 || !Number.isInteger(pfn) || pfn < 0) return -EINVAL;
  if (addr < vma.vmStart || end > vma.vmEnd || end <= addr) return -EINVAL;
  if (isCowMapping(vma.vmFlags)) {
    // A private mapping must be remapped whole, and vm_pgoff then names the first pfn so COWed
    // pages can be told apart from the PFNMAP ones.
    if (addr !== vma.vmStart || end !== vma.vmEnd) return -EINVAL;
    vma.vmPgoff = pfn;
  }
  // era.ts remapPfnFlags and remapPfnSkipsRam: what 2.6.10 did differently.
  vma.vmFlags |= mm.rules.remapPfnFlags;
  const skipRam = mm.rules.remapPfnSkipsRam;
  // PAT (2.6.26+; remap_pfn_range_track, 6.16+): a remap of the whole VMA reserves the range's memtype
  // and keeps the reservation with the VMA (pfnmap_track_ctx); a partial one only takes the type
  // already in force. Either may change the cache bits of `prot`, or refuse with -EINVAL.
  let ctx: PfnmapTrackCtx | null = null;
  if (mm.era === "modern") {
    const memtypes = memtypesOf(mm.mem);
    if (addr === vma.vmStart && end === vma.vmEnd) {
      if (vma.pfnmapTrackCtx) return -EINVAL;
      const p = memtypes.reservePfnRange(pfn * PAGE, len, prot);
      if (p < 0) return p;
      prot = p;
      ctx = new PfnmapTrackCtx(memtypes, pfn, len);
    } else {
      const p = memtypes.setupCachemode(pfn, len, prot);
      if (p < 0) return p;
      prot = p;
    }
  }
  const cache = pgprotCacheBits(prot);
  // The PTEs carry `prot` (pfn_pte(pfn, prot)): writable only if shared and writable, and for a
  // PROT_NONE VMA PAGE_NONE, an entry the MMU treats as not present (_PAGE_PROTNONE), so an access
  // faults and the VMA's flags refuse it until mprotect() makes it present.
  const rw = prot & VM_WRITE && prot & VM_SHARED ? _PAGE_RW : 0;
  const present = prot & (VM_READ | VM_WRITE | VM_EXEC) ? _PAGE_PRESENT : _PAGE_PROTNONE;
  for (let a = addr, p = pfn; a < end; a += PAGE, p++) {
    const slot = mm.pgd.pteSlot(a, true);
    if (slot === TABLE_OOM) {
      zapPageRange(mm, vma, addr, a);
      ctx?.put();
      return -ENOMEM;
    }
    if (mm.pgd.readSlot(slot) !== 0) {
      zapPageRange(mm, vma, addr, a);
      ctx?.put();
      throw new Error(
        `remapPfnRange: a PTE already exists at ${a.toString(16)} (kernel BUG in remap_pte_range)`,
      );
    }
    if (skipRam && mm.mem.pfnValid(p) && !(Atomics.load(mm.mem.flags, p) & PG_reserved)) continue;
    mm.pgd.setPte(
      slot,
      pfnPte(p, present | _PAGE_USER | _PAGE_ACCESSED | _PAGE_SPECIAL | _PAGE_PFNMAP | rw | cache),
      vma.vmPkey,
    );
  }
  if (ctx) vma.pfnmapTrackCtx = ctx;
  return 0;
}

/** vmf_insert_pfn(): vmf_insert_pfn_prot() with vm_page_prot. VM_FAULT_NOPAGE or an error code. */
export function vmfInsertPfn(mm: MmStruct, vma: Vma, addr: number, pfn: number): number {
  return vmfInsertPfnProt(mm, vma, addr, pfn, vma.vmPageProt);
}

/**
 * vmf_insert_pfn_prot(): installs one special PTE from a fault handler with the protection of
 * `pgprot` (pgprot.ts's form: VM_READ | VM_WRITE | VM_EXEC | VM_SHARED and cache bits) instead of
 * vm_page_prot's, e.g. a read-only entry in a writable VMA. Its cache bits do not count in the modern
 * era: pfnmap_setup_cachemode_pfn() replaces them with the memtype in force for the pfn. The entry is
 * writable only if `pgprot` is shared and writable and the VMA wants no write notification (Linux's
 * vm_page_prot is already write-protected then; Faultline's pgprot numbers do not carry that).
 * Returns VM_FAULT_NOPAGE (also when a PTE is already there), VM_FAULT_SIGBUS outside the VMA,
 * VM_FAULT_OOM. The BUG_ONs on the VMA's flags are thrown.
 */
export function vmfInsertPfnProt(mm: MmStruct, vma: Vma, addr: number, pfn: number, pgprot: number): number {
  const pfnmap = (vma.vmFlags & VM_PFNMAP) !== 0;
  const mixed = (vma.vmFlags & VM_MIXEDMAP) !== 0;
  if (pfnmap === mixed)
    throw new Error("vmfInsertPfnProt: the VMA needs exactly one of VM_PFNMAP and VM_MIXEDMAP (kernel BUG)");
  if (pfnmap && isCowMapping(vma.vmFlags))
    throw new Error("vmfInsertPfnProt: VM_PFNMAP on a private writable mapping (kernel BUG)");
  // A page with a struct page in a VM_MIXEDMAP VMA goes in through vm_insert_page or
  // vmf_insert_mixed (which take the reference or decide), never as a bare special PTE.
  if (mixed && mm.mem.pfnValid(pfn))
    throw new Error(
      `vmfInsertPfnProt: pfn 0x${pfn.toString(16)} has a struct page in a VM_MIXEDMAP VMA (kernel BUG)`,
    );
  if (addr < vma.vmStart || addr >= vma.vmEnd) return VM_FAULT_SIGBUS;
  const a = addr - (addr % PAGE);
  const slot = mm.pgd.pteSlot(a, true);
  if (slot === TABLE_OOM) return VM_FAULT_OOM;
  if (mm.pgd.readSlot(slot) !== 0) return VM_FAULT_NOPAGE;
  // insert_pfn(): pte_mkspecial(pfn_pte(pfn, prot)); a PROT_NONE pgprot is PAGE_NONE (not present to
  // the MMU), as remap_pfn_range's entries are.
  const rw = pgprot & VM_SHARED && pgprot & VM_WRITE && !vmaWantsWritenotify(vma) ? _PAGE_RW : 0;
  const present = pgprot & (VM_READ | VM_WRITE | VM_EXEC) ? _PAGE_PRESENT : _PAGE_PROTNONE;
  mm.pgd.setPte(
    slot,
    pfnPte(
      pfn,
      present |
        _PAGE_USER |
        _PAGE_ACCESSED |
        _PAGE_SPECIAL |
        _PAGE_PFNMAP |
        rw |
        insertCacheBits(mm, pgprot, pfn),
    ),
    vma.vmPkey,
  );
  return VM_FAULT_NOPAGE;
}

/**
 * pfnmap_setup_cachemode_pfn(): the cache bits a single inserted pfn gets. Not vm_page_prot's: the
 * memtype already in force for the page (lookup_memtype), so a driver wanting write-combining must
 * have reserved it (ioremapWc, archIoReserveMemtypeWc) or gets uncached-minus. 2.6.10 had no PAT.
 */
function insertCacheBits(mm: MmStruct, pgprot: number, pfn: number): number {
  if (mm.era !== "modern") return pgprotCacheBits(pgprot);
  return cachemode2protval(memtypesOf(mm.mem).lookup(pfn * PAGE));
}

/**
 * vmf_insert_mixed() (__vm_insert_mixed): from the fault handler of a VM_MIXEDMAP VMA, one pfn with or
 * without a struct page, as a special PTE (x86 has pte_special, so never insert_page: no reference is
 * taken). VM_FAULT_SIGBUS when the VMA is not VM_MIXEDMAP (vm_mixed_ok(); the zero page is allowed
 * read-only in a VMA that may map it) or the address is outside it; else VM_FAULT_NOPAGE or VM_FAULT_OOM.
 */
export function vmfInsertMixed(mm: MmStruct, vma: Vma, addr: number, pfn: number): number {
  const zero = pfn === mm.mem.zeroPfn;
  // vm_mixed_ok(): the zero page only where it may be mapped; anything else only in VM_MIXEDMAP.
  if (zero ? !vmMixedZeropageAllowed(mm, vma) : !(vma.vmFlags & VM_MIXEDMAP)) return VM_FAULT_SIGBUS;
  if (addr < vma.vmStart || addr >= vma.vmEnd) return VM_FAULT_SIGBUS;
  const a = addr - (addr % PAGE);
  const slot = mm.pgd.pteSlot(a, true);
  if (slot === TABLE_OOM) return VM_FAULT_OOM;
  if (mm.pgd.readSlot(slot) !== 0) return VM_FAULT_NOPAGE;
  const rw = vma.vmFlags & VM_SHARED && vma.vmFlags & VM_WRITE && !vmaWantsWritenotify(vma) ? _PAGE_RW : 0;
  mm.pgd.setPte(
    slot,
    pfnPte(
      pfn,
      _PAGE_PRESENT |
        _PAGE_USER |
        _PAGE_ACCESSED |
        _PAGE_SPECIAL |
        rw |
        insertCacheBits(mm, vma.vmPageProt, pfn),
    ),
    vma.vmPkey,
  );
  return VM_FAULT_NOPAGE;
}

/**
 * vm_mixed_zeropage_allowed(): not where the mm forbids the zero page; yes in a COW mapping or one
 * that can never be writable; otherwise only behind a pfn_mkwrite of a VM_IO VMA (a GUP pin of the zero
 * page must never see it replaced).
 */
function vmMixedZeropageAllowed(mm: MmStruct, vma: Vma): boolean {
  if (!mm.zeroPage) return false;
  if (isCowMapping(vma.vmFlags)) return true;
  if (!(vma.vmFlags & (VM_WRITE | VM_MAYWRITE))) return true;
  return !!vma.vmOps?.pfnMkwrite && (vma.vmFlags & VM_IO) !== 0;
}

/**
 * vm_iomap_memory(): maps the physical range [start, start + len) into the whole VMA, honouring
 * vm_pgoff as a page offset into the range. -EINVAL when the range wraps, when vm_pgoff is beyond it,
 * or when the VMA is larger than what is left of it; then io_remap_pfn_range() with vm_page_prot.
 * An unaligned `start` is accepted (I/O memory may have a smaller alignment): its page is mapped.
 */
export function vmIomapMemory(mm: MmStruct, vma: Vma, start: number, len: number): number {
  // `start + len < start` in unsigned arithmetic: the range wraps past 2^64.
  if (start + len >= 2 ** 64) return -EINVAL;
  const l = len + (start % PAGE);
  let pfn = Math.floor(start / PAGE);
  let pages = Math.ceil(l / PAGE);
  if (vma.vmPgoff > pages) return -EINVAL;
  pfn += vma.vmPgoff;
  pages -= vma.vmPgoff;
  const vmLen = vma.vmEnd - vma.vmStart;
  if (Math.floor(vmLen / PAGE) > pages) return -EINVAL;
  return remapPfnRange(mm, vma, vma.vmStart, pfn, vmLen, vma.vmPageProt);
}

/**
 * vm_insert_page(): maps a driver's page at `addr` (a normal, refcounted mapping: the PTE takes a
 * reference and a mapcount, dropped at munmap/exit). Sets VM_MIXEDMAP first, as Linux does before it
 * looks at the page. 0, -EFAULT (addr outside the VMA), -EINVAL (the page may not be inserted),
 * -ENOMEM (no page table), -EBUSY (a PTE is already there).
 */
export function vmInsertPage(mm: MmStruct, vma: Vma, addr: number, page: Page): number {
  if (addr < vma.vmStart || addr >= vma.vmEnd) return -EFAULT;
  setMixedmap(vma, "vmInsertPage");
  // insert_page(): the page is checked before the page table is allocated.
  const bad = validatePageBeforeInsert(mm, vma, page.pfn);
  if (bad) return bad;
  const slot = mm.pgd.pteSlot(addr - (addr % PAGE), true);
  if (slot === TABLE_OOM) return -ENOMEM;
  return insertPageIntoPte(mm, vma, slot, page.pfn);
}

/** vm_insert_page()'s and vm_insert_pages()'s BUG_ON(VM_PFNMAP), then vm_flags_set(VM_MIXEDMAP). */
function setMixedmap(vma: Vma, what: string): void {
  if (vma.vmFlags & VM_MIXEDMAP) return;
  if (vma.vmFlags & VM_PFNMAP) throw new Error(`${what}: VM_PFNMAP VMA (kernel BUG)`);
  vma.vmFlags |= VM_MIXEDMAP;
}

/**
 * validate_page_before_insert(): -EINVAL for a page nobody holds (refcount 0: free, or a tail page of
 * a higher-order block that was not split), for the zero page where vm_mixed_zeropage_allowed()
 * says no, and for an anonymous page (slab and typed pages are not modelled).
 */
function validatePageBeforeInsert(mm: MmStruct, vma: Vma, pfn: number): number {
  if (mm.mem.pageCount(pfn) === 0) return -EINVAL;
  if (pfn === mm.mem.zeroPfn) return vmMixedZeropageAllowed(mm, vma) ? 0 : -EINVAL;
  if (Atomics.load(mm.mem.flags, pfn) & PG_anon) return -EINVAL;
  return 0;
}

/**
 * insert_page_into_pte_locked() (mkwrite false): -EBUSY when the slot is taken; the zero page as a
 * special read-only entry (no reference); any other page with a reference and a mapcount.
 */
function insertPageIntoPte(mm: MmStruct, vma: Vma, slot: number, pfn: number): number {
  if (mm.pgd.readSlot(slot) !== 0) return -EBUSY;
  if (pfn === mm.mem.zeroPfn) {
    mm.pgd.setPte(
      slot,
      pfnPte(
        pfn,
        _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED | _PAGE_SPECIAL | pgprotCacheBits(vma.vmPageProt),
      ),
      vma.vmPkey,
    );
    return 0;
  }
  mm.mem.getPage(pfn);
  const rw = vma.vmFlags & VM_SHARED && vma.vmFlags & VM_WRITE ? _PAGE_RW : 0;
  mapPage(mm, vma, slot, pfn, rw);
  return 0;
}

/**
 * __vm_map_pages(): maps pages[offset ..] over the whole VMA with vm_insert_page(), one page per page
 * of the VMA. -ENXIO when `offset` is at or past `num` or the VMA is larger than the num - offset
 * pages left; else the first error vm_insert_page() returns, the pages before it staying mapped (the
 * caller's munmap or exit takes them back). vm_map_pages() passes vm_pgoff, vm_map_pages_zero() 0.
 */
export function vmMapPages(
  mm: MmStruct,
  vma: Vma,
  pages: readonly Page[],
  num: number,
  offset: number,
): number {
  const count = vmaPages(vma);
  if (offset >= num) return -ENXIO;
  if (count > num - offset) return -ENXIO;
  for (let i = 0, uaddr = vma.vmStart; i < count; i++, uaddr += PAGE) {
    const ret = vmInsertPage(mm, vma, uaddr, pages[offset + i]!);
    if (ret < 0) return ret;
  }
  return 0;
}

/**
 * vm_insert_pages(): pages[0 .. num.value) at addr, addr + PAGE_SIZE, … as vm_insert_page() would map
 * each. -EFAULT (and num.value untouched) when the range does not fit in the VMA; otherwise
 * num.value becomes the number of pages NOT inserted (0 on success) and the result is 0 or the error
 * of the first page that failed (-EINVAL, -EBUSY, -ENOMEM). The pages before it stay mapped
 * (insert_pages() does not undo them: "it is the caller's responsibility").
 */
export function vmInsertPages(
  mm: MmStruct,
  vma: Vma,
  addr: number,
  pages: readonly Page[],
  num: { value: number },
): number {
  const endAddr = addr + num.value * PAGE - 1;
  if (addr < vma.vmStart || endAddr >= vma.vmEnd) return -EFAULT;
  setMixedmap(vma, "vmInsertPages");
  let remaining = num.value;
  let ret = 0;
  for (let i = 0, a = addr - (addr % PAGE); remaining > 0; i++, a += PAGE) {
    // insert_pages() allocates each page table before it looks at the pages that go in it.
    const slot = mm.pgd.pteSlot(a, true);
    if (slot === TABLE_OOM) {
      ret = -ENOMEM;
      break;
    }
    const pfn = pages[i]!.pfn;
    ret = validatePageBeforeInsert(mm, vma, pfn) || insertPageIntoPte(mm, vma, slot, pfn);
    if (ret) break;
    remaining--;
  }
  num.value = remaining;
  return ret;
}

/** zap_vma_ptes(): a driver removes PTEs of a VM_PFNMAP VMA. */
export function zapVmaPtes(mm: MmStruct, vma: Vma, address: number, size: number): void {
  if (!(vma.vmFlags & VM_PFNMAP) || address < vma.vmStart || address + size > vma.vmEnd) return;
  zapPageRange(mm, vma, address, address + size);
}
