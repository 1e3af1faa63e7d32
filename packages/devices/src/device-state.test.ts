import { describe, expect, it } from "vitest";
import { defineDevice } from "./device";
import { DeviceError } from "./errors";

const ops = { size: 16, read: (s: { count: number }) => s.count, write: () => {} };

describe("defineDevice state versions", () => {
  it("loads an older version's state through the migration chain", () => {
    const v3 = defineDevice({
      name: "ctr",
      bus: "isa",
      base: 0xd0000,
      state: {
        name: "ctr",
        version: 3,
        fields: { count: 0, label: "" },
        migrate: {
          // v1 counted in pairs; v2 added the label.
          1: (f) => ({ count: (f.count as number) * 2 }),
          2: (f) => ({ ...f, label: "migrated" }),
        },
      },
      ops,
    });
    v3.loadState({ name: "ctr", version: 1, fields: { count: 5 } });
    expect(v3.saveState()).toEqual({ name: "ctr", version: 3, fields: { count: 10, label: "migrated" } });
    v3.loadState({ name: "ctr", version: 2, fields: { count: 7 } });
    expect(v3.saveState().fields).toEqual({ count: 7, label: "migrated" });
  });

  it("refuses a newer version, a gap in the chain, and what is not a snapshot", () => {
    const d = defineDevice({
      name: "ctr",
      bus: "isa",
      base: 0xd0000,
      state: { name: "ctr", version: 3, fields: { count: 0 }, migrate: { 2: (f) => f } },
      ops,
    });
    expect(() => d.loadState({ name: "ctr", version: 4, fields: { count: 1 } })).toThrow(
      /version 4: this device saves and loads version 3/,
    );
    expect(() => d.loadState({ name: "ctr", version: 1, fields: { count: 1 } })).toThrow(
      /no migration from version 1/,
    );
    expect(() => d.loadState(null as never)).toThrow(DeviceError);
    expect(() => d.loadState({ name: "ctr", version: 3, fields: null } as never)).toThrow(
      /not a device snapshot/,
    );
  });
});
