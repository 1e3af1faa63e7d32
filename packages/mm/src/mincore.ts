// mm/mincore.c: sys_mincore, do_mincore, mincore_pte_range and the page-cache lookup of
// mincore_page for what no PTE maps.

import { TASK_SIZE } from "./constants";
import { EFAULT, EINVAL, ENOMEM } from "./errno";
import { offsetInPage, PAGE, ul } from "./internal";
import type { MmStruct, Vma } from "./mm_types";
import { pteHoldsPage } from "./pgtable";

/**
 * mincore(2): fills vec[i] with 1 for each page of [start, start + len) that is resident, 0 otherwise.
 * -EINVAL for an unaligned start, -ENOMEM for a range beyond user space (access_ok) or a page no VMA
 * covers (the pages before it are already filled in, as Linux copies each VMA's results out as it
 * goes), -EFAULT when vec is shorter than the range's pages.
 */
export function doMincore(mm: MmStruct, startIn: number, lenIn: number, vec: Uint8Array): number {
  if (offsetInPage(startIn) !== 0) return -EINVAL;
  const start = ul(startIn);
  const len = ul(lenIn);
  if (len > TASK_SIZE || start > TASK_SIZE - len) return -ENOMEM;
  const pages = Math.ceil(len / PAGE);
  if (vec.length < pages) return -EFAULT;
  let addr = start;
  let i = 0;
  while (i < pages) {
    const vma = mm.vmas.find(addr);
    if (!vma || vma.vmStart > addr) return -ENOMEM;
    const end = Math.min(vma.vmEnd, start + pages * PAGE);
    for (; addr < end; addr += PAGE, i++) vec[i] = resident(mm, vma, addr) ? 1 : 0;
  }
  return 0;
}

/**
 * mincore_pte_range(): a PTE that holds a page (present, or PROT_NONE) is resident; an empty one (or a
 * guard marker: pte_none_mostly) asks the file's page cache (mincore_unmapped_range), anonymous
 * memory has none.
 */
function resident(mm: MmStruct, vma: Vma, addr: number): boolean {
  if (pteHoldsPage(mm.pgd.getPte(addr))) return true;
  // A shmem inode's mapping knows its pages (shmem.ts: the page cache, pgoff → pfn).
  const cache = (vma.vmFile?.mapping as { inode?: { pages?: ReadonlyMap<number, number> } } | undefined)
    ?.inode?.pages;
  return cache?.has(vma.vmPgoff + (addr - vma.vmStart) / PAGE) ?? false;
}
