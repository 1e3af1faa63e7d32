// Protection keys in workers: the PKRU is shared between the worker's MMU and the kernel's Mm.
import { describe, expect, it } from "vitest";
import { Simulation } from "../src/index";

const program = (name: string) => new URL(`./__fixtures__/programs/${name}`, import.meta.url);

describe("protection keys in worker processes", () => {
  it("on a PKU CPU: keys work, and a read the thread's PKRU denies ends in SIGSEGV SEGV_PKUERR", async () => {
    const sim = await Simulation.create({
      machine: { ramBytes: 32 * 1024 * 1024, cpu: { pku: true } },
      deadlineMs: 20_000,
    });
    const ok = sim.spawn(program("pkeys.ts"), ["ok"]);
    const deny = sim.spawn(program("pkeys.ts"), ["deny"]);
    const r = await sim.run();
    expect(r.find((x) => x.pid === ok)!.exit).toEqual({ code: 0 });
    expect(r.find((x) => x.pid === deny)!.exit).toEqual({ signal: "SIGSEGV" });
    expect(r.find((x) => x.pid === deny)!.error).toMatch(/SEGV_PKUERR, pkey 1/);
    sim.machine!.checkInvariants();
  });

  it("on a CPU without PKU: the calls fail as Linux's do there", async () => {
    const sim = await Simulation.create({ machine: { ramBytes: 32 * 1024 * 1024 }, deadlineMs: 20_000 });
    sim.spawn(program("pkeys.ts"), ["nopku"]);
    const r = await sim.run();
    expect(r[0]!.exit).toEqual({ code: 0 });
  });
});
