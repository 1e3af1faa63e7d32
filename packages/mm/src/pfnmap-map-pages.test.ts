// vm_map_pages / vm_map_pages_zero, vm_insert_pages and vmf_insert_pfn_prot as mm sees them (mm/memory.c):
// the bounds __vm_map_pages checks and in which order, what vm_insert_pages leaves mapped and reports
// when a page in the middle fails, validate_page_before_insert's refusals, the references each PTE
// holds until munmap or exit, and the protection and cache bits of an inserted pfn.
import { PhysMemory } from "@faultline/phys";
import { describe, expect, it } from "vitest";
import { A, fakeFile, P } from "../test/syscall-tables";
import {
  _PAGE_PCD,
  _PAGE_PRESENT,
  _PAGE_PWT,
  _PAGE_RW,
  EBUSY,
  EFAULT,
  EINVAL,
  ENXIO,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  Mm,
  Mmu,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  pgprotWritecombine,
  pteFlags,
  ptePfn,
  VM_FAULT_NOPAGE,
  VM_FAULT_SIGBUS,
  VM_IO,
  VM_MAYWRITE,
  VM_MIXEDMAP,
  VM_PFNMAP,
  VM_WRITE,
  type Vma,
} from "./index";
import { ramOnly } from "./phys-access";

const RW = PROT_READ | PROT_WRITE;
const SH = MAP_SHARED | MAP_FIXED;
const BAR = 0xfd000; // a pfn of the PCI hole: no struct page

function boot() {
  const mem = PhysMemory.create({ ramBytes: 16 * 1024 * 1024 });
  const mm = new Mm(ramOnly(mem));
  const mmu = Mmu.forMm(mm);
  return { mem, mm, mmu };
}

/** mmap at `addr` of a device whose ->mmap runs `fn` (its answer is ->mmap's), `pgoff` pages in. */
function mapWith(mm: Mm, addr: number, len: number, prot: number, pgoff: number, fn: (vma: Vma) => number) {
  let seen: Vma | null = null;
  const file = fakeFile({
    mmap: (vma) => {
      seen = vma;
      return fn(vma);
    },
  });
  const r = mm.mmap(addr, len, prot, SH, file, pgoff * P);
  return { r, vma: seen as unknown as Vma };
}

/** `n` driver pages, page i filled with 0x10 + i. */
function driverPages(mem: PhysMemory, n: number) {
  return Array.from({ length: n }, (_, i) => {
    const page = mem.allocPages(0)!;
    page.bytes().fill(0x10 + i);
    return page;
  });
}

const refs = (mem: PhysMemory, pages: { pfn: number }[]) =>
  pages.map((p) => [mem.refcount[p.pfn], mem.mapcount[p.pfn]]);

