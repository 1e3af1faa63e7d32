import { describe, expect, it } from "vitest";
import { regs, setup } from "../test/fakes";
import { MEMTX_OK, MemoryRegion } from "./index";
import { byteSwap } from "./mmio-access";

/** A 32-bit register file: the device implements 4-byte accesses only. */
function regs32(): {
  calls: string[];
  store: Map<number, number>;
  ops: Parameters<typeof MemoryRegion.mmio>[2];
} {
  const calls: string[] = [];
  const store = new Map<number, number>([
    [0, 0x11223344],
    [4, 0x55667788],
  ]);
  return {
    calls,
    store,
    ops: {
      valid: { minAccessSize: 1, maxAccessSize: 8, unaligned: true },
      impl: { minAccessSize: 4, maxAccessSize: 4, unaligned: false },
      read(offset, size) {
        calls.push(`r${size}@${offset}`);
        return store.get(offset) ?? 0;
      },
      write(offset, size, value) {
        calls.push(`w${size}@${offset}=${value.toString(16)}`);
        store.set(offset, Number(value));
      },
    },
  };
}

describe("MMIO impl sizes (access_with_adjusted_size)", () => {
  it("a 64-bit load of a 32-bit register file is two reads combined little-endian, as a bigint", () => {
    const { system, as } = setup();
    const r = regs32();
    system.addSubregion(0x20000, MemoryRegion.mmio("r32", 0x10, r.ops));
    expect(as.physRead64(0x20000)).toBe(0x5566778811223344n);
    expect(r.calls).toEqual(["r4@0", "r4@4"]);
    expect(as.physWrite64(0x20000, 0xaabbccdd01020304n)).toBe(MEMTX_OK);
    expect(r.calls.slice(2)).toEqual(["w4@0=1020304", "w4@4=aabbccdd"]);
  });

  it("a byte read is one 4-byte read with the byte picked out; unaligned ones read the covering words", () => {
    const { system, as } = setup();
    const r = regs32();
    system.addSubregion(0x20000, MemoryRegion.mmio("r32", 0x10, r.ops));
    expect(as.physRead8(0x20000)).toBe(0x44);
    expect(as.physRead8(0x20001)).toBe(0x33);
    expect(as.physRead16(0x20003)).toBe(0x8811);
    expect(r.calls).toEqual(["r4@0", "r4@0", "r4@0", "r4@4"]);
    // A byte write is read-modify-write of its word: the other bytes keep their value.
    as.physWrite8(0x20005, 0xee);
    expect(r.store.get(4)).toBe(0x5566ee88);
  });

  it("a big-endian device's values are byte-swapped and its parts go most significant first", () => {
    const { system, as } = setup();
    const calls: string[] = [];
    const store = new Map<number, number>([
      [0, 0x11223344],
      [4, 0x55667788],
    ]);
    system.addSubregion(
      0x20000,
      MemoryRegion.mmio("be", 0x10, {
        valid: { minAccessSize: 4, maxAccessSize: 8 },
        impl: { minAccessSize: 4, maxAccessSize: 4 },
        endianness: "big",
        read: (o, s) => {
          calls.push(`r${s}@${o}`);
          return store.get(o) ?? 0;
        },
        write: (o, _s, v) => void store.set(o, Number(v)),
      }),
    );
    expect(as.physRead32(0x20000)).toBe(0x44332211);
    // 8 bytes: device value 0x1122334455667788 (word 0 is the high half), seen byte-swapped.
    expect(as.physRead64(0x20000)).toBe(0x8877665544332211n);
    as.physWrite32(0x20008, 0x01020304);
    expect(store.get(8)).toBe(0x04030201);
    expect(calls).toEqual(["r4@0", "r4@0", "r4@4"]);
    expect(byteSwap(0x0102n, 2)).toBe(0x0201n);
  });

  it("without impl a device gets the accesses it declares, whole (no wrapping)", () => {
    const r = regs({ minAccessSize: 1, maxAccessSize: 8 });
    const mr = MemoryRegion.mmio("plain", 0x10, r.ops);
    expect(mr.ops).toBe(r.ops);
  });

  it("refuses impl sizes that are not 1/2/4/8 with min <= max", () => {
    expect(() =>
      MemoryRegion.mmio("bad", 0x10, { ...regs().ops, impl: { minAccessSize: 8, maxAccessSize: 4 } }),
    ).toThrow(/impl access sizes 8..4/);
  });
});
