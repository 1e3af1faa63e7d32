// mm/gup.c: faulting a range in as get_user_pages would (MAP_POPULATE, mlock, MADV_POPULATE_*).
import { PG_dirty } from "@faultline/phys";
import { VM_IO, VM_LOCKONFAULT, VM_MAYREAD, VM_PFNMAP, VM_READ, VM_SHARED, VM_WRITE } from "./constants";
import { EFAULT, ENOMEM } from "./errno";
import { FAULT_OK, FAULT_OOM, handleMmFault } from "./fault";
import { isCowMapping, PAGE } from "./internal";
import type { MmStruct, Vma } from "./mm_types";
import { _PAGE_DIRTY, _PAGE_PRESENT, _PAGE_RW, pteFlags, ptePfn } from "./pgtable";
import { vmNormalPfn } from "./rmap";

/**
 * follow_page_pte() under FOLL_TOUCH | FOLL_WRITE (every population for writing, and get_user_pages):
 * a page its PTE maps clean is marked dirty (folio_mark_dirty()), so a lazy-free page is no longer
 * discardable and a shmem page not clean for MADV_PAGEOUT. 2.6.10's follow_page() did the same.
 */
function touchForWrite(mm: MmStruct, pte: number, pfn: number): void {
  if (pfn >= 0 && !(pteFlags(pte) & _PAGE_DIRTY)) Atomics.or(mm.mem.flags, pfn, PG_dirty);
}

/**
 * The walk both population paths share: over every VMA of [start, end), fault in what is not mapped
 * yet, for writing when `forceWrite`, or (`cowWrite`, populate_vma_page_range()'s rule) when the VMA
 * is a writable private mapping (so COW happens now). Returns the first fault's failure (FAULT_*), 0
 * if none.
 */
function populateRange(
  mm: MmStruct,
  start: number,
  end: number,
  forceWrite: boolean,
  cowWrite: boolean,
  ignoreErrors: boolean,
  skipLockOnFault: boolean,
): number {
  let err = 0;
  for (const vma of [...mm.vmas.intersecting(start, end)]) {
    // check_vma_flags(): GUP refuses VM_IO|VM_PFNMAP.
    if (vma.vmFlags & (VM_IO | VM_PFNMAP)) continue;
    // populate_vma_page_range(): memory locked on fault is left to fault.
    if (skipLockOnFault && vma.vmFlags & VM_LOCKONFAULT) continue;
    const write = forceWrite || (cowWrite && isCowMapping(vma.vmFlags) && (vma.vmFlags & VM_WRITE) !== 0);
    const s = Math.max(start, vma.vmStart);
    const e = Math.min(end, vma.vmEnd);
    for (let a = s; a < e; a += PAGE) {
      const pte = mm.pgd.getPte(a);
      const fl = pteFlags(pte);
      if (pte !== 0 && fl & _PAGE_PRESENT && (!write || fl & _PAGE_RW)) {
        if (write) touchForWrite(mm, pte, vmNormalPfn(mm, pte));
        continue;
      }
      // check_vma_flags(): GUP's read of a VMA without VM_READ is allowed (FOLL_FORCE) only if the VMA
      // is accessible at all, and the protection key is checked (arch_vma_access_permitted): the
      // fault handler's own checks say the same.
      const r = handleMmFault(mm, a, write);
      if (r !== FAULT_OK && !ignoreErrors) return r;
      if (r !== FAULT_OK && !err) err = r;
      if (r !== FAULT_OK) break;
    }
  }
  return err;
}

/**
 * __mm_populate() (MAP_POPULATE, MAP_LOCKED, mlock, mremap of locked memory, mprotect making locked
 * memory writable): populate_vma_page_range() over each VMA, which skips VM_LOCKONFAULT ones. With
 * `ignoreErrors` (mm_populate) a VMA that fails is left and the next one populated; without it (mlock)
 * the walk stops at the first failure, whose FAULT_* code is returned.
 */
export function mmPopulate(mm: MmStruct, start: number, end: number, ignoreErrors = true): number {
  return populateRange(mm, start, end, false, true, ignoreErrors, true);
}

