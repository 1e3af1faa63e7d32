// `faultline run --save state.flsnap` and `faultline run --from state.flsnap`: a run saved at a
// quiescent point and resumed from it.
//
// Simulator processes are worker threads whose JS stacks cannot be saved, so a run is saved where no
// process runs: at the end of an era, once every process of it has exited (they are zombies) and the
// invariants hold. What persists there is the machine: devices, drivers, tmpfs files, shared memory,
// the log. The snapshot (container kind "run") holds that machine (a "machine" snapshot, restorable
// with Machine.restore), the results of the eras run so far (exit statuses, maps at exit, console,
// trace), what the scenario was and how it ran (file or built-in name, era, seed), and the whole run's
// report model (so `faultline report state.flsnap` draws it). "The rest of the scenario" is every era
// after the saved one: `--from` restores the machine, takes the saved era's kernel log, /proc/iomem
// and /proc/meminfo from it (and checks they are what the run printed), then runs the remaining eras.
// In deterministic mode (--seed) the text output is byte for byte that of the run straight through.
import { once } from "node:events";
import { resolve } from "node:path";
import { Worker } from "node:worker_threads";
import {
  decodeSnapshotContainer,
  encodeSnapshotContainer,
  MACHINE_SNAPSHOT_KIND,
  Machine,
  type RestoreOptions,
  SnapshotError,
} from "@faultline/kernel";
import { FAULTLINE_VERSION } from "./report/build";
import type { ReportModel } from "./report/model";
import { REPORT_MODEL_KIND, REPORT_MODEL_OLDEST_FORMAT } from "./report/snapshot";
import { checkReportModel } from "./report/validate";
import type { EraRun } from "./run";
import type { Era } from "./scenario";

export const RUN_SNAPSHOT_KIND = "run";
/**
 * The oldest container format a run snapshot is read from: 1, where runs began (e4575d9). Its own
 * fields (source, eras, model, nextThreadId) and its report model (REPORT_MODEL_VERSION 1, as one frame
 * record per allocation made it before any run was saved) are as format 1 wrote them, so
 * `faultline report` draws a run of any format. The machine it holds is a machine snapshot of the
 * run's format, though, and Machine.restore reads those from MACHINE_SNAPSHOT_OLDEST_FORMAT (3) only:
 * `--from` refuses an older run when it restores the machine (restoreSavedEra names it), before any
 * era runs.
 */
export const RUN_SNAPSHOT_OLDEST_FORMAT = 1;

/** What `faultline run` was asked to run, enough to load the scenario again. */
export interface RunSource {
  /** The scenario file (absolute), a built-in scenario's name, or null for the built-in story. */
  readonly scenario: string | null;
  /** --era, when one era only was run. */
  readonly era: Era | null;
  /** --seed, or null (then the output is not reproducible). */
  readonly seed: number | null;
}

/** A run saved at the end of era `eras[eras.length - 1]`. */
export interface RunSnapshot {
  readonly source: RunSource;
  /** The results of the eras run up to the quiescent point, in order. */
  readonly eras: readonly EraRun[];
  /** The machine of the last of them, as `machine.snapshot()` returned it. */
  readonly machine: Uint8Array;
  /** The whole run's report model (every era), or null when the run was not observed. */
  readonly model: ReportModel | null;
  /**
   * The worker thread id the next era's first process would have got (the summary's "thread" column
   * is Node's threadId, which counts every worker the host process started): `--from` starts that many
   * workers' worth of numbering so its table reads as the run straight through.
   */
  readonly nextThreadId: number;
}

/** The threadId Node gives the next worker (found by starting and stopping one). */
export async function nextWorkerThreadId(): Promise<number> {
  // An empty script without the parent's loaders (tsx): it starts and ends by itself. Terminating a
  // worker while a module loader registers in it can leave the loader hooks of later workers stuck.
  const w = new Worker("", { eval: true, execArgv: [] });
  const id = w.threadId;
  await once(w, "exit");
  return id;
}

