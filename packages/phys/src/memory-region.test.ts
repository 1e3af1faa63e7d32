import { describe, expect, it } from "vitest";
import { regs, setup } from "../test/fakes";
import {
  type AccessSize,
  BusError,
  MEMTX_ACCESS_ERROR,
  MEMTX_OK,
  MemoryRegion,
  PAGE_SIZE,
  PhysError,
} from "./index";

const KiB = 1024;

describe("MemoryRegion registration", () => {
  it("refuses overlap without a priority, naming both regions and addresses, and changes nothing", () => {
    const { system, as, banks } = setup();
    const before = as.describeFlatView();
    const gen = as.generation;
    const dev = MemoryRegion.ramDevice("fb", banks, 8 * KiB);
    let err: unknown;
    try {
      system.addSubregion(60 * KiB, dev);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BusError);
    expect(PhysError.is(err)).toBe(true);
    const be = err as BusError;
    expect(be.code).toBe("EOVERLAP");
    expect(be.message).toContain('"fb"');
    expect(be.message).toContain('"ram"');
    expect(be.message).toContain("0xf000");
    expect(be.message).toContain("[0x0, 0x10000)");
    expect(be.details).toMatchObject({ region: "fb", addr: 0xf000, other: "ram", otherAddr: 0 });
    expect(dev.parent).toBeNull();
    expect(system.subregions).toHaveLength(1);
    expect(as.describeFlatView()).toEqual(before);
    expect(as.generation).toBe(gen);
    as.checkInvariants();
  });

  it("refuses unaligned, zero-size and out-of-bounds regions", () => {
    const { system, banks, ramBank, as } = setup();
    const before = as.describeFlatView();
    const mmio = MemoryRegion.mmio("uart", 16, regs().ops);
    expect(() => system.addSubregion(0x10004, mmio)).toThrow(/offset 0x10004 is not a multiple of 0x8/);
    const rom = MemoryRegion.rom("rom", banks, ramBank, 0, PAGE_SIZE);
    expect(() => system.addSubregion(0x10800, rom)).toThrow(/rom "rom".*not a multiple of 0x1000/);
    expect(() => MemoryRegion.container("empty", 0)).toThrow(/size 0x0 must be a positive multiple/);
    expect(() => MemoryRegion.mmio("odd", 12, regs().ops)).toThrow(BusError);
    expect(() => MemoryRegion.ram("r", banks, ramBank, 0, 100)).toThrow(/multiple of 0x1000/);
    expect(() => MemoryRegion.ram("r", banks, ramBank, 60 * KiB, 8 * KiB)).toThrow(/exceeds bank ram/);
    expect(() => system.addSubregion(0xff000, MemoryRegion.mmio("big", 0x2000, regs().ops))).toThrow(
      /exceeds the container's 0x100000 bytes/,
    );
    expect(() =>
      MemoryRegion.mmio("sizes", 16, { ...regs().ops, valid: { minAccessSize: 4, maxAccessSize: 2 } }),
    ).toThrow(/access sizes 4..2/);
    expect(mmio.parent).toBeNull();
    expect(rom.parent).toBeNull();
    expect(as.describeFlatView()).toEqual(before);
  });

  it("refuses mapping one region twice and a region inside itself", () => {
    const { system, ram } = setup();
    expect(() => system.addSubregion(0x20000, ram)).toThrow(/already mapped in "system"/);
    const c = MemoryRegion.container("c", 0x1000);
    expect(() => c.addSubregion(0, c)).toThrow(/cannot contain itself/);
  });

  it("refuses an alias loop and rolls the tree back", () => {
    const { system, as } = setup();
    const c = MemoryRegion.container("c", 0x10000);
    system.addSubregion(0x20000, c);
    const loop = MemoryRegion.alias("loop", c, 0, 0x10000);
    const before = as.describeFlatView();
    expect(() => c.addSubregion(0, loop)).toThrow(/nest deeper/);
    expect(c.subregions).toHaveLength(0);
    expect(as.describeFlatView()).toEqual(before);
  });
});