/**
 * 2.6.10's make_pages_present() over [start, end), one VMA (mm/memory.c): get_user_pages() without
 * FOLL_FORCE, for writing when the VMA is writable (shared or not), so a VMA without the access asked
 * (PROT_NONE, execute-only) is -EFAULT at once. A page already mapped for that access is counted;
 * otherwise it is faulted in, and a failure ends the walk: -EFAULT (SIGSEGV, SIGBUS) or -ENOMEM (OOM)
 * if it was the first page, else -1 (fewer pages than asked; mlock's caller sees EPERM). 0 when all
 * were done. VM_IO memory is the caller's to skip (2.6.11's mlock_fixup()).
 */
export function makePagesPresent(mm: MmStruct, start: number, end: number): number {
  const vma = mm.vmas.find(start);
  if (!vma) return -1;
  const write = (vma.vmFlags & VM_WRITE) !== 0;
  // get_user_pages(): the VMA must allow the access itself (force 0).
  if (!(vma.vmFlags & (write ? VM_WRITE : VM_READ))) return -EFAULT;
  for (let a = start; a < end; a += PAGE) {
    const pte = mm.pgd.getPte(a);
    const fl = pteFlags(pte);
    if (pte !== 0 && fl & _PAGE_PRESENT && (!write || fl & _PAGE_RW)) {
      if (write) touchForWrite(mm, pte, vmNormalPfn(mm, pte));
      continue;
    }
    const r = handleMmFault(mm, a, write);
    if (r === FAULT_OK) continue;
    if (a > start) return -1;
    return r === FAULT_OOM ? -ENOMEM : -EFAULT;
  }
  return 0;
}

/**
 * Faults in [start, end) of memory just mapped or grown VM_LOCKED by mmap() or mremap(), errors ignored:
 * mm_populate() today; in 2.6.10 make_pages_present() on the one VMA holding the range (write faults
 * for any writable VMA, shared included; VM_IO refused by get_user_pages()), era.ts
 * lockedPopulateWritesShared.
 */
export function populateLockedMapping(mm: MmStruct, start: number, end: number): void {
  if (!mm.rules.lockedPopulateWritesShared) {
    mmPopulate(mm, start, end);
    return;
  }
  const vma = mm.vmas.find(start);
  if (!vma || vma.vmFlags & (VM_IO | VM_PFNMAP)) return;
  makePagesPresent(mm, start, Math.min(end, vma.vmEnd));
}

/**
 * faultin_page_range() (MADV_POPULATE_READ/WRITE): every VMA, FOLL_WRITE only for `write`
 * (MADV_POPULATE_WRITE): MADV_POPULATE_READ read-faults even a writable private mapping (the zero
 * page where there is one), unlike populate_vma_page_range().
 */
export function faultinPageRange(mm: MmStruct, start: number, end: number, write: boolean): number {
  return populateRange(mm, start, end, write, false, true, false);
}

// ---- get_user_pages / pin_user_pages: the walk (mm/gup.c: __get_user_pages) ----------------------

/** gup_flags (include/linux/mm_types.h enum; FOLL_PIN from mm/internal.h). */
export const FOLL_WRITE = 1 << 0;
export const FOLL_GET = 1 << 1;
export const FOLL_FORCE = 1 << 3;
export const FOLL_NOFAULT = 1 << 5;
export const FOLL_ANON = 1 << 7;
export const FOLL_LONGTERM = 1 << 8;
export const FOLL_PIN = 1 << 19;
/** The references one pin adds to a small folio (GUP_PIN_COUNTING_BIAS, include/linux/mm.h). */
export const GUP_PIN_COUNTING_BIAS = 1024;

/**
 * check_vma_flags(): why GUP refuses `vma` for this access (-EFAULT), or 0. VM_IO/VM_PFNMAP memory
 * has no struct pages to hand out; a long-term writable pin of a file mapping that needs dirty
 * tracking is refused (writable_file_mapping_allowed); a write needs VM_WRITE unless FOLL_FORCE on a
 * COW mapping; a read needs VM_READ unless FOLL_FORCE with VM_MAYREAD.
 */
