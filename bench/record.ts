// Shared by every package's `pnpm bench`: measures side by side and merges figures by name into
// bench/results.json at the repository root. Benchmarks never fail on timing.
import { readFileSync, writeFileSync } from "node:fs";
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
  all[section] = { ...figures, measuredAt: new Date().toISOString(), node: process.version };
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
 * Median nanoseconds per call of `fn(i)` over `rounds` rounds of `iterations` calls; runs each
 * candidate interleaved with the others so they see the same machine state.
 */
export function measureSideBySide(
  candidates: Record<string, (iterations: number) => number>,
  { iterations = 1_000_000, rounds = 15 }: { iterations?: number; rounds?: number } = {},
): Record<string, number> {
  const samples: Record<string, number[]> = {};
  let sink = 0;
  for (const name of Object.keys(candidates)) samples[name] = [];
  for (let r = 0; r < rounds + 2; r++) {
    for (const [name, fn] of Object.entries(candidates)) {
      const t0 = process.hrtime.bigint();
      sink += fn(iterations);
      const ns = Number(process.hrtime.bigint() - t0) / iterations;
      if (r >= 2) samples[name]!.push(ns); // the first two rounds warm the JIT
    }
  }
  if (sink === Number.MIN_VALUE) console.log(sink);
  const out: Record<string, number> = {};
  for (const [name, xs] of Object.entries(samples)) {
    xs.sort((a, b) => a - b);
    out[name] = xs[Math.floor(xs.length / 2)]!;
  }
  return out;
}
