import { describe, expect, it } from "vitest";
import {
  type AccessSize,
  AddressSpace,
  BusError,
  MEMTX_ACCESS_ERROR,
  MEMTX_DECODE_ERROR,
  MEMTX_OK,
  MemoryBanks,
  MemoryRegion,
  type MemoryRegionOps,
  PAGE_SIZE,
  PhysError,
  pageEntryBank,
  pageEntryOffset,
  pageEntryWritable,
} from "./index";

const KiB = 1024;

/** A register file that records every access and reads back what was written. */
function regs(valid?: MemoryRegionOps["valid"]) {
  const calls: string[] = [];
  const store = new Map<number, number | bigint>();
  const ops: MemoryRegionOps = {
    read(offset, size) {
      calls.push(`r${size}@${offset.toString(16)}`);
      return store.get(offset) ?? (size === 8 ? 0x1122334455667788n : 0xa0 + offset);
    },
    write(offset, size, value) {
      calls.push(`w${size}@${offset.toString(16)}=${value.toString(16)}`);
      store.set(offset, value);
    },
    ...(valid ? { valid } : {}),
  };
  return { ops, calls };
}

function setup() {
  const banks = new MemoryBanks();
  const ramBank = banks.allocate(64 * KiB, "ram");
  const system = MemoryRegion.container("system", 1 << 20);
  const ram = MemoryRegion.ram("ram", banks, ramBank, 0, 64 * KiB);
  system.addSubregion(0, ram);
  const as = new AddressSpace("memory", system, banks);
  return { banks, ramBank, system, ram, as };
}

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

