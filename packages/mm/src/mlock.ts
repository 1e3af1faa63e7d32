// mm/mlock.c: do_mlock / apply_vma_lock_flags / mlock_fixup, munlock, mlockall / munlockall.

import {
  MCL_CURRENT,
  MCL_FUTURE,
  MCL_ONFAULT,
  VM_IO,
  VM_LOCKED,
  VM_LOCKED_MASK,
  VM_LOCKONFAULT,
  VM_PFNMAP,
} from "./constants";
import { EAGAIN, EINVAL, ENOMEM, EPERM } from "./errno";
import { FAULT_OK, FAULT_OOM } from "./fault";
import { makePagesPresent, mmPopulate } from "./gup";
import { offsetInPage, PAGE, pageAlign, TWO64, ul } from "./internal";
import type { MmStruct, Vma } from "./mm_types";
import { vmaModifyFlags } from "./vma";

/** mlock(2)/mlock2(2) (`onFault`: MLOCK_ONFAULT) and munlock(2) (`lock` false). Returns 0 or -errno. */
export function doMlock(
  mm: MmStruct,
  startIn: number,
  lenIn: number,
  lock: boolean,
  onFault: boolean,
): number {
  // len + offset_in_page(start) on unsigned longs: exact on the signed arguments (-1 + 1 is 0).
  const inPage = offsetInPage(startIn);
  const len = pageAlign(lenIn + inPage);
  const start = ul(startIn - inPage);
  const end = start + len;
  // can_do_mlock(): a zero RLIMIT_MEMLOCK without CAP_IPC_LOCK may lock nothing.
  if (lock && mm.mlockLimit === 0) return -EPERM;
  if (lock && mm.lockedVm * PAGE + len > mm.mlockLimit) {
    // count_mm_mlocked_page_nr(): pages of the range already locked are not counted twice; 2.6.10
    // counted them again (era.ts mlockChargesLockedOnce).
    let already = 0;
    for (const v of mm.rules.mlockChargesLockedOnce ? mm.vmas.intersecting(start, end) : []) {
      if (v.vmFlags & VM_LOCKED) already += Math.min(end, v.vmEnd) - Math.max(start, v.vmStart);
    }
    if (mm.lockedVm * PAGE + len - already > mm.mlockLimit) return -ENOMEM;
  }
  // apply_vma_lock_flags(): a wrapping range is -EINVAL only now, after -EPERM and the RLIMIT_MEMLOCK
  // -ENOMEM (do_mlock(); 2.6.10's sys_mlock() checked both before its do_mlock() did the same).
  if (end >= TWO64) return -EINVAL;
  if (end === start) return 0;
  let vma = mm.vmas.find(start);
  if (!vma || vma.vmStart > start) return -ENOMEM;
  let tmp = vma.vmStart;
  let nstart = start;
  while (vma && vma.vmStart < end) {
    if (vma.vmStart !== tmp) return -ENOMEM;
    tmp = Math.min(vma.vmEnd, end);
    const old = vma.vmFlags;
    // apply_vma_lock_flags(): the lock bits are replaced, so mlock() after mlock2(MLOCK_ONFAULT)
    // drops VM_LOCKONFAULT.
    const newFlags = (old & ~VM_LOCKED_MASK) | (lock ? VM_LOCKED | (onFault ? VM_LOCKONFAULT : 0) : 0);
    const cur = mlockFixup(mm, vma, nstart, tmp, newFlags);
    if (typeof cur === "number") return cur;
    tmp = Math.max(tmp, cur.vmEnd);
    nstart = tmp;
    vma = mm.vmas.next(cur);
  }
  if (tmp < end) return -ENOMEM;
  // __mm_populate(start, len, 0), once everything is locked (2.6.10: in each mlock_fixup(), era.ts
  // mlockPopulatesEachVma). MLOCK_ONFAULT too: populate_vma_page_range() skips the VMAs now
  // VM_LOCKONFAULT, but memory mlock may not lock never got the flag and is faulted in (a droppable
  // mapping's pages; hugetlb's fault, SIGBUS, makes mlock2() -ENOMEM; Linux 6.18.44).
  if (lock && !mm.rules.mlockPopulatesEachVma) return populateLocked(mm, start, end);
  return 0;
}

/**
 * Faults in locked memory for mlock: a fault that fails (PROT_NONE memory, an execute-only key,
 * SIGBUS) ends the walk and mlock fails, the range staying locked (__mlock_posix_error_return:
 * -EFAULT is -ENOMEM, -ENOMEM is -EAGAIN).
 */
function populateLocked(mm: MmStruct, start: number, end: number): number {
  const r = mmPopulate(mm, start, end, false);
  if (r === FAULT_OOM) return -EAGAIN;
  return r === FAULT_OK ? 0 : -ENOMEM;
}

