// One run of a sweep (a matrix cell, a seed), as a pure function of the scenario's JSON, the cell and
// the seed; and `faultline replay`, which runs a kept trace again and says whether it ended the same.
import { readFileSync, writeFileSync } from "node:fs";
import {
  decodeTrace,
  encodeTrace,
  type ProcessResult,
  ReplayDivergenceError,
  type SimTrace,
  Simulation,
  SimulationTimeoutError,
  type WorkerPool,
} from "@faultline/sim";
import { bootMachine, sameExit } from "./run";
import { loadPlugins, type Plugins, parseScenario, programUrl, type Scenario } from "./scenario";
import { applyCell, type Cell } from "./sweep-matrix";
import type { Outcome, ProcessSummary, RunRecord } from "./sweep-results";

export interface RunJob {
  /** The scenario's JSON with the cell applied (applyCell), and where it came from. */
  readonly scenario: unknown;
  readonly file: string;
  readonly baseDir: string;
  readonly cell: Cell;
  readonly seed: number;
  /** A run still going after this long is killed and recorded as hung. */
  readonly timeoutMs: number;
  /** Where to write the trace of a run that does not end as expected (null: nowhere). */
  readonly traceFile: string | null;
}

/** What a kept trace carries besides the schedule: enough to rebuild the run (`faultline replay`). */
export interface SweepTraceInfo {
  readonly version: 1;
  readonly file: string;
  readonly baseDir: string;
  /** The scenario JSON with the cell's values applied. */
  readonly scenario: unknown;
  readonly cell: Cell;
  readonly seed: number;
  readonly outcome: Outcome;
  readonly exits: ReadonlyArray<{ readonly pid: number; readonly exit: ProcessSummary["exit"] }>;
  readonly invariant: RunRecord["invariant"];
  readonly error?: string;
  /** The run's time limit (a replay of a hung run stops there too). */
  readonly timeoutMs: number;
  /**
   * True when the run's process died or stopped answering, so no events were recorded: replay runs the
   * seed again deterministically (the same run, by construction) instead of following a schedule.
   */
  readonly recipe?: true;
}

/** The file format of seed-<seed>.trace: a SimTrace (decodeTrace reads it) with a `faultline` field. */
export type SweepTrace = SimTrace & { readonly faultline: SweepTraceInfo };

const pluginCache = new Map<string, Plugins>();

/** Where the run in progress is (the worker asks it for a trace when the sweep gives up on it). */
export let current: { sim: Simulation; job: RunJob } | null = null;

/** The argument that makes a sweep's child start every simulated process on a new thread (sweep-worker.ts). */
export const FRESH_ARG = "--fresh";

/** How a run starts its processes: on the pool's threads (long-lived sweep processes), or fresh ones. */
export interface RunOneOptions {
  readonly workerPool?: WorkerPool;
  /** Threads spin before they sleep while they wait for each other (SimulationOptions.spin; default true). */
  readonly spin?: boolean;
}

export async function runOne(job: RunJob, options: RunOneOptions = {}): Promise<RunRecord> {
  const t0 = performance.now();
  const s = parseScenario(job.scenario, job.file);
  const era = job.cell.params.era;
  const key = `${job.file}#${JSON.stringify(job.cell.params)}`;
  let plugins = pluginCache.get(key);
  if (!plugins) {
    plugins = await loadPlugins(s, job.file, job.baseDir);
    pluginCache.set(key, plugins);
  }
  const machine = await bootMachine(s, era, job.file, plugins);
  // One value for the simulation and the record (RunRecord.spin says what the run did).
  const spin = options.spin !== false;
  const sim = await Simulation.deterministic({
    machine,
    seed: job.seed,
    deadlineMs: job.timeoutMs,
    ...(options.workerPool ? { workerPool: options.workerPool } : {}),
    spin,
  });
  current = { sim, job };
  try {
    const spawned = spawnAll(sim, s, job.baseDir);
    let outcome: Outcome = "ok";
    let error: string | undefined;
    let results: readonly ProcessResult[];
    try {
      results = await sim.run();
    } catch (e) {
      results = e instanceof SimulationTimeoutError ? e.results : sim.results();
      outcome = e instanceof SimulationTimeoutError ? "hung" : "crashed";
      error = (e as Error).message;
    }
    let invariant: RunRecord["invariant"] = "held";
    try {
      machine.checkInvariants();
    } catch (e) {
      invariant = "broken";
      if (outcome === "ok") {
        outcome = "invariant";
        error = (e as Error).message;
      }
    }
    const processes = summarize(results, spawned, era);
    const bad = processes.find((p) => !p.asExpected);
    if (outcome === "ok" && bad) {
      outcome = "unexpected";
      error = `pid ${bad.pid} (${bad.program}) ended with ${exitText(bad.exit)}, the scenario expects ${exitText(bad.expected!)}${bad.error ? `: ${bad.error.split("\n")[0]}` : ""}`;
    }
    const trace =
      outcome !== "ok" && job.traceFile ? keepTrace(sim, job, outcome, processes, invariant, error) : null;
    return record(job, outcome, processes, invariant, error, trace, performance.now() - t0, spin);
  } finally {
    current = null;
  }
}

