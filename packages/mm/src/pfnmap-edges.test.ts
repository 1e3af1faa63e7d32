// The edges of mm/memory.c's driver helpers that pfnmap-helpers.test.ts and memtype.test.ts leave
// out: running out of memory for a page table in remap_pfn_range (the part mapped so far is zapped and
// the PAT reservation dropped, as remap_pfn_range_notrack and remap_pfn_range_track do), in
// vmf_insert_pfn and vm_insert_page; pfn 0; a pgprot of 0 (PAGE_NONE without VM_SHARED); the BUG_ONs
// of vmf_insert_pfn and vm_insert_page; a partial remap refilling a whole-VMA remap after
// zap_vma_ptes keeps the VMA's pfnmap_track_ctx. Objects that reach PhysMemory (a VMA, a
// pfnmap_track_ctx) are compared by identity into a boolean: a failing toBe() on them would print
// megabytes of typed arrays.
import { __GFP_ZERO, PhysMemory } from "@faultline/phys";
import { describe, expect, it } from "vitest";
import { A, fakeFile, P } from "../test/syscall-tables";
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  VM_FAULT_NOPAGE,
  VM_FAULT_OOM,
  VM_IO,
  VM_MIXEDMAP,
  VM_PFNMAP,
  VM_SHARED,
} from "./constants";
import { ENOMEM } from "./errno";
import { memtypesOf } from "./memtype";
import { Mm } from "./mm";
import type { Vma } from "./mm_types";
import { Mmu } from "./mmu";
import { _PAGE_CACHE_MODE_UC_MINUS, pgprotNoncached } from "./pgprot";
import { ptePfn } from "./pgtable";
import { ramOnly } from "./phys-access";

const RW = PROT_READ | PROT_WRITE;
const SH = MAP_SHARED | MAP_FIXED;
const BAR = 0xfd000; // a pfn of the PCI hole: no struct page
/** The first page of the next 2 MiB region after A: its PTE table does not exist until something maps it. */
const B = A + 512 * P;

function boot(era: "modern" | "2.6.10" = "modern") {
  const mem = PhysMemory.create({ ramBytes: 8 * 1024 * 1024 });
  const free = mem.nrFreePages;
  const mm = new Mm({ ...ramOnly(mem), locatePage: (pfn) => mem.ramLocate(pfn) }, { era });
  return { mem, mm, mmu: Mmu.forMm(mm), mt: memtypesOf(mem), free };
}

/** mmap at `addr` of a driver whose ->mmap runs `fn` (its answer is ->mmap's); the VMA it saw. */
function mapWith(mm: Mm, addr: number, len: number, prot: number, flags: number, fn: (vma: Vma) => number) {
  let seen: Vma | null = null;
  const r = mm.mmap(
    addr,
    len,
    prot,
    flags,
    fakeFile({
      mmap: (vma) => {
        seen = vma;
        return fn(vma);
      },
    }),
    0,
  );
  return { r, vma: seen as Vma | null };
}

/** Takes every free frame; returns them for giving back. */
function exhaust(mem: PhysMemory): number[] {
  const taken: number[] = [];
  for (let pfn = mem.allocPfn(0); pfn >= 0; pfn = mem.allocPfn(0)) taken.push(pfn);
  return taken;
}

/**
 * A machine where the page tables for A's 2 MiB region exist (an anonymous page at A is touched) and
 * no frame is free, so mapping anything at B or above needs a page table that cannot be had.
 */
function starved(era: "modern" | "2.6.10" = "modern") {
  const w = boot(era);
  expect(w.mm.mmap(A, P, RW, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, null, 0)).toBe(A);
  w.mmu.store8(A, 1);
  // A driver's page, allocated while memory was there.
  const page = w.mem.allocPfn(0);
  w.mem.frameBytes(page).fill(0x44);
  const taken = exhaust(w.mem);
  // Out of frames (down to the zones' min watermark, which a page table may not dip into either).
  expect(w.mem.allocPfn(0, __GFP_ZERO)).toBe(-1);
  const giveBack = () => {
    for (const pfn of taken) w.mem.putPage(pfn);
  };
  return { ...w, page, giveBack };
}

