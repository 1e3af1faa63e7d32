// mm/madvise.c: madvise_behavior_valid, the walk over the range, and each advice.

import { PG_anon, PG_dirty, PG_lazyfree } from "@faultline/phys";
import {
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  MADV_COLD,
  MADV_DODUMP,
  MADV_DOFORK,
  MADV_DONTDUMP,
  MADV_DONTFORK,
  MADV_DONTNEED,
  MADV_DONTNEED_LOCKED,
  MADV_FREE,
  MADV_GUARD_INSTALL,
  MADV_GUARD_REMOVE,
  MADV_HUGEPAGE,
  MADV_KEEPONFORK,
  MADV_MERGEABLE,
  MADV_NOHUGEPAGE,
  MADV_NORMAL,
  MADV_PAGEOUT,
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
  MADV_RANDOM,
  MADV_REMOVE,
  MADV_SEQUENTIAL,
  MADV_UNMERGEABLE,
  MADV_WILLNEED,
  MADV_WIPEONFORK,
  VM_DONTCOPY,
  VM_DONTDUMP,
  VM_DONTEXPAND,
  VM_DROPPABLE,
  VM_HUGEPAGE,
  VM_HUGETLB,
  VM_IO,
  VM_LOCKED,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_MERGEABLE,
  VM_MIXEDMAP,
  VM_NOHUGEPAGE,
  VM_PFNMAP,
  VM_RAND_READ,
  VM_READ,
  VM_SEQ_READ,
  VM_SHARED,
  VM_SPECIAL,
  VM_WIPEONFORK,
  VM_WRITE,
} from "./constants";
import { EACCES, EAGAIN, EBADF, EFAULT, EINVAL, ENODEV, ENOMEM, EPERM } from "./errno";
import { FAULT_OOM } from "./fault";
import { faultinPageRange } from "./gup";
import { hstateVma, isFileHugepages } from "./hugetlb";
import { linearPageIndex, offsetInPage, PAGE, pageAlign, TWO64, ul } from "./internal";
import type { MmStruct, Vma } from "./mm_types";
import { canMadviseModify } from "./mseal";
import {
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  PTE_MARKER_GUARD,
  pteClearFlags,
  pteFlags,
  pteIsGuardMarker,
  TABLE_OOM,
} from "./pgtable";
import { pageoutRange, vmNormalPfn, zapPageRange } from "./rmap";
import { shmemInodeOf } from "./shmem";
import { anonVmaPrepare, vmaModifyFlags } from "./vma";

/** madvise_behavior_valid() */
const VALID_ADVICE = new Set([
  MADV_NORMAL,
  MADV_RANDOM,
  MADV_SEQUENTIAL,
  MADV_WILLNEED,
  MADV_DONTNEED,
  MADV_DONTNEED_LOCKED,
  MADV_FREE,
  MADV_REMOVE,
  MADV_DONTFORK,
  MADV_DOFORK,
  MADV_MERGEABLE,
  MADV_UNMERGEABLE,
  MADV_HUGEPAGE,
  MADV_NOHUGEPAGE,
  MADV_DONTDUMP,
  MADV_DODUMP,
  MADV_WIPEONFORK,
  MADV_KEEPONFORK,
  MADV_COLD,
  MADV_PAGEOUT,
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
  MADV_GUARD_INSTALL, // v6.13
  MADV_GUARD_REMOVE,
]);

/**
 * 2.6.10's madvise_vma() (mm/madvise.c, 2.6.9 and 2.6.11 alike): the advice it knew; any other is
 * -EINVAL from the first VMA the walk reaches (era.ts madviseModernAdvice).
 */
const ADVICE_2_6_10 = new Set([MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTNEED]);

/** do_madvise(): 0, or -ENOMEM if part of the range is unmapped (after advising the rest), or -errno. */
export function doMadvise(mm: MmStruct, startIn: number, lenIn: number, advice: number): number {
  if (mm.rules.madviseModernAdvice && !VALID_ADVICE.has(advice)) return -EINVAL;
  if (offsetInPage(startIn) !== 0) return -EINVAL;
  const start = ul(startIn);
  const len = pageAlign(lenIn);
  if (lenIn && !len) return -EINVAL;
  const end = start + len;
  // end < start on unsigned longs: the sum wrapped (2^64 itself is 0).
  if (end >= TWO64) return -EINVAL;
  if (end === start) return 0;
  if (mm.rules.madviseModernAdvice && (advice === MADV_POPULATE_READ || advice === MADV_POPULATE_WRITE))
    return madvisePopulate(mm, start, end, advice);
  let unmapped = 0;
  if (!mm.vmas.find(start)) return -ENOMEM;
  let pos = start;
  while (pos < end) {
    const vma = mm.vmas.find(pos);
    if (!vma || vma.vmStart >= end) break;
    if (vma.vmStart > pos) unmapped = -ENOMEM;
    const s = Math.max(pos, vma.vmStart);
    const e = Math.min(end, vma.vmEnd);
    const r = madviseVma(mm, vma, s, e, advice);
    if (r < 0) return r;
    pos = e;
  }
  if (pos < end) unmapped = -ENOMEM;
  return unmapped;
}

