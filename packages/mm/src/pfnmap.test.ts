// The helpers drivers map memory with (mm/memory.c): what the PTEs they install allow.
import { PhysMemory } from "@faultline/phys";
import { describe, expect, it } from "vitest";
import { A, fakeFile, P } from "../test/syscall-tables";
import { MAP_FIXED, MAP_SHARED, PROT_NONE, PROT_READ } from "./constants";
import { Mm } from "./mm";
import { Mmu } from "./mmu";
import { ramOnly } from "./phys-access";
import { SignalError } from "./signal";

describe("remap_pfn_range", () => {
  for (const era of ["modern", "2.6.10"] as const) {
    it(`honours a PROT_NONE VMA's PAGE_NONE: reads fault until mprotect allows them (${era})`, () => {
      const mem = PhysMemory.create({ ramBytes: 16 * 1024 * 1024 });
      const free = mem.nrFreePages;
      // A reserved-looking device page: a pfn without a struct page, mapped in both eras (LDD3's
      // /dev/mem of a PCI BAR), holding a known value.
      const pfn = 0xfe000;
      const mm = new Mm(
        {
          ...ramOnly(mem),
          locatePage: () => -1,
          physRead: (paddr: number) => (paddr === pfn * P ? 0x5a5a5a5a : 0),
          physWrite: () => {},
        },
        { era },
      );
      const devMem = fakeFile({
        mmap: (vma) => vma.vmMm.remapPfnRange(vma, vma.vmStart, pfn, vma.vmEnd - vma.vmStart),
      });
      const mmu = Mmu.forMm(mm);
      expect(mm.mmap(A, P, PROT_NONE, MAP_SHARED | MAP_FIXED, devMem, 0)).toBe(A);
      // pfn_pte(pfn, vma->vm_page_prot) with PAGE_NONE: the entry is not present to the MMU, and the
      // fault is refused by the VMA's flags (access_error).
      let sig: SignalError | null = null;
      try {
        mmu.load32(A);
      } catch (e) {
        if (!SignalError.is(e)) throw e;
        sig = e;
      }
      expect(sig && `${sig.signal} ${sig.code}`).toBe("SIGSEGV SEGV_ACCERR");
      expect(mm.mprotect(A, P, PROT_READ)).toBe(0);
      expect(mmu.load32(A)).toBe(0x5a5a5a5a);
      mm.checkInvariants();
      mm.exit();
      expect(mem.nrFreePages).toBe(free);
    });
  }
});
