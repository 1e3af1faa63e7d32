/**
 * defineDevice's typing (checked by tsc in `pnpm typecheck`; expectTypeOf is a no-op at run time):
 * the callbacks' state has each field's kind, not the literal type of its reset value.
 */
import { describe, expectTypeOf, it } from "vitest";
import { type DeviceState, defineDevice } from "./index";

describe("defineDevice state typing", () => {
  it("a field reset to false is a boolean, to 0 a number, to '' a string", () => {
    const seen: DeviceState<{ armed: false; count: 0; label: "" }>[] = [];
    defineDevice({
      name: "typed",
      bus: "isa",
      base: 0xc8000,
      state: { name: "typed", version: 1, fields: { armed: false, count: 0, label: "" } },
      ops: {
        size: 0x10,
        read(s) {
          expectTypeOf(s).toEqualTypeOf<{ armed: boolean; count: number; label: string }>();
          seen.push(s);
          return s.armed ? 1 : 0;
        },
        write(s, _offset, _size, value) {
          s.armed = value !== 0; // a literal `false` field would refuse this assignment
          s.count = value;
          s.label = "written";
        },
      },
      reset(s) {
        expectTypeOf(s.armed).toEqualTypeOf<boolean>();
        s.armed = true;
      },
    });
    expectTypeOf<DeviceState<{ armed: false; count: 0; label: "" }>>().toEqualTypeOf<{
      armed: boolean;
      count: number;
      label: string;
    }>();
    expectTypeOf<DeviceState<{ on: boolean }>>().toEqualTypeOf<{ on: boolean }>();
  });

  it("the PCI form types its state the same way", () => {
    defineDevice({
      name: "typed-pci",
      bus: "pci",
      vendorId: 0x1234,
      deviceId: 0x11e8,
      state: { name: "typed-pci", version: 1, fields: { irq: false } },
      ops: {
        size: 0x10,
        read: (s) => Number(s.irq),
        write(s, _o, _z, v) {
          expectTypeOf(s.irq).toEqualTypeOf<boolean>();
          s.irq = v === 1;
        },
      },
    });
  });
});