describe("vm_map_pages / vm_map_pages_zero (__vm_map_pages)", () => {
  it("maps pages[vm_pgoff ..] over the whole VMA with a reference per PTE, dropped by munmap", () => {
    const { mem, mm, mmu } = boot();
    const pages = driverPages(mem, 4);
    const { r, vma } = mapWith(mm, A, 3 * P, RW, 1, (v) => mm.vmMapPages(v, pages, 4, v.vmPgoff));
    expect(r).toBe(A);
    expect(vma.vmFlags & (VM_MIXEDMAP | VM_PFNMAP | VM_IO)).toBe(VM_MIXEDMAP);
    expect([mmu.load8(A), mmu.load8(A + P), mmu.load8(A + 2 * P + 7)]).toEqual([0x11, 0x12, 0x13]);
    mmu.store8(A + P + 5, 0xee);
    expect(pages[2]!.bytes()[5]).toBe(0xee);
    expect(refs(mem, pages)).toEqual([
      [1, 0],
      [2, 1],
      [2, 1],
      [2, 1],
    ]);
    mm.checkInvariants();
    expect(mm.munmap(A, 3 * P)).toBe(0);
    expect(refs(mem, pages)).toEqual(Array(4).fill([1, 0]));
    mm.checkInvariants();
    for (const p of pages) mem.freePages(p.pfn, 0);
  });

  it("vm_map_pages_zero starts at pages[0] whatever vm_pgoff says", () => {
    const { mem, mm, mmu } = boot();
    const pages = driverPages(mem, 2);
    const { r } = mapWith(mm, A, 2 * P, PROT_READ, 7, (v) => mm.vmMapPages(v, pages, 2, 0));
    expect(r).toBe(A);
    expect([mmu.load8(A), mmu.load8(A + P)]).toEqual([0x10, 0x11]);
    mm.exit();
    expect(refs(mem, pages)).toEqual(Array(2).fill([1, 0]));
  });

  it("-ENXIO when the offset is at or past num, then when the VMA is larger than what is left; nothing set", () => {
    const { mem, mm } = boot();
    const pages = driverPages(mem, 4);
    for (const [len, pgoff] of [
      [P, 4], // offset >= num
      [P, 2 ** 40], // far past it
      [3 * P, 2], // 3 pages > 4 - 2
      [5 * P, 0], // larger than the whole object
    ] as const) {
      let flags = -1;
      const { r } = mapWith(mm, A, len, RW, pgoff, (v) => {
        const ret = mm.vmMapPages(v, pages, 4, v.vmPgoff);
        flags = v.vmFlags;
        return ret;
      });
      expect(r).toBe(-ENXIO);
      expect(flags & VM_MIXEDMAP).toBe(0);
    }
    // num = 0: offset 0 >= 0.
    expect(mapWith(mm, A, P, RW, 0, (v) => mm.vmMapPages(v, pages, 0, 0)).r).toBe(-ENXIO);
    expect(refs(mem, pages)).toEqual(Array(4).fill([1, 0]));
    mm.checkInvariants();
  });

  it("returns the first vm_insert_page error; the pages before it stay mapped until exit", () => {
    const { mem, mm, mmu } = boot();
    const pages = driverPages(mem, 3);
    const block = mem.allocPages(1)!; // order 1, not split: its tail page has refcount 0
    const tail = mem.pfnToPage(block.pfn + 1);
    const { r, vma } = mapWith(mm, A, 3 * P, RW, 0, () => 0);
    expect(r).toBe(A);
    expect(mm.vmMapPages(vma, [pages[0]!, tail, pages[2]!], 3, 0)).toBe(-EINVAL);
    expect(vma.vmFlags & VM_MIXEDMAP).toBe(VM_MIXEDMAP);
    expect(mmu.load8(A)).toBe(0x10);
    expect(mm.pgd.getPte(A + P)).toBe(0);
    expect(mm.pgd.getPte(A + 2 * P)).toBe(0);
    expect(refs(mem, pages)).toEqual([
      [2, 1],
      [1, 0],
      [1, 0],
    ]);
    mm.checkInvariants();
    mm.exit();
    expect(refs(mem, pages)).toEqual(Array(3).fill([1, 0]));
    mem.freePages(block.pfn, 1);
  });
});

