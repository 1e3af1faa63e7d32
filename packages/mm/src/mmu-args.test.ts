// What the MMU's accessors do with arguments that are not what C would pass (issue 9 §2): a
// TypeError naming the accessor and the argument, the process alive and memory unchanged; an integer
// address outside user space is a fault (SIGSEGV), as on the CPU.
import { PhysMemory } from "@faultline/phys";
import { describe, expect, it } from "vitest";
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from "./constants";
import { Mm } from "./mm";
import { Mmu } from "./mmu";
import { ramOnly } from "./phys-access";
import { SignalError } from "./signal";

describe("MMU accessors with hostile arguments", () => {
  it("throw a TypeError for a non-integer address or a bad length, and change nothing", () => {
    const mem = PhysMemory.create({ ramBytes: 8 * 1024 * 1024 });
    const mm = new Mm(ramOnly(mem));
    const mmu = Mmu.forMm(mm);
    const a = mm.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, null, 0);
    mmu.store32(a, 7);
    const bad: unknown[] = [undefined, null, Number.NaN, 1.5, "4096", {}, Number.POSITIVE_INFINITY];
    for (const v of bad) {
      expect(() => mmu.load32(v as number), String(v)).toThrow(TypeError);
      expect(() => mmu.load8(v as number), String(v)).toThrow(/mmu: the address must be an integer, got/);
      expect(() => mmu.store32(v as number, 1), String(v)).toThrow(TypeError);
      expect(() => mmu.read(v as number, 4), String(v)).toThrow(TypeError);
    }
    expect(() => mmu.read(a, -1)).toThrow("mmu.read: length must be a non-negative integer, got -1");
    expect(() => mmu.read(a, Number.NaN)).toThrow(TypeError);
    expect(() => mmu.readInto(a, null as never)).toThrow(
      "mmu.readInto: destination must be a Uint8Array, got null",
    );
    expect(() => mmu.write(a, 5 as never)).toThrow(
      "mmu.write: bytes must be a Uint8Array or an array of bytes, got 5",
    );
    // Integers outside user space are addresses the CPU faults on.
    for (const addr of [-4096, 2 ** 47, 2 ** 60]) {
      let e: unknown;
      try {
        mmu.load32(addr);
      } catch (x) {
        e = x;
      }
      expect(SignalError.is(e) && e.code, String(addr)).toBe("SEGV_MAPERR");
    }
    expect(mmu.load32(a)).toBe(7);
    mm.checkInvariants();
    mm.exit();
    mem.checkInvariants();
  });
});

describe("MMU store values", () => {
  // The value of a store is converted as an element assignment of a Uint32Array / Uint16Array /
  // Uint8Array converts it (ToUint32 and truncation), on the TLB-hit path and on the slow path alike:
  // the hit path stays one typed-array store, and no TLB state changes what lands in memory.
  const cases: [number | string | null | undefined, number, number, number][] = [
    // value, stored by store32, by store16, by store8
    [2 ** 32 + 5, 5, 5, 5],
    [-1, 0xffffffff, 0xffff, 0xff],
    [0x1ff, 0x1ff, 0x1ff, 0xff],
    [1.9, 1, 1, 1],
    ["7", 7, 7, 7],
    ["abc", 0, 0, 0],
    [Number.NaN, 0, 0, 0],
    [null, 0, 0, 0],
    [undefined, 0, 0, 0],
  ];
  it.each(cases)("%s is stored the same on a TLB hit and a miss", (value, w32, w16, w8) => {
    const mem = PhysMemory.create({ ramBytes: 8 * 1024 * 1024 });
    const mm = new Mm(ramOnly(mem));
    const mmu = Mmu.forMm(mm);
    const a = mm.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, null, 0);
    for (const hit of [false, true]) {
      if (!hit) mmu.flushAll();
      else mmu.store32(a + 64, 0); // the page is in the TLB now
      mmu.store32(a, value as number);
      if (!hit) mmu.flushAll();
      mmu.store16(a + 8, value as number);
      if (!hit) mmu.flushAll();
      mmu.store8(a + 16, value as number);
      expect([mmu.load32(a), mmu.load16(a + 8), mmu.load8(a + 16)], hit ? "hit" : "miss").toEqual([
        w32,
        w16,
        w8,
      ]);
    }
    mm.checkInvariants();
    mm.exit();
  });
});