describe("priorities, holes and aliases (docs/devel/memory.rst)", () => {
  it("highest priority wins and holes fall through to lower regions", () => {
    const { system, as, banks, ram } = setup();
    // A container above RAM with one MMIO inside: its hole shows RAM underneath.
    const top = MemoryRegion.container("overlay", 0x4000);
    const r = regs();
    top.addSubregion(0x1000, MemoryRegion.mmio("regs", 0x1000, r.ops));
    system.addSubregionOverlap(0x2000, top, 1);
    as.physWrite32(0x2000, 0x11111111);
    expect(as.find(0x2000)?.region).toBe(ram);
    expect(as.find(0x3000)?.region.name).toBe("regs");
    expect(as.find(0x4000)?.region).toBe(ram);
    expect(as.physRead32(0x3004)).toBe(0xa4);
    expect(as.physRead32(0x2000)).toBe(0x11111111);
    // A lower-priority region never shows where RAM (priority 0) is.
    const low = MemoryRegion.ramDevice("low", banks, 0x20000);
    system.addSubregionOverlap(0, low, -1);
    expect(as.find(0x5000)?.region).toBe(ram);
    expect(as.find(0x10000)?.region).toBe(low);
    // Equal priorities: the one added last wins.
    const a = MemoryRegion.mmio("a", 0x1000, regs().ops);
    const b = MemoryRegion.mmio("b", 0x1000, regs().ops);
    system.addSubregionOverlap(0x30000, a, 2);
    system.addSubregionOverlap(0x30000, b, 2);
    expect(as.find(0x30000)?.region).toBe(b);
    // Disabled regions do not obscure lower ones.
    b.setEnabled(false);
    expect(as.find(0x30000)?.region).toBe(a);
    system.delSubregion(a);
    system.delSubregion(b);
    expect(as.find(0x30000)).toBeNull();
    as.checkInvariants();
  });

  it("an alias is a window onto another region at an offset", () => {
    const { system, as } = setup();
    const alias = MemoryRegion.alias("ram-window", system.subregions[0]!, 0x8000, 0x2000);
    system.addSubregion(0x40000, alias);
    as.physWrite32(0x8010, 0xcafef00d);
    expect(as.physRead32(0x40010)).toBe(0xcafef00d);
    as.physWrite8(0x41fff, 0x5a);
    expect(as.physRead8(0x9fff)).toBe(0x5a);
    const t = as.translatePage(0x41);
    expect(t.kind).toBe("bank");
    expect(t.offset).toBe(0x9000);
    // Changing what the alias shows re-renders the view through the alias.
    const gen = as.generation;
    system.subregions.find((r) => r.name === "ram")!.setEnabled(false);
    expect(as.generation).toBeGreaterThan(gen);
    expect(as.find(0x40010)).toBeNull();
  });

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

describe("loads and stores", () => {
  it("RAM is little-endian at every size", () => {
    const { as, banks, ramBank } = setup();
    expect(as.physWrite64(0x100, 0x0102030405060708n)).toBe(MEMTX_OK);
    expect(banks.u8[ramBank]![0x100]).toBe(0x08);
    expect(as.physRead8(0x107)).toBe(0x01);
    expect(as.physRead16(0x100)).toBe(0x0708);
    expect(as.physRead32(0x104)).toBe(0x01020304);
    expect(as.physRead64(0x100)).toBe(0x0102030405060708n);
    const out = new Uint32Array(2);
    as.physRead64Split(0x100, out);
    expect([...out]).toEqual([0x05060708, 0x01020304]);
    // Unaligned and straddling accesses on RAM work as on x86.
    expect(as.physRead32(0x101)).toBe(0x04050607);
    as.physWrite32(0xffff, 0xaabbccdd);
    expect(as.physRead8(0xffff)).toBe(0xdd);
    expect(as.physRead(0x100, 2)).toBe(0x0708);
  });

  it("unassigned reads are all-ones and logged with the address; writes are dropped and logged", () => {
    const { as } = setup();
    expect(as.physRead8(0x50000)).toBe(0xff);
    expect(as.physRead16(0x50000)).toBe(0xffff);
    expect(as.physRead32(0x50000)).toBe(0xffffffff);
    expect(as.physRead64(0x50000)).toBe(0xffffffffffffffffn);
    expect(as.physWrite32(0x50000, 1)).toBe(MEMTX_DECODE_ERROR);
    const log = as.log.list();
    expect(log).toHaveLength(5);
    expect(log[0]).toMatchObject({ kind: "unassigned-read", addr: 0x50000, size: 1, region: null });
    expect(log[0]!.message).toContain("0x50000");
    expect(log[4]).toMatchObject({ kind: "unassigned-write", addr: 0x50000, isWrite: true });
    const tx = { value: 0 as number | bigint };
    expect(as.physReadTx(0x50000, 4, tx)).toBe(MEMTX_DECODE_ERROR);
    expect(as.physReadTx(0x10, 4, tx)).toBe(MEMTX_OK);
  });

  it("the log is bounded", () => {
    const { as } = setup();
    for (let i = 0; i < 300; i++) as.physRead8(0x50000 + i);
    expect(as.log.length).toBe(256);
    expect(as.log.dropped).toBe(44);
    expect(as.log.list()[0]!.addr).toBe(0x50000 + 44);
  });

  it("ROM reads like RAM; writes are logged and dropped", () => {
    const { system, as, banks } = setup();
    const bank = banks.allocate(PAGE_SIZE, "rom");
    banks.u8[bank]!.set([0x55, 0xaa]);
    system.addSubregion(0x60000, MemoryRegion.rom("option-rom", banks, bank, 0, PAGE_SIZE));
    expect(as.physRead16(0x60000)).toBe(0xaa55);
    expect(as.physWrite16(0x60000, 0)).toBe(MEMTX_ACCESS_ERROR);
    expect(as.physWrite8(0x60001, 0)).toBe(MEMTX_ACCESS_ERROR);
    expect(as.writeBytes(0x60000, new Uint8Array(4))).toBe(MEMTX_ACCESS_ERROR);
    expect(as.physRead16(0x60000)).toBe(0xaa55);
    expect(as.log.list().map((e) => e.kind)).toEqual(["rom-write", "rom-write", "rom-write"]);
    expect(as.log.list()[0]!.message).toMatch(/ROM option-rom at 0x60000 dropped/);
    const t = as.translatePage(0x60);
    expect(t).toMatchObject({ kind: "bank", bank, offset: 0, writable: false });
  });

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

  it("bulk reads and writes cross RAM, MMIO and holes", () => {
    const { system, as } = setup();
    const r = regs({ minAccessSize: 1, maxAccessSize: 4 });
    system.addSubregion(0x10000, MemoryRegion.mmio("dev", 0x10, r.ops));
    // RAM ends at 0x10000, then 16 bytes of MMIO, then a hole.
    as.writeBytes(0xfffc, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    expect(r.calls).toEqual(["w4@0=8070605"]);
    const bytes = as.readBytes(0xfffe, 0x14);
    expect([...bytes.subarray(0, 2)]).toEqual([3, 4]);
    expect([...bytes.subarray(2, 6)]).toEqual([5, 6, 7, 8]);
    expect(bytes[18]).toBe(0xff);
    expect(as.log.list().at(-1)).toMatchObject({ kind: "unassigned-read", addr: 0x10010, size: 2 });
  });
});

describe("translatePage and pageEntry", () => {
  it("classifies pages: bank, mmio, unassigned, mixed", () => {
    const { system, as, ramBank } = setup();
    system.addSubregion(0x20000, MemoryRegion.mmio("dev", 0x2000, regs().ops));
    system.addSubregion(0x30800, MemoryRegion.mmio("small", 0x100, regs().ops));
    expect(as.translatePage(3)).toMatchObject({
      kind: "bank",
      bank: ramBank,
      offset: 0x3000,
      writable: true,
    });
    expect(as.translatePage(0x21)).toMatchObject({ kind: "mmio", regionOffset: 0x1000 });
    expect(as.translatePage(0x21).region?.name).toBe("dev");
    expect(as.translatePage(0x40).kind).toBe("unassigned");
    expect(as.translatePage(0x30).kind).toBe("mixed");
    const e = as.pageEntry(3);
    expect(pageEntryBank(e)).toBe(ramBank);
    expect(pageEntryOffset(e)).toBe(0x3000);
    expect(pageEntryWritable(e)).toBe(true);
    expect(as.pageEntry(0x21)).toBe(-1);
    // A reused out object: no allocation per call.
    const out = as.translatePage(0);
    expect(as.translatePage(1)).toBe(out);
  });

  it("topology changes invalidate cached entries and notify listeners", () => {
    const { system, as, ram } = setup();
    const seen: number[] = [];
    const off = as.onChange((s) => seen.push(s.generation));
    expect(as.pageEntry(2)).toBeGreaterThanOrEqual(0);
    const over = MemoryRegion.mmio("over", 0x1000, regs().ops);
    system.addSubregionOverlap(0x2000, over, 5);
    expect(as.pageEntry(2)).toBe(-1);
    expect(as.physRead32(0x2000)).toBe(0xa0);
    system.delSubregion(over);
    expect(as.pageEntry(2)).toBeGreaterThanOrEqual(0);
    expect(seen).toHaveLength(2);
    off();
    ram.setEnabled(false);
    expect(seen).toHaveLength(2);
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
