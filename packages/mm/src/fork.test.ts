// fork (dup_mmap): COW of private memory, sharing of shared memory, and what the child sees.
import { PhysMemory } from "@faultline/phys";
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
import { ENOMEM, MADV_DONTFORK, MAP_NORESERVE, Mm, PROT_READ, ramOnly } from "./index";

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

// dup_mmap() charges the child's copy of each VM_ACCOUNT VMA to the commit (security_vm_enough_memory_mm),
// one VMA at a time: under the overcommit heuristic a VMA larger than RAM fails the fork although each
// mmap that built it passed. Linux 6.18.44 (two merged private writable maps of 60% of RAM + swap): fork
// returns -ENOMEM.
describe("fork and the commit charge", () => {
  const MiB = 1024 * 1024;

  it("an accounted VMA larger than RAM (built by two mmaps that merged) fails the fork with -ENOMEM; the parent is intact", () => {
    const { mem, mm, mmu } = setup();
    expect(mm.mmap(A, 20 * MiB, RW, PRIV, null, 0)).toBe(A);
    expect(mm.mmap(A + 20 * MiB, 20 * MiB, RW, PRIV, null, 0)).toBe(A + 20 * MiB);
    expect(mm.vmas.size).toBe(1);
    mmu.store32(A, 5);
    const free = mem.nrFreePages;
    expect(mm.fork()).toBe(-ENOMEM);
    // Nothing of the half-built child is left: no frame, no reference, the parent's PTE still writable.
    expect(mem.nrFreePages).toBe(free);
    mmu.store32(A, 6);
    expect(mmu.load32(A)).toBe(6);
    check();
    // Split in two (the read-only half stays accounted), each fits the heuristic: the fork goes through.
    expect(mm.mprotect(A + 20 * MiB, 20 * MiB, PROT_READ)).toBe(0);
    expect(mm.vmas.size).toBe(2);
    const child = forkOf(mm);
    expect(child.mmu.load32(A)).toBe(6);
    check();
  });

  it("what is not accounted is not charged: MAP_NORESERVE, read-only, shared, MADV_DONTFORK; the machine's overcommit option reaches the child", () => {
    const { mm } = setup();
    expect(mm.mmap(A, 40 * MiB, RW, PRIV | MAP_NORESERVE, null, 0)).toBe(A);
    expect(mm.mmap(at(0x4000), 40 * MiB, PROT_READ, PRIV, null, 0)).toBe(at(0x4000));
    const c1 = forkOf(mm);
    expect(c1.mm.vmas.size).toBe(2);
    expect(mm.mmap(at(0x8000), 20 * MiB, RW, PRIV, null, 0)).toBe(at(0x8000));
    expect(mm.mmap(at(0x8000) + 20 * MiB, 20 * MiB, RW, PRIV, null, 0)).toBe(at(0x8000) + 20 * MiB);
    expect(mm.fork()).toBe(-ENOMEM);
    expect(mm.madvise(at(0x8000), 40 * MiB, MADV_DONTFORK)).toBe(0);
    expect(forkOf(mm).mm.vmas.size).toBe(2);
    check();

    const mem = PhysMemory.create({ ramBytes: 32 * 1024 * 1024 });
    const big = new Mm(ramOnly(mem), { overcommitPages: Number.POSITIVE_INFINITY });
    expect(big.mmap(A, 20 * MiB, RW, PRIV, null, 0)).toBe(A);
    expect(big.mmap(A + 20 * MiB, 20 * MiB, RW, PRIV, null, 0)).toBe(A + 20 * MiB);
    const child = big.fork();
    expect(child).toBeInstanceOf(Mm);
    const grandchild = (child as Mm).fork();
    expect(grandchild).toBeInstanceOf(Mm);
    (grandchild as Mm).exit();
    (child as Mm).exit();
    big.exit();
    mem.checkInvariants();
  });
});
