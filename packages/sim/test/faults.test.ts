import { describe, expect, it } from "vitest";
import { Simulation } from "../src/index";
import { mmKernel } from "./__fixtures__/mm-kernel";
import { until } from "./__fixtures__/until";

const program = (name: string) => new URL(`./__fixtures__/programs/${name}`, import.meta.url);

describe("process faults", () => {
  it("exit codes, a throw (status 1) and SIGSEGV come back as results", async () => {
    const kernel = mmKernel();
    const sim = await Simulation.create({ kernel, deadlineMs: 20_000 });
    sim.spawn(program("worker-of-many.ts"), ["3"]);
    sim.spawn(program("worker-of-many.ts"), ["0", "segv"]);
    sim.spawn(program("worker-of-many.ts"), ["0", "throw"]);
    const r = await sim.run();
    expect(r.map((x) => x.exit)).toEqual([{ code: 3 }, { signal: "SIGSEGV" }, { code: 1 }]);
    expect(r[1]!.error).toMatch(/\(SEGV_MAPERR\) at 0x1000/);
    expect(r[2]!.error).toMatch(/program bug/);
  });

  it("a worker terminated mid-run is reaped: every frame back, the others go on", async () => {
    const kernel = mmKernel();
    const baseline = kernel.mem.nrAllocatedPages;
    const sim = await Simulation.create({ kernel, deadlineMs: 20_000 });
    const victim = sim.spawn(program("spin.ts"), ["32"]);
    const other = sim.spawn(program("worker-of-many.ts"), ["5"]);
    const done = sim.run();
    // Wait until the victim's pages are in, then pull the plug on its thread.
    const mm = kernel.mm(victim);
    await until(() => mm.rss >= 32, "the victim to fault in its 32 pages");
    expect(kernel.mem.nrAllocatedPages).toBeGreaterThan(baseline + 32);
    await sim.worker(victim)!.terminate();
    const r = await done;
    expect(r.find((x) => x.pid === victim)!.exit).toEqual({ signal: "SIGKILL" });
    expect(r.find((x) => x.pid === victim)!.error).toMatch(/worker thread ended without exit/);
    expect(r.find((x) => x.pid === other)!.exit).toEqual({ code: 5 });
    expect(kernel.mem.nrAllocatedPages).toBe(baseline);
    kernel.mem.checkInvariants();
  });

  it("a hung process someone waits for is killed with a clear message", async () => {
    const kernel = mmKernel();
    const sim = await Simulation.deterministic({ kernel, seed: 1, hangTimeoutMs: 300, deadlineMs: 20_000 });
    const hung = sim.spawn(program("spin.ts"), ["1"]);
    const ok = sim.spawn(program("worker-of-many.ts"), ["4"]);
    const r = await sim.run();
    expect(r.find((x) => x.pid === hung)!.exit).toEqual({ signal: "SIGKILL" });
    expect(r.find((x) => x.pid === hung)!.error).toMatch(
      /hung: pid \d+ .* made no syscall or fault for \d+ ms/,
    );
    expect(r.find((x) => x.pid === ok)!.exit).toEqual({ code: 4 });
    expect(sim.log.join("\n")).toMatch(/hung/);
  });

  it("a run past its deadline is stopped and says who was running", async () => {
    const kernel = mmKernel();
    const baseline = kernel.mem.nrAllocatedPages;
    // Long enough for the worker to boot (tsx loads in each worker) even on a busy 2-core machine.
    const sim = await Simulation.create({ kernel, deadlineMs: 2500 });
    sim.spawn(program("spin.ts"), ["2"]);
    await expect(sim.run()).rejects.toThrow(
      /deadline of 2500 ms passed; still running: pid 1 .* running user code/,
    );
    expect(kernel.mem.nrAllocatedPages).toBe(baseline);
  });
});