/**
 * madvise_populate(): MADV_POPULATE_(READ|WRITE) walk on their own, in address order, and stop at the
 * first address no VMA holds (-ENOMEM: __get_user_pages() with FOLL_MADV_POPULATE looks the VMA up with
 * vma_lookup()) or the first VMA they cannot fault in, leaving what came before populated. The other
 * advice goes through madvise_walk_vmas(), which skips holes and says -ENOMEM only at the end.
 */
function madvisePopulate(mm: MmStruct, start: number, end: number, advice: number): number {
  let pos = start;
  while (pos < end) {
    const vma = mm.vmas.find(pos);
    if (!vma || vma.vmStart > pos) return -ENOMEM;
    const e = Math.min(end, vma.vmEnd);
    const r = madviseVma(mm, vma, pos, e, advice);
    if (r < 0) return r;
    pos = e;
  }
  return 0;
}

/**
 * madvise_free_pte_range(): each anonymous page mapped in [start, end) is made clean and old in its
 * PTE (the TLB forgets it, so the next store dirties the PTE again) and lazy-free. A page marked dirty
 * itself keeps its flag when others map it too ("we mustn't clear the folio's dirty flag" while
 * shared) and loses it otherwise. The zero page and pages that are not anonymous are left alone.
 * Linux queues the lazy-free marking in a per-CPU batch that reclaim drains first (lru_add_drain()),
 * so reclaim sees it as Faultline does at once; /proc's LazyFree only counts it after such a drain,
 * which Faultline does not model (smaps keeps LazyFree at 0).
 */
function madviseFreeRange(mm: MmStruct, vma: Vma, start: number, end: number): void {
  const s = Math.max(start, vma.vmStart);
  const e = Math.min(end, vma.vmEnd);
  if (e <= s) return;
  const flags = mm.mem.flags;
  mm.pgd.forEach(s, e, (_addr, slot, pte) => {
    // Present or PROT_NONE entries of a normal page (pte_present(), vm_normal_folio()).
    const pfn = vmNormalPfn(mm, pte);
    if (pfn < 0) return;
    const pf = Atomics.load(flags, pfn);
    if (!(pf & PG_anon)) return;
    if (pf & PG_dirty) {
      if (Atomics.load(mm.mem.mapcount, pfn) !== 1) return;
      Atomics.and(flags, pfn, ~PG_dirty);
    }
    if (pteFlags(pte) & (_PAGE_ACCESSED | _PAGE_DIRTY))
      mm.pgd.setPte(slot, pteClearFlags(pte, _PAGE_ACCESSED | _PAGE_DIRTY), vma.vmPkey);
    Atomics.or(flags, pfn, PG_lazyfree);
  });
  mm.flushTlbRange(s, e);
}