describe("remap_pfn_range without memory for a page table", () => {
  it("a whole-VMA remap is -ENOMEM, the page already mapped is zapped, the PAT reservation is dropped; remapping works once memory is back", () => {
    const { mm, mmu, mt, giveBack } = starved();
    let r = 0;
    // [B - P, B + P): the first page's PTE table exists (A's region), the second's cannot be allocated.
    const { vma } = mapWith(mm, B - P, 2 * P, PROT_READ, SH, (v) => {
      r = mm.remapPfnRange(v, v.vmStart, BAR, 2 * P, pgprotNoncached(v.vmPageProt));
      return 0;
    });
    expect(r).toBe(-ENOMEM);
    expect(mm.pgd.getPte(B - P)).toBe(0);
    expect(mm.pgd.getPte(B)).toBe(0);
    // kref_put of the pfnmap_track_ctx: nothing reserved, nothing held by the VMA.
    expect(mt.list()).toHaveLength(0);
    expect(vma!.pfnmapTrackCtx === null).toBe(true);
    giveBack();
    expect(mm.remapPfnRange(vma!, B - P, BAR, 2 * P, pgprotNoncached(vma!.vmPageProt))).toBe(0);
    expect(mt.list()).toEqual([{ start: BAR * P, end: (BAR + 2) * P, type: _PAGE_CACHE_MODE_UC_MINUS }]);
    expect([ptePfn(mm.pgd.getPte(B - P)), ptePfn(mm.pgd.getPte(B))]).toEqual([BAR, BAR + 1]);
    expect(mmu.load8(A)).toBe(1);
    mm.checkInvariants();
    mm.exit();
    expect(mt.list()).toHaveLength(0);
  });

  it("->mmap passing the -ENOMEM on fails the mmap and leaves no reservation", () => {
    const { mm, mt, giveBack } = starved();
    const { r } = mapWith(mm, B - P, 2 * P, PROT_READ, SH, (v) => mm.remapPfnRange(v, v.vmStart, BAR, 2 * P));
    expect(r).toBe(-ENOMEM);
    expect(mm.vmas.find(B - P) === undefined).toBe(true);
    expect(mt.list()).toHaveLength(0);
    giveBack();
    mm.exit();
  });

  it("a partial remap (no reservation of its own) and a 2.6.10 remap (no PAT) are -ENOMEM the same way", () => {
    for (const era of ["modern", "2.6.10"] as const) {
      const { mm, mt, giveBack } = starved(era);
      let r = 0;
      // 3 pages from B - P; the remap covers the first two (partial in both eras).
      const { vma } = mapWith(mm, B - P, 3 * P, PROT_READ, SH, (v) => {
        r = mm.remapPfnRange(v, v.vmStart, BAR, 2 * P);
        return 0;
      });
      expect(r).toBe(-ENOMEM);
      expect(mm.pgd.getPte(B - P)).toBe(0);
      expect(mt.list()).toHaveLength(0);
      // And a whole-VMA remap in 2.6.10, which tracks nothing.
      if (era === "2.6.10") {
        expect(mm.munmap(B - P, 3 * P)).toBe(0);
        const whole = mapWith(mm, B - P, 2 * P, PROT_READ, SH, (v) =>
          mm.remapPfnRange(v, v.vmStart, BAR, 2 * P),
        );
        expect(whole.r).toBe(-ENOMEM);
      }
      giveBack();
      if (era === "modern") {
        expect(mm.remapPfnRange(vma!, B - P, BAR, 2 * P)).toBe(0);
        expect(ptePfn(mm.pgd.getPte(B))).toBe(BAR + 1);
      }
      mm.checkInvariants();
      mm.exit();
    }
  });
});

describe("vmf_insert_pfn and vm_insert_page without memory for a page table", () => {
  it("vmf_insert_pfn is VM_FAULT_OOM and maps nothing; VM_FAULT_NOPAGE once memory is back", () => {
    const { mm, mmu, giveBack } = starved();
    const { vma } = mapWith(mm, B, P, PROT_READ, SH, (v) => {
      v.vmFlags |= VM_PFNMAP | VM_IO;
      return 0;
    });
    expect(mm.vmfInsertPfn(vma!, B, BAR)).toBe(VM_FAULT_OOM);
    expect(mm.pgd.getPte(B)).toBe(0);
    giveBack();
    expect(mm.vmfInsertPfn(vma!, B, BAR)).toBe(VM_FAULT_NOPAGE);
    expect(ptePfn(mm.pgd.getPte(B))).toBe(BAR);
    expect(mmu.load8(A)).toBe(1);
    mm.exit();
  });

  it("vm_insert_page is -ENOMEM and takes no reference on the page; 0 once memory is back", () => {
    const { mm, mem, mmu, page, giveBack } = starved();
    const ref = mem.refcount[page];
    let r = 0;
    const { vma } = mapWith(mm, B, P, RW, SH, (v) => {
      r = mm.vmInsertPage(v, v.vmStart, mem.pfnToPage(page));
      return 0;
    });
    expect(r).toBe(-ENOMEM);
    expect(mm.pgd.getPte(B)).toBe(0);
    expect([mem.refcount[page], mem.mapcount[page]]).toEqual([ref, 0]);
    giveBack();
    expect(mm.vmInsertPage(vma!, B, mem.pfnToPage(page))).toBe(0);
    expect(mmu.load8(B + 9)).toBe(0x44);
    expect([mem.refcount[page], mem.mapcount[page]]).toEqual([ref! + 1, 1]);
    mm.checkInvariants();
    mm.exit();
    expect(mem.refcount[page]).toBe(ref);
    mem.putPage(page);
  });
});