function checkVmaFlags(vma: Vma, anon: boolean, gupFlags: number): number {
  const vmFlags = vma.vmFlags;
  if (vmFlags & (VM_IO | VM_PFNMAP)) return -EFAULT;
  if (gupFlags & FOLL_ANON && !anon) return -EFAULT;
  if (gupFlags & FOLL_WRITE && !anon && !writableFileMappingAllowed(vma, gupFlags)) return -EFAULT;
  if (gupFlags & FOLL_WRITE) {
    if (!(vmFlags & VM_WRITE)) {
      if (!(gupFlags & FOLL_FORCE) || !isCowMapping(vmFlags)) return -EFAULT;
    }
  } else if (!(vmFlags & VM_READ)) {
    if (!(gupFlags & FOLL_FORCE) || !(vmFlags & VM_MAYREAD)) return -EFAULT;
  }
  return 0;
}

/**
 * writable_file_mapping_allowed() (mm/gup.c): a FOLL_PIN | FOLL_LONGTERM write pin of a file mapping is
 * refused when the mapping needs dirty tracking (vma_needs_dirty_tracking: shared and writable, and
 * its vm_ops want write notification, page_mkwrite or pfn_mkwrite; tmpfs and device files cannot
 * write back, so nothing else here does): the page would be written behind the filesystem's back.
 */
function writableFileMappingAllowed(vma: Vma, gupFlags: number): boolean {
  if ((gupFlags & (FOLL_PIN | FOLL_LONGTERM)) !== (FOLL_PIN | FOLL_LONGTERM)) return true;
  const sharedWritable = (vma.vmFlags & (VM_SHARED | VM_WRITE)) === (VM_SHARED | VM_WRITE);
  return !(sharedWritable && (vma.vmOps?.pageMkwrite || vma.vmOps?.pfnMkwrite));
}

/**
 * __get_user_pages() without the reference taking: for each of `nrPages` pages from `start`, the
 * VMA is checked, the page faulted in when follow_page_pte() would not hand it out (not present;
 * not writable under FOLL_WRITE, so COW is broken first; a pinned read of an anonymous page shared
 * with another mm is unshared, gup_must_unshare()), and its pfn pushed to `out` (the zero page's
 * too). Returns how many were done, or, when the first page fails, -EFAULT (no VMA, refused VMA, a
 * special PTE with no struct page, SIGSEGV/SIGBUS from the fault) or -ENOMEM (OOM).
 */
export function getUserPagesWalk(
  mm: MmStruct,
  start: number,
  nrPages: number,
  gupFlags: number,
  out: number[],
  normalPfn: (pte: number) => number,
): number {
  const write = (gupFlags & FOLL_WRITE) !== 0;
  let i = 0;
  const fail = (err: number) => (i > 0 ? i : err);
  for (; i < nrPages; i++) {
    const addr = start + i * PAGE;
    const vma = mm.vmas.findContaining(addr);
    if (!vma) return fail(-EFAULT);
    const anon = !vma.vmFile && !vma.vmOps;
    const bad = checkVmaFlags(vma, anon, gupFlags);
    if (bad) return fail(bad);
    for (let tries = 0; ; tries++) {
      const pte = mm.pgd.getPte(addr);
      const fl = pteFlags(pte);
      const present = pte !== 0 && (fl & _PAGE_PRESENT) !== 0;
      let needFault = !present || (write && !(fl & _PAGE_RW));
      if (present && !needFault && gupFlags & FOLL_PIN && !write && isCowMapping(vma.vmFlags)) {
        // gup_must_unshare(): an anonymous page mapped by another mm too must be unshared before a
        // pin, or a later COW would leave the pin on the other side's page.
        const pfn = normalPfn(pte);
        if (pfn >= 0 && Atomics.load(mm.mem.mapcount, pfn) > 1 && vma.vmFlags & VM_WRITE) needFault = true;
      }
      if (!needFault) {
        const pfn = normalPfn(pte);
        if (write) touchForWrite(mm, pte, pfn);
        // A special PTE (VM_MIXEDMAP pfn, no struct page) cannot be handed out, except the zero page.
        if (pfn < 0 && !(pte !== 0 && ptePfn(pte) === mm.mem.zeroPfn)) return fail(-EFAULT);
        out.push(pfn < 0 ? ptePfn(pte) : pfn);
        break;
      }
      if (gupFlags & FOLL_NOFAULT || tries > 1) return fail(-EFAULT);
      // faultin_page(): a write fault under FOLL_WRITE (or to unshare), a read fault otherwise.
      const r = handleMmFault(mm, addr, write || present);
      if (r === FAULT_OOM) return fail(-ENOMEM);
      if (r !== FAULT_OK) return fail(-EFAULT);
    }
  }
  return i;
}
