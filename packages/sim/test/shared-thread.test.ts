// Deterministic simulations that run at the same time on one thread (faultline worker --jobs N, or a
// Promise.all): each kernel loop then waits for its processes with Atomics.waitAsync, not holding the
// thread (no Atomics.wait, no spinning) while its process runs user code, so the others go on
// meanwhile; each run is the run it would be alone.
import { describe, expect, it } from "vitest";
import { encodeTrace, Simulation, WorkerPool } from "../src/index";

const chatty = new URL("./__fixtures__/programs/chatty.ts", import.meta.url);
const ENTRIES = "300";

async function run(seed: number, workerPool: WorkerPool) {
  const sim = await Simulation.deterministic({
    machine: { ramBytes: 16 * 1024 * 1024 },
    seed,
    workerPool,
    loadTimeoutMs: 300_000,
  });
  for (let i = 0; i < 2; i++) sim.spawn(chatty, [ENTRIES]);
  const results = await sim.run();
  return {
    exits: results.map((r) => r.exit),
    trace: encodeTrace(sim.trace()),
  };
}

describe("deterministic simulations sharing a thread", () => {
  it("run as they do alone: the same exits and traces, byte for byte", async () => {
    const pool = new WorkerPool();
    try {
      // Warm: the pool's threads have the program loaded.
      await Promise.all([run(1, pool), run(2, pool)]);
      const alone = [await run(1, pool), await run(2, pool)];
      const together = await Promise.all([run(1, pool), run(2, pool)]);
      for (const i of [0, 1]) {
        expect(together[i]!.exits).toEqual(alone[i]!.exits);
        expect(together[i]!.trace).toEqual(alone[i]!.trace);
      }
    } finally {
      await pool.close();
    }
  }, 600_000);
});
