import { MEMTX_OK, PCI_COMMAND, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY, PhysMachine } from "@faultline/phys";
import { describe, expect, it } from "vitest";
import { definePciDevice } from "./index";

function sample() {
  return definePciDevice({
    name: "sample",
    vendorId: 0x1b36,
    deviceId: 0x0100,
    classCode: 0x030000,
    interruptPin: 1,
    msiVectors: 1,
    state: { name: "sample", version: 1, fields: { reg: 0, cfg: 0, ticks: 0 } },
    bars: [
      { index: 0, type: "mem32", prefetchable: true, size: 0x4000, ram: true },
      {
        index: 2,
        type: "mem64",
        size: 0x1000,
        ops: {
          valid: { min: 1, max: 8 },
          impl: { min: 4, max: 4 },
          read: (s, off) => (off === 0 ? s.reg : 0x11223344),
          write: (s, off, _size, v) => {
            if (off === 0) s.reg = Number(v);
          },
        },
      },
      {
        index: 4,
        type: "io",
        size: 16,
        ops: { valid: { min: 1, max: 4 }, read: (_s, off) => 0x40 + off, write: () => {} },
      },
    ],
    config: {
      read: (s, off, size, v) => (off === 0x50 && size === 4 ? s.cfg : v),
      write: (s, off, _n, v) => {
        if (off === 0x50) s.cfg = v;
      },
    },
    realize: (s, ctx) => {
      const t = ctx.newTimer(() => {
        s.ticks++;
        t.mod(ctx.now + 1000);
      });
      t.mod(1000);
    },
  });
}

describe("definePciDevice", () => {
  it("declares BARs by index with their types, and lspci shows them", () => {
    const d = sample();
    const phys = PhysMachine.create();
    d.realize(phys);
    const f = d.pci;
    expect(d.ramBar).toBe(0);
    expect(d.mmioBar).toBe(2);
    expect(f.bar(0)).toMatchObject({ prefetchable: true, is64: false, size: 0x4000 });
    expect(f.bar(2)).toMatchObject({ is64: true, size: 0x1000 });
    expect(f.bar(3)).toBeNull();
    expect(f.bar(4)).toMatchObject({ io: true, size: 16 });
    const listing = phys.lspci();
    expect(listing).toMatch(/Memory at [0-9a-f]+ \(32-bit, prefetchable\) \[size=16K\]/);
    expect(listing).toMatch(/Memory at [0-9a-f]+ \(64-bit, non-prefetchable\) \[size=4K\]/);
    expect(listing).toMatch(/I\/O ports at c000 \[size=16\]/);
    expect(listing).toContain("Capabilities: [40] MSI: Enable- Count=1/1 Maskable- 64bit-");
    // RAM BAR: device bytes seen by the CPU; MMIO BAR: 64-bit read combined from two 32-bit ones.
    d.ram[5] = 0x5a;
    expect(phys.physRead8(d.barAddress(0)! + 5)).toBe(0x5a);
    phys.physWrite32(d.barAddress(2)!, 0xdead);
    expect(phys.physRead64(d.barAddress(2)!)).toBe(0x11223344_0000deadn);
    expect(phys.inb(d.barAddress(4)! + 3)).toBe(0x43);
    expect(f.configRead(0x50, 4)).toBe(0);
    f.configWrite(0x50, 4, 7);
    expect(f.configRead(0x50, 4)).toBe(7);
    // Timers run on the virtual clock.
    phys.clock.advance(3500);
    expect(d.saveState().fields.ticks).toBe(3);
    d.unrealize(phys);
    phys.clock.advance(5000);
    expect(d.saveState().fields.ticks).toBe(3);
    phys.checkInvariants();
  });

  it("DMA needs bus mastering; snapshots carry every RAM BAR", () => {
    const d = sample();
    const phys = PhysMachine.create();
    d.realize(phys);
    const ctx = (d as unknown as { context: import("./index").PciDeviceContext }).context;
    expect(ctx.dmaWrite(0x2000, Uint8Array.of(1, 2))).toBe(false);
    d.pci.configWrite(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    expect(ctx.dmaWrite(0x2000, Uint8Array.of(1, 2))).toBe(true);
    expect(phys.physRead16(0x2000)).toBe(0x0201);
    const snap = d.saveState();
    expect(snap.ram?.length).toBe(0x4000);
    d.ram.fill(9);
    d.loadState(snap);
    expect(d.ram[0]).toBe(0);
    expect(MEMTX_OK).toBe(0);
  });

  it("refuses bad BAR declarations", () => {
    const base = {
      name: "x",
      vendorId: 1,
      deviceId: 2,
      classCode: 0,
      state: { name: "x", version: 1, fields: {} },
    };
    const ops = { read: () => 0, write: () => {} };
    expect(() => definePciDevice({ ...base, bars: [{ index: 6, type: "mem32", size: 16, ops }] })).toThrow(
      /index is not 0..5/,
    );
    expect(() =>
      definePciDevice({
        ...base,
        bars: [
          { index: 0, type: "mem64", size: 16, ops },
          { index: 1, type: "mem32", size: 16, ops },
        ],
      }),
    ).toThrow(/declared twice/);
    expect(() => definePciDevice({ ...base, bars: [{ index: 0, type: "mem32", size: 24, ops }] })).toThrow(
      /power of two/,
    );
    expect(() => definePciDevice({ ...base, bars: [{ index: 0, type: "io", size: 16, ram: true }] })).toThrow(
      /I\/O BAR/,
    );
    expect(() => definePciDevice({ ...base, bars: [{ index: 0, type: "mem32", size: 4096 }] })).toThrow(
      /exactly one/,
    );
  });
});
