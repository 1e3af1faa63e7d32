// mm/mmap.c: may_expand_vm() and the counters it reads (mm->total_vm, mm->data_vm), computed from the
// VMAs when a limit is set (no counter is kept: an address space without limits pays nothing); and
// mm/util.c's __vm_enough_memory(), the commit charge's overcommit heuristic.
import { VM_GROWSDOWN, VM_SHARED, VM_WRITE } from "./constants";
import { ENOMEM } from "./errno";
import { PAGE } from "./internal";
import type { MmStruct } from "./mm_types";

/** is_data_mapping(): private, writable, not a stack (VM_STACK is VM_GROWSDOWN on x86). */
export const isDataMapping = (flags: number): boolean =>
  (flags & (VM_WRITE | VM_SHARED | VM_GROWSDOWN)) === VM_WRITE;

const NONE_DETACHED = { total: 0, data: 0 } as const;

/** mm->total_vm and mm->data_vm, in pages. */
export function vmCounts(mm: MmStruct): { total: number; data: number } {
  let total = 0;
  let data = 0;
  for (const v of mm.vmas) {
    const n = (v.vmEnd - v.vmStart) / PAGE;
    total += n;
    if (isDataMapping(v.vmFlags)) data += n;
  }
  return { total, data };
}

/**
 * may_expand_vm(): may the address space grow by `npages` of a mapping with `flags`? RLIMIT_AS bounds
 * every mapping, RLIMIT_DATA the data mappings (with Linux's Valgrind exception: a zero soft limit
 * lets data grow up to the hard limit). Linux's ignore_rlimit_data is off. 2.6.10 had RLIMIT_AS only.
 */
export function mayExpandVm(
  mm: MmStruct,
  flags: number,
  npages: number,
  /** VMAs taken out of the tree that total_vm and data_vm still count (a MAP_FIXED's, being replaced). */
  detached: { readonly total: number; readonly data: number } = NONE_DETACHED,
): boolean {
  const as = mm.rlimAs;
  const data = mm.rlimData;
  // 2.6.10 compared total_vm with RLIMIT_AS alone (era.ts mayExpandVmData).
  const dataApplies =
    mm.rules.mayExpandVmData && isDataMapping(flags) && data.cur !== Number.POSITIVE_INFINITY;
  if (as === Number.POSITIVE_INFINITY && !dataApplies) return true;
  const counted = vmCounts(mm);
  const c = { total: counted.total + detached.total, data: counted.data + detached.data };
  if (c.total + npages > Math.floor(as / PAGE)) return false;
  if (dataApplies && c.data + npages > Math.floor(data.cur / PAGE)) {
    if (data.cur === 0 && c.data + npages <= Math.floor(data.max / PAGE)) return true;
    return false;
  }
  return true;
}

/**
 * __vm_enough_memory() (mm/util.c) under vm.overcommit_memory = 0 (OVERCOMMIT_GUESS, Linux's default):
 * one request to commit more pages than RAM and swap together is -ENOMEM; anything smaller passes (this
 * mode keeps no running total to compare). Asked by mmap of private writable memory (less what a
 * MAP_FIXED replaces) and of shared anonymous memory (shmem_acct_size), brk, mremap growth of accounted
 * memory (vrm_charge()) and mprotect making private memory writable; MAP_NORESERVE asks nothing.
 */
export function vmEnoughMemory(mm: MmStruct, pages: number): number {
  return pages > mm.overcommitPages ? -ENOMEM : 0;
}
