// A program's MMU facade gives `read` results back with `recycle` (issue 14): in a worker, results
// stay whole and current across recycles, each read takes the memory the last one gave back, and
// misuse is a TypeError in the program, nothing else.
import { describe, expect, it } from "vitest";
import { Simulation } from "../src/index";

const program = (name: string) => new URL(`./__fixtures__/programs/${name}`, import.meta.url);

describe("mmu.recycle in a worker", () => {
  it("reads a megabyte eight times through the pool and refuses what is not a live result", async () => {
    const sim = await Simulation.create({ machine: { ramBytes: 32 * 1024 * 1024 }, deadlineMs: 30_000 });
    const m = sim.machine!;
    const baseline = m.mem.nrAllocatedPages;
    sim.spawn(program("recycler.ts"));
    const [r] = await sim.run();
    expect(r!.error).toBeUndefined();
    expect(r!.exit).toEqual({ code: 0 });
    expect(m.oopses()).toEqual([]);
    expect(m.mem.nrAllocatedPages).toBe(baseline);
    m.checkInvariants();
  });
});
