// mm/msync.c

import { MS_ASYNC, MS_INVALIDATE, MS_SYNC, VM_LOCKED } from "./constants";
import { EBUSY, EINVAL, ENOMEM } from "./errno";
import { offsetInPage, pageAlign, TWO64, ul } from "./internal";
import type { MmStruct } from "./mm_types";

/** msync(2): nothing is file-backed on a disk, so it only validates and walks. */
export function doMsync(mm: MmStruct, startIn: number, lenIn: number, flags: number): number {
  if (flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC)) return -EINVAL;
  if (offsetInPage(startIn) !== 0) return -EINVAL;
  if (flags & MS_ASYNC && flags & MS_SYNC) return -EINVAL;
  const start = ul(startIn);
  // A length that rounds up past 2^64 is 0 here: nothing to sync, not an error (unlike madvise).
  const len = pageAlign(lenIn);
  const end = start + len;
  if (end >= TWO64) return -ENOMEM;
  if (end === start) return 0;
  let unmapped = 0;
  let pos = start;
  let vma = mm.vmas.find(start);
  for (;;) {
    if (!vma) return -ENOMEM;
    if (pos < vma.vmStart) {
      if (flags === MS_ASYNC) return -ENOMEM;
      unmapped = -ENOMEM;
      pos = vma.vmStart;
      if (pos >= end) return unmapped;
    }
    if (flags & MS_INVALIDATE && vma.vmFlags & VM_LOCKED) return -EBUSY;
    pos = vma.vmEnd;
    if (pos >= end) return unmapped;
    vma = mm.vmas.find(pos);
  }
}
