// @faultline/sim: the costs of running a process in a worker. Faults and syscalls cross a shared-memory
// channel; TLB hits stay in the worker. Baselines are measured in the same run.
import { Worker } from "node:worker_threads";
import { Mm, Mmu, ramOnly } from "@faultline/mm";
import { measureSideBySide, recordResults } from "../../../bench/record";
import { tlbLoops } from "../../../bench/tlb-loops";
import { Simulation } from "../src/index";
import { mmKernel } from "../test/__fixtures__/mm-kernel";

const probe = new URL("./programs/probe.ts", import.meta.url);

async function runProbe(argvs: string[][]): Promise<Array<Record<string, number>>> {
  const kernel = mmKernel(256 * 1024 * 1024);
  const sim = await Simulation.create({ kernel });
  const out: Array<Record<string, number>> = [];
  for (const [i, argv] of argvs.entries()) {
    const pid = sim.spawn(probe, argv);
    sim.worker(pid)!.on("message", (m: Record<string, number>) => {
      out[i] = m;
    });
  }
  const r = await sim.run();
  // A worker's last message can be dispatched after the run is over: give it a moment.
  for (let t = 0; t < 200 && out.filter(Boolean).length < argvs.length; t++)
    await new Promise((res) => setTimeout(res, 10));
  for (const x of r)
    if (!("code" in x.exit) || x.exit.code !== 0) throw new Error(`probe failed: ${JSON.stringify(x)}`);
  return out;
}

/** A bare spin-then-wait round trip between two threads: the floor for any synchronous call. */
async function bareRoundTrip(iterations: number): Promise<number> {
  const sab = new SharedArrayBuffer(256);
  const w = new Worker(
    `const { workerData } = require("node:worker_threads");
     const a = new Int32Array(workerData);
     for (let seq = 1;; seq++) {
       let spins = 4000;
       while (Atomics.load(a, 0) !== seq) { if (--spins <= 0) { Atomics.wait(a, 0, seq - 1, 5); spins = 4000; } }
       if (seq < 0) break;
       Atomics.store(a, 16, seq);
     }`,
    { eval: true, workerData: sab },
  );
  const a = new Int32Array(sab);
  const samples: number[] = [];
  let seq = 0;
  for (let r = 0; r < 11; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) {
      Atomics.store(a, 0, ++seq);
      let spins = 4000;
      while (Atomics.load(a, 16) !== seq)
        if (--spins <= 0) {
          Atomics.wait(a, 16, seq - 1, 5);
          spins = 4000;
        }
    }
    samples.push(Number(process.hrtime.bigint() - t0) / iterations);
  }
  await w.terminate();
  samples.sort((x, y) => x - y);
  return samples[5]!;
}

/** The same TLB loops in this thread, through a facade shaped like a worker program's MMU. */
function inThreadTlb(): Record<string, number> {
  const kernel = mmKernel(64 * 1024 * 1024);
  const mm = new Mm(ramOnly(kernel.mem));
  const mmu = Mmu.forMm(mm);
  const bytes = 64 * 4096;
  const base = mm.mmap(0, bytes, 3, 0x02 | 0x20, null, 0);
  for (let o = 0; o < bytes; o += 4) mmu.store32(base + o, o & 0xffff);
  const raw = new Uint32Array(bytes / 4);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 4) & 0xffff;
  const facade = Object.freeze({
    load32: (a: number) => mmu.load32(a),
    store32: (a: number, v: number) => mmu.store32(a, v),
  });
  return measureSideBySide(tlbLoops(facade, raw, base, bytes), {
    iterations: 250_000,
    rounds: 41,
    statistic: "min",
  });
}

function inThreadFault(): number {
  const kernel = mmKernel(256 * 1024 * 1024);
  const mm = new Mm(ramOnly(kernel.mem));
  const mmu = Mmu.forMm(mm);
  const n = 4096;
  const samples: number[] = [];
  for (let r = 0; r < 9; r++) {
    const base = mm.mmap(0, n * 4096, 1, 0x02 | 0x20, null, 0);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) mmu.load32(base + i * 4096);
    samples.push(Number(process.hrtime.bigint() - t0) / n);
    mm.munmap(base, n * 4096);
  }
  samples.sort((a, b) => a - b);
  return samples[4]!;
}

// `pnpm --filter @faultline/sim bench [worker] [scaling]`: only the named sections (default both).
// worker: the channel's costs and the TLB-hit loops in a worker ("sim: process in a worker");
// scaling: N workers' TLB-hit loads against one worker's, beside the raw loop ("sim: N-worker scaling").
const only = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const wants = (section: string) => only.length === 0 || only.includes(section);

