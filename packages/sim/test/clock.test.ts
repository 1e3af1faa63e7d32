// Virtual time in the simulator (internal/schedule-clock.ts): deterministic runs put the clock in the
// seed's schedule (timers and wake-ups in the trace, same seed → same bytes, replay checks them,
// tampering is located); free runs follow wall time and still wake every sleeper.
import { Machine } from "@faultline/kernel";
import { describe, expect, it } from "vitest";
import { decodeTrace, encodeTrace, ReplayDivergenceError, type SimTrace, Simulation } from "../src/index";
import { ticker } from "./__fixtures__/tick-driver";

const sleeper = new URL("./__fixtures__/programs/sleeper.ts", import.meta.url);
const machine = () => Machine.create({ ramBytes: 16 * 1024 * 1024, drivers: [ticker()] });

async function record(seed: number): Promise<{ trace: SimTrace; console: string; exits: unknown[] }> {
  const sim = await Simulation.deterministic({ machine: await machine(), seed, deadlineMs: 120_000 });
  sim.spawn(sleeper);
  const results = await sim.run();
  return { trace: sim.trace(), console: sim.machine.console(), exits: results.map((r) => r.exit) };
}

describe("virtual time in the simulator", () => {
  it("deterministic: timers and wake-ups are in the seed's schedule; same seed, same bytes; replay checks them", async () => {
    const a = await record(7);
    expect(a.exits).toEqual([{ code: 0 }]);
    const timers = a.trace.events.filter((e) => e.op === "timer");
    // 125 ms of sleeps, a tick every 20 ms (the wheel runs it every 6 jiffies: 5 + the one calc_index adds).
    expect(timers.length).toBeGreaterThanOrEqual(5);
    expect(timers.every((e) => e.pid === 0 && e.args[1] === "ticker: tick")).toBe(true);
    expect(a.trace.events.filter((e) => e.op === "wake").length).toBe(5);
    expect(a.console).toMatch(/slept \d+ ns, ticks \d+,\d+,\d+,\d+,\d+/);

    const b = await record(7);
    const bytes = encodeTrace(a.trace);
    expect(Buffer.from(encodeTrace(b.trace)).equals(Buffer.from(bytes))).toBe(true);
    expect(b.console).toBe(a.console);

    const replay = await Simulation.replay(decodeTrace(bytes), {
      machine: await machine(),
      deadlineMs: 120_000,
    });
    await replay.run();
    expect(Buffer.from(encodeTrace(replay.trace())).equals(Buffer.from(bytes))).toBe(true);

    // A timer that fired at another time: the replay says where.
    const events = [...a.trace.events];
    const at = events.findIndex((e) => e.op === "timer");
    events[at] = { ...events[at]!, args: [Number(events[at]!.args[0]) + 1, "ticker: tick"] };
    const tampered = await Simulation.replay(
      { ...a.trace, events },
      { machine: await machine(), deadlineMs: 120_000 },
    );
    const err = await tampered.run().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReplayDivergenceError);
    expect((err as ReplayDivergenceError).index).toBe(at);
  }, 240_000);

  it("free: the clock follows wall time; sleepers wake and see the timer's count grow", async () => {
    const sim = await Simulation.create({ machine: await machine(), deadlineMs: 120_000 });
    sim.spawn(sleeper);
    const results = await sim.run();
    expect(results.map((r) => r.exit)).toEqual([{ code: 0 }]);
    expect(sim.machine.clockNs).toBeGreaterThanOrEqual(125_000_000);
    sim.machine.checkInvariants();
  }, 120_000);
});
