// mm/internal.h: the small predicates and conversions every mm file shares.
import { PAGE_SIZE } from "@faultline/phys";
import {
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
  TASK_SIZE,
  VM_EXEC,
  VM_MAYWRITE,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
} from "./constants";

export const PAGE = PAGE_SIZE;
export const TWO64 = 2 ** 64;
export const PMD_SIZE = 2 * 1024 * 1024;
/** mmap_legacy_base(): TASK_UNMAPPED_BASE for the bottom-up fallback. */
export const TASK_UNMAPPED_BASE = Math.ceil(TASK_SIZE / 3 / PAGE) * PAGE;

/**
 * The kernel's unsigned long view of a JS number argument: negative values are huge. Only as exact as
 * a double near 2^64 is (2^64 + x rounds to a multiple of 2048: ul(-1) is 2^64), so the low bits of an
 * argument are read from the argument itself (offsetInPage, pageAlign), never from ul()'s result.
 */
export const ul = (x: number): number => (x < 0 ? TWO64 + x : x);

/**
 * PAGE_ALIGN() on an unsigned long given as the syscall's argument (negative: 2^64 + x, exactly): a
 * value that wraps past 2^64 becomes 0, as 0xfffffffffffff001 does.
 */
export const pageAlign = (x: number): number => {
  if (x < 0) return x > -PAGE ? 0 : TWO64 + Math.ceil(x / PAGE) * PAGE;
  const r = Math.ceil(x / PAGE) * PAGE;
  return r >= TWO64 ? 0 : r;
};

/** offset_in_page() of an unsigned long given as the syscall's argument (negative: 2^64 + x). */
export const offsetInPage = (x: number): number => {
  const r = x % PAGE;
  return r < 0 ? r + PAGE : r;
};

/** calc_vm_prot_bits() (include/linux/mman.h) */
export const protToVm = (prot: number): number =>
  (prot & PROT_READ ? VM_READ : 0) | (prot & PROT_WRITE ? VM_WRITE : 0) | (prot & PROT_EXEC ? VM_EXEC : 0);

/** is_cow_mapping(): private and may become writable. */
export const isCowMapping = (flags: number): boolean => (flags & (VM_SHARED | VM_MAYWRITE)) === VM_MAYWRITE;

/** linear_page_index(): the page offset in the mapped object of `addr` inside `vma`. */
export const linearPageIndex = (vma: { vmStart: number; vmPgoff: number }, addr: number): number =>
  vma.vmPgoff + (addr - vma.vmStart) / PAGE;

/** vma_pages() */
export const vmaPages = (vma: { vmStart: number; vmEnd: number }): number => (vma.vmEnd - vma.vmStart) / PAGE;

/**
 * vma_wants_writenotify(): a shared writable mapping whose driver asks to hear of the first write to
 * each page (vm_ops->page_mkwrite / pfn_mkwrite) gets read-only PTEs from its faults, so that write
 * comes back through do_wp_page.
 */
export const vmaWantsWritenotify = (vma: {
  vmFlags: number;
  vmOps?: { pageMkwrite?: unknown; pfnMkwrite?: unknown } | null;
}): boolean =>
  (vma.vmFlags & (VM_WRITE | VM_SHARED)) === (VM_WRITE | VM_SHARED) &&
  (vma.vmOps?.pageMkwrite !== undefined || vma.vmOps?.pfnMkwrite !== undefined);
