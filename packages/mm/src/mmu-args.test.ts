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
