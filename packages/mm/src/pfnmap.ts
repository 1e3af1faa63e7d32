// What drivers call to map memory themselves (mm/memory.c): remap_pfn_range from ->mmap,
// vmf_insert_pfn and vm_insert_page from ->fault or ->mmap, zap_vma_ptes to take PTEs back.
import { type Page, PG_anon, PG_reserved } from "@faultline/phys";
import {
  VM_EXEC,
  VM_FAULT_NOPAGE,
  VM_FAULT_OOM,
  VM_FAULT_SIGBUS,
  VM_MIXEDMAP,
  VM_PFNMAP,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
} from "./constants";
import { EBUSY, EFAULT, EINVAL, ENOMEM } from "./errno";
import { isCowMapping, PAGE, pageAlign, vmaWantsWritenotify } from "./internal";
import type { MmStruct, Vma } from "./mm_types";
import {
  _PAGE_ACCESSED,
  _PAGE_PFNMAP,
  _PAGE_PRESENT,
  _PAGE_PROTNONE,
  _PAGE_RW,
  _PAGE_SPECIAL,
  _PAGE_USER,
  pfnPte,
  TABLE_OOM,
} from "./pgtable";
import { mapPage, zapPageRange } from "./rmap";

/**
 * remap_pfn_range(): maps [addr, addr+size) to consecutive pfns up front with special PTEs, for pfns
 * with or without a struct page. `prot` is the vm_page_prot to use. Returns 0 or -errno.
 */
export function remapPfnRange(
  mm: MmStruct,
  vma: Vma,
  addr: number,
  pfn: number,
  size: number,
  prot: number,
): number {
  const len = pageAlign(size);
  const end = addr + len;
  if (addr % PAGE !== 0 || !Number.isInteger(pfn) || pfn < 0) return -EINVAL;
  if (addr < vma.vmStart || end > vma.vmEnd || end <= addr) return -EINVAL;
  if (isCowMapping(vma.vmFlags)) {
    // A private mapping must be remapped whole, and vm_pgoff then names the first pfn so COWed
    // pages can be told apart from the PFNMAP ones.
    if (addr !== vma.vmStart || end !== vma.vmEnd) return -EINVAL;
    vma.vmPgoff = pfn;
  }
  // era.ts remapPfnFlags and remapPfnSkipsRam: what 2.6.10 did differently.
  vma.vmFlags |= mm.rules.remapPfnFlags;
  const skipRam = mm.rules.remapPfnSkipsRam;
  // The PTEs carry `prot` (pfn_pte(pfn, prot)): writable only if shared and writable, and for a
  // PROT_NONE VMA PAGE_NONE, an entry the MMU treats as not present (_PAGE_PROTNONE), so an access
  // faults and the VMA's flags refuse it until mprotect() makes it present.
  const rw = prot & VM_WRITE && prot & VM_SHARED ? _PAGE_RW : 0;
  const present = prot & (VM_READ | VM_WRITE | VM_EXEC) ? _PAGE_PRESENT : _PAGE_PROTNONE;
  for (let a = addr, p = pfn; a < end; a += PAGE, p++) {
    const slot = mm.pgd.pteSlot(a, true);
    if (slot === TABLE_OOM) {
      zapPageRange(mm, vma, addr, a);
      return -ENOMEM;
    }
    if (mm.pgd.readSlot(slot) !== 0) {
      zapPageRange(mm, vma, addr, a);
      throw new Error(
        `remapPfnRange: a PTE already exists at ${a.toString(16)} (kernel BUG in remap_pte_range)`,
      );
    }
    if (skipRam && mm.mem.pfnValid(p) && !(Atomics.load(mm.mem.flags, p) & PG_reserved)) continue;
    mm.pgd.setPte(
      slot,
      pfnPte(p, present | _PAGE_USER | _PAGE_ACCESSED | _PAGE_SPECIAL | _PAGE_PFNMAP | rw),
      vma.vmPkey,
    );
  }
  return 0;
}

/** vmf_insert_pfn(): installs one special PTE from a fault handler. Returns VM_FAULT_NOPAGE or an error code. */
export function vmfInsertPfn(mm: MmStruct, vma: Vma, addr: number, pfn: number): number {
  const pfnmap = (vma.vmFlags & VM_PFNMAP) !== 0;
  const mixed = (vma.vmFlags & VM_MIXEDMAP) !== 0;
  if (pfnmap === mixed)
    throw new Error("vmfInsertPfn: the VMA needs exactly one of VM_PFNMAP and VM_MIXEDMAP (kernel BUG)");
  if (pfnmap && isCowMapping(vma.vmFlags))
    throw new Error("vmfInsertPfn: VM_PFNMAP on a private writable mapping (kernel BUG)");
  if (addr < vma.vmStart || addr >= vma.vmEnd) return VM_FAULT_SIGBUS;
  const a = addr - (addr % PAGE);
  const slot = mm.pgd.pteSlot(a, true);
  if (slot === TABLE_OOM) return VM_FAULT_OOM;
  if (mm.pgd.readSlot(slot) !== 0) return VM_FAULT_NOPAGE;
  // insert_pfn() with vma->vm_page_prot: read-only when the driver wants write notification (pfn_mkwrite).
  const rw = vma.vmFlags & VM_SHARED && vma.vmFlags & VM_WRITE && !vmaWantsWritenotify(vma) ? _PAGE_RW : 0;
  mm.pgd.setPte(
    slot,
    pfnPte(pfn, _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED | _PAGE_SPECIAL | _PAGE_PFNMAP | rw),
    vma.vmPkey,
  );
  return VM_FAULT_NOPAGE;
}

/** vm_insert_page(): maps a driver's page (a normal, refcounted mapping). Returns 0 or -errno. */
export function vmInsertPage(mm: MmStruct, vma: Vma, addr: number, page: Page): number {
  if (addr < vma.vmStart || addr >= vma.vmEnd) return -EFAULT;
  if (Atomics.load(mm.mem.flags, page.pfn) & PG_anon) return -EINVAL;
  if (!(vma.vmFlags & VM_MIXEDMAP)) {
    if (vma.vmFlags & VM_PFNMAP) throw new Error("vmInsertPage: VM_PFNMAP VMA (kernel BUG)");
    vma.vmFlags |= VM_MIXEDMAP;
  }
  const slot = mm.pgd.pteSlot(addr - (addr % PAGE), true);
  if (slot === TABLE_OOM) return -ENOMEM;
  if (mm.pgd.readSlot(slot) !== 0) return -EBUSY;
  mm.mem.getPage(page.pfn);
  const rw = vma.vmFlags & VM_SHARED && vma.vmFlags & VM_WRITE ? _PAGE_RW : 0;
  mapPage(mm, vma, slot, page.pfn, rw);
  return 0;
}

/** zap_vma_ptes(): a driver removes PTEs of a VM_PFNMAP VMA. */
export function zapVmaPtes(mm: MmStruct, vma: Vma, address: number, size: number): void {
  if (!(vma.vmFlags & VM_PFNMAP) || address < vma.vmStart || address + size > vma.vmEnd) return;
  zapPageRange(mm, vma, address, address + size);
}
