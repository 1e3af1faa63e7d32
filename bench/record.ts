// Shared by every package's `pnpm bench`: measures side by side and merges figures by name into
// bench/results.json at the repository root. Benchmarks never fail on timing.
import { readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const RESULTS_PATH = join(dirname(fileURLToPath(import.meta.url)), "results.json");

export type Figures = Record<string, number | string | boolean>;

/** Merges `figures` under `section` into bench/results.json and prints them. */
export function recordResults(section: string, figures: Figures): void {
  let all: Record<string, Figures> = {};
  try {
    all = JSON.parse(readFileSync(RESULTS_PATH, "utf8")) as Record<string, Figures>;
  } catch {
    all = {};
  }
  // The machine's load beside the figures: on 2 cores shared with other work, a ratio measured at a
  // load of 30 is not comparable with one measured on a quiet machine.
  const load = `${loadavg()[0]!.toFixed(1)} (1-minute load average, ${availableParallelism()} CPUs)`;
  all[section] = { ...figures, measuredAt: new Date().toISOString(), node: process.version, load };
  writeFileSync(RESULTS_PATH, `${JSON.stringify(all, null, 2)}\n`);
  console.log(`\n${section}`);
  for (const [k, v] of Object.entries(figures))
    console.log(`  ${k.padEnd(48)} ${typeof v === "number" ? formatNumber(v) : v}`);
}

function formatNumber(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4);
}

/**
 * Nanoseconds per call of `fn(i)` over `rounds` rounds of `iterations` calls: the median by default;
 * runs each candidate interleaved with the others so they see the same machine state.
 *
 * On a loaded machine (2 cores shared by many processes) a wall-clock round mostly measures how long
 * the thread waited for a core. Two remedies, chosen per bench: `statistic: "min"` over many short
 * rounds (the least-disturbed round of each candidate; works in a worker), and `clock: "cpu"`, the
 * process's CPU time (process.cpuUsage: every thread of the process, so only for in-thread benches
 * whose other threads are idle).
 */
export function measureSideBySide(
  candidates: Record<string, (iterations: number) => number>,
  {
    iterations = 1_000_000,
    rounds = 15,
    statistic = "median",
    clock = "wall",
  }: { iterations?: number; rounds?: number; statistic?: "median" | "min"; clock?: "wall" | "cpu" } = {},
): Record<string, number> {
  const samples: Record<string, number[]> = {};
  let sink = 0;
  const now = clock === "cpu" ? cpuNs : wallNs;
  for (const name of Object.keys(candidates)) samples[name] = [];
  for (let r = 0; r < rounds + 2; r++) {
    for (const [name, fn] of Object.entries(candidates)) {
      const t0 = now();
      sink += fn(iterations);
      const ns = (now() - t0) / iterations;
      if (r >= 2) samples[name]!.push(ns); // the first two rounds warm the JIT
    }
  }
  if (sink === Number.MIN_VALUE) console.log(sink);
  const out: Record<string, number> = {};
  for (const [name, xs] of Object.entries(samples)) {
    xs.sort((a, b) => a - b);
    out[name] = statistic === "min" ? xs[0]! : xs[Math.floor(xs.length / 2)]!;
  }
  return out;
}

const wallNs = (): number => Number(process.hrtime.bigint());
/** CPU time of the whole process (user + system), in ns; microsecond resolution. */
export const cpuNs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
};

/**
 * The ratio of `a`'s cost to `b`'s measured in pairs: each round times `iterations` calls of one and
 * then of the other (the order alternating), and the figure is the median of the rounds' ratios. For
 * a goal a few percent from its floor: a pair lies close in time, so a slow phase of a shared host
 * slows both sides of it, where medians or minima taken of each side apart still differ by more
 * than the goal's margin from run to run.
 */
export function measurePairedRatio(
  a: (iterations: number) => number,
  b: (iterations: number) => number,
  {
    iterations = 10,
    rounds = 101,
    clock = "wall",
  }: { iterations?: number; rounds?: number; clock?: "wall" | "cpu" } = {},
): number {
  const now = clock === "cpu" ? cpuNs : wallNs;
  const ratios: number[] = [];
  let sink = 0;
  for (let r = 0; r < rounds + 4; r++) {
    let ta = 0;
    let tb = 0;
    for (const first of r & 1 ? [true, false] : [false, true]) {
      const t0 = now();
      sink += first ? a(iterations) : b(iterations);
      if (first) ta = now() - t0;
      else tb = now() - t0;
    }
    if (r >= 4) ratios.push(ta / tb); // the first rounds warm the JIT
  }
  if (sink === Number.MIN_VALUE) console.log(sink);
  ratios.sort((x, y) => x - y);
  return ratios[Math.floor(ratios.length / 2)]!;
}