describe("vm_insert_page(s): validate_page_before_insert", () => {
  it("refuses a page nobody holds and an anonymous page (-EINVAL), a taken PTE (-EBUSY), outside the VMA (-EFAULT)", () => {
    const { mem, mm, mmu } = boot();
    const [page] = driverPages(mem, 1);
    const block = mem.allocPages(1)!;
    const { vma } = mapWith(mm, A, 2 * P, RW, 0, () => 0);
    expect(mm.vmInsertPage(vma, A, mem.pfnToPage(block.pfn + 1))).toBe(-EINVAL);
    // An anonymous page of another mapping.
    const anon = 0x7000_0000_0000;
    mm.mmap(anon, P, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, null, 0);
    mmu.store8(anon, 1);
    const anonPage = mem.pfnToPage(ptePfn(mm.pgd.getPte(anon)));
    expect(mm.vmInsertPage(vma, A, anonPage)).toBe(-EINVAL);
    expect(mm.vmInsertPage(vma, A + 2 * P, page!)).toBe(-EFAULT);
    expect(mm.vmInsertPage(vma, A, page!)).toBe(0);
    expect(mm.vmInsertPage(vma, A, page!)).toBe(-EBUSY);
    expect(refs(mem, [page!])).toEqual([[2, 1]]);
    mm.checkInvariants();
    mm.exit();
    mem.freePages(block.pfn, 1);
    expect(refs(mem, [page!])).toEqual([[1, 0]]);
  });

  it("the zero page: read-only and unreferenced where a mapping may hold it, -EINVAL in a shared writable one", () => {
    const { mem, mm, mmu } = boot();
    const zero = mem.pfnToPage(mem.zeroPfn);
    const ref = mem.refcount[mem.zeroPfn];
    // A read-only mapping that may never become writable (the driver cleared VM_MAYWRITE).
    const ro = mapWith(mm, A, P, PROT_READ, 0, (v) => {
      v.vmFlags &= ~VM_MAYWRITE;
      return mm.vmInsertPages(v, v.vmStart, [zero], { value: 1 });
    });
    expect(ro.r).toBe(A);
    expect(mmu.load8(A)).toBe(0);
    expect(pteFlags(mm.pgd.getPte(A)) & _PAGE_RW).toBe(0);
    expect(mem.refcount[mem.zeroPfn]).toBe(ref);
    // Read-only but VM_MAYWRITE (mprotect could make it writable): refused too.
    expect(mapWith(mm, A + P, P, PROT_READ, 0, (v) => mm.vmInsertPage(v, v.vmStart, zero)).r).toBe(-EINVAL);
    const num = { value: 1 };
    const rw = mapWith(mm, A + P, P, RW, 0, (v) => mm.vmInsertPages(v, v.vmStart, [zero], num));
    expect(rw.r).toBe(-EINVAL);
    expect(num.value).toBe(1);
    mm.checkInvariants();
    mm.exit();
    expect(mem.refcount[mem.zeroPfn]).toBe(ref);
  });
});

describe("vm_insert_pages", () => {
  it("maps num pages across a page-table boundary; num comes back 0; exit drops every reference", () => {
    const { mem, mm, mmu } = boot();
    const pages = driverPages(mem, 10);
    const at = A + 2 * 1024 * 1024 - 4 * P; // pages 4.. land in the next page table
    const num = { value: 10 };
    const { r, vma } = mapWith(mm, at, 10 * P, RW, 0, (v) => mm.vmInsertPages(v, v.vmStart, pages, num));
    expect(r).toBe(at);
    expect(num.value).toBe(0);
    expect(vma.vmFlags & VM_MIXEDMAP).toBe(VM_MIXEDMAP);
    for (let i = 0; i < 10; i++) expect(mmu.load8(at + i * P + 3)).toBe(0x10 + i);
    expect(refs(mem, pages)).toEqual(Array(10).fill([2, 1]));
    mm.checkInvariants();
    mm.exit();
    expect(refs(mem, pages)).toEqual(Array(10).fill([1, 0]));
  });

  it("-EFAULT (num untouched, VM_MIXEDMAP not set) when the range leaves the VMA", () => {
    const { mem, mm } = boot();
    const pages = driverPages(mem, 3);
    const { vma } = mapWith(mm, A, 2 * P, RW, 0, () => 0);
    const num = { value: 3 };
    expect(mm.vmInsertPages(vma, A, pages, num)).toBe(-EFAULT);
    expect(mm.vmInsertPages(vma, A - P, pages, { value: 1 })).toBe(-EFAULT);
    expect(num.value).toBe(3);
    expect(vma.vmFlags & VM_MIXEDMAP).toBe(0);
    // num 0 fits anywhere in the VMA and inserts nothing.
    const none = { value: 0 };
    expect(mm.vmInsertPages(vma, A + P, pages, none)).toBe(0);
    expect(none.value).toBe(0);
    expect(refs(mem, pages)).toEqual(Array(3).fill([1, 0]));
    mm.checkInvariants();
  });

  it("a failure in the middle: the pages before it stay mapped, num counts the failed page and those after it", () => {
    const { mem, mm, mmu } = boot();
    const pages = driverPages(mem, 4);
    const block = mem.allocPages(1)!;
    const { vma } = mapWith(mm, A, 4 * P, RW, 0, () => 0);
    const num = { value: 4 };
    const bad = [pages[0]!, pages[1]!, mem.pfnToPage(block.pfn + 1), pages[3]!];
    expect(mm.vmInsertPages(vma, A, bad, num)).toBe(-EINVAL);
    expect(num.value).toBe(2);
    expect([mmu.load8(A), mmu.load8(A + P)]).toEqual([0x10, 0x11]);
    expect([mm.pgd.getPte(A + 2 * P), mm.pgd.getPte(A + 3 * P)]).toEqual([0, 0]);
    // The caller retries the rest at the first page not inserted: page 3's slot is free, page 2 is.
    const rest = { value: 2 };
    expect(mm.vmInsertPages(vma, A + 2 * P, [pages[2]!, pages[3]!], rest)).toBe(0);
    expect(rest.value).toBe(0);
    // A PTE in the way: -EBUSY, num counts from the busy page on.
    const again = { value: 2 };
    expect(mm.vmInsertPages(vma, A + 3 * P, [pages[3]!], { value: 1 })).toBe(-EBUSY);
    expect(mm.vmInsertPages(vma, A + 2 * P, [pages[2]!, pages[3]!], again)).toBe(-EBUSY);
    expect(again.value).toBe(2);
    expect(refs(mem, pages)).toEqual(Array(4).fill([2, 1]));
    mm.checkInvariants();
    mm.exit();
    expect(refs(mem, pages)).toEqual(Array(4).fill([1, 0]));
    mem.freePages(block.pfn, 1);
  });
});

