// mm/mseal.c: mseal(2) (v6.10) marks VMAs VM_SEALED; the checks that make a seal bite live where the
// kernel has them (vms_gather_munmap_vmas in mmap.ts, mprotect_fixup in mprotect.ts, check_prep_vma
// in mremap.ts, can_madvise_modify below for madvise.ts).
import {
  MADV_DONTFORK,
  MADV_DONTNEED,
  MADV_DONTNEED_LOCKED,
  MADV_FREE,
  MADV_GUARD_INSTALL,
  MADV_REMOVE,
  MADV_WIPEONFORK,
  VM_SEALED,
  VM_WRITE,
} from "./constants";
import { EINVAL, ENOMEM, ENOSYS } from "./errno";
import { offsetInPage, pageAlign, TWO64, ul } from "./internal";
import type { MmStruct, Vma } from "./mm_types";
import { vmaModifyFlags } from "./vma";

/** vma_is_sealed() */
export const vmaIsSealed = (vma: Vma): boolean => (vma.vmFlags & VM_SEALED) !== 0;

/**
 * do_mseal(): seals [start, start + len) (len page-rounded up). -EINVAL for any flag, an unaligned
 * start, or a range that wraps; 0 for an empty range; -ENOMEM when any part of the range is unmapped
 * (nothing is sealed then); sealing sealed memory again is no error. -ENOSYS in 2.6.10.
 */
export function doMseal(mm: MmStruct, startIn: number, lenIn: number, flags: number): number {
  if (!mm.rules.mseal) return -ENOSYS;
  if (flags !== 0) return -EINVAL;
  if (offsetInPage(startIn) !== 0) return -EINVAL;
  const start = ul(startIn);
  const len = pageAlign(lenIn);
  // A length that rounds up from just below 2^64 to zero is a bad length, not an empty one.
  if (lenIn && !len) return -EINVAL;
  const end = start + len;
  if (end >= TWO64) return -EINVAL;
  if (end === start) return 0;
  if (rangeContainsUnmapped(mm, start, end)) return -ENOMEM;
  return msealApply(mm, start, end);
}

/** range_contains_unmapped(): a hole anywhere in [start, end). */
function rangeContainsUnmapped(mm: MmStruct, start: number, end: number): boolean {
  let prevEnd = start;
  for (const v of mm.vmas.intersecting(start, end)) {
    if (v.vmStart > prevEnd) return true;
    prevEnd = v.vmEnd;
  }
  return prevEnd < end;
}

/**
 * mseal_apply(): each VMA of the range not yet sealed takes VM_SEALED through vma_modify_flags(), so
 * the range is split off its VMA or merged with sealed neighbours like any flags change.
 */
function msealApply(mm: MmStruct, start: number, end: number): number {
  let pos = start;
  while (pos < end) {
    const vma = mm.vmas.find(pos);
    if (!vma || vma.vmStart >= end) break;
    const s = Math.max(pos, vma.vmStart);
    const e = Math.min(end, vma.vmEnd);
    if (!vmaIsSealed(vma)) {
      const r = vmaModifyFlags(mm, vma, s, e, vma.vmFlags | VM_SEALED);
      if (typeof r === "number") return r;
    }
    pos = e;
  }
  return 0;
}

/** is_discard() (mm/madvise.c): advice that can throw away a range's contents. */
function isDiscard(advice: number): boolean {
  switch (advice) {
    case MADV_FREE:
    case MADV_DONTNEED:
    case MADV_DONTNEED_LOCKED:
    case MADV_REMOVE:
    case MADV_DONTFORK:
    case MADV_WIPEONFORK:
    case MADV_GUARD_INSTALL:
      return true;
    default:
      return false;
  }
}

/**
 * can_madvise_modify() (mm/madvise.c): on a sealed VMA only discarding advice is refused, and only for
 * memory without a file (shared anonymous memory has its shmem file) that the process could not write
 * anyway: discarding would be a memset(0) of read-only memory.
 */
export function canMadviseModify(vma: Vma, advice: number): boolean {
  if (!vmaIsSealed(vma) || !isDiscard(advice)) return true;
  if (vma.vmFile) return true;
  return (vma.vmFlags & VM_WRITE) !== 0;
}
