// The zero page's PTE carries the VMA's cache bits: do_anonymous_page() builds it with
// pfn_pte(my_zero_pfn(addr), vma->vm_page_prot) (2.6.10: mk_pte(ZERO_PAGE(addr), vma->vm_page_prot)),
// so a VMA whose vm_page_prot a driver made uncached or write-combining maps the zero page that way.
import { describe, expect, it } from "vitest";
import { A, at, auditEachTest, check, P, pfnAt, RW, setup, world } from "../test/fault-world";
import { fakeFile } from "../test/syscall-tables";
import {
  _PAGE_PAT,
  _PAGE_PCD,
  _PAGE_PWT,
  type Era,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  Mm,
  Mmu,
  pgprotNoncached,
  pgprotWritecombine,
  pteFlags,
} from "./index";
import { ramOnly } from "./phys-access";
import { renderPtdumpUser } from "./ptdump";

auditEachTest();

const CACHE = _PAGE_PAT | _PAGE_PCD | _PAGE_PWT;

/**
 * A mapping whose vm_page_prot carries `prot`'s cache bits. 2.6.10: a driver with no ->nopage (its
 * faults fell back to do_anonymous_page) that rewrites vm_page_prot in ->mmap. Today such a driver VMA
 * gets SIGBUS, so an anonymous private VMA whose vm_page_prot is set as a driver's mmap would set it.
 */
function mapped(era: Era, prot: (p: number) => number, flags = MAP_SHARED) {
  const { mem } = setup();
  const mm = new Mm(ramOnly(mem), { era });
  const mmu = Mmu.forMm(mm);
  world!.procs.push({ mm, mmu });
  if (era === "2.6.10") {
    const file = fakeFile({
      mmap: (vma) => {
        vma.vmPageProt = prot(vma.vmPageProt);
        return 0;
      },
    });
    expect(mm.mmap(A, 2 * P, RW, flags | MAP_FIXED, file, 0)).toBe(A);
  } else {
    expect(mm.mmap(A, 2 * P, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, null, 0)).toBe(A);
    const vma = mm.findVma(A)!;
    vma.vmPageProt = prot(vma.vmPageProt);
  }
  return { mem, mm, mmu };
}

describe("zero page PTE from vm_page_prot", () => {
  for (const era of ["2.6.10", "modern"] as const) {
    it(`${era}: a read of an uncached VMA maps the zero page with PCD (page-table dump shows it)`, () => {
      const { mem, mm, mmu } = mapped(era, pgprotNoncached);
      expect(mmu.load8(at(0, 5))).toBe(0);
      expect(pfnAt(mm, at(0))).toBe(mem.zeroPfn);
      expect(pteFlags(mm.pgd.getPte(at(0))) & CACHE).toBe(_PAGE_PCD);
      expect(renderPtdumpUser(mm.pgd)).toContain(
        "0x0000100000000000-0x0000100000001000           4K USR ro     PCD             x  pte\n",
      );
      mm.munmap(A, 2 * P);
      check();
    });
  }

  it("a write-combining VMA's zero page gets the WC bits (PWT with the default PAT)", () => {
    const { mem, mm, mmu } = mapped("2.6.10", pgprotWritecombine);
    expect(mmu.load32(at(1))).toBe(0);
    expect(pfnAt(mm, at(1))).toBe(mem.zeroPfn);
    expect(pteFlags(mm.pgd.getPte(at(1))) & CACHE).toBe(_PAGE_PWT);
    mm.munmap(A, 2 * P);
    check();
  });

  it("a write-back VMA's zero page has no cache bits", () => {
    const { mem, mm, mmu } = mapped("modern", (p) => p);
    expect(mmu.load8(at(0))).toBe(0);
    expect(pfnAt(mm, at(0))).toBe(mem.zeroPfn);
    expect(pteFlags(mm.pgd.getPte(at(0))) & CACHE).toBe(0);
    mm.munmap(A, 2 * P);
    check();
  });

  it("a write after the read replaces the zero page with a private page of the same cache bits", () => {
    const { mem, mm, mmu } = mapped("modern", pgprotNoncached);
    expect(mmu.load8(at(0))).toBe(0);
    mmu.store8(at(0), 9);
    expect(pfnAt(mm, at(0))).not.toBe(mem.zeroPfn);
    expect(pteFlags(mm.pgd.getPte(at(0))) & CACHE).toBe(_PAGE_PCD);
    expect(mmu.load8(at(0))).toBe(9);
    mm.munmap(A, 2 * P);
    check();
  });
});
