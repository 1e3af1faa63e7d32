import { PhysMachine } from "@faultline/phys";
import { describe, expect, it } from "vitest";
import { DeviceError, isaMemory } from "./index";

describe("isaMemory", () => {
  it("puts bank-backed device RAM in the ISA hole, with struct pages, shown in /proc/iomem", () => {
    const phys = PhysMachine.create({ ramBytes: 16 * 2 ** 20 });
    const dev = isaMemory({ base: 0xd0000, size: 0x4000, name: "isa-ram" });
    expect(dev.realized).toBe(false);
    dev.realize(phys);
    expect(dev).toMatchObject({ name: "isa-ram", bus: "isa", base: 0xd0000, size: 0x4000, realized: true });
    phys.physWrite32(0xd1000, 0xcafef00d);
    expect(phys.physRead32(0xd1000)).toBe(0xcafef00d);
    // The device sees offsets within its own range; loads and stores reach its bank directly.
    expect(new DataView(dev.ram.buffer).getUint32(0x1000, true)).toBe(0xcafef00d);
    expect(phys.translatePage(0xd1)).toMatchObject({ kind: "bank", writable: true });
    expect(phys.mem.pfnValid(0xd0)).toBe(true);
    expect(phys.iomem()).toContain("000d0000-000d3fff : isa-ram\n");
    phys.checkInvariants();
    dev.unrealize(phys);
    expect(phys.iomem()).not.toContain("isa-ram");
    expect(phys.physRead32(0xd1000)).toBe(0xffffffff);
    phys.checkInvariants();
  });

  it("validates placement with clear errors", () => {
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(DeviceError.is(e)).toBe(true);
        return `${(e as DeviceError).code}: ${(e as Error).message}`;
      }
      throw new Error("no error");
    };
    expect(err(() => isaMemory({ base: 0xd0800, size: 0x1000 }))).toMatch(/^EINVAL: .*page aligned/);
    expect(err(() => isaMemory({ base: 0xd0000, size: 0x800 }))).toMatch(/^EINVAL: .*multiple of 0x1000/);
    expect(err(() => isaMemory({ base: 0x90000, size: 0x1000 }))).toMatch(
      /^EINVAL: .*outside the ISA hole \[0xa0000, 0x100000\); the free window is \[0xc0000, 0xf0000\)/,
    );
    expect(err(() => isaMemory({ base: 0xff000, size: 0x2000 }))).toMatch(/^EINVAL: .*outside the ISA hole/);
    expect(err(() => isaMemory({ base: 0xb8000, size: 0x1000 }))).toMatch(/^EOVERLAP: .*overlaps VGA memory/);
    expect(err(() => isaMemory({ base: 0xe0000, size: 0x20000 }))).toMatch(/^EOVERLAP: .*the System ROM/);
  });

  it("may shadow VGA memory with a priority", () => {
    const phys = PhysMachine.create({ ramBytes: 16 * 2 ** 20 });
    const dev = isaMemory({ base: 0xb8000, size: 0x1000, priority: 1 });
    dev.realize(phys);
    phys.physWrite16(0xb8000, 0x0741);
    expect(dev.ram[0]).toBe(0x41);
    expect(phys.isa.vga.bank).not.toBe(phys.translatePage(0xb8).bank);
    phys.checkInvariants();
  });

  it("refuses two devices at one address (the bus says so)", () => {
    const phys = PhysMachine.create({ ramBytes: 16 * 2 ** 20 });
    isaMemory({ base: 0xd0000, size: 0x2000, name: "a" }).realize(phys);
    expect(() => isaMemory({ base: 0xd1000, size: 0x1000, name: "b" }).realize(phys)).toThrow(/overlap/);
    phys.checkInvariants();
  });

  it("saves and restores its RAM; reset keeps RAM; lifecycle misuse is refused", () => {
    const phys = PhysMachine.create({ ramBytes: 16 * 2 ** 20 });
    const dev = isaMemory({ base: 0xc0000, size: 0x1000 });
    expect(() => dev.unrealize(phys)).toThrow(/before realize/);
    dev.realize(phys);
    expect(() => dev.realize(phys)).toThrow(/already realized/);
    phys.physWrite8(0xc0010, 0x5a);
    const snap = dev.saveState();
    expect(snap).toMatchObject({ name: "isa-memory", version: 1, fields: {} });
    phys.physWrite8(0xc0010, 0);
    dev.reset();
    expect(phys.physRead8(0xc0010)).toBe(0);
    dev.loadState(snap);
    expect(phys.physRead8(0xc0010)).toBe(0x5a);
    expect(() => dev.loadState({ ...snap, ram: new Uint8Array(0x2000) })).toThrow(
      /RAM of 0x2000 bytes, the device has 0x1000/,
    );
  });
});
