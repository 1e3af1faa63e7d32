// fork (dup_mmap): COW of private memory, sharing of shared memory, and what the child sees.
import { describe, expect, it } from "vitest";
import {
  A,
  at,
  auditEachTest,
  check,
  forkOf,
  P,
  PRIV,
  pfnAt,
  RW,
  SHARED,
  setup,
  world,
} from "../test/fault-world";

auditEachTest();

describe("fork and COW", () => {
  it("both read the same data from one shared frame; a write copies; the other keeps the old data", () => {
    const { mem, mm, mmu } = setup();
    mm.mmap(A, P, RW, PRIV, null, 0);
    mmu.store32(A, 0x11111111);
    const pfn = pfnAt(mm, A);
    const child = forkOf(mm);
    expect(pfnAt(child.mm, A)).toBe(pfn);
    expect(mem.refcount[pfn]).toBe(2);
    expect(mem.mapcount[pfn]).toBe(2);
    expect(child.mmu.load32(A)).toBe(0x11111111);
    expect(mmu.load32(A)).toBe(0x11111111);
    check();

    child.mmu.store32(A, 0x22222222);
    const copy = pfnAt(child.mm, A);
    expect(copy).not.toBe(pfn);
    expect(child.mmu.load32(A)).toBe(0x22222222);
    expect(mmu.load32(A)).toBe(0x11111111);
    expect(mem.refcount[pfn]).toBe(1);
    expect(mem.mapcount[pfn]).toBe(1);
    check();

    // The parent is now the only user: its write reuses the frame (no copy).
    const free = mem.nrFreePages;
    mmu.store32(A, 0x33333333);
    expect(pfnAt(mm, A)).toBe(pfn);
    expect(mem.nrFreePages).toBe(free);
    expect(child.mmu.load32(A)).toBe(0x22222222);
    check();
  });

  it("the parent writes first: it copies, the child keeps the old data", () => {
    const { mm, mmu } = setup();
    mm.mmap(A, P, RW, PRIV, null, 0);
    mmu.store32(A, 7);
    const child = forkOf(mm);
    mmu.store32(A, 8);
    expect(child.mmu.load32(A)).toBe(7);
    expect(mmu.load32(A)).toBe(8);
    check();
  });

  it("an exclusive anon page is reused without a copy when the child is gone", () => {
    const { mem, mm, mmu } = setup();
    mm.mmap(A, P, RW, PRIV, null, 0);
    mmu.store32(A, 5);
    const pfn = pfnAt(mm, A);
    const child = forkOf(mm);
    child.mm.exit();
    world!.procs.pop();
    expect(mem.refcount[pfn]).toBe(1);
    const free = mem.nrFreePages;
    mmu.store32(A, 6);
    expect(pfnAt(mm, A)).toBe(pfn);
    expect(mem.nrFreePages).toBe(free);
    check();
  });

  it("an extra reference (a GUP pin, a driver's get_page) forces a copy though the writer maps the page alone", () => {
    // wp_can_reuse_anon_folio(): a folio with references beyond its mappings is not reused, or the pin
    // holder would see the writer's later stores (the long-standing COW/GUP bug fixed in 5.8-5.19).
    const { mem, mm, mmu } = setup();
    mm.mmap(A, P, RW, PRIV, null, 0);
    mmu.store32(A, 5);
    const pfn = pfnAt(mm, A);
    const child = forkOf(mm);
    child.mm.exit();
    world!.procs.pop();
    expect(mem.mapcount[pfn]).toBe(1);
    mem.getPage(pfn);
    expect(mem.refcount[pfn]).toBe(2);
    mmu.store32(A, 6);
    const copy = pfnAt(mm, A);
    expect(copy).not.toBe(pfn);
    expect(mmu.load32(A)).toBe(6);
    // The pinned frame keeps what the pin holder saw, and only the pin now holds it.
    expect(
      new DataView(mem.frameBytes(pfn).buffer, mem.frameBytes(pfn).byteOffset, 4).getUint32(0, true),
    ).toBe(5);
    expect(mem.refcount[pfn]).toBe(1);
    expect(mem.mapcount[pfn]).toBe(0);
    mem.putPage(pfn);
    check();
  });

  it("shared anonymous memory is visible across fork, both ways", () => {
    const { mm, mmu } = setup();
    mm.mmap(A, 2 * P, RW, SHARED, null, 0);
    mmu.store32(A, 1);
    const child = forkOf(mm);
    expect(child.mmu.load32(A)).toBe(1);
    child.mmu.store32(at(1), 2);
    expect(mmu.load32(at(1))).toBe(2);
    mmu.store32(A, 3);
    expect(child.mmu.load32(A)).toBe(3);
    check();
  });

  it("the zero page is shared by fork without references", () => {
    const { mem, mm, mmu } = setup();
    mm.mmap(A, P, RW, PRIV, null, 0);
    mmu.load8(A);
    const refs = mem.refcount[mem.zeroPfn];
    const child = forkOf(mm);
    expect(child.mmu.load8(A)).toBe(0);
    child.mmu.store8(A, 9);
    expect(mmu.load8(A)).toBe(0);
    expect(mem.refcount[mem.zeroPfn]).toBe(refs);
    check();
  });
});
