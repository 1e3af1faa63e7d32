// What a sweep runs: the seeds (`--seeds 1-1000`) and the matrix cells (`--matrix matrix.json`).
// A cell is one combination of the matrix's values applied to the scenario's JSON before it is
// parsed, so a value the scenario would refuse is refused here with the scenario's own words.
import { readFileSync } from "node:fs";
import { type Era, parseScenario, ScenarioError } from "./scenario";

/** One combination of matrix values; `era` is always set (the scenario's eras when the matrix has none). */
export interface Cell {
  /** Position in the cartesian product, in key order (the n of seed-<seed>-cell-<n>.trace). */
  readonly index: number;
  readonly params: Readonly<Record<string, unknown>> & { readonly era: Era };
}

/** "1-1000", "7", "1-10,20,30-32": inclusive ranges of non-negative integers, in order, no repeats. */
export function parseSeeds(text: string): number[] {
  const out = new Set<number>();
  for (const part of text.split(",")) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    const lo = m ? Number(m[1]) : Number.NaN;
    const hi = m?.[2] !== undefined ? Number(m[2]) : lo;
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || hi < lo || hi - lo > 10_000_000)
      throw new Error(`expected seeds as "1-1000", "7" or "1-10,20", got ${JSON.stringify(text)}`);
    for (let s = lo; s <= hi; s++) out.add(s);
  }
  return [...out];
}

/**
 * Matrix keys: `era`, then fields of the scenario's `machine`: `ramBytes`, `zeroPage`, `cpu.pku`, or a
 * field of one of its devices or drivers (`devices[0].size`, `drivers[2].start`, `devices[1].options.x`).
 */
const KEY = /^(?:era|ramBytes|zeroPage|cpu\.pku|(?:devices|drivers)\[\d+\](?:\.[A-Za-z_$][\w$]*)+)$/;
const KEYS_TEXT = 'era, ramBytes, zeroPage, cpu.pku, "devices[i].<field>" or "drivers[i].<field>"';

/** The scenario JSON with one cell's values in place (a deep copy; the input is not changed). */
export function applyCell(raw: unknown, params: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const s = structuredClone(raw) as Record<string, unknown>;
  for (const [key, value] of Object.entries(params)) {
    if (key === "era") {
      s.eras = [value];
      continue;
    }
    s.machine ??= {};
    let at = s.machine as Record<string, unknown>;
    // "devices[0].size" → ["devices", 0, "size"]
    const path = key.split(/\.|(?=\[)/).map((p) => (p.startsWith("[") ? Number(p.slice(1, -1)) : p));
    for (const [i, step] of path.entries()) {
      if (i === path.length - 1) {
        at[step as string] = value;
        break;
      }
      const next = (at as Record<string | number, unknown>)[step];
      if (typeof next !== "object" || next === null) (at as Record<string | number, unknown>)[step] = {};
      at = (at as Record<string | number, unknown>)[step] as Record<string, unknown>;
    }
  }
  return s;
}

/**
 * Reads and checks a matrix file against the scenario (raw JSON) it will be applied to: every key
 * known, every value a non-empty array, every value one the scenario accepts there. `scenarioEras` is
 * the era dimension when the matrix has none.
 */
export function loadMatrix(
  path: string | undefined,
  raw: unknown,
  scenarioFile: string,
  scenarioEras: readonly Era[],
): Cell[] {
  let dims: [string, unknown[]][] = [];
  if (path !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(path, "utf8"));
    } catch (e) {
      throw new ScenarioError(path, "(file)", "a readable JSON matrix file", (e as Error).message);
    }
    if (typeof json !== "object" || json === null || Array.isArray(json))
      throw new ScenarioError(path, "(top level)", "an object of arrays", json);
    dims = Object.entries(json);
    const rawMachine = ((raw as Record<string, unknown>).machine ?? {}) as Record<string, unknown>;
    for (const [key, values] of dims) {
      if (!KEY.test(key)) throw new ScenarioError(path, key, `one of ${KEYS_TEXT}`, key);
      const list = /^(devices|drivers)\[(\d+)\]/.exec(key);
      if (list) {
        const have = rawMachine[list[1]!];
        const n = Array.isArray(have) ? have.length : 0;
        if (Number(list[2]) >= n)
          throw new ScenarioError(
            path,
            key,
            `an index of the scenario's machine.${list[1]} (it has ${n})`,
            Number(list[2]),
          );
      }
      if (!Array.isArray(values) || values.length === 0)
        throw new ScenarioError(path, key, "a non-empty array of values", values);
      // Each value alone, checked by the scenario parser: its words, this file's field.
      values.forEach((v, j) => {
        try {
          parseScenario(applyCell(raw, { [key]: v }), scenarioFile);
        } catch (e) {
          if (!(e instanceof ScenarioError)) throw e;
          throw new ScenarioError(path, `${key}[${j}]`, e.expected, v);
        }
      });
    }
  }
  if (!dims.some(([k]) => k === "era")) dims = [["era", [...scenarioEras]], ...dims];
  let combos: Record<string, unknown>[] = [{}];
  for (const [key, values] of dims) combos = combos.flatMap((c) => values.map((v) => ({ ...c, [key]: v })));
  return combos.map((params, index) => ({ index, params: params as Cell["params"] }));
}

/** A short, stable label for a cell: "era=modern ramBytes=33554432". */
export const cellLabel = (c: Cell): string =>
  Object.entries(c.params)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
