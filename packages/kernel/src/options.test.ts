// Machine.create checks every option before anything is built, naming the option, what was expected
// and what was given (issue 9 §2).
import { describe, expect, it } from "vitest";
import { type DeviceModel, defineDriver, MAX_RAM_BYTES, Machine } from "./index";

describe("Machine.create options", () => {
  const refused: ReadonlyArray<[string, unknown, typeof TypeError, RegExp]> = [
    [
      "ramBytes 0",
      { ramBytes: 0 },
      RangeError,
      /^ramBytes: expected a multiple of 4096 from 2097152 \(2 MiB\) to 68719476736 \(64 GiB\), got 0$/,
    ],
    ["ramBytes negative", { ramBytes: -4096 }, RangeError, /^ramBytes: .*, got -4096$/],
    [
      "ramBytes NaN",
      { ramBytes: Number.NaN },
      TypeError,
      /^ramBytes: expected an integer number of bytes, got NaN$/,
    ],
    [
      "ramBytes not a page multiple",
      { ramBytes: 16 * 1024 * 1024 + 1 },
      RangeError,
      /^ramBytes: expected a multiple of 4096 .*, got 16777217$/,
    ],
    ["ramBytes 2^50", { ramBytes: 2 ** 50 }, RangeError, /^ramBytes: .* \(64 GiB\), got 1125899906842624$/],
    ["ramBytes 2^46", { ramBytes: 2 ** 46 }, RangeError, /^ramBytes: /],
    [
      "ramBytes a string",
      { ramBytes: "16M" },
      TypeError,
      /^ramBytes: expected an integer number of bytes, got "16M"$/,
    ],
    ["ramBytes a bigint", { ramBytes: 2n ** 24n }, TypeError, /^ramBytes: .*, got 16777216n$/],
    ["an unknown era", { era: "3.0" }, TypeError, /^era: expected "modern" or "2\.6\.10", got "3\.0"/],
    [
      "devices: [null]",
      { devices: [null] },
      TypeError,
      /^devices\[0\]: expected a device model \(\{ name, bus, realize \}\), got null$/,
    ],
    ["devices not an array", { devices: {} }, TypeError, /^devices: expected an array, got an object$/],
    [
      "a device on no known bus",
      { devices: [{ name: "x", bus: "usb", realize() {} }] },
      TypeError,
      /^devices\[0\]\.bus: expected "isa" or "pci", got "usb"$/,
    ],
    [
      "a device without realize",
      { devices: [{ name: "x", bus: "isa" }] },
      TypeError,
      /^devices\[0\]\.realize: expected a function, got undefined$/,
    ],
    [
      "drivers: [undefined]",
      { drivers: [undefined] },
      TypeError,
      /^drivers\[0\]: expected a driver from defineDriver\(\), got undefined$/,
    ],
    [
      "a driver without init",
      { drivers: [{ name: "d" }] },
      TypeError,
      /^drivers\[0\]\.init: expected a function, got undefined$/,
    ],
    ["cpu null", { cpu: null }, TypeError, /^cpu: expected an object such as \{ pku: true \}, got null$/],
    ["zeroPage a string", { zeroPage: "no" }, TypeError, /^zeroPage: expected a boolean, got "no"$/],
    [
      "an unknown option",
      { ramBytes: 1 << 24, colour: "blue" },
      TypeError,
      /^Machine\.create: unknown option "colour" \(known: /,
    ],
    ["null options", null, TypeError, /^Machine\.create: options must be an object, got null$/],
  ];
  for (const [label, options, type, message] of refused) {
    it(`refuses ${label}`, async () => {
      await expect(Machine.create(options as never)).rejects.toThrow(type);
      await expect(Machine.create(options as never)).rejects.toThrow(message);
    });
  }

  it("accepts the limits and the documented defaults", async () => {
    const small = await Machine.create({ ramBytes: 2 * 1024 * 1024 });
    expect(small.mem.totalRamPages).toBeGreaterThan(0);
    const m = await Machine.create();
    expect(m.era).toBe("modern");
    expect(m.cpu).toEqual({ pku: false });
    expect(m.zeroPage).toBe(true);
    expect(MAX_RAM_BYTES).toBe(64 * 1024 ** 3);
  });

  it("checks before anything runs: no device realized, no driver loaded when a later option is wrong", async () => {
    let realized = 0;
    let loaded = 0;
    const dev: DeviceModel = { name: "d", bus: "isa", realize: () => void realized++ };
    const drv = defineDriver({ name: "d", apiVersion: 1, init: () => void loaded++ });
    await expect(Machine.create({ devices: [dev], drivers: [drv], zeroPage: 1 as never })).rejects.toThrow(
      TypeError,
    );
    expect([realized, loaded]).toEqual([0, 0]);
  });

  it("spawn and loadDriver check their arguments too", async () => {
    const m = await Machine.create({ ramBytes: 1 << 24 });
    expect(() => m.loadDriver(null as never)).toThrow(
      /^loadDriver: expected a driver from defineDriver\(\), got null$/,
    );
    expect(() => m.loadDriver({ name: "x" } as never)).toThrow(/^loadDriver\.init: expected a function/);
    expect(() => m.spawn(null as never)).toThrow(/^spawn: options must be an object/);
    expect(() => m.spawn({ name: 3 as never })).toThrow(/^spawn: name must be a non-empty string, got 3$/);
  });
});
