/**
 * Simulation's factories type `machine` by what they were given (tsc checks the expectTypeOf lines in
 * `pnpm typecheck`): a Machine for `machine` options or none, null only on a bare kernel port.
 */
import { Machine } from "@faultline/kernel";
import { describe, expect, expectTypeOf, it } from "vitest";
import { machineKernel, type SimKernel, Simulation } from "../src/index";

describe("Simulation.machine", () => {
  it("is a Machine (not nullable) when the simulation runs on one", async () => {
    const sim = await Simulation.create({ machine: { ramBytes: 4 << 20 } });
    expectTypeOf(sim.machine).toEqualTypeOf<Machine>();
    expect(sim.machine).toBeInstanceOf(Machine);
    sim.machine.checkInvariants();
    const det = await Simulation.deterministic({ seed: 1 });
    expectTypeOf(det.machine).toEqualTypeOf<Machine>();
    expect(det.machine.procText("/proc/meminfo")).toMatch(/^MemTotal:/);
  });

  it("is null on a bare kernel port", async () => {
    const m = await Machine.create({ ramBytes: 4 << 20 });
    const kernel: SimKernel = machineKernel(m);
    const sim = await Simulation.create({ kernel });
    expectTypeOf(sim.machine).toEqualTypeOf<null>();
    expect(sim.machine).toBeNull();
    // Options typed only as SimulationOptions: either.
    const opts: Parameters<typeof Simulation.create>[0] = { machine: m };
    const either = await Simulation.create(opts as { machine?: Machine; kernel?: SimKernel });
    expectTypeOf(either.machine).toEqualTypeOf<Machine | null>();
    expect(either.machine).toBe(m);
  });
});