/** madvise_vma_behavior(): one advice on [start, end) of one VMA. */
function madviseVma(mm: MmStruct, vma: Vma, start: number, end: number, advice: number): number {
  if (!mm.rules.madviseModernAdvice) {
    if (!ADVICE_2_6_10.has(advice)) return -EINVAL;
    // 2.6.10's madvise_willneed() read ahead through the file only.
    if (advice === MADV_WILLNEED && !vma.vmFile) return -EBADF;
  }
  if (!canMadviseModify(vma, advice)) return -EPERM;
  const f = vma.vmFlags;
  const privateAnon = vma.anonymous && !(f & VM_SHARED);
  switch (advice) {
    case MADV_DONTNEED:
    case MADV_DONTNEED_LOCKED:
      // madvise_dontneed_free_valid_vma(): on hugetlb the start must be huge page aligned; the end is
      // rounded down to whole huge pages ("avoid unexpected data loss"), which with an empty pool
      // (nothing is ever mapped there) frees nothing either way, so a page-sized call succeeds.
      if (f & VM_HUGETLB) {
        if (start % hstateVma(vma) !== 0) return -EINVAL;
      } else if (f & VM_PFNMAP || (advice === MADV_DONTNEED && f & VM_LOCKED)) return -EINVAL;
      zapPageRange(mm, vma, start, end);
      mm.pgd.freeEmpty(start, end);
      return 0;
    case MADV_FREE:
      // Lazy free: without memory pressure nothing is reclaimed, so contents stay until reclaim
      // (MADV_PAGEOUT here) discards the pages not written since (rmap.ts pageoutRange).
      if (!privateAnon || f & (VM_LOCKED | VM_PFNMAP)) return -EINVAL;
      madviseFreeRange(mm, vma, start, end);
      return 0;
    case MADV_COLD:
    case MADV_PAGEOUT:
      // can_madv_lru_vma(); COLD only moves pages between LRU lists, which Faultline does not keep.
      if (f & (VM_LOCKED | VM_PFNMAP | VM_HUGETLB)) return -EINVAL;
      if (advice === MADV_PAGEOUT) pageoutRange(mm, vma, start, end);
      return 0;
    case MADV_POPULATE_READ:
    case MADV_POPULATE_WRITE: {
      if (f & (VM_IO | VM_PFNMAP)) return -EINVAL;
      // faultin_page_range() → __get_user_pages() with FOLL_MADV_POPULATE: a check_vma_flags() failure
      // is -EINVAL (a SIGBUS is -EFAULT). Without FOLL_FORCE a read needs VM_READ (PROT_WRITE or
      // PROT_EXEC alone do not set it), a write VM_WRITE.
      if (!(f & (advice === MADV_POPULATE_WRITE ? VM_WRITE : VM_READ))) return -EINVAL;
      const r = faultinPageRange(mm, start, end, advice === MADV_POPULATE_WRITE);
      if (r === FAULT_OOM) return -ENOMEM;
      return r ? -EFAULT : 0;
    }
    case MADV_REMOVE: {
      if (f & VM_LOCKED) return -EINVAL;
      // madvise_remove(): a file is needed, shared and may-write, and a filesystem that can punch
      // holes (vfs_fallocate on a character device is -ENODEV).
      const file = vma.vmFile;
      if (!file) return -EINVAL;
      if (!(f & VM_SHARED) || !(f & VM_MAYWRITE)) return -EACCES;
      // hugetlbfs_fallocate() punches whole huge pages out of the range and zaps their mappings: with
      // no pool, nothing is there to free.
      if (isFileHugepages(file)) return 0;
      // Any open file of a shmem inode (memfd, tmpfs, SysV shm, shared anonymous memory) can.
      const inode = shmemInodeOf(file.mapping);
      if (!inode) return -ENODEV;
      // vfs_fallocate(PUNCH_HOLE | KEEP_SIZE) → shmem_fallocate(): refused (-EPERM) under a write
      // seal, else the pages leave the file, and every mapping of them in every process is zapped
      // first (unmap_mapping_range), not only this VMA's.
      return inode.fallocate(
        FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
        linearPageIndex(vma, start) * PAGE,
        end - start,
      );
    }
    case MADV_GUARD_INSTALL:
      return madviseGuardInstall(mm, vma, start, end);
    case MADV_GUARD_REMOVE:
      return madviseGuardRemove(mm, vma, start, end);
    case MADV_WILLNEED:
      return 0;
    default:
      break;
  }
  let nf = f;
  switch (advice) {
    case MADV_NORMAL:
      nf &= ~(VM_RAND_READ | VM_SEQ_READ);
      break;
    case MADV_RANDOM:
      nf = (nf & ~VM_SEQ_READ) | VM_RAND_READ;
      break;
    case MADV_SEQUENTIAL:
      nf = (nf & ~VM_RAND_READ) | VM_SEQ_READ;
      break;
    case MADV_DONTFORK:
      nf |= VM_DONTCOPY;
      break;
    case MADV_DOFORK:
      if (f & VM_IO) return -EINVAL;
      nf &= ~VM_DONTCOPY;
      break;
    case MADV_WIPEONFORK:
      if (!privateAnon) return -EINVAL;
      nf |= VM_WIPEONFORK;
      break;
    case MADV_KEEPONFORK:
      if (f & VM_DROPPABLE) return -EINVAL;
      nf &= ~VM_WIPEONFORK;
      break;
    case MADV_DONTDUMP:
      nf |= VM_DONTDUMP;
      break;
    case MADV_DODUMP:
      // madvise_vma_behavior(): droppable memory is never dumped (v6.11), nor is VM_SPECIAL memory,
      // except hugetlb's (VM_DONTEXPAND: 'mm: madvise(MADV_DODUMP): allow hugetlbfs pages'; 6.18.44).
      if ((f & VM_SPECIAL && !(f & VM_HUGETLB)) || f & VM_DROPPABLE) return -EINVAL;
      nf &= ~VM_DONTDUMP;
      break;
    case MADV_HUGEPAGE:
      nf = (nf & ~VM_NOHUGEPAGE) | VM_HUGEPAGE;
      break;
    case MADV_NOHUGEPAGE:
      nf = (nf & ~VM_HUGEPAGE) | VM_NOHUGEPAGE;
      break;
    case MADV_MERGEABLE:
      // ksm_madvise(): KSM (built in, as distributions build it) marks what it can merge, and
      // silently leaves the rest (vma_ksm_compatible()). No page is ever merged here: only the flag,
      // which splits the VMA from unmarked neighbours and shows as "mg" in smaps.
      if (ksmCompatible(f)) nf |= VM_MERGEABLE;
      break;
    case MADV_UNMERGEABLE:
      nf &= ~VM_MERGEABLE;
      break;
  }
  // 2.6.10's madvise_behavior() split off the range even when its flags stayed the same, and never
  // merged (era.ts lockAdviceMerges).
  const merge = mm.rules.lockAdviceMerges;
  if (nf === f && merge) return 0;
  const r = vmaModifyFlags(mm, vma, start, end, nf, { merge });
  // madvise_vma_behavior() (2.6.10's madvise_behavior()): a split that fails for want of resources
  // (vm.max_map_count) is -EAGAIN, "temporarily unavailable".
  if (typeof r === "number") return r === -ENOMEM ? -EAGAIN : r;
  return 0;
}

