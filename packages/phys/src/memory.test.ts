import { describe, expect, it } from "vitest";
import {
  __GFP_MEMALLOC,
  __GFP_ZERO,
  MAX_ORDER,
  PAGE_SIZE,
  PG_reserved,
  PhysError,
  PhysMemory,
} from "./index";

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

describe("PhysMemory", () => {
  it("boots 256 MiB by default with the zero page reserved", () => {
    const mem = PhysMemory.create();
    expect(mem.ramBytes).toBe(256 * 1024 * 1024);
    expect(mem.totalRamPages).toBe(65536 - 96 - 2); // the ISA hole hides 96 pages, pfn 0 and the zero page are reserved
    expect(mem.nrFreePages).toBe(mem.totalRamPages);
    expect(mem.frameBytes(mem.zeroPfn).every((b) => b === 0)).toBe(true);
    mem.checkInvariants();
  });

  it("allocates, splits and coalesces", () => {
    const mem = PhysMemory.create({ ramBytes: 16 * 1024 * 1024 });
    const before = mem.buddyinfo();
    const p = mem.allocPfn(0, __GFP_ZERO);
    expect(p).toBeGreaterThan(0);
    expect(mem.pageCount(p)).toBe(1);
    mem.checkInvariants();
    mem.freePages(p, 0);
    expect(mem.buddyinfo()).toEqual(before);
    mem.checkInvariants();
  });

  it("refuses bad frees and refcount underflow, leaving state unchanged", () => {
    const mem = PhysMemory.create({ ramBytes: 4 * 1024 * 1024 });
    const p = mem.allocPfn(2);
    expect(() => mem.freePages(p, 1)).toThrow(/allocated with order 2/);
    expect(() => mem.freePages(p + 1, 0)).toThrow(/not allocated/);
    mem.freePages(p, 2);
    expect(() => mem.freePages(p, 2)).toThrow(PhysError);
    expect(() => mem.putPage(p)).toThrow(/below zero/);
    mem.checkInvariants();
    expect(mem.allocPfn(MAX_ORDER + 1)).toBe(-1);
  });

  it("refuses getPage on free and tail frames, and putPage below the last reference, unchanged", () => {
    const mem = PhysMemory.create({ ramBytes: 4 * MiB });
    const p = mem.allocPfn(1);
    const free = mem.allocPfn(0);
    mem.freePages(free, 0);
    expect(() => mem.getPage(free)).toThrow(/use after free/);
    expect(() => mem.getPage(p + 1)).toThrow(/tail page.*splitPage/);
    expect(mem.pageCount(p + 1)).toBe(0);
    expect(() => mem.putPage(p + 1)).toThrow(/below zero/);
    mem.getPage(p);
    expect(mem.putPage(p)).toBe(false);
    expect(mem.putPage(p)).toBe(true);
    expect(() => mem.putPage(p)).toThrow(PhysError);
    mem.checkInvariants();
  });

  it("quarantinePage takes a frame out of circulation: free, allocated tail, never-touched, reserved", () => {
    const mem = PhysMemory.create({ ramBytes: 16 * MiB });
    const total = mem.nrFreePages;
    // A frame inside a free block: split off it (take_page_off_buddy).
    const f = mem.allocPfn(3);
    mem.freePages(f, 3);
    expect(mem.quarantinePage(f + 5)).toBe(true);
    expect(mem.quarantinePage(f + 5)).toBe(false);
    expect(mem.nrFreePages).toBe(total - 1);
    mem.checkInvariants();
    // A tail of an allocated block: freeing the block frees everything else.
    const b = mem.allocPfn(2);
    expect(mem.quarantinePage(b + 2)).toBe(true);
    mem.checkInvariants();
    mem.freePages(b, 2);
    expect(mem.nrFreePages).toBe(total - 2);
    mem.checkInvariants();
    // A frame in the never-touched middle of RAM, and a reserved one (stays reserved).
    const high = mem.maxPfn - 1500;
    expect(mem.quarantinePage(high)).toBe(true);
    expect(mem.quarantinePage(0)).toBe(true);
    expect(mem.nrQuarantinedPages).toBe(4);
    expect(mem.nrFreePages).toBe(total - 3);
    mem.checkInvariants();
    const got = new Set<number>();
    for (let p = mem.allocPfn(0, __GFP_MEMALLOC); p >= 0; p = mem.allocPfn(0, __GFP_MEMALLOC)) got.add(p);
    expect(got.size).toBe(total - 3);
    for (const q of [f + 5, b + 2, high, 0]) expect(got.has(q)).toBe(false);
    for (const p of got) mem.putPage(p);
    expect(mem.nrFreePages).toBe(total - 3);
    mem.checkInvariants();
  });

  it("splitPage turns an order-2 block into four order-0 pages freed one by one", () => {
    const mem = PhysMemory.create({ ramBytes: 4 * MiB });
    const before = mem.buddyinfo();
    const p = mem.allocPfn(2);
    mem.splitPage(p, 2);
    for (let i = 0; i < 4; i++) expect(mem.pageCount(p + i)).toBe(1);
    expect(() => mem.freePages(p, 2)).toThrow(/allocated with order 0/);
    mem.checkInvariants();
    for (const i of [2, 0, 3, 1]) mem.freePages(p + i, 0);
    expect(mem.buddyinfo()).toEqual(before);
    mem.checkInvariants();
  });

  it("splitPage keeps a quarantined tail page out of circulation: freed, it never returns to the free lists", () => {
    const mem = PhysMemory.create({ ramBytes: 4 * MiB });
    const p = mem.allocPfn(2);
    expect(mem.quarantinePage(p + 2)).toBe(true);
    mem.splitPage(p, 2);
    expect(mem.isQuarantined(p + 2)).toBe(true);
    mem.checkInvariants();
    const free = mem.nrFreePages;
    for (const i of [0, 1, 2, 3]) mem.freePages(p + i, 0);
    // bad_page(): the poisoned frame is leaked, its three neighbours come back.
    expect(mem.nrFreePages).toBe(free + 3);
    expect(mem.isQuarantined(p + 2)).toBe(true);
    expect(mem.nrQuarantinedPages).toBe(1);
    mem.checkInvariants();
    for (let n = mem.nrFreePages; n > 0; n--) expect(mem.allocPfn(0, __GFP_MEMALLOC)).not.toBe(p + 2);
  });

  it("pfnValid is exactly RAM and the ISA hole", () => {
    const mem = PhysMemory.create({ ramBytes: 64 * GiB });
    expect(mem.pfnValid(0xa0)).toBe(true);
    expect(mem.flags[0xa0]! & PG_reserved).toBe(PG_reserved);
    expect(mem.pfnValid(0xc0000 - 1)).toBe(true);
    // The 32-bit PCI hole, and the 64-bit BAR window right above RAM inside RAM's last section.
    expect(mem.pfnValid(0xc0000)).toBe(false);
    const top = mem.ramRanges.at(-1)!.end / PAGE_SIZE;
    expect(mem.pfnValid(top - 1)).toBe(true);
    expect(mem.pfnValid(top)).toBe(false);
    expect(() => mem.pfnToPage(top)).toThrow(/not system memory \(PCI MMIO\); use remapPfnRange/);
  });

  it("runs the whole of a small machine dry and gets every frame back", () => {
    const mem = PhysMemory.create({ ramBytes: 2 * MiB });
    const before = mem.buddyinfo();
    const got: number[] = [];
    for (let p = mem.allocPfn(0, __GFP_MEMALLOC); p >= 0; p = mem.allocPfn(0, __GFP_MEMALLOC)) got.push(p);
    expect(got.length).toBe(mem.totalRamPages);
    expect(new Set(got).size).toBe(got.length);
    expect(mem.nrFreePages).toBe(0);
    mem.checkInvariants();
    for (const p of got) mem.freePages(p, 0);
    expect(mem.buddyinfo()).toEqual(before);
    mem.checkInvariants();
  });

  it("64 GiB boots touching almost nothing, and hands out untouched blocks lazily", () => {
    // Counted in struct pages the model writes, not in host RSS or milliseconds: a frame whose struct
    // page was never written costs the host nothing (zero-filled buffers are committed on first write).
    const mem = PhysMemory.create({ ramBytes: 64 * GiB });
    expect(mem.totalRamPages).toBe((64 * GiB) / PAGE_SIZE - 96 - 2);
    expect(mem.nrFreePages).toBe(mem.totalRamPages);
    const hi = mem.ramRanges.at(-1)!;
    expect(hi.start).toBe(2 ** 32);
    // Boot writes struct pages only at the unaligned edges of each RAM range and the first MiB.
    const touchedAtBoot = mem.totalRamPages - mem.nrUntouchedPages;
    expect(touchedAtBoot).toBeLessThan(4 * (1 << MAX_ORDER));
    expect(mem.nrUntouchedPages).toBeGreaterThan(0.99 * mem.totalRamPages);

    // 400 MiB of MAX_ORDER blocks, unwritten: taken from the untouched middle, one block each.
    const before = mem.buddyinfo();
    const blocks = Array.from({ length: 100 }, () => mem.allocPfn(MAX_ORDER));
    expect(blocks.every((p) => p >= 0 && p % (1 << MAX_ORDER) === 0)).toBe(true);
    expect(new Set(blocks).size).toBe(100);
    expect(mem.totalRamPages - mem.nrUntouchedPages - touchedAtBoot).toBe(100 * (1 << MAX_ORDER));
    mem.checkInvariants();
    for (const p of blocks) mem.freePages(p, MAX_ORDER);
    expect(mem.buddyinfo()).toEqual(before);
    mem.checkInvariants();
  });
});
