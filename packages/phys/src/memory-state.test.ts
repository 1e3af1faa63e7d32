import { describe, expect, it } from "vitest";
import { PhysMemory } from "./memory";
import type { PhysMemoryState } from "./memory-state";

const RAM = 16 * 1024 * 1024;

describe("PhysMemory.saveState / restoreState", () => {
  it("restores the memmap, the allocator and the touched frames onto a fresh memory", () => {
    const a = PhysMemory.create({ ramBytes: RAM });
    const pfns = [a.allocPfn(0), a.allocPfn(3), a.allocPfn(10), a.allocPfn(0)];
    a.frameBytes(pfns[0]!).set([1, 2, 3]);
    a.frameBytes(pfns[2]! + 5).fill(0x5a);
    a.getPage(pfns[3]!);
    a.freePages(pfns[1]!, 3);
    const s = a.saveState();
    const b = PhysMemory.create({ ramBytes: RAM });
    b.allocPfn(2); // the fresh memory's own use is overwritten
    b.restoreState(s);
    b.checkInvariants();
    for (const k of ["refcount", "mapcount", "flags", "order", "next", "prev"] as const)
      expect(b[k]).toEqual(a[k]);
    expect(b.nrFreePages).toBe(a.nrFreePages);
    expect(b.nrUntouchedPages).toBe(a.nrUntouchedPages);
    expect([...b.frameBytes(pfns[0]!).subarray(0, 4)]).toEqual([1, 2, 3, 0]);
    expect(b.frameBytes(pfns[2]! + 5).every((x) => x === 0x5a)).toBe(true);
    // Both allocate the same frame next.
    expect(b.allocPfn(0)).toBe(a.allocPfn(0));
  });

  it("stores only touched, non-zero frames and memmap chunks", () => {
    const a = PhysMemory.create({ ramBytes: 1024 * 1024 * 1024 });
    const s = a.saveState();
    expect(s.frames.length).toBe(0);
    expect(s.memmap.reduce((n, m) => n + m.data.length, 0)).toBeLessThan(64 * 1024);
  });

  it("refuses a hostile state with a PhysError and leaves the memory as it was", () => {
    const a = PhysMemory.create({ ramBytes: RAM });
    a.frameBytes(a.allocPfn(0)).fill(7);
    const good = a.saveState();
    const b = PhysMemory.create({ ramBytes: RAM });
    const before = b.saveState();
    const bad: Array<[Partial<PhysMemoryState> | null, RegExp]> = [
      [null, /not a map/],
      [{ ramBytes: RAM * 2 }, /ramBytes/],
      [{ frameRuns: [b.maxPfn + 5, 1] }, /out of order or range/],
      [{ frameRuns: [0xa0, 1], frames: new Uint8Array(4096) }, /not System RAM/],
      [{ frames: new Uint8Array(3) }, /frames/],
      [{ ctl: new Uint8Array(2) }, /allocator block/],
      [{ memmap: [{ chunks: [1e9], data: new Uint8Array(0) }] as never }, /memmap/],
    ];
    for (const [patch, msg] of bad) {
      const s = patch === null ? null : { ...good, ...patch };
      expect(() => b.restoreState(s)).toThrow(msg);
      expect(b.saveState()).toEqual(before);
    }
  });
});