describe("moving regions", () => {
  it("setAddress moves a region with the same checks", () => {
    const { system, as } = setup();
    const m = MemoryRegion.mmio("m", 0x1000, regs().ops);
    system.addSubregion(0x20000, m);
    m.setAddress(0x30000);
    expect(as.find(0x30000)?.region).toBe(m);
    expect(as.find(0x20000)).toBeNull();
    expect(() => m.setAddress(0x1000)).toThrow(/overlaps ram "ram"/);
    expect(m.addr).toBe(0x30000);
    expect(as.find(0x30000)?.region).toBe(m);
  });
});

describe("MMIO dispatch (memory_region_dispatch_read/write)", () => {
  it("MMIO sees region offsets and only its declared access sizes", () => {
    const { system, as } = setup();
    const r = regs({ minAccessSize: 4, maxAccessSize: 4 });
    system.addSubregion(0x20000, MemoryRegion.mmio("dev", 0x100, r.ops));
    expect(as.physWrite32(0x20010, 0x12345678)).toBe(MEMTX_OK);
    expect(as.physRead32(0x20010)).toBe(0x12345678);
    expect(r.calls).toEqual(["w4@10=12345678", "r4@10"]);
    // Undeclared sizes and misalignment: refused, logged, never widened or split.
    expect(as.physRead8(0x20010)).toBe(0xff);
    expect(as.physWrite16(0x20010, 1)).toBe(MEMTX_ACCESS_ERROR);
    expect(as.physRead64(0x20010)).toBe(0xffffffffffffffffn);
    expect(as.physRead32(0x20012)).toBe(0xffffffff);
    expect(r.calls).toHaveLength(2);
    const log = as.log.list();
    expect(log.map((e) => e.kind)).toEqual([
      "invalid-access",
      "invalid-access",
      "invalid-access",
      "invalid-access",
    ]);
    expect(log[0]!.message).toContain("size 1 outside the declared 4..4");
    expect(log[0]!.message).toContain('mmio "dev" + 0x10');
    expect(log[3]!.message).toContain("offset 0x12 not aligned to 4");
    const tx = { value: 0 as number | bigint };
    expect(as.physReadTx(0x20010, 2, tx)).toBe(MEMTX_ACCESS_ERROR);
  });

  it("64-bit MMIO accesses pass bigints; unaligned ones are accepted when declared", () => {
    const { system, as } = setup();
    const r = regs({ minAccessSize: 1, maxAccessSize: 8, unaligned: true });
    system.addSubregion(0x20000, MemoryRegion.mmio("dev64", 0x100, r.ops));
    expect(as.physRead64(0x20008)).toBe(0x1122334455667788n);
    expect(as.physWrite64(0x20008, -1n)).toBe(MEMTX_OK);
    expect(as.physRead64(0x20008)).toBe(0xffffffffffffffffn);
    expect(as.physRead16(0x20003)).toBe(0xa3);
    expect(r.calls).toEqual(["r8@8", "w8@8=ffffffffffffffff", "r8@8", "r2@3"]);
  });

  it("an MMIO part of a bulk transfer is split into the largest declared accesses", () => {
    const { system, as } = setup();
    const r = regs({ minAccessSize: 2, maxAccessSize: 4 });
    system.addSubregion(0x20000, MemoryRegion.mmio("dev", 0x10, r.ops));
    expect(as.writeBytes(0x20002, Uint8Array.of(1, 2, 3, 4, 5, 6))).toBe(MEMTX_OK);
    expect(r.calls).toEqual(["w2@2=201", "w4@4=6050403"]);
    // Three bytes cannot be done with 2..4-byte aligned accesses: the last byte is refused.
    const buf = new Uint8Array(3);
    expect(as.readBytesInto(0x20008, buf)).toBe(MEMTX_ACCESS_ERROR);
    expect(buf[2]).toBe(0xff);
    expect(as.log.list().at(-1)).toMatchObject({ kind: "invalid-access", addr: 0x2000a, size: 1 });
  });
});

describe("access-size declarations", () => {
  it.each([1, 2, 4, 8] as AccessSize[])("a byte-only device refuses size %i unless it is 1", (size) => {
    const { system, as } = setup();
    const r = regs({ minAccessSize: 1, maxAccessSize: 1 });
    system.addSubregion(0x20000, MemoryRegion.mmio("byte", 0x10, r.ops));
    as.physRead(0x20000, size);
    expect(r.calls.length).toBe(size === 1 ? 1 : 0);
    expect(as.log.length).toBe(size === 1 ? 0 : 1);
  });
});
