import { describe, expect, it } from "vitest";
import { regs, setup } from "../test/fakes";
import { MemoryRegion, PAGE_SIZE } from "./index";

describe("AddressSpace.mmioPage", () => {
  it("resolves a page inside one MMIO range once per FlatView; RAM, holes and split pages are null", () => {
    const { system, as } = setup();
    const dev = regs();
    system.addSubregion(0x20000, MemoryRegion.mmio("dev", 2 * PAGE_SIZE, dev.ops));
    system.addSubregion(0x30008, MemoryRegion.mmio("small", 8, regs().ops));
    const p = as.mmioPage(0x21)!;
    expect(p.paddr).toBe(0x21000);
    expect(as.mmioPage(0x21)).toBe(p); // the same object: a TLB compares it by identity
    expect(as.mmioPage(0x0)).toBeNull(); // RAM
    expect(as.mmioPage(0x50)).toBeNull(); // unassigned
    expect(as.mmioPage(0x30)).toBeNull(); // an 8-byte region inside a hole: not one MMIO page
    // Offsets are in the page, and reach the region at the page's offset in it.
    p.write(8, 4, 0x12345678);
    expect(dev.calls).toEqual(["w4@1008=12345678"]);
    expect(p.read(8, 4)).toBe(0x12345678);
    expect(as.physRead32(0x21008)).toBe(0x12345678);
  });

  it("dispatches exactly as physRead/physWrite: refusals, masks and log entries", () => {
    const { system, as } = setup();
    const dev = regs({ minAccessSize: 4, maxAccessSize: 4 });
    system.addSubregion(0x20000, MemoryRegion.mmio("dev", PAGE_SIZE, dev.ops));
    const p = as.mmioPage(0x20)!;
    expect(p.read(1, 1)).toBe(0xff);
    expect(p.read(2, 4)).toBe(0xffffffff);
    p.write(4, 2, 0x1ffff);
    p.write(4, 4, -1); // stored as the unsigned 32-bit value, as physWrite32 masks it
    const viaPage = as.log.list().map((e) => e.message);
    as.log.clear();
    expect(as.physRead8(0x20001)).toBe(0xff);
    expect(as.physRead(0x20002, 4)).toBe(0xffffffff);
    as.physWrite(0x20004, 2, 0x1ffff);
    as.physWrite(0x20004, 4, -1);
    expect(viaPage).toEqual(as.log.list().map((e) => e.message));
    expect(viaPage).toHaveLength(3);
    expect(dev.calls).toEqual(["w4@4=ffffffff", "w4@4=ffffffff"]);
  });

  it("after a topology change the old page goes through the bus again, and a new one is resolved", () => {
    const { system, as } = setup();
    const dev = regs();
    const mr = MemoryRegion.mmio("dev", PAGE_SIZE, dev.ops);
    system.addSubregion(0x20000, mr);
    const p = as.mmioPage(0x20)!;
    mr.setEnabled(false);
    expect(as.mmioPage(0x20)).toBeNull();
    expect(p.read(0, 4)).toBe(0xffffffff); // unassigned now: floats, and the bus logs it
    expect(as.log.list().at(-1)).toMatchObject({ kind: "unassigned-read", addr: 0x20000 });
    p.write(0, 4, 1); // dropped
    expect(dev.calls).toEqual([]);
    mr.setEnabled(true);
    const q = as.mmioPage(0x20)!;
    expect(q).not.toBe(p);
    expect(q.read(0, 4)).toBe(0xa0);
    expect(p.read(0, 4)).toBe(0xa0); // through the bus, which decodes the region again
  });
});
