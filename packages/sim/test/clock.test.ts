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

describe("sleeps cut short by signals", () => {
  const interrupted = new URL("./__fixtures__/programs/interrupted.ts", import.meta.url);
  const plain = () => Machine.create({ ramBytes: 16 * 1024 * 1024 });

  async function run(seed: number, scenario: string) {
    const sim = await Simulation.deterministic({ machine: await plain(), seed, deadlineMs: 120_000 });
    sim.spawn(interrupted, [scenario]);
    const results = await sim.run();
    return { sim, trace: sim.trace(), console: sim.machine.console(), exits: results.map((r) => r.exit) };
  }

  it("another process's kill ends a parked nanosleep with -EINTR and the time left; the replay is byte-identical", async () => {
    const a = await run(3, "eintr");
    expect(a.exits).toEqual([{ code: 0 }, { code: 7 }]);
    expect(a.console).toMatch(/nanosleep -4, rem (8|9|10) s \d+ ns, caught 10/);
    expect(a.console).toMatch(/child status 1792/);
    const wakes = a.trace.events.filter((e) => e.op === "wake");
    expect(wakes.map((e) => e.ret)).toEqual([0, -4]);
    const replay = await Simulation.replay(decodeTrace(encodeTrace(a.trace)), {
      machine: await plain(),
      deadlineMs: 120_000,
    });
    await replay.run();
    expect(Buffer.from(encodeTrace(replay.trace())).equals(Buffer.from(encodeTrace(a.trace)))).toBe(true);
  }, 240_000);

  it("free: the kill wakes the sleeper early with -EINTR and the time left", async () => {
    const sim = await Simulation.create({ machine: await plain(), deadlineMs: 60_000 });
    sim.spawn(interrupted, ["eintr"]);
    const results = await sim.run();
    expect(results.map((r) => r.exit)).toEqual([{ code: 0 }, { code: 7 }]);
    expect(sim.machine.console()).toMatch(/nanosleep -4, rem (8|9|10) s \d+ ns, caught 10/);
    // -EINTR with 8 s or more left: woken when the signal came (a sleep that ran out returns 0).
  }, 60_000);

  it("alarm(2) without a handler ends the sleeping process with SIGALRM at its time", async () => {
    const a = await run(5, "alarm");
    expect(a.exits[0]).toEqual({ code: 0 });
    expect(a.exits[1]).toMatchObject({ signal: "SIGALRM" });
    expect(a.console).toMatch(/child status 14\n/);
    const alarm = a.trace.events.find((e) => e.op === "timer" && String(e.args[1]).endsWith("it_real_fn"));
    expect(alarm?.pid).toBe(0);
    // It fired one second after the child armed it, long before its 10 s sleep would have ended.
    expect(Number(alarm?.args[0])).toBeLessThan(1_100_000_000);
    a.sim.machine.checkInvariants();
  }, 120_000);
});
