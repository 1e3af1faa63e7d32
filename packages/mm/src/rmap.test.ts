// unmap_mapping_range: the one walk that revokes an object's pages in every process that maps it.
import { __GFP_ZERO, PhysMemory } from "@faultline/phys";
import { describe, expect, it } from "vitest";
import { A, fakeFile, P } from "../test/syscall-tables";
import { MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from "./constants";
import { unmapMappingRange } from "./index";
import { Mm } from "./mm";
import { Mmu } from "./mmu";
import { ramOnly } from "./phys-access";

describe("unmapMappingRange", () => {
  it("zaps the pages of the range in every mm, keeps COW copies unless evenCows, and the next access faults again", () => {
    const mem = PhysMemory.create({ ramBytes: 16 * 1024 * 1024 });
    const free = mem.nrFreePages;
    // A driver with four pages of its own, handed out by ->fault.
    const pages = [0, 1, 2, 3].map(() => mem.allocPfn(0, __GFP_ZERO));
    let faults = 0;
    const f = fakeFile({
      mmap: (vma) => {
        vma.vmOps = {
          fault: (vmf) => {
            faults++;
            const pfn = pages[vmf.pgoff]!;
            mem.getPage(pfn);
            vmf.page = mem.pfnToPage(pfn);
            return 0;
          },
        };
        return 0;
      },
    });
    const a = new Mm(ramOnly(mem));
    const b = new Mm(ramOnly(mem));
    const ma = Mmu.forMm(a);
    const mb = Mmu.forMm(b);
    expect(a.mmap(A, 4 * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, f, 0)).toBe(A);
    expect(b.mmap(A, 4 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, f, 0)).toBe(A);
    for (let i = 0; i < 4; i++) {
      ma.load32(A + i * P);
      mb.load32(A + i * P);
    }
    mb.store32(A + 2 * P, 7); // b's private COW copy of page 2
    expect(faults).toBe(8); // the store copies the page it already has (do_wp_page), no ->fault
    const present = (mm: Mm, i: number) => mm.pgd.getPte(A + i * P) !== 0;

    // Bytes [P + 100, 3P): the page holding the start, and the length rounded up to pages → pages 1, 2.
    unmapMappingRange(f.mapping, P + 100, 2 * P - 100);
    expect([0, 1, 2, 3].map((i) => present(a, i))).toEqual([true, false, false, true]);
    expect([0, 1, 2, 3].map((i) => present(b, i))).toEqual([true, false, true, true]);
    expect(mb.load32(A + 2 * P)).toBe(7);
    unmapMappingRange(f.mapping, 0, 0, true); // to the end, COW copies too (truncation)
    expect([0, 1, 2, 3].map((i) => present(b, i))).toEqual([false, false, false, false]);
    ma.load32(A + P);
    expect(faults).toBe(9);
    a.checkInvariants();
    b.checkInvariants();
    a.exit();
    b.exit();
    for (const pfn of pages) mem.putPage(pfn);
    expect(mem.nrFreePages).toBe(free);
  });
});
