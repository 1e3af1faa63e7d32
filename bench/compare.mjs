// `pnpm bench --compare` (or `node bench/compare.mjs [before.json] [after.json] [--noise=0.15]`; the
// defaults are the committed bench/results.json and the one on disk): prints every
// figure of bench/results.json beside the committed one and flags each ratio that got worse by more
// than the run's own noise. Never fails on timing (benchmarks are not tests): the exit code is 0.
//
// Which way is worse: ratios are costs (Faultline ÷ baseline: higher is worse) unless the name says
// speed, throughput, loads/s, fraction or scaling (higher is better). The noise of a section is the
// largest relative gap between a figure and its "medians: …" twin recorded beside it (the bench's fastest
// round against its median round); sections without twins use --noise=<fraction> (default 0.15).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const noiseArg = process.argv.find((a) => a.startsWith("--noise="));
const DEFAULT_NOISE = noiseArg ? Number(noiseArg.slice("--noise=".length)) : 0.15;

function load(path) {
  if (path) return JSON.parse(readFileSync(path, "utf8"));
  const text = execFileSync("git", ["show", "HEAD:bench/results.json"], { cwd: here, encoding: "utf8" });
  return JSON.parse(text);
}

/** True when a bigger value of this figure is better. */
export function higherIsBetter(name) {
  return /speed|throughput|loads\/s|fraction|scaling/i.test(name);
}

/** Ratio figures are the ones compared across runs; absolute times only move with the machine. */
export function isRatio(name) {
  return /ratio|speed| \/ /i.test(name) && !/ ns$| µs$|loads\/s/.test(name);
}

/** The section's own noise: how far its fastest-round ratios sit from their median-round twins. */
export function sectionNoise(figures) {
  let noise = 0;
  let twins = 0;
  for (const [name, v] of Object.entries(figures)) {
    if (!name.startsWith("medians: ") || typeof v !== "number") continue;
    const base = Object.keys(figures).find(
      (k) => k !== name && k.startsWith(name.slice("medians: ".length)) && typeof figures[k] === "number",
    );
    if (base === undefined) continue;
    twins++;
    noise = Math.max(noise, Math.abs(v - figures[base]) / figures[base]);
  }
  return twins ? Math.max(noise, 0.05) : DEFAULT_NOISE;
}

/** Lines of the comparison and the names of the regressed figures. */
export function compare(before, after) {
  const lines = [];
  const regressed = [];
  for (const [section, figures] of Object.entries(after)) {
    const old = before[section] ?? {};
    const noise = sectionNoise(figures);
    lines.push(`\n${section}   (noise ±${(noise * 100).toFixed(0)}%)`);
    // Ratios from a loaded machine against a quiet one: say so beside them (bench/record.ts).
    if (typeof figures.load === "string" || typeof old.load === "string")
      lines.push(`  machine load: ${old.load ?? "not recorded"} → ${figures.load ?? "not recorded"}`);
    for (const [name, v] of Object.entries(figures)) {
      if (typeof v !== "number" || name.startsWith("medians: ")) continue;
      const o = old[name];
      if (typeof o !== "number") {
        lines.push(`  ${name.padEnd(64)} ${fmt(v).padStart(10)}   (new)`);
        continue;
      }
      const change = o === 0 ? 0 : (v - o) / Math.abs(o);
      const worse = higherIsBetter(name) ? -change : change;
      let flag = "";
      if (isRatio(name) && worse > noise) {
        flag = "  REGRESSED";
        regressed.push(`${section}: ${name}`);
      } else if (isRatio(name) && worse < -noise) flag = "  better";
      lines.push(
        `  ${name.padEnd(64)} ${fmt(o).padStart(10)} → ${fmt(v).padStart(10)}  ${sign(change)}${flag}`,
      );
    }
  }
  return { lines, regressed };
}

const fmt = (v) => (Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4));
const sign = (c) => `${c >= 0 ? "+" : ""}${(c * 100).toFixed(1)}%`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [committed, current] = process.argv.slice(2).filter((a) => !a.startsWith("--"));
  const before = load(committed);
  const after = load(current ?? join(here, "results.json"));
  const { lines, regressed } = compare(before, after);
  console.log(lines.join("\n"));
  console.log(
    regressed.length
      ? `\n${regressed.length} ratio(s) worse than the committed figures by more than the noise:\n  ${regressed.join("\n  ")}`
      : "\nno ratio is worse than the committed figures by more than the noise",
  );
}
