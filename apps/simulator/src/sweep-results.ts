// A sweep's results folder: results.msgpack (one msgpack record per run, appended as each run ends,
// so a crash of the sweep loses at most the runs in flight), results.jsonl (the same records as JSON
// lines) and seed-<seed>[-cell-<n>].trace for every run that did not end as expected.
import { appendFileSync, existsSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Packr } from "msgpackr";
import type { ExitSpec } from "./scenario";

/** How a run ended, worst first: the order in which one outcome hides the others. */
export const OUTCOMES = ["hung", "crashed", "invariant", "unexpected", "ok"] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** One process of a run (spawned or forked): how it ended and whether the scenario expected it. */
export interface ProcessSummary {
  readonly pid: number;
  readonly program: string;
  readonly exit: { readonly code: number } | { readonly signal: string };
  readonly expected: ExitSpec | null;
  readonly asExpected: boolean;
  readonly minflt: number;
  readonly majflt: number;
  readonly rssKb: number;
  readonly error?: string;
}

/** One record of results.msgpack (and one line of results.jsonl). */
export interface RunRecord {
  readonly version: 1;
  readonly seed: number;
  readonly cell: number;
  /** The cell's values (era always among them). */
  readonly params: Readonly<Record<string, unknown>>;
  readonly outcome: Outcome;
  readonly processes: readonly ProcessSummary[];
  /** Sums over every process of the run. */
  readonly minflt: number;
  readonly majflt: number;
  /** The largest peak RSS (VmHWM) of any process, KiB. */
  readonly peakRssKb: number;
  /** machine.checkInvariants() after the run: "held", "broken" (see error), or "unchecked" (no machine). */
  readonly invariant: "held" | "broken" | "unchecked";
  /** Why the run was not ok (first verdict, invariant message, crash or hang), if it was not. */
  readonly error?: string;
  /** The trace file's name in the results folder (runs that did not end as expected). */
  readonly trace: string | null;
  readonly durationMs: number;
  /**
   * Whether the run's threads spun before they slept while they waited for each other
   * (SimulationOptions.spin), as the process that ran it set up its simulation: in a local sweep, what
   * the sweep decided for that child (sweep-affinity.ts spinPays: only unpinned children, with a core
   * free for it). How the run went on this host, like durationMs: spinning or not, the run's results are
   * the same. Absent when no run reported (its process died or was killed: the parent made the record).
   */
  readonly spin?: boolean;
}

export const RESULTS_FILE = "results.msgpack";
export const JSONL_FILE = "results.jsonl";

// Records stand alone (no shared structures), so each append is a complete msgpack value.
const packr = new Packr({ useRecords: false, moreTypes: false });

export const traceName = (seed: number, cell: number, cells: number): string =>
  cells > 1 ? `seed-${seed}-cell-${cell}.trace` : `seed-${seed}.trace`;

/** The key a resumed sweep skips by: the cell's values and the seed (not its index, which a new key moves). */
export const runKey = (params: Readonly<Record<string, unknown>>, seed: number): string =>
  `${JSON.stringify(params)}#${seed}`;

/**
 * Every complete record of the folder's results file. A record cut short by a crash mid-write is
 * dropped and the file truncated before it, so appending goes on from a clean end.
 */
export function readResults(dir: string): RunRecord[] {
  const file = join(dir, RESULTS_FILE);
  if (!existsSync(file)) return [];
  const bytes = readFileSync(file);
  const out: RunRecord[] = [];
  let good = 0;
  try {
    packr.unpackMultiple(bytes, (value: RunRecord, _start?: number, end?: number) => {
      out.push(value);
      good = end ?? good;
    });
  } catch {
    truncateSync(file, good);
  }
  return out;
}

export function appendResult(dir: string, r: RunRecord): void {
  appendFileSync(join(dir, RESULTS_FILE), packr.pack(r));
  appendFileSync(join(dir, JSONL_FILE), `${JSON.stringify(r)}\n`);
}

/** Rewrites results.jsonl from results.msgpack (the record of truth), e.g. after a crash between the two. */
export function exportJsonl(dir: string, records: readonly RunRecord[]): void {
  writeFileSync(join(dir, JSONL_FILE), records.map((r) => `${JSON.stringify(r)}\n`).join(""));
}