/** Starts and stops idle workers until the next one would get thread id `next` (or later). */
export async function advanceWorkerThreadIds(next: number): Promise<void> {
  for (let id = await nextWorkerThreadId(); id + 1 < next; id = await nextWorkerThreadId()) {
    // each turn used one id
  }
}

/** The scenario argument as the snapshot records it: files by absolute path. */
export function runSource(
  arg: string | undefined,
  isBuiltin: boolean,
  era: Era | undefined,
  seed: number | undefined,
): RunSource {
  return {
    scenario: arg === undefined ? null : isBuiltin ? arg : resolve(arg),
    era: era ?? null,
    seed: seed ?? null,
  };
}

export function encodeRunSnapshot(s: RunSnapshot): Uint8Array {
  // EraRun's `map` is the report's; the model carries it once.
  const eras = s.eras.map(({ map: _map, ...r }) => r);
  return encodeSnapshotContainer(
    RUN_SNAPSHOT_KIND,
    { source: s.source, eras, machine: s.machine, model: s.model, nextThreadId: s.nextThreadId },
    FAULTLINE_VERSION,
  );
}

const fail = (what: string): never => {
  throw new SnapshotError(`run snapshot: ${what}`);
};
const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const strings = (v: unknown, what: string): readonly string[] =>
  Array.isArray(v) && v.every((x) => typeof x === "string")
    ? (v as string[])
    : fail(`${what}: expected a list of strings`);

/** Checks what the text and JSON output read of a saved era (field by field; nothing else is trusted). */
function checkEraRun(v: unknown, i: number): EraRun {
  const at = `eras[${i}]`;
  if (!isObj(v)) return fail(`${at}: expected a map`);
  if (v.era !== "2.6.10" && v.era !== "modern") fail(`${at}.era: expected "2.6.10" or "modern"`);
  for (const k of ["console", "iomem", "meminfo"])
    if (typeof v[k] !== "string") fail(`${at}.${k}: expected a string`);
  strings(v.dmesg, `${at}.dmesg`);
  if (typeof v.ms !== "number") fail(`${at}.ms: expected a number`);
  if (!Array.isArray(v.events)) fail(`${at}.events: expected a list`);
  if (!Array.isArray(v.processes)) fail(`${at}.processes: expected a list`);
  for (const [j, p] of (v.processes as unknown[]).entries()) {
    const pa = `${at}.processes[${j}]`;
    if (!isObj(p)) return fail(`${pa}: expected a map`);
    for (const k of [
      "pid",
      "threadId",
      "minflt",
      "majflt",
      "rssKb",
      "sharedKb",
      "privateKb",
      "handledSignalCount",
    ])
      if (typeof p[k] !== "number") fail(`${pa}.${k}: expected a number`);
    for (const k of ["program", "programName", "maps", "smaps"])
      if (typeof p[k] !== "string") fail(`${pa}.${k}: expected a string`);
    if (typeof p.asExpected !== "boolean") fail(`${pa}.asExpected: expected a boolean`);
    if (!isObj(p.exit) || !(typeof p.exit.code === "number" || typeof p.exit.signal === "string"))
      fail(`${pa}.exit: expected { code } or { signal }`);
    if (p.error !== undefined && typeof p.error !== "string") fail(`${pa}.error: expected a string`);
    if (!Array.isArray(p.handledSignals)) fail(`${pa}.handledSignals: expected a list`);
    if (p.expected !== null && !isObj(p.expected)) fail(`${pa}.expected: expected a map or null`);
  }
  return v as unknown as EraRun;
}

