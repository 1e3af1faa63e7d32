import { describe, expect, it } from "vitest";
import { Simulation } from "../src/index";
import { mmKernel } from "./__fixtures__/mm-kernel";

const program = (name: string) => new URL(`./__fixtures__/programs/${name}`, import.meta.url);

describe("processes in workers", () => {
  it("MAP_SHARED stores cross workers live, MAP_PRIVATE stores stay behind COW after fork", async () => {
    const kernel = mmKernel();
    const baseline = kernel.mem.nrAllocatedPages;
    const sim = await Simulation.create({ kernel, deadlineMs: 20_000 });
    const pid = sim.spawn(program("fork-cow.ts"));
    const results = await sim.run();
    expect(results.map((r) => [r.pid, r.exit])).toEqual([
      [pid, { code: 0 }],
      [pid + 1, { code: 7 }],
    ]);
    expect(results[0]!.threadId).not.toBe(results[1]!.threadId);
    expect(results[0]!.minflt).toBeGreaterThan(0);
    expect(kernel.mem.nrAllocatedPages).toBe(baseline);
    kernel.mem.checkInvariants();
  });
});
