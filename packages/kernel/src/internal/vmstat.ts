/**
 * The page counts /proc/meminfo and /proc/zoneinfo share (mm/vmstat.c keeps them as counters:
 * NR_ANON_MAPPED, NR_FILE_MAPPED, NR_SHMEM, NR_PAGETABLE, NR_MLOCK); here they are counted from what
 * only the page tables and the page cache know, once, with one definition for both files.
 */
import { ShmemFile, type ShmemInode, VM_LOCKED } from "@faultline/mm";
import { PG_anon } from "@faultline/phys";
import type { Kernel } from "./kernel";

/** Frames by what maps or holds them, over every live process and every shmem inode. */
export interface UserPageCensus {
  /** Frames mapped as anonymous pages (PG_anon): NR_ANON_MAPPED. */
  readonly anon: ReadonlySet<number>;
  /** Other mapped frames with a struct page (shmem, vm_insert_page'd driver pages): NR_FILE_MAPPED. */
  readonly mapped: ReadonlySet<number>;
  /** Frames mapped in a VM_LOCKED VMA (mlock_folio counts each once). */
  readonly mlocked: ReadonlySet<number>;
  /** Every shmem inode's page cache: shared anonymous memory, tmpfs, memfd, SysV (NR_SHMEM). */
  readonly shmem: ReadonlySet<number>;
  /** Page-table pages of the live mms (NR_PAGETABLE). */
  readonly tables: number;
}

export function userPageCensus(k: Kernel): UserPageCensus {
  const anon = new Set<number>();
  const mapped = new Set<number>();
  const mlocked = new Set<number>();
  const shmems = new Set<ShmemFile>();
  let tables = 0;
  const seen = new Set<unknown>();
  for (const t of k.tasks.values()) {
    if (t.state !== "running" || seen.has(t.mm)) continue; // threads share their mm
    seen.add(t.mm);
    const mm = t.mm;
    tables += mm.pgd.tablePages;
    for (const v of mm) {
      if (v.vmFile instanceof ShmemFile) shmems.add(v.vmFile);
      const locked = (v.vmFlags & VM_LOCKED) !== 0;
      mm.pgd.forEach(v.vmStart, v.vmEnd, (_a, _slot, pte) => {
        const pfn = mm.normalPfn(pte);
        if (pfn < 0) return;
        if (Atomics.load(k.mem.flags, pfn) & PG_anon) anon.add(pfn);
        else mapped.add(pfn);
        if (locked) mlocked.add(pfn);
      });
    }
  }
  // Shared anonymous memory is found through its VMAs; tmpfs, memfd and SysV through their mounts.
  const inodes = new Set<ShmemInode>();
  for (const s of shmems) inodes.add(s.inode);
  for (const sb of [...k.tmpfs, k.shmMnt]) for (const i of sb.liveInodes()) inodes.add(i);
  const shmem = new Set<number>();
  for (const i of inodes) for (const pfn of i.pages.values()) shmem.add(pfn);
  return { anon, mapped, mlocked, shmem, tables };
}
