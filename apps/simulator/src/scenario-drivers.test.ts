// A scenario's built-in drivers are the in-repo driver packages: `{ "type": "scullv" }` loads
// @faultline/driver-scullv, whose devices a process of that machine writes and maps.
import { MAP_SHARED, Machine, O_RDWR, PROT_READ } from "@faultline/kernel";
import { describe, expect, it } from "vitest";
import { machineOptions, parseScenario } from "./scenario";

describe("scenario drivers", () => {
  it.each(["2.6.10", "modern"] as const)("%s: scullv is a built-in driver", async (era) => {
    const s = parseScenario(
      {
        machine: { ramBytes: 0x1000000, drivers: [{ type: "scullv" }] },
        programs: [{ program: "builtin:grow" }],
      },
      "x.json",
    );
    expect(s.machine.drivers).toEqual([{ type: "scullv" }]);
    const options = machineOptions(s, era);
    expect(options.drivers?.map((d) => d.name)).toEqual(["scullv"]);
    const m = await Machine.create(options);
    expect(m.loadedDrivers()).toEqual(["scullv"]);
    const p = m.spawn();
    const fd = p.libc.open("/dev/scullv3", O_RDWR);
    expect(p.libc.write(fd, "vmalloc")).toBe(7);
    const addr = p.libc.mmap(0, 4096, PROT_READ, MAP_SHARED, fd, 0);
    expect(p.mmu.load8(addr + 1)).toBe(0x6d); // 'm', through scullv's fault handler
    m.checkInvariants();
  });

  it("scullv takes no options", () => {
    expect(() =>
      parseScenario(
        { machine: { drivers: [{ type: "scullv", order: 2 }] }, programs: [{ program: "builtin:grow" }] },
        "x.json",
      ),
    ).toThrow('x.json: machine.drivers[0].order: expected one of type, got "order"');
  });
});
