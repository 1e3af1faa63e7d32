import { describe, expect, it } from "vitest";
import { Simulation } from "../src/index";
import { flip, flipState } from "./__fixtures__/flip-driver";
import { until } from "./__fixtures__/until";

const program = (name: string) => new URL(`./__fixtures__/programs/${name}`, import.meta.url);

describe("on a Machine", () => {
  it("a driver's unmapMappingRange shoots down a translation another worker has cached", async () => {
    const sim = await Simulation.create({
      machine: { ramBytes: 32 * 1024 * 1024, drivers: [flip()] },
      deadlineMs: 20_000,
    });
    const m = sim.machine!;
    const baseline = m.mem.nrAllocatedPages;
    const pid = sim.spawn(program("flip-reader.ts"));
    const r = await sim.run();
    expect(r.map((x) => x.exit)).toEqual([{ code: 0 }, { code: 0 }]);
    expect(r[0]!.pid).toBe(pid);
    // The parent faulted into the driver once before the flip and once after it.
    expect(flipState.faults).toBe(2);
    expect(m.mem.nrAllocatedPages).toBe(baseline);
    m.checkInvariants();
  });

  it("a crashed worker is reaped on the machine: frames and files released, invariants hold", async () => {
    const sim = await Simulation.create({ machine: { ramBytes: 32 * 1024 * 1024 }, deadlineMs: 20_000 });
    const m = sim.machine!;
    const baseline = m.mem.nrAllocatedPages;
    const victim = sim.spawn(program("spin.ts"), ["24"]);
    const other = sim.spawn(program("worker-of-many.ts"), ["6"]);
    const done = sim.run();
    await until(() => (m.process(victim)?.mm.rss ?? 0) >= 24, "the victim to fault in its 24 pages");
    await sim.worker(victim)!.terminate();
    const r = await done;
    expect(r.find((x) => x.pid === victim)!.exit).toEqual({ signal: "SIGKILL" });
    expect(r.find((x) => x.pid === other)!.exit).toEqual({ code: 6 });
    expect(m.process(victim)?.state).toBe("zombie");
    expect(m.process(victim)!.fds.size).toBe(0);
    expect(m.mem.nrAllocatedPages).toBe(baseline);
    m.checkInvariants();
  });

  it("SIGSEGV in a worker is reported as the in-thread MMU would: dmesg segfault line", async () => {
    const sim = await Simulation.create({ machine: { ramBytes: 32 * 1024 * 1024 }, deadlineMs: 20_000 });
    sim.spawn(program("worker-of-many.ts"), ["0", "segv"]);
    const [r] = await sim.run();
    expect(r!.exit).toEqual({ signal: "SIGSEGV" });
    expect(sim.machine!.dmesg().join("\n")).toMatch(/segfault at 1000/);
  });
});
