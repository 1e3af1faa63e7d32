// `faultline sweep` throughput (issue 15 §3): runs per second one at a time (--jobs 1) and on every
// core (--jobs N), measured side by side (interleaved rounds) with the compiled command over the
// built-in scenario, with the CPU time each run costs (the command, its children and every thread:
// the figure the other helpers' load disturbs least), and
// what a run costs to start: a sweep child's start and module loading, a worker thread per simulated
// process (fresh, or kept in a WorkerPool), the machine's boot (and, for comparison, restoring it from
// a snapshot), the run itself, writing its record. The goal: N jobs ≥ 0.8·N × one job.
//
// On a loaded machine these figures measure the load as much as the code: the load average at the
// start and end is recorded with them. This file runs from source (tsx, with the workspace's source
// condition), so its in-process figures are "from source" ones (each new worker thread compiles the
// runtime through tsx); the thread figures marked "compiled" come from a plain-node child on dist/, and
// the sweeps run the compiled command. Runs from `pnpm bench` (this package's script builds dist/
// first; the other packages' dist/ are built by turbo's ^build).
import { fork, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Machine } from "@faultline/kernel";
import { Simulation, WorkerPool } from "@faultline/sim";
import { recordResults } from "../../../bench/record";
import { DEFAULT_SCENARIO } from "../src/default-scenario";
import { bootMachine } from "../src/run";
import { loadPlugins, machineOptions, parseScenario } from "../src/scenario";
import { applyCell } from "../src/sweep-matrix";
import { appendResult, readResults } from "../src/sweep-results";
import { runOne } from "../src/sweep-run";

const appDir = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(appDir, "dist/cli.js");
const CHILD = join(appDir, "dist/sweep-worker.js");
const N = availableParallelism();
const scratch = mkdtempSync(join(tmpdir(), "faultline-sweep-bench-"));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load0 = loadavg()[0]!;

/** fork() of the compiled sweep child until it says it has loaded its modules. */
async function childStartMs(): Promise<number> {
  const t0 = performance.now();
  const child = fork(CHILD, [], { serialization: "advanced", stdio: ["ignore", "ignore", "inherit", "ipc"] });
  await new Promise<void>((ready) => child.once("message", () => ready()));
  const ms = performance.now() - t0;
  child.disconnect();
  await new Promise((r) => child.once("exit", r));
  return ms;
}

const nop = join(scratch, "nop.program.mjs");
writeFileSync(
  nop,
  `import { defineProgram } from ${JSON.stringify(import.meta.resolve("@faultline/sim"))};\nexport default defineProgram(() => 0);\n`,
);

/** One process that exits at once: what starting a simulated process costs, fresh or pooled. */
async function nopRunMs(workerPool?: WorkerPool): Promise<number> {
  const machine = await Machine.create({ ramBytes: 16 * 1024 * 1024 });
  const sim = await Simulation.deterministic({ machine, seed: 1, ...(workerPool ? { workerPool } : {}) });
  const t0 = performance.now();
  sim.spawn(nop);
  await sim.run();
  return performance.now() - t0;
}

const era = "modern" as const;
const scenario = parseScenario(applyCell(DEFAULT_SCENARIO, { era }), DEFAULT_SCENARIO.name);
const plugins = await loadPlugins(scenario, DEFAULT_SCENARIO.name, appDir);
const job = (seed: number) => ({
  scenario: applyCell(DEFAULT_SCENARIO, { era }),
  file: DEFAULT_SCENARIO.name,
  baseDir: appDir,
  cell: { index: 0, params: { era } },
  seed,
  timeoutMs: 120_000,
  traceFile: null,
});

// ---- start-up costs ------------------------------------------------------------------------------
const childMs: number[] = [];
for (let i = 0; i < 5; i++) childMs.push(await childStartMs());

