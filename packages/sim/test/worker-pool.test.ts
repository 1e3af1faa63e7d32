// WorkerPool: processes run on kept worker threads end exactly as on fresh ones (results, error text
// and stacks, the deterministic trace byte for byte), each with its program module's own state; a
// killed process's worker is ended, not reused.
import { describe, expect, it } from "vitest";
import {
  defineProgram,
  encodeTrace,
  type ProcessResult,
  Simulation,
  SimulationTimeoutError,
  WorkerPool,
} from "../src/index";

const program = (name: string) => new URL(`./__fixtures__/programs/${name}`, import.meta.url);
const MACHINE = { ramBytes: 16 * 1024 * 1024 };

/** Two seeds of a run with a fork, a throw, a SIGSEGV and a module that does not load. */
async function runs(workerPool?: WorkerPool) {
  const out: { results: Omit<ProcessResult, "threadId">[]; trace: Uint8Array }[] = [];
  for (const seed of [1, 2]) {
    const sim = await Simulation.deterministic({
      machine: MACHINE,
      seed,
      // Loading a program through tsx in a new thread takes minutes on a machine this loaded.
      loadTimeoutMs: 300_000,
      ...(workerPool ? { workerPool } : {}),
    });
    for (const argv of [["fork"], ["throw"], ["segv"], []]) sim.spawn(program("pooled.ts"), argv);
    sim.spawn(program("not-a-program.ts"));
    const results = await sim.run();
    sim.machine.checkInvariants();
    out.push({ results: results.map(({ threadId: _, ...r }) => r), trace: encodeTrace(sim.trace()) });
  }
  return out;
}

describe("WorkerPool", () => {
  it("runs processes on kept threads exactly as on fresh ones, each with its own module state", async () => {
    const pool = new WorkerPool();
    try {
      const [fresh, pooled] = await Promise.all([runs(), runs(pool)]);
      // Six processes a run; the second run starts on the first run's threads.
      expect(pool.reused).toBeGreaterThanOrEqual(5);
      expect(pooled).toEqual(fresh);
      const [first] = pooled;
      expect(first!.results.map((r) => r.exit)).toEqual([
        { code: 5 }, // the fork: the child saw the parent's page (and its own module state)
        { code: 1 },
        { signal: "SIGSEGV" },
        { code: 0 },
        { code: 127 },
        { code: 5 },
      ]);
      // The stack ends at the program's frames, without the query a pooled thread imports it under.
      const thrown = first!.results[1]!.error!;
      expect(thrown).toMatch(/^Error: boom at \d+\n\s+at .*pooled\.ts:\d+:\d+/);
      expect(thrown).not.toMatch(/faultline-process|worker-main/);
      expect(first!.results[4]!.error).toMatch(/not-a-program\.ts: the default export is not defineProgram/);
    } finally {
      await pool.close();
    }
    expect(pool.idleWorkers).toBe(0);
  }, 600_000);

  it("ends the thread of a process killed as hung instead of reusing it; the pool goes on", async () => {
    const pool = new WorkerPool();
    try {
      const warm = await Simulation.deterministic({ machine: MACHINE, seed: 1, workerPool: pool });
      warm.spawn(program("pooled.ts"));
      await warm.run();
      expect(pool.idleWorkers).toBe(1);
      const hung = await Simulation.deterministic({
        machine: MACHINE,
        seed: 1,
        deadlineMs: 3000,
        workerPool: pool,
      });
      const pid = hung.spawn(program("spin.ts"), ["2"]);
      const err = await hung.run().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SimulationTimeoutError);
      expect((err as SimulationTimeoutError).results[0]).toMatchObject({ pid, exit: { signal: "SIGKILL" } });
      expect(hung.worker(pid)).toBeUndefined();
      // The spinning thread was the kept one: it is gone, and the next process gets a new thread.
      expect(pool).toMatchObject({ started: 1, reused: 1, idleWorkers: 0 });
      const after = await Simulation.deterministic({ machine: MACHINE, seed: 1, workerPool: pool });
      after.spawn(program("pooled.ts"));
      expect((await after.run()).map((r) => r.exit)).toEqual([{ code: 0 }]);
      expect(pool).toMatchObject({ started: 2, reused: 1, idleWorkers: 1 });
    } finally {
      await pool.close();
    }
  }, 600_000);

  it("lets a program that allows it (reuseModule) keep its module on a pooled thread; fresh threads import it anew", async () => {
    const pool = new WorkerPool();
    const exits = async (workerPool?: WorkerPool) => {
      const sim = await Simulation.deterministic({
        machine: MACHINE,
        seed: 1,
        loadTimeoutMs: 300_000,
        ...(workerPool ? { workerPool } : {}),
      });
      sim.spawn(program("reused.ts"));
      const r = await sim.run();
      sim.machine.checkInvariants();
      return r.map((x) => x.exit);
    };
    try {
      // One process a run, on the pool's one thread: its copy of the module counts 1, 2, 3.
      expect(await exits(pool)).toEqual([{ code: 1 }]);
      expect(await exits(pool)).toEqual([{ code: 2 }]);
      expect(await exits(pool)).toEqual([{ code: 3 }]);
      expect(pool).toMatchObject({ started: 1, reused: 2 });
      // Without a pool, and for programs that do not allow it (pooled.ts, above), every process
      // starts from a fresh module.
      expect(await exits()).toEqual([{ code: 1 }]);
      expect(await exits()).toEqual([{ code: 1 }]);
    } finally {
      await pool.close();
    }
  }, 600_000);
});

describe("defineProgram", () => {
  const main = () => 0;
  it("takes options after main or after its entries, and says what is wrong with bad arguments", () => {
    expect(defineProgram(main, { reuseModule: true })).toEqual({
      faultlineProgram: 1,
      main,
      child: undefined,
      thread: undefined,
      reuseModule: true,
    });
    expect(defineProgram(main, main, undefined, { reuseModule: true }).child).toBe(main);
    expect(defineProgram(main, {}).reuseModule).toBeUndefined();
    expect(defineProgram(main, main, main).thread).toBe(main);
    // null stands for "no such entry", as undefined does.
    const bad = defineProgram as unknown as (...a: unknown[]) => unknown;
    expect(bad(main, null, main)).toMatchObject({ child: undefined, thread: main });
    expect(bad(main, null, null, null)).toMatchObject({ child: undefined, thread: undefined });
    expect(() => bad("main")).toThrow(new TypeError("defineProgram: main must be a function, got string"));
    expect(() => bad(main, 5)).toThrow(new TypeError("defineProgram: child must be a function, got number"));
    expect(() => bad(main, undefined, {})).toThrow(
      new TypeError("defineProgram: thread must be a function, got object"),
    );
    expect(() => bad(main, undefined, undefined, 1)).toThrow(
      new TypeError("defineProgram: options must be an object, got number"),
    );
    expect(() => bad(main, { reuseModule: "yes" })).toThrow(
      new TypeError("defineProgram: options.reuseModule must be a boolean, got string"),
    );
  });
});
