import type { PhysAccess } from "@faultline/mm";
import { type MmioPage, type PhysMachine, pageEntryLocation, pageEntryWritable } from "@faultline/phys";

/**
 * mm's view of the physical machine: a page directly backed by a bank (RAM, device RAM, ROM) has a
 * location (bank and offset, phys's encoding.ts), everything else (MMIO, unassigned, sub-page regions)
 * is LOCATION_NONE and is reached one access at a time through the bus. ROM pages are not writable:
 * stores go to the bus, which drops and logs them. A page inside one MMIO region is also handed out
 * resolved (mmioPage), for the MMU's TLB to keep; the onChange listener in kernel.ts flushes every TLB
 * when the FlatView changes.
 */
export function makePhysAccess(phys: PhysMachine): PhysAccess {
  const as = phys.as;
  return {
    mem: phys.mem,
    locatePage(pfn: number): number {
      return pageEntryLocation(as.pageEntry(pfn));
    },
    pageWritable(pfn: number): boolean {
      const e = as.pageEntry(pfn);
      return e < 0 ? true : pageEntryWritable(e);
    },
    physRead(paddr: number, size: 1 | 2 | 4): number {
      return as.physRead(paddr, size) as number;
    },
    physWrite(paddr: number, size: 1 | 2 | 4, value: number): void {
      as.physWrite(paddr, size, value);
    },
    mmioPage(pfn: number): MmioPage | null {
      return as.mmioPage(pfn);
    },
  };
}