if (wants("worker")) {
  const bare = await bareRoundTrip(50_000);
  const [sys] = await runProbe([["syscall"]]);
  const [fault] = await runProbe([["fault"]]);
  const local = inThreadFault();
  const [tlb] = await runProbe([["tlb"]]);
  const here = inThreadTlb();
  const workerFault = fault!.fault!;
  recordResults("sim: process in a worker", {
    "bare spin-then-wait round trip ns": bare,
    "getpid from a worker ns": sys!.getpid!,
    "getpid / bare round trip (goal <= 3)": sys!.getpid! / bare,
    "read fault from a worker ns": workerFault,
    "read fault in-thread (same kernel work) ns": local,
    "fault channel overhead ns (worker - in-thread)": workerFault - local,
    "TLB-hit load32 in a worker ns (program MMU, bench/tlb-loops.ts)": tlb!.mmuLoad32!,
    "raw Uint32Array read from the address in a worker ns": tlb!.rawFromAddress!,
    "load32 / raw from address, worker (goal <= 1.5)": tlb!.mmuLoad32! / tlb!.rawFromAddress!,
    "load32 / raw precomputed index, worker": tlb!.mmuLoad32! / tlb!.rawPrecomputed!,
    "TLB-hit load32 in-thread, same facade and loop ns": here.mmuLoad32!,
    "load32 / raw from address, in-thread": here.mmuLoad32! / here.rawFromAddress!,
    "worker load32 / in-thread load32": tlb!.mmuLoad32! / here.mmuLoad32!,
    "TLB-hit store32 in a worker ns": tlb!.mmuStore32!,
    "raw Uint32Array write from the address in a worker ns": tlb!.rawStoreFromAddress!,
    "store32 / raw write from address, worker (goal <= 1.5)": tlb!.mmuStore32! / tlb!.rawStoreFromAddress!,
    "TLB-hit store32 in-thread, same facade and loop ns": here.mmuStore32!,
    "store32 / raw write from address, in-thread": here.mmuStore32! / here.rawStoreFromAddress!,
    "TLB loops statistic": "fastest of 41 rounds of 250,000 loads or stores, each loop",
  });
}

if (wants("scaling")) {
  // Scaling = total work over wall-clock time, the pair's window running from the first start to the
  // last end; the overlap (both loops running) must cover nearly all of it for the figure to mean
  // anything, and is recorded beside it. The raw typed-array loop runs the same way in the same
  // threads: what the host gives two busy threads at this moment (on a loaded machine, far from 2).
  // A pair's window is ~0.1 s, and a 2-vCPU guest does not always get both vCPUs at once: several
  // rounds, MMU and raw alternating. The goal figures take the fastest pair over the fastest single
  // worker of the same loop (the least-disturbed of each, as the TLB loops' fastest of 41); the
  // medians of the same rounds are beside them, and the pair's overlap proves it ran side by side.
  const N = "50000000";
  const ROUNDS = 5;
  const rate = (r: Record<string, number>) => r.loads! / ((r.end! - r.start!) / 1e9);
  const pairOf = (r: Record<string, number>) => {
    const first = Math.min(r.start0!, r.start1!);
    const last = Math.max(r.end0!, r.end1!);
    const overlap = Math.max(0, Math.min(r.end0!, r.end1!) - Math.max(r.start0!, r.start1!));
    return { rate: r.loads! / ((last - first) / 1e9), overlap: overlap / (last - first) };
  };
  type Rounds = { ones: number[]; pairs: Array<{ rate: number; overlap: number }> };
  const rounds: Record<"mmu" | "raw", Rounds> = {
    mmu: { ones: [], pairs: [] },
    raw: { ones: [], pairs: [] },
  };
  for (let k = 0; k < ROUNDS; k++)
    for (const kind of ["mmu", "raw"] as const) {
      const [one] = await runProbe([["throughput", N, "single", kind]]);
      const [pair] = await runProbe([["throughput", N, "pair", kind]]);
      rounds[kind].ones.push(rate(one!));
      rounds[kind].pairs.push(pairOf(pair!));
    }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const summary = ({ ones, pairs }: Rounds) => {
    const pair = pairs.reduce((a, b) => (b.rate > a.rate ? b : a));
    const one = Math.max(...ones);
    return {
      one,
      ...pair,
      scaling: pair.rate / one,
      medianScaling: median(pairs.map((p) => p.rate)) / median(ones),
      overlaps: pairs.map((p) => p.overlap.toFixed(2)).join(" "),
    };
  };
  const mmu = summary(rounds.mmu);
  const raw = summary(rounds.raw);
  recordResults("sim: N-worker scaling", {
    "1 worker TLB-hit loads/s (wall clock)": mmu.one,
    "2 workers TLB-hit loads/s (total work / wall clock)": mmu.rate,
    "2 workers: fraction of the window both ran": mmu.overlap,
    "2 workers / 1 worker throughput (goal >= 1.8)": mmu.scaling,
    "medians: 2 workers / 1 worker throughput": mmu.medianScaling,
    "1 worker raw Uint32Array loads/s (same loop as the baselines, wall clock)": raw.one,
    "2 workers raw loads/s (total work / wall clock)": raw.rate,
    "2 workers raw: fraction of the window both ran": raw.overlap,
    "2 workers / 1 worker throughput, raw loop (what the host scales to now)": raw.scaling,
    "medians: 2 workers / 1 worker throughput, raw loop": raw.medianScaling,
    "TLB-hit scaling / raw-loop scaling": mmu.scaling / raw.scaling,
    "each round's fraction both ran, TLB-hit pair": mmu.overlaps,
    "each round's fraction both ran, raw pair": raw.overlaps,
    method: `${N} loads per worker, timed after both are ready (a shared page), process-wide monotonic clock; fastest pair / fastest single worker of ${ROUNDS} rounds, MMU and raw alternating`,
  });
}
