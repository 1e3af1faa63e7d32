// mm/filemap.c's filemap_map_pages() with mm/memory.c's do_fault_around(): on a read fault of a file
// mapping whose vm_ops have ->map_pages, the page-cache pages already present around the address (a
// 16-page window, fault_around_bytes = 64 KiB, inside the VMA, the page table and the file) are mapped
// too, without a fault each. What is mapped shows in the RSS and smaps, as on Linux.
import { VM_SHARED, VM_WRITE } from "./constants";
import { PAGE } from "./internal";
import type { Vma, VmFault } from "./mm_types";
import { _PAGE_RW } from "./pgtable";
import { mapPage } from "./rmap";

/** fault_around_pages: fault_around_bytes (64 KiB) in pages. */
export const FAULT_AROUND_PAGES = 16;
const PTRS_PER_PTE = 512;

/**
 * do_fault_around(): the window of page offsets to try, [start, end], for a fault at vmf.address;
 * then ->map_pages over it. Returns true when the faulting page itself got mapped (the fault is done).
 */
export function doFaultAround(vmf: VmFault): boolean {
  const vma = vmf.vma;
  const mapPages = vma.vmOps?.mapPages;
  if (!mapPages) return false;
  const pteOff = Math.floor(vmf.address / PAGE) % PTRS_PER_PTE;
  const vmaOff = vmf.pgoff - vma.vmPgoff;
  const vmaPages = (vma.vmEnd - vma.vmStart) / PAGE;
  const fromPte = Math.max(pteOff - (pteOff % FAULT_AROUND_PAGES), pteOff - Math.min(pteOff, vmaOff));
  const toPte = Math.min(fromPte + FAULT_AROUND_PAGES, PTRS_PER_PTE, pteOff + vmaPages - vmaOff) - 1;
  return mapPages.call(vma.vmOps, vmf, vmf.pgoff + fromPte - pteOff, vmf.pgoff + toPte - pteOff) !== 0;
}

/**
 * filemap_map_pages(): maps every page `lookup` finds (present and up to date in the page cache) for
 * offsets [start, end] (clipped at `lastPgoff`, the page holding EOF) whose PTE is empty, each with a
 * reference and a mapcount, with the VMA's protection (read-only unless shared and writable without
 * write notification), young. Returns VM_FAULT_NOPAGE (non-zero) when vmf's own page was mapped.
 */
export function filemapMapPages(
  vmf: VmFault,
  start: number,
  endIn: number,
  lastPgoff: number,
  lookup: (pgoff: number) => number,
): number {
  const vma: Vma = vmf.vma;
  const mm = vma.vmMm;
  const end = Math.min(endIn, lastPgoff);
  const ops = vma.vmOps;
  const writable =
    (vma.vmFlags & (VM_SHARED | VM_WRITE)) === (VM_SHARED | VM_WRITE) &&
    !ops?.pageMkwrite &&
    !ops?.pfnMkwrite;
  let hit = 0;
  for (let pgoff = start; pgoff <= end; pgoff++) {
    const pfn = lookup(pgoff);
    if (pfn < 0) continue;
    const addr = vma.vmStart + (pgoff - vma.vmPgoff) * PAGE;
    const slot = mm.pgd.pteSlot(addr, false);
    if (slot < 0 || mm.pgd.readSlot(slot) !== 0) continue;
    mm.mem.getPage(pfn);
    mapPage(mm, vma, slot, pfn, writable ? _PAGE_RW : 0);
    if (addr === vmf.address) hit = 1;
  }
  return hit;
}