/** Reads a run snapshot; every problem is a SnapshotError saying what is wrong. */
export function decodeRunSnapshot(bytes: Uint8Array): RunSnapshot {
  const c = decodeSnapshotContainer(bytes, [RUN_SNAPSHOT_KIND], {
    reader: FAULTLINE_VERSION,
    oldestFormat: { [RUN_SNAPSHOT_KIND]: RUN_SNAPSHOT_OLDEST_FORMAT },
  });
  const extra = Object.keys(c.fields).filter(
    (k) => !["source", "eras", "machine", "model", "nextThreadId"].includes(k),
  );
  if (extra.length) fail(`unexpected key ${JSON.stringify(extra[0])}`);
  const src = c.fields.source;
  if (!isObj(src)) return fail("source: expected a map");
  if (src.scenario !== null && typeof src.scenario !== "string")
    fail("source.scenario: expected a string or null");
  if (src.era !== null && src.era !== "2.6.10" && src.era !== "modern")
    fail("source.era: expected an era or null");
  if (src.seed !== null && !(Number.isSafeInteger(src.seed) && (src.seed as number) >= 0))
    fail("source.seed: expected a non-negative integer or null");
  if (!Array.isArray(c.fields.eras) || c.fields.eras.length === 0) fail("eras: expected a non-empty list");
  const eras = (c.fields.eras as unknown[]).map(checkEraRun);
  if (!(c.fields.machine instanceof Uint8Array)) fail("machine: expected the bytes of a machine snapshot");
  let model: ReportModel | null = null;
  if (c.fields.model !== null) {
    try {
      model = checkReportModel(c.fields.model, "model");
    } catch (e) {
      if (e instanceof TypeError) fail(e.message);
      throw e;
    }
  }
  const next = c.fields.nextThreadId;
  if (!Number.isSafeInteger(next) || (next as number) < 1 || (next as number) > 100_000)
    fail("nextThreadId: expected a thread id from 1 to 100000");
  return {
    source: src as unknown as RunSource,
    eras,
    machine: c.fields.machine as Uint8Array,
    model,
    nextThreadId: next as number,
  };
}

/**
 * The kind of a snapshot `faultline report` was given ("report-model", "run" or "machine"). A machine
 * of any format is named as one (the report then says it holds no memory map), not refused for its
 * version as if a newer machine would do.
 */
export function snapshotKind(bytes: Uint8Array): string {
  const c = decodeSnapshotContainer(bytes, [REPORT_MODEL_KIND, RUN_SNAPSHOT_KIND, MACHINE_SNAPSHOT_KIND], {
    reader: FAULTLINE_VERSION,
    oldestFormat: {
      [RUN_SNAPSHOT_KIND]: RUN_SNAPSHOT_OLDEST_FORMAT,
      [REPORT_MODEL_KIND]: REPORT_MODEL_OLDEST_FORMAT,
      [MACHINE_SNAPSHOT_KIND]: 1,
    },
  });
  return c.kind;
}

/**
 * The saved era as `--from` prints it: its processes' results from the snapshot, and its kernel log,
 * /proc/iomem and /proc/meminfo read from the restored machine. A machine that does not show what the
 * run printed is refused.
 */
export async function restoreSavedEra(snap: RunSnapshot, options: RestoreOptions): Promise<EraRun> {
  const last = snap.eras[snap.eras.length - 1]!;
  let m: Machine;
  try {
    m = await Machine.restore(snap.machine, options);
  } catch (e) {
    // Named as the run's machine: the run itself may be readable (a format-2 run, whose report
    // `faultline report` draws, holds a format-2 machine that no restore reads).
    if (e instanceof SnapshotError) fail(`its machine: ${e.message}`);
    throw e;
  }
  const restored: EraRun = {
    ...last,
    dmesg: m.dmesg(),
    iomem: m.procText("/proc/iomem"),
    meminfo: m.procText("/proc/meminfo"),
  };
  for (const k of ["iomem", "meminfo"] as const)
    if (restored[k] !== last[k]) fail(`the restored machine's /proc/${k} is not the one the run printed`);
  if (restored.dmesg.join("\n") !== last.dmesg.join("\n"))
    fail("the restored machine's kernel log is not the one the run printed");
  return restored;
}