describe("vmf_insert_pfn_prot", () => {
  const pfnmapDev = (mm: Mm, prot: number) =>
    mapWith(mm, A, 2 * P, prot, 0, (v) => {
      v.vmFlags |= VM_IO | VM_PFNMAP;
      v.vmPageProt = pgprotWritecombine(v.vmPageProt);
      return 0;
    }).vma;

  it("takes the protection of pgprot and the cache mode in force, not pgprot's cache bits", () => {
    const { mm } = boot();
    const vma = pfnmapDev(mm, RW);
    // Read-only in a writable VMA; pgprot asks WC, the memtype in force (none reserved) is UC-.
    expect(mm.vmfInsertPfnProt(vma, A, BAR, pgprotWritecombine(vma.vmPageProt & ~VM_WRITE))).toBe(
      VM_FAULT_NOPAGE,
    );
    const f = pteFlags(mm.pgd.getPte(A));
    expect(f & (_PAGE_PRESENT | _PAGE_RW)).toBe(_PAGE_PRESENT);
    expect(f & (_PAGE_PCD | _PAGE_PWT)).toBe(_PAGE_PCD);
    // vmf_insert_pfn is the same with vm_page_prot: writable.
    expect(mm.vmfInsertPfn(vma, A + P, BAR + 1)).toBe(VM_FAULT_NOPAGE);
    expect(pteFlags(mm.pgd.getPte(A + P)) & _PAGE_RW).toBe(_PAGE_RW);
    // A PTE already there is kept (VM_FAULT_NOPAGE); outside the VMA: VM_FAULT_SIGBUS.
    expect(mm.vmfInsertPfnProt(vma, A, BAR + 5, vma.vmPageProt)).toBe(VM_FAULT_NOPAGE);
    expect(ptePfn(mm.pgd.getPte(A))).toBe(BAR);
    expect(mm.vmfInsertPfnProt(vma, A + 2 * P, BAR, vma.vmPageProt)).toBe(VM_FAULT_SIGBUS);
    mm.checkInvariants();
    mm.exit();
  });

  it("a PROT_NONE pgprot installs an entry the MMU treats as not present", () => {
    const { mm } = boot();
    const vma = pfnmapDev(mm, RW);
    expect(mm.vmfInsertPfnProt(vma, A, BAR, PROT_NONE)).toBe(VM_FAULT_NOPAGE);
    expect(mm.pgd.getPte(A)).not.toBe(0);
    expect(pteFlags(mm.pgd.getPte(A)) & _PAGE_PRESENT).toBe(0);
    mm.exit();
  });
});