describe("remap_pfn_range: pfn 0, a pgprot of 0, a PTE in the way, refilling after zap_vma_ptes", () => {
  it("pfn 0 is a pfn like any other (a reserved RAM page, mapped in both eras)", () => {
    for (const era of ["modern", "2.6.10"] as const) {
      const { mem, mm, mmu } = boot(era);
      mem.frameBytes(0).fill(0x5e);
      const { r } = mapWith(mm, A, 2 * P, PROT_READ, SH, (v) => mm.remapPfnRange(v, v.vmStart, 0, 2 * P));
      expect(r).toBe(A);
      expect([ptePfn(mm.pgd.getPte(A)), ptePfn(mm.pgd.getPte(A + P))]).toEqual([0, 1]);
      expect(mmu.load8(A + 3)).toBe(0x5e);
      mm.checkInvariants();
      mm.exit();
    }
  });

  it("PAGE_NONE of a VMA without VM_SHARED (pgprot 0) still installs the PTEs, whole VMA or part: mprotect makes them readable", () => {
    // MAP_SHARED of a file opened read-only: no VM_SHARED and no VM_MAYWRITE (do_mmap), so not a COW
    // mapping and a partial remap is allowed; PROT_NONE gives vm_page_prot 0.
    const { mem, mm, mmu } = boot();
    const p0 = mem.allocPfn(0);
    const p1 = mem.allocPfn(0);
    mem.frameBytes(p0).fill(0x61);
    mem.frameBytes(p1).fill(0x62);
    const ro = (fn: (v: Vma) => number) => fakeFile({ writable: false, mmap: (v) => fn(v) });
    const prots: number[] = [];
    const whole = ro((v) => {
      prots.push(v.vmPageProt, v.vmFlags & VM_SHARED);
      return mm.remapPfnRange(v, v.vmStart, p0, P);
    });
    const part = ro((v) => mm.remapPfnRange(v, v.vmStart + P, p1, P));
    expect(mm.mmap(A, P, PROT_NONE, SH, whole, 0)).toBe(A);
    expect(mm.mmap(A + 4 * P, 2 * P, PROT_NONE, SH, part, 0)).toBe(A + 4 * P);
    expect(prots).toEqual([0, 0]);
    expect(ptePfn(mm.pgd.getPte(A))).toBe(p0);
    expect(ptePfn(mm.pgd.getPte(A + 5 * P))).toBe(p1);
    expect(mm.mprotect(A, P, PROT_READ)).toBe(0);
    expect(mm.mprotect(A + 4 * P, 2 * P, PROT_READ)).toBe(0);
    expect(mmu.load8(A)).toBe(0x61);
    expect(mmu.load8(A + 5 * P)).toBe(0x62);
    mm.checkInvariants();
    mm.exit();
    mem.putPage(p0);
    mem.putPage(p1);
  });

  it("a partial remap over an existing PTE is the kernel BUG too (no reservation to drop), the range mapped so far undone", () => {
    for (const era of ["modern", "2.6.10"] as const) {
      const { mm } = boot(era);
      let err: unknown = null;
      mapWith(mm, A, 3 * P, PROT_READ, SH, (v) => {
        expect(mm.remapPfnRange(v, v.vmStart + P, BAR, P)).toBe(0);
        try {
          mm.remapPfnRange(v, v.vmStart, BAR, 2 * P);
        } catch (e) {
          err = e;
        }
        return 0;
      });
      expect(String(err)).toMatch(/remapPfnRange: a PTE already exists at 100000001000/);
      expect(mm.pgd.getPte(A)).toBe(0);
      expect(ptePfn(mm.pgd.getPte(A + P))).toBe(BAR);
      mm.exit();
    }
  });

  it("refilling part of a whole-VMA remap after zap_vma_ptes keeps the VMA's reservation until the VMA goes", () => {
    const { mm, mmu, mt } = boot();
    const { vma } = mapWith(mm, A, 2 * P, PROT_READ, SH, (v) =>
      mm.remapPfnRange(v, v.vmStart, BAR, 2 * P, pgprotNoncached(v.vmPageProt)),
    );
    const ctx = vma!.pfnmapTrackCtx;
    expect(ctx !== null).toBe(true);
    mm.zapVmaPtes(vma!, A + P, P);
    expect(mm.pgd.getPte(A + P)).toBe(0);
    // pfnmap_setup_cachemode: the UC- reserved above is the type in force, so the refill agrees.
    expect(mm.remapPfnRange(vma!, A + P, BAR + 1, P)).toBe(0);
    expect(vma!.pfnmapTrackCtx === ctx).toBe(true);
    expect(ptePfn(mm.pgd.getPte(A + P))).toBe(BAR + 1);
    expect(mmu.load8(A + P)).toBe(0xff); // ramOnly's device memory reads as all ones
    expect(mt.list()).toHaveLength(1);
    mm.checkInvariants();
    expect(mm.munmap(A, 2 * P)).toBe(0);
    expect(mt.list()).toHaveLength(0);
    mm.exit();
  });
});