/** The trace so far of the run in progress (the sweep is about to kill it as hung). */
export function keepCurrentTrace(error: string): string | null {
  if (!current?.job.traceFile) return null;
  return keepTrace(current.sim, current.job, "hung", [], "unchecked", error);
}

type Spawned = ReadonlyMap<number, Scenario["programs"][number]>;

function spawnAll(sim: Simulation, s: Scenario, baseDir: string): Spawned {
  const spawned = new Map<number, Scenario["programs"][number]>();
  for (const p of s.programs) spawned.set(sim.spawn(programUrl(p, baseDir), p.argv), p);
  return spawned;
}

/** Each process as run.ts names it: a fork after its parent's program. */
function summarize(
  results: readonly ProcessResult[],
  spawned: Spawned,
  era: Cell["params"]["era"],
): ProcessSummary[] {
  const byUrl = new Map<string, string>();
  for (const r of results) {
    const spec = spawned.get(r.pid);
    if (spec) byUrl.set(r.program, spec.program);
  }
  return results.map((r) => {
    const spec = spawned.get(r.pid);
    const expected = spec ? spec.expect[era] : null;
    return {
      pid: r.pid,
      program: spec?.program ?? `${byUrl.get(r.program) ?? r.program} (forked)`,
      exit: r.exit,
      expected,
      asExpected: expected === null || sameExit(r.exit, expected),
      minflt: r.minflt,
      majflt: r.majflt,
      rssKb: r.rssKb,
      ...(r.error ? { error: r.error } : {}),
    };
  });
}

const exitText = (e: { code: number } | { signal: string }) => ("signal" in e ? e.signal : `exit ${e.code}`);

function keepTrace(
  sim: Simulation,
  job: RunJob,
  outcome: Outcome,
  processes: readonly ProcessSummary[],
  invariant: RunRecord["invariant"],
  error: string | undefined,
): string {
  const t: SweepTrace = {
    ...sim.trace(),
    faultline: {
      version: 1,
      file: job.file,
      baseDir: job.baseDir,
      scenario: job.scenario,
      cell: job.cell,
      seed: job.seed,
      outcome,
      exits: processes.map((p) => ({ pid: p.pid, exit: p.exit })),
      invariant,
      ...(error !== undefined ? { error } : {}),
      timeoutMs: job.timeoutMs,
    },
  };
  writeFileSync(job.traceFile!, encodeTrace(t));
  return job.traceFile!.slice(job.traceFile!.lastIndexOf("/") + 1);
}

function record(
  job: RunJob,
  outcome: Outcome,
  processes: readonly ProcessSummary[],
  invariant: RunRecord["invariant"],
  error: string | undefined,
  trace: string | null,
  durationMs: number,
  spin: boolean,
): RunRecord {
  return {
    version: 1,
    seed: job.seed,
    cell: job.cell.index,
    params: job.cell.params,
    outcome,
    processes,
    minflt: processes.reduce((n, p) => n + p.minflt, 0),
    majflt: processes.reduce((n, p) => n + p.majflt, 0),
    peakRssKb: processes.reduce((n, p) => Math.max(n, p.rssKb), 0),
    invariant,
    ...(error !== undefined ? { error } : {}),
    trace,
    durationMs: Math.round(durationMs),
    spin,
  };
}

/**
 * The trace of a run whose process died or had to be killed without answering: no events, only what
 * rebuilds the run (replay runs the seed again). Written by the sweep's parent; returns the file name.
 */
export function keepRecipe(job: RunJob, outcome: "hung" | "crashed", error: string): string | null {
  if (!job.traceFile) return null;
  const t: SweepTrace = {
    version: 1,
    seed: job.seed,
    spawns: [],
    events: [],
    faultline: {
      version: 1,
      file: job.file,
      baseDir: job.baseDir,
      scenario: job.scenario,
      cell: job.cell,
      seed: job.seed,
      outcome,
      exits: [],
      invariant: "unchecked",
      error,
      timeoutMs: job.timeoutMs,
      recipe: true,
    },
  };
  writeFileSync(job.traceFile, encodeTrace(t));
  return job.traceFile.slice(job.traceFile.lastIndexOf("/") + 1);
}

