import { describe, expect, it } from "vitest";
import {
  decodeTrace,
  encodeTrace,
  ReplayDivergenceError,
  type SimTrace,
  Simulation,
  WorkerPool,
} from "../src/index";
import { mmKernel } from "./__fixtures__/mm-kernel";

const racer = new URL("./__fixtures__/programs/racer.ts", import.meta.url);

async function record(
  seed: number,
  options: { spin?: boolean; workerPool?: WorkerPool } = {},
): Promise<{ trace: SimTrace; code: unknown }> {
  const sim = await Simulation.deterministic({ kernel: mmKernel(), seed, deadlineMs: 60_000, ...options });
  sim.spawn(racer);
  const results = await sim.run();
  return { trace: sim.trace(), code: results[0]!.exit };
}

describe("deterministic mode", () => {
  it("the same seed gives the same trace bit for bit; replay matches; tampering is located", async () => {
    const a = await record(42);
    const b = await record(42);
    const bytes = encodeTrace(a.trace);
    expect(Buffer.from(encodeTrace(b.trace)).equals(Buffer.from(bytes))).toBe(true);
    expect(a.trace.events.length).toBeGreaterThan(30);

    const replay = await Simulation.replay(decodeTrace(bytes), { kernel: mmKernel(), deadlineMs: 60_000 });
    const r = await replay.run();
    expect(r[0]!.exit).toEqual(a.code);
    expect(Buffer.from(encodeTrace(replay.trace())).equals(Buffer.from(bytes))).toBe(true);

    // Tamper with one syscall result half-way: the replay must say where and what.
    const events = [...a.trace.events];
    const at = events.findIndex((e, i) => i > events.length / 2 && e.op === "getpid");
    expect(at).toBeGreaterThan(0);
    events[at] = { ...events[at]!, ret: 12345 };
    const tampered = await Simulation.replay(
      { ...a.trace, events },
      { kernel: mmKernel(), deadlineMs: 60_000 },
    );
    const err = await tampered.run().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReplayDivergenceError);
    expect((err as ReplayDivergenceError).index).toBe(at);
    expect((err as ReplayDivergenceError).message).toMatch(
      new RegExp(
        `diverged at event ${at}: expected pid \\d+ getpid\\(\\) = 12345, got pid \\d+ getpid\\(\\) = \\d+`,
      ),
    );
  }, 180_000); // a dozen deterministic runs: slow on a busy 2-core machine

  it("threads that never spin (spin: false: they block at once) record the same trace as spinning ones", async () => {
    // One pool of threads for the three runs (a thread's start compiles the runtime: seconds under load).
    const workerPool = new WorkerPool();
    const spinning = await record(7, { spin: true, workerPool });
    const blocking = await record(7, { spin: false, workerPool });
    expect(spinning.trace.events.length).toBeGreaterThan(30);
    expect(Buffer.from(encodeTrace(blocking.trace)).equals(Buffer.from(encodeTrace(spinning.trace)))).toBe(
      true,
    );
    expect(blocking.code).toEqual(spinning.code);
    // Free-running without spinning: the kernel and the workers sleep between requests; every process
    // still ends by itself (the parent counts what its children's racing updates left: 1..24).
    const free = await Simulation.create({ kernel: mmKernel(), spin: false, deadlineMs: 60_000, workerPool });
    free.spawn(racer);
    const ended = await free.run();
    expect(ended.map((r) => "code" in r.exit)).toEqual([true, true, true]);
    const counted = (ended[0]!.exit as { code: number }).code;
    expect(counted).toBeGreaterThan(0);
    expect(counted).toBeLessThanOrEqual(24);
    await workerPool.close();
  }, 120_000);
});