describe("the BUG_ONs of vmf_insert_pfn and vm_insert_page", () => {
  it("vmf_insert_pfn in a private VM_PFNMAP VMA is a kernel BUG (is_cow_mapping), even read-only", () => {
    for (const prot of [RW, PROT_READ]) {
      const { mm } = boot();
      const { vma } = mapWith(mm, A, P, prot, MAP_PRIVATE | MAP_FIXED, (v) => {
        v.vmFlags |= VM_PFNMAP | VM_IO;
        return 0;
      });
      expect(() => mm.vmfInsertPfn(vma!, A, BAR)).toThrow(
        "vmfInsertPfnProt: VM_PFNMAP on a private writable mapping (kernel BUG)",
      );
      expect(mm.pgd.getPte(A)).toBe(0);
      mm.exit();
    }
  });

  it("vmf_insert_pfn of a pfn with a struct page into a VM_MIXEDMAP VMA is a kernel BUG; device pfns go in", () => {
    const { mem, mm, mmu } = boot();
    const page = mem.allocPfn(0);
    const { vma } = mapWith(mm, A, 2 * P, PROT_READ, SH, (v) => {
      v.vmFlags |= VM_MIXEDMAP;
      return 0;
    });
    expect(() => mm.vmfInsertPfn(vma!, A, page)).toThrow(
      `vmfInsertPfnProt: pfn 0x${page.toString(16)} has a struct page in a VM_MIXEDMAP VMA (kernel BUG)`,
    );
    expect(mm.pgd.getPte(A)).toBe(0);
    expect(mem.pageCount(page)).toBe(1);
    // A pfn without a struct page (device memory) is what the call is for.
    expect(mm.vmfInsertPfn(vma!, A + P, BAR)).toBe(VM_FAULT_NOPAGE);
    expect(mmu.load8(A + P)).toBe(0xff);
    mm.exit();
    mem.putPage(page);
  });

  it("vmf_insert_pfn over a present PTE leaves the entry as it was", () => {
    const { mm } = boot();
    const { vma } = mapWith(mm, A, P, RW, SH, (v) => {
      v.vmFlags |= VM_PFNMAP | VM_IO;
      return 0;
    });
    expect(mm.vmfInsertPfn(vma!, A, BAR)).toBe(VM_FAULT_NOPAGE);
    const pte = mm.pgd.getPte(A);
    expect(mm.vmfInsertPfn(vma!, A + 8, BAR + 1)).toBe(VM_FAULT_NOPAGE);
    expect(mm.pgd.getPte(A)).toBe(pte);
    expect(ptePfn(pte)).toBe(BAR);
    mm.exit();
  });

  it("vm_insert_page checks VM_PFNMAP only while setting VM_MIXEDMAP: a VMA that already has VM_MIXEDMAP is not checked again", () => {
    const { mem, mm, mmu } = boot();
    const page = mem.allocPfn(0);
    mem.frameBytes(page).fill(0x71);
    const { vma } = mapWith(mm, A, P, PROT_READ, SH, (v) => {
      v.vmFlags |= VM_MIXEDMAP | VM_PFNMAP;
      return 0;
    });
    expect(mm.vmInsertPage(vma!, A, mem.pfnToPage(page))).toBe(0);
    expect(mmu.load8(A)).toBe(0x71);
    expect(vma!.vmFlags & (VM_MIXEDMAP | VM_PFNMAP)).toBe(VM_MIXEDMAP | VM_PFNMAP);
    mm.exit();
    mem.putPage(page);
  });
});