/** vma_ksm_compatible() (mm/ksm.c): the mappings KSM never merges. */
function ksmCompatible(f: number): boolean {
  const never =
    VM_SHARED | VM_MAYSHARE | VM_PFNMAP | VM_IO | VM_DONTEXPAND | VM_HUGETLB | VM_MIXEDMAP | VM_DROPPABLE;
  return (f & never) === 0;
}

/**
 * is_valid_guard_vma(): guard markers need page tables only the core manages (no VM_SPECIAL, no
 * hugetlb); installing zaps what is mapped, so not over mlocked memory (removing is allowed there).
 */
export function isValidGuardVma(vma: Vma, allowLocked: boolean): boolean {
  const disallowed = VM_SPECIAL | VM_HUGETLB | (allowLocked ? 0 : VM_LOCKED);
  return (vma.vmFlags & disallowed) === 0;
}

/**
 * madvise_guard_install(): every page of [start, end) becomes a guard marker. The whole VMA is marked
 * VM_MAYBE_GUARD (no split: page tables now hold markers, so fork copies them) and an anonymous one
 * gets an anon_vma; pages mapped there are zapped first (zap_page_range_single keeps markers already
 * present), their contents gone.
 */
function madviseGuardInstall(mm: MmStruct, vma: Vma, start: number, end: number): number {
  if (!isValidGuardVma(vma, false)) return -EINVAL;
  vma.maybeGuard = true;
  if (vma.anonymous) anonVmaPrepare(mm, vma);
  let populated = false;
  mm.pgd.forEach(start, end, (_a, _slot, pte) => {
    if (!pteIsGuardMarker(pte)) populated = true;
  });
  if (populated) zapPageRange(mm, vma, start, end);
  for (let a = start; a < end; a += PAGE) {
    const slot = mm.pgd.pteSlot(a, true);
    if (slot === TABLE_OOM) return -ENOMEM;
    if (mm.pgd.readSlot(slot) === 0) mm.pgd.setPte(slot, PTE_MARKER_GUARD);
  }
  return 0;
}

/** madvise_guard_remove(): clears the guard markers of [start, end); every other entry stays. */
function madviseGuardRemove(mm: MmStruct, vma: Vma, start: number, end: number): number {
  if (!isValidGuardVma(vma, true)) return -EINVAL;
  mm.pgd.forEach(start, end, (_a, slot, pte) => {
    if (pteIsGuardMarker(pte)) mm.pgd.setPte(slot, 0);
  });
  return 0;
}
