import { describe, expect, it } from "vitest";
import { KiB, regs, setup } from "../test/fakes";
import {
  AddressSpace,
  MemoryBanks,
  MemoryRegion,
  pageEntryBank,
  pageEntryOffset,
  pageEntryWritable,
} from "./index";

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

  it("a region split by a higher-priority one renders as pieces; neighbours that continue it merge", () => {
    const { system, as, ram } = setup();
    const over = MemoryRegion.mmio("over", 0x1000, regs().ops);
    system.addSubregionOverlap(0x4000, over, 1);
    expect(as.describeFlatView().map((r) => [r.name, r.start, r.end])).toEqual([
      ["ram", 0, 0x4000],
      ["over", 0x4000, 0x5000],
      ["ram", 0x5000, 64 * KiB],
    ]);
    expect(as.find(0x5000)).toMatchObject({ offset: 0x5000, bankOffset: 0x5000 });
    over.setEnabled(false);
    // flatview_simplify: the two pieces of RAM are one range again.
    expect(as.flatView).toHaveLength(1);
    expect(as.find(0x8000)?.region).toBe(ram);
  });

  it("renders a container deeper than its own address: offsets add up through the tree", () => {
    const banks = new MemoryBanks();
    const bank = banks.allocate(2 * 4096, "b");
    const root = MemoryRegion.container("root", 1 << 20);
    const mid = MemoryRegion.container("mid", 0x10000);
    mid.addSubregion(0x3000, MemoryRegion.ram("leaf", banks, bank, 4096, 4096));
    root.addSubregion(0x20000, mid);
    const as = new AddressSpace("t", root, banks);
    expect(as.describeFlatView()).toEqual([
      { start: 0x23000, end: 0x24000, name: "leaf", kind: "ram", bank, bankOffset: 4096, writable: true },
    ]);
    as.checkInvariants();
  });
});

describe("translatePage", () => {
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
});
