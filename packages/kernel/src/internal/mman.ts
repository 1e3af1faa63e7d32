/**
 * The mman syscalls' entries (mm/mmap.c ksys_mmap_pgoff, mm/mprotect.c, mm/mremap.c, …): the fd is
 * resolved here, the rest is the process's mm. Arguments arrive converted to their C types
 * (syscall.ts); mm reads the 64-bit ones unsigned where Linux's are.
 */
import { EBADF, EINVAL, MAP_ANONYMOUS, O_PATH } from "../constants";
import type { OpenFile } from "./file";
import { fdget } from "./fs";
import type { Kernel, Task } from "./kernel";

const PAGE = 4096;
const pageOffset = (x: number) => ((x % PAGE) + PAGE) % PAGE;

/**
 * mmap(2), x86-64: `offset` in bytes. -EINVAL for an unaligned offset comes first, then -EBADF for a
 * bad fd (unless MAP_ANONYMOUS, whose fd is ignored), then mm's checks (ksys_mmap_pgoff()'s first:
 * MAP_HUGETLB with a file, none of which is hugetlbfs's here, is -EINVAL) and the driver's ->mmap.
 */
export function sysMmap(
  _k: Kernel,
  t: Task,
  addr: number,
  len: number,
  prot: number,
  flags: number,
  fd: number,
  offset: number,
): number {
  if (pageOffset(offset) !== 0) return -EINVAL;
  let file: OpenFile | null = null;
  if (!(flags & MAP_ANONYMOUS)) {
    // fget() takes an unsigned int: the upper half of the unsigned long fd is dropped.
    const f = fdget(t, fd >>> 0);
    if (!f || f.fFlags & O_PATH) return -EBADF;
    file = f;
  }
  return t.mm.mmap(addr, len, prot, flags, file, offset);
}

export const sysMunmap = (_k: Kernel, t: Task, addr: number, len: number): number => t.mm.munmap(addr, len);

export const sysMremap = (
  _k: Kernel,
  t: Task,
  oldAddr: number,
  oldLen: number,
  newLen: number,
  flags: number,
  newAddr: number,
): number => t.mm.mremap(oldAddr, oldLen, newLen, flags, newAddr);

export const sysMprotect = (_k: Kernel, t: Task, addr: number, len: number, prot: number): number =>
  t.mm.mprotect(addr, len, prot);

export const sysMadvise = (_k: Kernel, t: Task, addr: number, len: number, advice: number): number =>
  t.mm.madvise(addr, len, advice);

export const sysMsync = (_k: Kernel, t: Task, addr: number, len: number, flags: number): number =>
  t.mm.msync(addr, len, flags);

export const sysMlock = (_k: Kernel, t: Task, addr: number, len: number): number => t.mm.mlock(addr, len);

export const sysMunlock = (_k: Kernel, t: Task, addr: number, len: number): number => t.mm.munlock(addr, len);

/** pkey_alloc(2): a protection key, or -EINVAL / -ENOSPC (always, on a CPU without PKU). */
export const sysPkeyAlloc = (_k: Kernel, t: Task, flags: number, accessRights: number): number =>
  t.mm.pkeyAlloc(flags, accessRights);

/** pkey_free(2): 0 or -EINVAL. */
export const sysPkeyFree = (_k: Kernel, t: Task, pkey: number): number => t.mm.pkeyFree(pkey);

/** pkey_mprotect(2): mprotect that also tags the range with `pkey` (-1: as mprotect). */
export const sysPkeyMprotect = (
  _k: Kernel,
  t: Task,
  addr: number,
  len: number,
  prot: number,
  pkey: number,
): number => t.mm.pkeyMprotect(addr, len, prot, pkey);

/** brk(2): the new break, or the old one when it cannot move (mm/mmap.c brk; no errno). */
export const sysBrk = (_k: Kernel, t: Task, brk: number): number => t.mm.brk(brk);

/** mseal(2) (v6.10): 0, -EINVAL, -ENOMEM, or -ENOSYS on a 2.6.10 machine. */
export const sysMseal = (_k: Kernel, t: Task, start: number, len: number, flags: number): number =>
  t.mm.mseal(start, len, flags);
