// mm/gup.c: faulting a range in as get_user_pages would (MAP_POPULATE, mlock, MADV_POPULATE_*).
import { VM_IO, VM_LOCKONFAULT, VM_PFNMAP, VM_WRITE } from "./constants";
import { FAULT_OK, handleMmFault } from "./fault";
import { isCowMapping, PAGE } from "./internal";
import type { MmStruct } from "./mm_types";
import { _PAGE_PRESENT, _PAGE_RW, pteFlags } from "./pgtable";

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
      if (pte !== 0 && fl & _PAGE_PRESENT && (!write || fl & _PAGE_RW)) continue;
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
 * faultin_page_range() (MADV_POPULATE_READ/WRITE): every VMA, FOLL_WRITE only for `write`
 * (MADV_POPULATE_WRITE): MADV_POPULATE_READ read-faults even a writable private mapping (the zero
 * page where there is one), unlike populate_vma_page_range().
 */
export function faultinPageRange(mm: MmStruct, start: number, end: number, write: boolean): number {
  return populateRange(mm, start, end, write, false, true, false);
}