/** A record as the parent makes it when the run's process died or had to be killed. */
export function lostRecord(
  job: Pick<RunJob, "cell" | "seed">,
  outcome: "hung" | "crashed",
  error: string,
  trace: string | null,
  durationMs: number,
): RunRecord {
  return {
    version: 1,
    seed: job.seed,
    cell: job.cell.index,
    params: job.cell.params,
    outcome,
    processes: [],
    minflt: 0,
    majflt: 0,
    peakRssKb: 0,
    invariant: "unchecked",
    error,
    trace,
    durationMs: Math.round(durationMs),
  };
}

export interface ReplayResult {
  /** True when the replay followed the recording event for event and ended as it did. */
  readonly reproduced: boolean;
  readonly info: SweepTraceInfo;
  readonly outcome: Outcome;
  readonly lines: readonly string[];
}

/**
 * Runs a kept trace again. The scenario is the one the trace carries (cell applied), read from the
 * `scenarioFile` given instead when the folder moved; programs are resolved from its folder.
 */
export async function replayTrace(
  path: string,
  scenarioFile: { raw: unknown; file: string; baseDir: string } | null,
): Promise<ReplayResult> {
  const t = decodeTrace(readFileSync(path)) as SweepTrace;
  if (t.faultline?.version !== 1)
    throw new Error(`${path}: not a trace written by faultline sweep (no faultline field)`);
  const info = t.faultline;
  const raw = scenarioFile ? applyCell(scenarioFile.raw, info.cell.params) : info.scenario;
  const file = scenarioFile?.file ?? info.file;
  const baseDir = scenarioFile?.baseDir ?? info.baseDir;
  if (info.recipe) {
    // Nothing recorded (the run's process died): the same scenario, cell and seed is the same run.
    // Said first, since a crash that took the sweep's process down takes this one down too.
    process.stderr.write(
      `faultline: ${path}: no events were recorded (${info.error ?? info.outcome}); running seed ${info.seed} again deterministically\n`,
    );
    const r = await runOne({
      scenario: raw,
      file,
      baseDir,
      cell: info.cell,
      seed: info.seed,
      timeoutMs: info.timeoutMs,
      traceFile: null,
    });
    return {
      reproduced: r.outcome === info.outcome,
      info,
      outcome: r.outcome,
      lines: r.error ? [r.error] : [],
    };
  }
  const s = parseScenario(raw, file);
  const era = info.cell.params.era;
  const plugins = await loadPlugins(s, file, baseDir);
  const machine = await bootMachine(s, era, file, plugins);
  // The programs as this scenario names them now (the trace's URLs are the recording machine's).
  const spawns = t.spawns.map((sp, i) => {
    const p = s.programs[i];
    return p ? { ...sp, program: programUrl(p, baseDir).href } : sp;
  });
  const sim = await Simulation.replay({ ...t, spawns }, { machine });
  const spawned = new Map(s.programs.map((p, i) => [spawns[i]!.pid, p]));
  const lines: string[] = [];
  let outcome: Outcome = "ok";
  let results: readonly ProcessResult[];
  let reproduced = true;
  try {
    results = await sim.run();
  } catch (e) {
    results = sim.results();
    const endOfRecording =
      e instanceof ReplayDivergenceError && e.expected === undefined && e.index === t.events.length;
    if (info.outcome === "hung" && endOfRecording) {
      outcome = "hung";
      lines.push(
        `the replay followed all ${t.events.length} recorded events to where the sweep killed the run as hung (${info.error ?? "timeout"})`,
      );
    } else if (e instanceof ReplayDivergenceError) {
      reproduced = false;
      outcome = "crashed";
      lines.push(`the replay diverged from the recording: ${e.message}`);
    } else {
      outcome = "crashed";
      lines.push(`the run failed: ${(e as Error).message}`);
    }
  }
  let invariant: RunRecord["invariant"] = "held";
  try {
    machine.checkInvariants();
  } catch (e) {
    invariant = "broken";
    lines.push(`invariant broken: ${(e as Error).message}`);
    if (outcome === "ok") outcome = "invariant";
  }
  if (outcome !== "hung") {
    const processes = summarize(results, spawned, era);
    for (const p of processes)
      if (!p.asExpected)
        lines.push(
          `pid ${p.pid} (${p.program}, ${era}) ended with ${exitText(p.exit)}, the scenario expects ${exitText(p.expected!)}${p.error ? `: ${p.error.split("\n")[0]}` : ""}`,
        );
    if (outcome === "ok" && processes.some((p) => !p.asExpected)) outcome = "unexpected";
    const same =
      processes.length === info.exits.length &&
      processes.every((p, i) => JSON.stringify(p.exit) === JSON.stringify(info.exits[i]?.exit));
    if (!same || invariant !== info.invariant) reproduced = false;
  }
  if (outcome !== info.outcome) reproduced = false;
  return { reproduced, info, outcome, lines };
}
