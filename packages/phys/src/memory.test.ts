import { describe, expect, it } from "vitest";
import { __GFP_ZERO, MAX_ORDER, PAGE_SIZE, PhysError, PhysMemory } from "./index";

describe("PhysMemory", () => {
  it("boots 256 MiB by default with the zero page reserved", () => {
    const mem = PhysMemory.create();
    expect(mem.ramBytes).toBe(256 * 1024 * 1024);
    expect(mem.totalRamPages).toBe(65536 - 2);
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

  it("64 GiB boots fast and lazily", () => {
    const t0 = performance.now();
    const mem = PhysMemory.create({ ramBytes: 64 * 1024 ** 3 });
    const ms = performance.now() - t0;
    expect(ms).toBeLessThan(1000);
    expect(mem.totalRamPages).toBe((64 * 1024 ** 3) / PAGE_SIZE - 2);
    const hi = mem.ramRanges.at(-1)!;
    expect(hi.start).toBe(2 ** 32);
  });
});
