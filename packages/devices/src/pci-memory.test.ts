import { PhysMachine } from "@faultline/phys";
import { describe, expect, it } from "vitest";
import {
  DeviceError,
  PCI_MEMORY_ID,
  PCI_MEMORY_REG_FILL,
  PCI_MEMORY_REG_ID,
  PCI_MEMORY_REG_LIVENESS,
  PCI_MEMORY_REG_RAM_SIZE,
  PCI_MEMORY_REG_SCRATCH,
  pciMemoryDevice,
} from "./index";

const MiB = 2 ** 20;

describe("pciMemoryDevice", () => {
  it("gets a 32-bit RAM BAR in the PCI hole from firmware, with no struct page, under its PCI name in /proc/iomem", () => {
    const phys = PhysMachine.create({ ramBytes: 64 * MiB });
    const dev = pciMemoryDevice({ barSize: MiB, name: "fl-mem" });
    dev.realize(phys);
    const bar = dev.barAddress(0)!;
    expect(bar).toBeGreaterThanOrEqual(0xc0000000);
    expect(bar).toBeLessThan(0x100000000);
    expect(bar % MiB).toBe(0);
    expect(dev.ramBar).toBe(0);
    expect(dev.mmioBar).toBe(1);
    expect(phys.mem.pfnValid(bar / 4096)).toBe(false);
    phys.physWrite32(bar + 0x2000, 0x12345678);
    expect(new DataView(dev.ram.buffer).getUint32(0x2000, true)).toBe(0x12345678);
    expect(phys.translatePage(bar / 4096 + 2)).toMatchObject({ kind: "bank", writable: true });
    const name = dev.pci.name;
    expect(name).toMatch(/^0000:00:0[2-9a-f]\.0$/);
    const hex8 = (n: number) => n.toString(16).padStart(8, "0");
    expect(phys.iomem()).toContain(`  ${hex8(bar)}-${hex8(bar + MiB - 1)} : ${name}\n`);
    expect(phys.lspci()).toContain("Vendor 1b36 Device 11f0");
    phys.checkInvariants();
    dev.unrealize(phys);
    expect(phys.iomem()).not.toContain(name);
    phys.checkInvariants();
  });

  it("has an edu-style register block: id, liveness, RAM size, scratch, fill", () => {
    const phys = PhysMachine.create({ ramBytes: 64 * MiB });
    const dev = pciMemoryDevice({ barSize: 0x10000 });
    dev.realize(phys);
    const regs = dev.barAddress(1)!;
    expect(phys.physRead32(regs + PCI_MEMORY_REG_ID)).toBe(PCI_MEMORY_ID);
    phys.physWrite32(regs + PCI_MEMORY_REG_LIVENESS, 0x0f0f0000);
    expect(phys.physRead32(regs + PCI_MEMORY_REG_LIVENESS)).toBe(0xf0f0ffff);
    expect(phys.physRead32(regs + PCI_MEMORY_REG_RAM_SIZE)).toBe(0x10000);
    phys.physWrite32(regs + PCI_MEMORY_REG_SCRATCH, 42);
    expect(phys.physRead32(regs + PCI_MEMORY_REG_SCRATCH)).toBe(42);
    phys.physWrite32(regs + PCI_MEMORY_REG_FILL, 0x1a5);
    expect(phys.physRead32(dev.barAddress(0)! + 0xfffc)).toBe(0xa5a5a5a5);
    expect(phys.guestErrors()).toEqual([]);
  });

  it("logs guest mistakes instead of throwing", () => {
    const phys = PhysMachine.create({ ramBytes: 64 * MiB });
    const dev = pciMemoryDevice({ barSize: 0x1000 });
    dev.realize(phys);
    const regs = dev.barAddress(1)!;
    expect(phys.physRead32(regs + 0x100)).toBe(0xffffffff);
    phys.physWrite32(regs + PCI_MEMORY_REG_ID, 1);
    expect(phys.physRead32(regs)).toBe(PCI_MEMORY_ID);
    phys.physWrite8(regs + PCI_MEMORY_REG_SCRATCH, 1); // 1-byte access: the ops table accepts 4 only
    expect(phys.physRead32(regs + PCI_MEMORY_REG_SCRATCH)).toBe(0);
    const msgs = phys.guestErrors().map((e) => `${e.kind} ${e.message}`);
    expect(msgs[0]).toBe("invalid-access pci-memory: read of unknown register 0x100");
    expect(msgs[1]).toBe("invalid-access pci-memory: write of 0x1 to read-only register 0x0 ignored");
    expect(msgs[2]).toMatch(/^invalid-access .*size 1 outside the declared 4\.\.4/);
  });

  it("saves named, versioned state and refuses another device's or version's snapshot", () => {
    const phys = PhysMachine.create({ ramBytes: 64 * MiB });
    const dev = pciMemoryDevice({ barSize: 0x1000 });
    dev.realize(phys);
    const regs = dev.barAddress(1)!;
    phys.physWrite32(regs + PCI_MEMORY_REG_SCRATCH, 7);
    dev.ram[5] = 9;
    const snap = dev.saveState();
    expect(snap).toMatchObject({ name: "pci-memory", version: 1, fields: { liveness: 0, scratch: 7 } });
    dev.reset();
    expect(phys.physRead32(regs + PCI_MEMORY_REG_SCRATCH)).toBe(0);
    expect(dev.ram[5]).toBe(9);
    dev.ram[5] = 0;
    dev.loadState(snap);
    expect(phys.physRead32(regs + PCI_MEMORY_REG_SCRATCH)).toBe(7);
    expect(dev.ram[5]).toBe(9);
    expect(() => dev.loadState({ ...snap, version: 2 })).toThrow(
      'device "pci-memory": cannot load state "pci-memory" version 2: this device saves and loads version 1',
    );
    expect(() => dev.loadState({ ...snap, name: "edu" })).toThrow(
      'device "pci-memory": cannot load state "edu": this device\'s state is "pci-memory"',
    );
    expect(() => dev.loadState({ ...snap, fields: { scratch: 1, dma: 2 } })).toThrow(
      /fields differ \(missing: liveness; unknown: dma\)/,
    );
  });

  it("refuses a BAR size that is no 32-bit memory BAR", () => {
    for (const barSize of [0, 0x800, 0x3000, 2 ** 32]) {
      expect(() => pciMemoryDevice({ barSize })).toThrow(DeviceError);
    }
  });
});
