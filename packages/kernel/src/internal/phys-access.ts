import type { PhysAccess } from "@faultline/mm";
import { type PhysMachine, pageEntryBank, pageEntryOffset, pageEntryWritable } from "@faultline/phys";

const TWO32 = 2 ** 32;

/**
 * mm's view of the physical machine: a page directly backed by a bank (RAM, device RAM, ROM) is
 * located as bank * 2^32 + offset, everything else (MMIO, unassigned, sub-page regions) is -1 and is
 * reached one access at a time through the bus. ROM pages are not writable: stores go to the bus,
 * which drops and logs them.
 */
export function makePhysAccess(phys: PhysMachine): PhysAccess {
  const as = phys.as;
  return {
    mem: phys.mem,
    locatePage(pfn: number): number {
      const e = as.pageEntry(pfn);
      return e < 0 ? -1 : pageEntryBank(e) * TWO32 + pageEntryOffset(e);
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
  };
}