/**
 * mlock_fixup(): new lock bits on [start, end) of `vma`, split off (and today merged) as needed, with
 * locked_vm following. Returns the VMA now holding the range, or -errno. Memory that cannot be locked
 * is silently neither locked nor counted (era.ts mlockNeverLocks).
 */
function mlockFixup(mm: MmStruct, vma: Vma, start: number, end: number, newFlags: number): Vma | number {
  const old = vma.vmFlags;
  if (newFlags === old || old & mm.rules.mlockNeverLocks) return vma;
  // 2.6.10's mlock_fixup() split and never merged (era.ts lockAdviceMerges).
  const r = vmaModifyFlags(mm, vma, start, end, newFlags, { merge: mm.rules.lockAdviceMerges });
  // A failed split is -ENOMEM today, -EAGAIN in 2.6.10 (era.ts mlockSplitEagain).
  if (typeof r === "number") return r === -ENOMEM && mm.rules.mlockSplitEagain ? -EAGAIN : r;
  // The range it was given is counted, not the VMA a merge leaves.
  const pages = (end - start) / PAGE;
  if (!(newFlags & VM_LOCKED)) mm.lockedVm -= pages;
  else if (!(old & VM_LOCKED)) mm.lockedVm += pages;
  // 2.6.10's mlock_fixup() faulted in what it had just locked (make_pages_present()), so a later
  // failure leaves this part populated (era.ts mlockPopulatesEachVma; 2.6.10 has no MLOCK_ONFAULT).
  if (mm.rules.mlockPopulatesEachVma && newFlags & VM_LOCKED) {
    // Its error was mlock's: make_pages_present()'s -EFAULT, or -1 (EPERM) when fewer pages than
    // asked were done, -ENOMEM turned -EAGAIN at mlock_fixup()'s end (2.6.11); VM_IO was skipped.
    if (newFlags & (VM_IO | VM_PFNMAP)) return r;
    const err = makePagesPresent(mm, start, end);
    if (err === -ENOMEM) return -EAGAIN;
    if (err) return err === -1 ? -EPERM : err;
  }
  return r;
}

/**
 * mlockall(2) (`flags` MCL_*) and munlockall(2) (`flags` 0, called with `unlock`): MCL_FUTURE locks
 * every later mapping (mm->def_flags), MCL_CURRENT every VMA now, MCL_ONFAULT without populating.
 * -EINVAL for no flags, an unknown one or MCL_ONFAULT alone; -EPERM when RLIMIT_MEMLOCK is 0 without
 * CAP_IPC_LOCK; -ENOMEM when MCL_CURRENT would lock more than RLIMIT_MEMLOCK allows (total_vm).
 */
export function doMlockall(mm: MmStruct, flags: number, unlock = false): number {
  if (!unlock) {
    // era.ts mlockallFlags: 2.6.10 knew no MCL_ONFAULT.
    if (!flags || flags & ~mm.rules.mlockallFlags || flags === MCL_ONFAULT) return -EINVAL;
    if (mm.mlockLimit === 0) return -EPERM;
    if (flags & MCL_CURRENT && mm.mlockLimit !== Number.POSITIVE_INFINITY) {
      let totalVm = 0;
      for (const v of mm.vmas) totalVm += (v.vmEnd - v.vmStart) / PAGE;
      if (totalVm > Math.floor(mm.mlockLimit / PAGE)) return -ENOMEM;
    }
  }
  // apply_mlockall_flags()
  mm.defFlags &= ~VM_LOCKED_MASK;
  if (flags & MCL_FUTURE) {
    mm.defFlags |= VM_LOCKED | (flags & MCL_ONFAULT ? VM_LOCKONFAULT : 0);
    if (!(flags & MCL_CURRENT)) return 0;
  }
  const toAdd = flags & MCL_CURRENT ? VM_LOCKED | (flags & MCL_ONFAULT ? VM_LOCKONFAULT : 0) : 0;
  for (const v of [...mm.vmas]) {
    const cur = mm.vmaLookup(v.vmStart);
    // apply_mlockall_flags() ignores mlock_fixup()'s errors.
    if (cur) mlockFixup(mm, cur, cur.vmStart, cur.vmEnd, (cur.vmFlags & ~VM_LOCKED_MASK) | toAdd);
  }
  // mm_populate(0, TASK_SIZE): faults are ignored, as __mm_populate ignores them. 2.6.10 had no such
  // pass: its mlock_fixup() faulted in each VMA it locked (mlockPopulatesEachVma), already-locked skipped.
  if (flags & MCL_CURRENT && !mm.rules.mlockPopulatesEachVma)
    for (const v of [...mm.vmas]) mmPopulate(mm, v.vmStart, v.vmEnd, true);
  return 0;
}
