import { PhysMachine } from "@faultline/phys";
import { describe, expect, it } from "vitest";
import { defineDevice } from "./index";

describe("defineDevice", () => {
  it("builds an ISA register device whose callbacks see offsets relative to the device", () => {
    const seen: string[] = [];
    const dev = defineDevice({
      name: "counter",
      bus: "isa",
      base: 0xc8000,
      state: { name: "counter", version: 3, fields: { count: 0, armed: false } },
      ops: {
        size: 0x10,
        access: { min: 1, max: 4 },
        read(s, offset, size) {
          seen.push(`r${size}@${offset}`);
          return offset === 0 ? s.count : 0;
        },
        write(s, offset, size, value) {
          seen.push(`w${size}@${offset}=${value}`);
          if (offset === 0) s.count += value;
          if (offset === 4) s.armed = value !== 0;
        },
      },
      reset(s) {
        s.count = 100;
      },
    });
    const phys = PhysMachine.create({ ramBytes: 16 * 2 ** 20 });
    dev.realize(phys);
    expect(phys.physRead32(0xc8000)).toBe(100);
    phys.physWrite8(0xc8000, 5);
    phys.physWrite32(0xc8004, 1);
    expect(phys.physRead32(0xc8000)).toBe(105);
    expect(seen).toEqual(["r4@0", "w1@0=5", "w4@4=1", "r4@0"]);
    expect(dev.saveState()).toEqual({ name: "counter", version: 3, fields: { count: 105, armed: true } });
    dev.reset();
    expect(dev.saveState().fields).toEqual({ count: 100, armed: false });
    expect(() => dev.loadState({ name: "counter", version: 3, fields: { count: "x", armed: true } })).toThrow(
      /field "count" is a string, not a number/,
    );
    phys.checkInvariants();
  });

  it("refuses a device with nothing to decode, or ISA RAM plus registers", () => {
    const state = { name: "x", version: 1, fields: {} };
    expect(() => defineDevice({ name: "x", bus: "isa", base: 0xc0000, state })).toThrow(
      /neither RAM nor registers/,
    );
    const ops = { size: 8, read: () => 0, write: () => {} };
    expect(() => defineDevice({ name: "x", bus: "isa", base: 0xc0000, state, ram: 0x1000, ops })).toThrow(
      /not both/,
    );
  });
});