/** The same nop process, fresh and pooled, in a plain-node child on the compiled packages. */
function compiledThreadMs(): { fresh: number; pooled: number } {
  const dist = (pkg: string) => join(appDir, "node_modules/@faultline", pkg, "dist/index.js");
  const prog = join(scratch, "nop-compiled.program.mjs");
  writeFileSync(
    prog,
    `import { defineProgram } from ${JSON.stringify(dist("sim"))};\nexport default defineProgram(() => 0);\n`,
  );
  const script = join(scratch, "threads.mjs");
  writeFileSync(
    script,
    `import { Simulation, WorkerPool } from ${JSON.stringify(dist("sim"))};
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
async function one(workerPool) {
  const sim = await Simulation.deterministic({ machine: { ramBytes: 16 << 20 }, seed: 1, ...(workerPool ? { workerPool } : {}) });
  const t0 = performance.now();
  sim.spawn(${JSON.stringify(prog)});
  await sim.run();
  return performance.now() - t0;
}
const fresh = [], pooled = [];
for (let i = 0; i < 5; i++) fresh.push(await one());
const pool = new WorkerPool();
await one(pool);
for (let i = 0; i < 10; i++) pooled.push(await one(pool));
await pool.close();
console.log(JSON.stringify({ fresh: med(fresh), pooled: med(pooled) }));
`,
  );
  const r = spawnSync(process.execPath, [script], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`compiled thread bench failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { fresh: number; pooled: number };
}
const compiled = compiledThreadMs();

const freshThread: number[] = [];
for (let i = 0; i < 5; i++) freshThread.push(await nopRunMs());
const pool = new WorkerPool();
await nopRunMs(pool);
const pooledThread: number[] = [];
for (let i = 0; i < 10; i++) pooledThread.push(await nopRunMs(pool));

const boot: number[] = [];
const restore: number[] = [];
// Restoring is measured where the scenario's drivers can be saved (every driver needs snapshot hooks).
let snap: Uint8Array | null = null;
let noSnapshot = "";
try {
  snap = (await bootMachine(scenario, era, DEFAULT_SCENARIO.name, plugins)).snapshot();
} catch (e) {
  noSnapshot = `n/a: ${(e as Error).message}`;
}
for (let i = 0; i < 15; i++) {
  let t0 = performance.now();
  await bootMachine(scenario, era, DEFAULT_SCENARIO.name, plugins);
  boot.push(performance.now() - t0);
  if (!snap) continue;
  const o = machineOptions(scenario, era, plugins);
  t0 = performance.now();
  await Machine.restore(snap, { devices: o.devices ?? [], drivers: o.drivers ?? [] });
  restore.push(performance.now() - t0);
}

const freshRun: number[] = [];
for (let i = 0; i < 3; i++) freshRun.push((await runOne(job(i + 1))).durationMs);
await runOne(job(100), { workerPool: pool });
const pooledRun: number[] = [];
for (let i = 0; i < 15; i++) pooledRun.push((await runOne(job(i + 1), { workerPool: pool })).durationMs);
await pool.close();

const record = await runOne(job(1));
const writes: number[] = [];
for (let r = 0; r < 5; r++) {
  const t0 = performance.now();
  for (let i = 0; i < 200; i++) appendResult(scratch, record);
  writes.push((performance.now() - t0) / 200);
}

// ---- throughput: the compiled command, --jobs 1 and --jobs N side by side -------------------------
let notAsExpected = 0;
/** Each sweep's run durations (durationMs), by the sweep's label. */
const durations: Record<string, number[]> = {};

/**
 * CPU time (ms) of the processes this one has waited for, theirs included (/proc/self/stat cutime +
 * cstime, in USER_HZ ticks): a sweep command's own, its children's and all their threads'. CPU time
 * is what the other helpers' load disturbs least (a thread waiting for a core costs none).
 */
function childrenCpuMs(): number {
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[13]) + Number(f[14])) * 10;
  } catch {
    return Number.NaN;
  }
}

/** Each sweep's CPU ms per run (command and children, their start included), by the sweep's label. */
const cpuPerRun: Record<string, number[]> = {};

/** Runs per second of `faultline sweep` over `seeds` seeds (two eras each), command start included. */
function sweepRate(jobs: number, seeds: number, extra: string[] = []): number {
  const out = mkdtempSync(join(scratch, "out-"));
  const cpu0 = childrenCpuMs();
  const t0 = performance.now();
  const r = spawnSync(
    process.execPath,
    [CLI, "sweep", "--seeds", `1-${seeds}`, "--jobs", String(jobs), "-o", out, ...extra],
    { cwd: appDir, encoding: "utf8" },
  );
  const s = (performance.now() - t0) / 1000;
  const cpuMs = childrenCpuMs() - cpu0;
  const runs = readResults(out);
  if (runs.length !== seeds * DEFAULT_SCENARIO.eras.length)
    throw new Error(`faultline sweep --jobs ${jobs} recorded ${runs.length} runs:\n${r.stdout}${r.stderr}`);
  // A run that did not end as expected (a hang on an overloaded host) still counts: it ran.
  const label = `${jobs}${extra.join("")}`;
  durations[label] = [...(durations[label] ?? []), ...runs.map((x) => x.durationMs)];
  cpuPerRun[label] = [...(cpuPerRun[label] ?? []), cpuMs / runs.length];
  const bad = runs.filter((x) => x.outcome !== "ok");
  notAsExpected += bad.length;
  for (const x of bad)
    console.error(`--jobs ${jobs}: seed ${x.seed} cell ${x.cell}: ${x.outcome} ${x.error ?? ""}`);
  rmSync(out, { recursive: true, force: true });
  return runs.length / s;
}

// 800 runs a sweep, as the 1,000-seed sweeps the command is for: long enough that starting the
// children (their modules, then a worker thread per simulated process, ~2-3 s on one core) weighs
// little; those start-up costs are measured on their own above.
const SEEDS = 400;
const one: number[] = [];
const all: number[] = [];
const unpinned: number[] = [];
const unpinnedOne: number[] = [];
// Interleaved rounds: --jobs 1 and --jobs N see the same machine state, round by round.
for (let round = 0; round < 2; round++) {
  one.push(sweepRate(1, SEEDS));
  all.push(sweepRate(N, SEEDS));
  if (round === 0) {
    unpinnedOne.push(sweepRate(1, SEEDS, ["--no-pin"]));
    unpinned.push(sweepRate(N, SEEDS, ["--no-pin"]));
  }
}
const freshRate = sweepRate(1, 3, ["--no-reuse"]);
rmSync(scratch, { recursive: true, force: true });

// The better round of each: the one the other helpers' load disturbed least.
const r1 = Math.max(...one);
const rN = Math.max(...all);
recordResults("simulator: faultline sweep throughput", {
  cores: N,
  [`runs/s --jobs 1 (built-in scenario, ${2 * SEEDS} runs)`]: r1,
  [`runs/s --jobs ${N}`]: rN,
  [`speed-up --jobs ${N} / --jobs 1 (goal >= ${0.8 * N})`]: rN / r1,
  "CPU per run --jobs 1 (command, children, threads; start included), median ms": median(
    cpuPerRun["1"] ?? [0],
  ),
  [`CPU per run --jobs ${N}, median ms`]: median(cpuPerRun[String(N)] ?? [0]),
  "runs/s --jobs 1, each round": one.map((x) => x.toFixed(2)).join(" "),
  [`runs/s --jobs ${N}, each round`]: all.map((x) => x.toFixed(2)).join(" "),
  "runs/s --jobs 1 --no-pin (the child not pinned: its threads spin on the other cores)": unpinnedOne
    .map((x) => x.toFixed(2))
    .join(" "),
  [`runs/s --jobs ${N} --no-pin (children not pinned to cores), each round`]: unpinned
    .map((x) => x.toFixed(2))
    .join(" "),
  "runs/s --jobs 1 --no-reuse (new child and threads per run)": freshRate,
  "start: sweep child fork until modules loaded ms": median(childMs),
  "start: a process on a new worker thread, compiled ms": compiled.fresh,
  "start: a process on a pooled worker thread, compiled ms": compiled.pooled,
  "start: a process on a new worker thread, from source ms": median(freshThread),
  "start: a process on a pooled worker thread, from source ms": median(pooledThread),
  "start: machine boot (built-in scenario) ms": median(boot),
  "start: Machine.restore of the booted machine ms": snap ? median(restore) : noSnapshot,
  "run in the compiled sweep --jobs 1, median ms": median(durations["1"] ?? [0]),
  "run in the compiled sweep --jobs 1 --no-reuse, median ms": median(durations["1--no-reuse"] ?? [0]),
  "run: built-in scenario (modern), new threads, from source ms": median(freshRun),
  "run: built-in scenario (modern), pooled threads, from source ms": median(pooledRun),
  "write: one result record (msgpack + JSON line) ms": median(writes),
  "runs of these sweeps not as expected": notAsExpected,
  "load average (1 min) at start": load0,
  "load average (1 min) at end": loadavg()[0]!,
});
