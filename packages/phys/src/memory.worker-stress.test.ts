// Several real worker_threads share one PhysMemory through share()/attach() and race on the buddy
// allocator's lock; the owner array proves no frame is ever handed out twice, and at the end every
// frame must be back and fully coalesced.
import { describe, expect, it } from "vitest";
import type { AllocWorkerData, AllocWorkerResult } from "../test/alloc-worker";
import { tsWorker } from "../test/ts-worker";
import { PhysMemory } from "./index";

const WORKERS = 4;
const OPS = 100_000;

function runWorker(data: AllocWorkerData): Promise<AllocWorkerResult> {
  return new Promise((resolve, reject) => {
    const w = tsWorker(new URL("../test/alloc-worker.ts", import.meta.url), { workerData: data });
    w.once("message", (m: AllocWorkerResult) => resolve(m));
    w.once("error", reject);
    w.once("exit", (code) => {
      if (code !== 0) reject(new Error(`worker ${data.id} exited with ${code}`));
    });
  });
}

describe("PhysMemory across worker threads", () => {
  it(`${WORKERS} workers × ${OPS} alloc/free: no frame handed out twice, all frames back`, async () => {
    // 8 MiB (2046 free frames) against windows of 160 blocks of 1..8 frames per worker: together the
    // workers want more than there is, so the refusal path runs too, with heavy split/coalesce traffic.
    const mem = PhysMemory.create({ ramBytes: 8 * 1024 * 1024 });
    const bootFree = mem.nrFreePages;
    const bootBuddy = mem.buddyinfo();
    const owner = new SharedArrayBuffer(mem.maxPfn * 4);
    const gate = new Int32Array(new SharedArrayBuffer(8));
    const desc = mem.share();
    const results = Array.from({ length: WORKERS }, (_, i) =>
      runWorker({
        desc,
        owner,
        gate: gate.buffer as SharedArrayBuffer,
        id: i + 1,
        ops: OPS,
        window: 160,
        seed: 0x9e3779b9 * (i + 1),
      }),
    );
    // Start everyone together once all have loaded, so the lock is really contended. A worker that
    // fails to load rejects `all` and ends the wait.
    const all = Promise.all(results);
    let failed: unknown = null;
    all.catch((e: unknown) => {
      failed = e;
    });
    while (Atomics.load(gate, 0) < WORKERS && failed === null) {
      await Atomics.waitAsync(gate, 0, Atomics.load(gate, 0), 50).value;
    }
    Atomics.store(gate, 1, 1);
    Atomics.notify(gate, 1);
    const t0 = performance.now();
    const done = await all;
    const ms = performance.now() - t0;
    console.log(
      `${WORKERS} workers: ${done.reduce((n, r) => n + r.allocs + r.frees, 0)} alloc/free in ${ms.toFixed(0)} ms, ${done.reduce((n, r) => n + r.exhausted, 0)} refused for exhaustion`,
    );

    for (const r of done) {
      expect(r.errors).toEqual([]);
      expect(r.allocs + r.frees).toBeGreaterThanOrEqual(OPS);
      expect(r.allocs).toBe(r.frees);
    }
    expect(done.reduce((n, r) => n + r.exhausted, 0)).toBeGreaterThan(0);
    expect(new Int32Array(owner).every((o) => o === 0)).toBe(true);
    expect(mem.nrFreePages).toBe(bootFree);
    expect(mem.buddyinfo()).toEqual(bootBuddy);
    mem.checkInvariants();
  }, 60_000);
});

describe("the zone lock's contended path", () => {
  it("wakes every sleeper: no lost wakeup when several threads sleep on the lock at once", async () => {
    const WAITERS = 3;
    const mem = PhysMemory.create({ ramBytes: 4 * 1024 * 1024 });
    const bootFree = mem.nrFreePages;
    const desc = mem.share();
    // White box: slot 0 of the allocator's control block is the lock word (0 free, 1 held, 2 held with
    // sleepers). The test holds the lock itself so that every worker spins out and sleeps.
    const lockWord = new Int32Array(desc.buddy);
    expect(Atomics.compareExchange(lockWord, 0, 0, 1)).toBe(0);
    const gate = new Int32Array(new SharedArrayBuffer(4));
    const workers = Array.from({ length: WAITERS }, () =>
      tsWorker(new URL("../test/lock-worker.ts", import.meta.url), {
        workerData: { desc, gate: gate.buffer, rounds: 200 },
      }),
    );
    const results = workers.map(
      (w) =>
        new Promise<number>((resolve, reject) => {
          w.once("message", resolve);
          w.once("error", reject);
        }),
    );
    try {
      while (Atomics.load(gate, 0) < WAITERS) {
        await Atomics.waitAsync(gate, 0, Atomics.load(gate, 0), 50).value;
      }
      // Long enough for each worker to give up spinning and sleep in Atomics.wait.
      await new Promise((r) => setTimeout(r, 300));
      expect(Atomics.load(lockWord, 0)).toBe(2);
      // unlock() as PhysMemory does it: one wakeup; each woken thread must pass the baton on.
      if (Atomics.exchange(lockWord, 0, 0) === 2) Atomics.notify(lockWord, 0, 1);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("a sleeper was never woken (lost wakeup)")), 5_000);
      });
      const got = await Promise.race([Promise.all(results), timeout]);
      clearTimeout(timer);
      expect(got).toEqual(Array(WAITERS).fill(200));
      expect(Atomics.load(lockWord, 0)).toBe(0);
      expect(mem.nrFreePages).toBe(bootFree);
      mem.checkInvariants();
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
  });
});
