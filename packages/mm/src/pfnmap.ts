// What drivers call to map memory themselves (mm/memory.c): remap_pfn_range from ->mmap,
// vmf_insert_pfn and vm_insert_page from ->fault or ->mmap, zap_vma_ptes to take PTEs back.
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
import { EBUSY, EFAULT, EINVAL, ENOMEM } from "./errno";
import { isCowMapping, PAGE, pageAlign, vmaWantsWritenotify } from "./internal";
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

/** vmf_insert_pfn(): installs one special PTE from a fault handler. Returns VM_FAULT_NOPAGE or an error code. */
export function vmfInsertPfn(mm: MmStruct, vma: Vma, addr: number, pfn: number): number {
  const pfnmap = (vma.vmFlags & VM_PFNMAP) !== 0;
  const mixed = (vma.vmFlags & VM_MIXEDMAP) !== 0;
  if (pfnmap === mixed)
    throw new Error("vmfInsertPfn: the VMA needs exactly one of VM_PFNMAP and VM_MIXEDMAP (kernel BUG)");
  if (pfnmap && isCowMapping(vma.vmFlags))
    throw new Error("vmfInsertPfn: VM_PFNMAP on a private writable mapping (kernel BUG)");
  if (addr < vma.vmStart || addr >= vma.vmEnd) return VM_FAULT_SIGBUS;
  const a = addr - (addr % PAGE);
  const slot = mm.pgd.pteSlot(a, true);
  if (slot === TABLE_OOM) return VM_FAULT_OOM;
  if (mm.pgd.readSlot(slot) !== 0) return VM_FAULT_NOPAGE;
  // insert_pfn() with vma->vm_page_prot: read-only when the driver wants write notification (pfn_mkwrite).
  const rw = vma.vmFlags & VM_SHARED && vma.vmFlags & VM_WRITE && !vmaWantsWritenotify(vma) ? _PAGE_RW : 0;
  mm.pgd.setPte(
    slot,
    pfnPte(
      pfn,
      _PAGE_PRESENT |
        _PAGE_USER |
        _PAGE_ACCESSED |
        _PAGE_SPECIAL |
        _PAGE_PFNMAP |
        rw |
        insertCacheBits(mm, vma, pfn),
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
function insertCacheBits(mm: MmStruct, vma: Vma, pfn: number): number {
  if (mm.era !== "modern") return pgprotCacheBits(vma.vmPageProt);
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
      _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED | _PAGE_SPECIAL | rw | insertCacheBits(mm, vma, pfn),
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

/** vm_insert_page(): maps a driver's page (a normal, refcounted mapping). Returns 0 or -errno. */
export function vmInsertPage(mm: MmStruct, vma: Vma, addr: number, page: Page): number {
  if (addr < vma.vmStart || addr >= vma.vmEnd) return -EFAULT;
  if (Atomics.load(mm.mem.flags, page.pfn) & PG_anon) return -EINVAL;
  if (!(vma.vmFlags & VM_MIXEDMAP)) {
    if (vma.vmFlags & VM_PFNMAP) throw new Error("vmInsertPage: VM_PFNMAP VMA (kernel BUG)");
    vma.vmFlags |= VM_MIXEDMAP;
  }
  const slot = mm.pgd.pteSlot(addr - (addr % PAGE), true);
  if (slot === TABLE_OOM) return -ENOMEM;
  if (mm.pgd.readSlot(slot) !== 0) return -EBUSY;
  mm.mem.getPage(page.pfn);
  const rw = vma.vmFlags & VM_SHARED && vma.vmFlags & VM_WRITE ? _PAGE_RW : 0;
  mapPage(mm, vma, slot, page.pfn, rw);
  return 0;
}

/** zap_vma_ptes(): a driver removes PTEs of a VM_PFNMAP VMA. */
export function zapVmaPtes(mm: MmStruct, vma: Vma, address: number, size: number): void {
  if (!(vma.vmFlags & VM_PFNMAP) || address < vma.vmStart || address + size > vma.vmEnd) return;
  zapPageRange(mm, vma, address, address + size);
}
