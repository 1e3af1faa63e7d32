// mm/mmap.c: brk() and do_brk_flags(), the heap. The heap is [start_brk, PAGE_ALIGN(brk)): brk() moves
// its end, growing by a new anonymous VMA or by expanding the heap's last one, shrinking by unmapping.
// Like the syscall it answers the break: the new one, or the old one when anything failed (glibc's
// sbrk() turns that into ENOMEM). Where 2.6.10 differed, era.ts has the rows (brk*).
import {
  MAP_FIXED,
  VM_ACCOUNT,
  VM_LOCKED,
  VM_MAYEXEC,
  VM_MAYREAD,
  VM_MAYWRITE,
  VM_READ,
  VM_SOFTDIRTY,
  VM_WRITE,
} from "./constants";
import { mmPopulate } from "./gup";
import { PAGE, pageAlign, ul } from "./internal";
import { type MmStruct, Vma } from "./mm_types";
import { doVmiMunmap, getUnmappedArea, vmStartGap } from "./mmap";
import { mayExpandVm, vmEnoughMemory } from "./vm-account";
import { newRangeMerge, vmaMergeNewRange } from "./vma";

/** VM_DATA_DEFAULT_FLAGS on x86-64 without READ_IMPLIES_EXEC: what a heap VMA gets. */
const VM_DATA_DEFAULT_FLAGS = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;

/** brk(2) on an unsigned long argument: the new break, or the old one if it did not move. */
export function doBrk(mm: MmStruct, brkIn: number): number {
  const brk = ul(brkIn);
  const origbrk = mm.currentBrk;
  // min_brk: start_brk (the break is randomised, or CONFIG_COMPAT_BRK is off; 2.6.10 compared with
  // end_code, the same address here). brk(0) is how sbrk(0) asks for the break.
  if (brk < mm.startBrk) return origbrk;
  // check_data_rlimit(): (brk - start_brk) + (end_data - start_data) > RLIMIT_DATA, no data segment here.
  const overLimit = mm.rlimData.cur !== Number.POSITIVE_INFINITY && brk - mm.startBrk > mm.rlimData.cur;
  if (overLimit && mm.rules.brkRlimitFirst) return origbrk;
  const newbrk = pageAlign(brk);
  const oldbrk = pageAlign(mm.currentBrk);
  if (oldbrk === newbrk) {
    mm.currentBrk = brk;
    return brk;
  }
  // Always allow shrinking brk.
  if (brk <= mm.currentBrk) {
    // Today's brk() wants a VMA in [newbrk, oldbrk) to shrink; then it unmaps that whole range,
    // whatever lies there (a sealed VMA makes the unmap fail, and the break stays).
    if (mm.rules.brkShrinkNeedsVma) {
      const v = mm.vmas.find(newbrk);
      if (!v || v.vmStart >= oldbrk) return origbrk;
    }
    if (doVmiMunmap(mm, newbrk, oldbrk - newbrk)) return origbrk;
    mm.currentBrk = brk;
    return brk;
  }
  if (overLimit) return origbrk;
  // A break that page-aligns past 2^64 wraps to 0: check_brk_limits() sees a huge length.
  if (newbrk <= oldbrk) return origbrk;
  const len = newbrk - oldbrk;
  // check_brk_limits(): the range fits below TASK_SIZE, and mlockall(MCL_FUTURE) memory within
  // RLIMIT_MEMLOCK (-EAGAIN inside, the old break outside).
  if (getUnmappedArea(mm, null, oldbrk, len, 0, MAP_FIXED) < 0) return origbrk;
  if (mm.defFlags & VM_LOCKED && mm.lockedVm * PAGE + len > mm.mlockLimit) return origbrk;
  // One free page must stay above the new break, and stack_guard_gap below a stack (vm_start_gap()).
  const next = mm.vmas.find(oldbrk);
  if (next && newbrk + PAGE > vmStartGap(mm, next)) return origbrk;
  if (doBrkFlags(mm, oldbrk, len)) return origbrk;
  mm.currentBrk = brk;
  // mlockall(MCL_FUTURE): the new heap is populated now (mm_populate()).
  if (mm.defFlags & VM_LOCKED) mmPopulate(mm, oldbrk, newbrk);
  return brk;
}

/**
 * do_brk_flags(): [addr, addr + len) becomes heap: the heap's last VMA (one ending at addr above
 * start_brk, vma_prev_limit()) grows over it when the flags allow, else a new anonymous VMA. 0 or
 * -ENOMEM (RLIMIT_AS / RLIMIT_DATA by may_expand_vm(), the map count, the commit charge).
 */
function doBrkFlags(mm: MmStruct, addr: number, len: number): number {
  const flags = VM_DATA_DEFAULT_FLAGS | VM_ACCOUNT | mm.defFlags;
  if (!mayExpandVm(mm, flags, len / PAGE)) return -1;
  if (mm.mapCount > mm.maxMapCount) return -1;
  if (vmEnoughMemory(mm, len / PAGE)) return -1;
  const range = newRangeMerge(mm, {
    start: addr,
    end: addr + len,
    pgoff: addr / PAGE,
    flags,
    pkey: 0,
    file: null,
    anonVma: null,
  });
  // Only the VMA below is a candidate (vmg.just_expand), and only if it is heap.
  const prev = range.prev && range.prev.vmEnd > mm.startBrk ? range.prev : null;
  let vma = prev ? vmaMergeNewRange({ ...range, prev, next: null }) : null;
  if (!vma) {
    vma = new Vma(mm, addr, addr + len, flags, addr / PAGE);
    vma.anonymous = true;
    mm.vmas.insert(vma);
  }
  if (flags & VM_LOCKED) mm.lockedVm += len / PAGE;
  vma.vmFlags |= VM_SOFTDIRTY;
  return 0;
}
