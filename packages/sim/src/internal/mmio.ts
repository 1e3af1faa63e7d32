import {
  _PAGE_PRESENT,
  _PAGE_RW,
  _PAGE_USER,
  FAULT_OK,
  FAULT_SEGV_ACCERR,
  FAULT_SEGV_MAPERR,
  pkruAllows,
  pteFlags,
  ptePfn,
} from "@faultline/mm";
import { offsetInPage, PAGE_SIZE, physOf } from "@faultline/phys";
import type { SimKernel } from "../kernel-port";

/**
 * The physical address behind a worker's MMIO access at `vaddr`, walked in the process's own page
 * tables with the rights the access needs (present, user, writable for a store, a protection key
 * its PKRU allows), as its CPU did before asking; or minus the fault result to deliver. A worker
 * never names a physical address: whatever it sends, it reaches only what its mappings allow. The
 * fault handler gets one chance first (a driver may have zapped the PTE since the worker's walk).
 */
export function mmioTranslate(
  kernel: SimKernel,
  pid: number,
  vaddr: number,
  size: number,
  write: boolean,
): number {
  if (!(size === 1 || size === 2 || size === 4)) return -FAULT_SEGV_ACCERR;
  if (!Number.isInteger(vaddr) || vaddr < 0 || vaddr >= 2 ** 47 || offsetInPage(vaddr) + size > PAGE_SIZE)
    return -FAULT_SEGV_MAPERR;
  const mm = kernel.mm(pid);
  for (let attempt = 0; attempt < 2; attempt++) {
    const slot = mm.pgd.pteSlot(vaddr, false);
    const pte = slot < 0 ? 0 : mm.pgd.readSlot(slot);
    const need = _PAGE_PRESENT | _PAGE_USER | (write ? _PAGE_RW : 0);
    if (
      (pteFlags(pte) & need) === need &&
      (!mm.pkeys.enabled || pkruAllows(mm.pkeys.value, mm.pgd.readPkey(slot), write))
    )
      return physOf(ptePfn(pte)) + offsetInPage(vaddr);
    if (attempt === 1) break;
    const r = kernel.target(pid).fault(vaddr, write);
    if (r !== FAULT_OK) return -r;
  }
  return -FAULT_SEGV_ACCERR;
}
