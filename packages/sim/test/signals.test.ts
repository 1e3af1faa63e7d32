// Handled signals in workers (issue 12 §1): the same results as in-thread, and the report lists them.
import { describe, expect, it } from "vitest";
import { Simulation } from "../src/index";

const program = new URL("./__fixtures__/programs/catcher.ts", import.meta.url);

describe("handled signals in workers", () => {
  it("a SIGSEGV handler catches faults and the process goes on; the result lists what it caught", async () => {
    const sim = await Simulation.create({ machine: { ramBytes: 16 * 1024 * 1024 }, deadlineMs: 60_000 });
    const pid = sim.spawn(program, ["catch"]);
    const [r] = await sim.run();
    expect(r!.exit, r!.error).toEqual({ code: 0 });
    expect(r!.handledSignalCount).toBe(2);
    expect(r!.handledSignals[0]).toEqual({ signal: "SIGSEGV", code: "SEGV_MAPERR", addr: 0x1000 });
    expect(r!.handledSignals[1]!.code).toBe("SEGV_ACCERR");
    expect(r!.pid).toBe(pid);
    expect(sim.machine!.dmesg().join("\n")).not.toMatch(/segfault/);
    sim.machine!.checkInvariants();
  });

  it("a fault part-way through read, readInto, write, load64 and store64 is caught once each", async () => {
    const sim = await Simulation.create({ machine: { ramBytes: 16 * 1024 * 1024 }, deadlineMs: 60_000 });
    sim.spawn(program, ["bulk"]);
    const [r] = await sim.run();
    expect(r!.exit, r!.error).toEqual({ code: 0 });
    expect(r!.handledSignalCount).toBe(5);
    expect(sim.machine!.oopses()).toEqual([]);
    sim.machine!.checkInvariants();
  });

  it("SA_RESETHAND, a blocked SIGSEGV, kill to itself and to a child end as Linux ends them", async () => {
    const sim = await Simulation.create({ machine: { ramBytes: 16 * 1024 * 1024 }, deadlineMs: 60_000 });
    const pids = ["resethand", "blocked", "kill-self", "kill-child"].map((s) => sim.spawn(program, [s]));
    const r = await sim.run();
    const by = (pid: number) => r.find((x) => x.pid === pid)!;
    expect(by(pids[0]!).exit).toEqual({ signal: "SIGSEGV" });
    expect(by(pids[0]!).handledSignalCount).toBe(1);
    expect(by(pids[1]!).exit).toEqual({ signal: "SIGSEGV" });
    expect(by(pids[1]!).handledSignalCount).toBe(0);
    expect(by(pids[2]!).exit).toEqual({ signal: "SIGTERM" });
    expect(by(pids[2]!).handledSignals).toEqual([{ signal: "SIGUSR1", code: "SI_USER", addr: 0 }]);
    expect(by(pids[3]!).exit, by(pids[3]!).error).toEqual({ code: 0 });
    const child = r.find((x) => x.pid !== pids[3] && !pids.includes(x.pid))!;
    expect(child.exit).toEqual({ signal: "SIGTERM" });
    // Only the unhandled fault of the first prints the segfault line (the second had a handler).
    expect(sim.machine!.dmesg().filter((l) => /segfault/.test(l))).toHaveLength(1);
    sim.machine!.checkInvariants();
  });
});

describe("threads in workers", () => {
  it("clone(CLONE_PTHREAD) runs the thread entry in a new worker on the same mm; munmap shoots its TLB down", async () => {
    const sim = await Simulation.create({ machine: { ramBytes: 16 * 1024 * 1024 }, deadlineMs: 60_000 });
    const pid = sim.spawn(new URL("./__fixtures__/programs/threads.ts", import.meta.url));
    const r = await sim.run();
    expect(r.map((x) => [x.pid === pid ? "main" : "thread", x.exit, x.error])).toEqual([
      ["main", { code: 0 }, undefined],
      ["thread", { code: 0 }, undefined],
    ]);
    expect(r[1]!.handledSignals).toEqual([
      { signal: "SIGSEGV", code: "SEGV_MAPERR", addr: expect.any(Number) },
    ]);
    sim.machine!.checkInvariants();
    expect(sim.machine!.processes().filter((p) => p.alive)).toEqual([]);
  });
});
