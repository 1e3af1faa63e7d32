// `faultline sweep`: one deterministic run per (matrix cell, seed), on a pool of child processes (one
// run at a time each, a fresh machine per run). Children live for the whole sweep and keep their
// simulated processes' worker threads between runs (sweep-worker.ts); `reuse: false` starts a new
// child, and new threads, for every run. A child that crashes or stops answering is replaced;
// its run is recorded as crashed or hung. Results are appended as runs end, so a second sweep with the
// same folder skips what is recorded.
import { type ChildProcess, fork } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import Table from "cli-table3";
import { DEFAULT_SCENARIO } from "./default-scenario";
import { loadPlugins, loadScenario, parseScenario } from "./scenario";
import { PIN_TIMEOUT_MS, pinning, spinPays } from "./sweep-affinity";
import { applyCell, type Cell, cellLabel, loadMatrix } from "./sweep-matrix";
import { runOnQueue } from "./sweep-queue";
import {
  appendResult,
  exportJsonl,
  OUTCOMES,
  type Outcome,
  type RunRecord,
  readResults,
  runKey,
  traceName,
} from "./sweep-results";
import { FRESH_ARG, keepRecipe, lostRecord, type RunJob } from "./sweep-run";
import type { FromWorker, ToWorker } from "./sweep-worker";

export interface SweepOptions {
  /** The scenario file; the built-in one when undefined. */
  readonly scenarioFile: string | undefined;
  readonly seeds: readonly number[];
  readonly matrixFile: string | undefined;
  readonly jobs: number;
  readonly outDir: string;
  /** Per run: a run still going after this long is killed and recorded as hung. */
  readonly timeoutMs: number;
  /** Progress line on stderr (done/failed/rate/ETA). */
  readonly progress: boolean;
  readonly write: (text: string) => void;
  /**
   * Keep child processes and their worker threads from run to run (default). False: a new child
   * process per run and a new thread per simulated process (the same results, far slower).
   */
  readonly reuse?: boolean;
  /**
   * Pin each child to a core of its own when there are no more children than cores (default true;
   * see sweep-affinity.ts). False: the scheduler places them.
   */
  readonly pin?: boolean;
  /** Run on a BullMQ queue at this redis:// URL (faultline worker processes take the jobs) instead of a local pool. */
  readonly queueUrl?: string;
}

/** "ts" from source (this repository), "js" from the published dist/. */
const OWN_EXT = import.meta.url.endsWith(".ts") ? "ts" : "js";
const WORKER = new URL(`./sweep-worker.${OWN_EXT}`, import.meta.url);

/**
 * After the run's own deadline, how long the child gets to report before it is killed. The child says
 * it is alive every second while it runs (its loading time does not count toward the run's deadline),
 * so the clock restarts at each sign of life: what is killed is a child that stopped answering.
 * The clock starts at dispatch, while a new child's pin may still be pending: never less than the
 * bound on one taskset, so a slow pin is not taken for a hang.
 */
const GRACE_MS = Math.max(10_000, PIN_TIMEOUT_MS);
/** How long a new child may take to load its modules (minutes through tsx on a busy machine). */
const CHILD_LOAD_MS = 300_000;

/** Runs the sweep; resolves with the exit status (0: every run as expected, 1: not). */
export async function sweep(o: SweepOptions): Promise<number> {
  const { raw, file, baseDir, eras } = readScenario(o.scenarioFile);
  const cells = loadMatrix(o.matrixFile, raw, file, eras);
  // Every cell's scenario and plugins checked before anything runs (file: field: errors, exit 2).
  for (const c of cells) await loadPlugins(parseScenario(applyCell(raw, c.params), file), file, baseDir);
  if (o.queueUrl !== undefined) {
    const records = await runOnQueue({ ...o, raw, file, baseDir, cells, queueUrl: o.queueUrl });
    exportJsonl(o.outDir, readResults(o.outDir));
    o.write(report(records, cells, o.outDir));
    return records.every((r) => r.outcome === "ok") ? 0 : 1;
  }
  mkdirSync(o.outDir, { recursive: true });
  const previous = readResults(o.outDir);
  exportJsonl(o.outDir, previous);
  const done = new Set(previous.map((r) => runKey(r.params, r.seed)));
  const todo: RunJob[] = [];
  for (const seed of o.seeds)
    for (const cell of cells) {
      if (done.has(runKey(cell.params, seed))) continue;
      todo.push({
        scenario: applyCell(raw, cell.params),
        file,
        baseDir,
        cell,
        seed,
        timeoutMs: o.timeoutMs,
        traceFile: resolve(o.outDir, traceName(seed, cell.index, cells.length)),
      });
    }
  const skipped = o.seeds.length * cells.length - todo.length;
  if (skipped) o.write(`resuming: ${skipped} runs already recorded in ${o.outDir}, ${todo.length} to go\n`);
  const fresh = await runPool(todo, o);
  const wanted = new Set(cells.flatMap((c) => o.seeds.map((s) => runKey(c.params, s))));
  const records = [...previous, ...fresh].filter((r) => wanted.has(runKey(r.params, r.seed)));
  o.write(report(records, cells, o.outDir));
  return records.every((r) => r.outcome === "ok") ? 0 : 1;
}

function readScenario(path: string | undefined) {
  if (path === undefined)
    return {
      raw: DEFAULT_SCENARIO as unknown,
      file: DEFAULT_SCENARIO.name,
      baseDir: process.cwd(),
      eras: DEFAULT_SCENARIO.eras,
    };
  const { scenario, baseDir } = loadScenario(path);
  return { raw: JSON.parse(readFileSync(path, "utf8")) as unknown, file: path, baseDir, eras: scenario.eras };
}

interface Slot {
  /** Which child this is (0..jobs-1): its core when children are pinned. */
  readonly index: number;
  child: ChildProcess;
  /**
   * Settles once the child is pinned to its core, or taskset refused, or it is not to be pinned: with
   * whether its threads spin (only unpinned ones may).
   */
  placed: Promise<boolean>;
  job: RunJob | null;
  started: number;
  timer: NodeJS.Timeout | null;
  onMessage: ((m: FromWorker) => void) | null;
  /** The child has loaded its modules (its "ready"). */
  ready: boolean;
}

async function runPool(todo: readonly RunJob[], o: SweepOptions): Promise<RunRecord[]> {
  const out: RunRecord[] = [];
  if (!todo.length) return out;
  const t0 = performance.now();
  let next = 0;
  let failed = 0;
  const progress = o.progress
    ? setInterval(() => {
        const s = (performance.now() - t0) / 1000;
        const rate = out.length / s;
        const eta = rate > 0 ? Math.round((todo.length - out.length) / rate) : Number.NaN;
        process.stderr.write(
          `\r\x1b[Ksweep: ${out.length}/${todo.length} done, ${failed} failed, ${rate.toFixed(1)} runs/s, ETA ${Number.isNaN(eta) ? "?" : `${Math.floor(eta / 60)}m${String(eta % 60).padStart(2, "0")}s`}`,
        );
      }, 250)
    : null;

  const reuse = o.reuse !== false;
  const n = Math.max(1, Math.min(o.jobs, todo.length));
  const pin = o.pin === false ? null : await pinning(n);
  let toldRefusal = false;
  // A child taskset does not pin runs where the scheduler puts it, and spins as an unpinned one may.
  // The user hears of it once a sweep (the first reason), not once per child.
  const place = async (child: ChildProcess, index: number): Promise<boolean> => {
    if (!pin || child.pid === undefined) return spinPays(n, false);
    const r = await pin.pin(child.pid, index);
    const spin = spinPays(n, r.pinned);
    if (!r.pinned && !toldRefusal) {
      toldRefusal = true;
      process.stderr.write(
        `${o.progress ? "\r\x1b[K" : ""}faultline sweep: a child could not be pinned to its core: ${r.why}. Children not pinned run where the scheduler puts them, their threads ${spin ? "spinning" : "sleeping"} while they wait (--no-pin: do not try to pin).\n`,
      );
    }
    return spin;
  };
  // The child is forked, then pinned (`taskset -a -p`: Node cannot start a process with an affinity)
  // while it loads its modules; its first run is sent once the pin settled (dispatch), so the run's
  // threads start on its core and spin or not as its placement allows.
  const start = (index: number): Pick<Slot, "child" | "placed"> => {
    const child = fork(WORKER, reuse ? [] : [FRESH_ARG], {
      serialization: "advanced",
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    return { child, placed: place(child, index) };
  };

  await new Promise<void>((allDone) => {
    const slots: Slot[] = [];
    let active = 0;
    const respawn = (slot: Slot) => {
      const s = start(slot.index);
      slot.child = s.child;
      slot.placed = s.placed;
      attach(slot);
    };
    const finish = (slot: Slot, r: RunRecord) => {
      if (slot.timer) clearTimeout(slot.timer);
      slot.timer = null;
      slot.job = null;
      slot.onMessage = null;
      appendResult(o.outDir, r);
      out.push(r);
      if (r.outcome !== "ok") failed++;
      if (!reuse && next < todo.length && slot.child.connected) {
        // Not reused: this child goes (it exits when disconnected), a new one takes the next run.
        slot.child.removeAllListeners();
        slot.child.disconnect();
        respawn(slot);
      }
      dispatch(slot);
    };
    const attach = (slot: Slot) => {
      slot.ready = false;
      slot.child.on("message", (m: FromWorker) => {
        if (m.type === "ready") slot.ready = true;
        slot.onMessage?.(m);
      });
      slot.child.on("exit", (code, signal) => {
        const job = slot.job;
        if (!job) return;
        // Died mid-run (not killed by us for a hang: that path records first).
        const error = `the run's process died (${signal ?? `exit ${code}`})`;
        const r = lostRecord(
          job,
          "crashed",
          error,
          keepRecipe(job, "crashed", error),
          performance.now() - slot.started,
        );
        respawn(slot);
        finish(slot, r);
      });
    };
    const dispatch = (slot: Slot) => {
      const job = todo[next];
      if (!job) {
        slot.child.disconnect();
        if (--active === 0) allDone();
        return;
      }
      next++;
      slot.job = job;
      slot.started = performance.now();
      const watch = () => {
        if (slot.timer) clearTimeout(slot.timer);
        const ms = job.timeoutMs + GRACE_MS + (slot.ready ? 0 : CHILD_LOAD_MS);
        slot.timer = setTimeout(() => giveUp(slot, job), ms);
      };
      slot.onMessage = (m) => {
        if (m.type === "done") finish(slot, m.record);
        else if (m.type === "alive" || m.type === "ready") watch();
        else if (m.type === "failed")
          finish(
            slot,
            lostRecord(
              job,
              "crashed",
              m.error,
              keepRecipe(job, "crashed", m.error),
              performance.now() - slot.started,
            ),
          );
      };
      // The run's own deadline (timeoutMs, inside the simulation) normally ends a hang with its trace;
      // this one is for a child whose event loop no longer answers.
      watch();
      const child = slot.child;
      void slot.placed.then((spin) => {
        // Unless the child died meanwhile: its exit records the run. The pin settles after the child
        // could have gone (taskset succeeds on a zombie), and its channel closes ('disconnect') a
        // moment before 'exit' replaces it: a send then would be an 'error' event, so none is made,
        // and one that fails anyway is left to the exit too.
        if (slot.child === child && slot.job === job && child.connected)
          // A send that fails anyway (the channel closing this instant) is left to the exit handler.
          child.send({ type: "run", job, spin } satisfies ToWorker, () => {});
      });
    };
    const giveUp = (slot: Slot, job: RunJob) => {
      const error = `hung: the run's process stopped answering (${Math.round(performance.now() - slot.started)} ms into the run, timeout ${job.timeoutMs} ms)`;
      const old = slot.child;
      let settled = false;
      const kill = (trace: string | null) => {
        if (settled) return;
        settled = true;
        slot.job = null;
        old.removeAllListeners("exit");
        old.kill("SIGKILL");
        respawn(slot);
        const kept = trace ?? keepRecipe(job, "hung", error);
        finish(slot, lostRecord(job, "hung", error, kept, performance.now() - slot.started));
      };
      slot.onMessage = (m) => {
        if (m.type === "trace") kill(m.trace);
      };
      old.send({ type: "timeout", error } satisfies ToWorker);
      setTimeout(() => kill(null), 2000);
    };
    for (let i = 0; i < n; i++) {
      const slot: Slot = {
        index: i,
        ...start(i),
        job: null,
        started: 0,
        timer: null,
        onMessage: null,
        ready: false,
      };
      attach(slot);
      slots.push(slot);
      active++;
    }
    for (const slot of slots) dispatch(slot);
  });
  if (progress) {
    clearInterval(progress);
    process.stderr.write(
      `\r\x1b[Ksweep: ${out.length} runs in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
    );
  }
  return out;
}

/** p-th percentile (nearest rank) of sorted numbers. */
const percentile = (sorted: readonly number[], p: number): number =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : 0;

/** The summary: outcome counts and fault percentiles per cell, the slowest runs, the failing ones. */
export function report(records: readonly RunRecord[], cells: readonly Cell[], outDir: string): string {
  const t = new Table({
    head: ["cell", "params", "runs", ...OUTCOMES, "minflt p50/p90/p99", "majflt p50/p90/p99"],
    style: { head: [], border: [] },
  });
  for (const c of cells) {
    const rs = records.filter((r) => r.cell === c.index);
    const count = (k: Outcome) => rs.filter((r) => r.outcome === k).length;
    const pct = (f: (r: RunRecord) => number) => {
      const v = rs.map(f).sort((a, b) => a - b);
      return [50, 90, 99].map((p) => percentile(v, p)).join("/");
    };
    t.push([
      c.index,
      cellLabel(c),
      rs.length,
      ...OUTCOMES.map(count),
      pct((r) => r.minflt),
      pct((r) => r.majflt),
    ]);
  }
  const name = (r: RunRecord) => `seed ${r.seed}${cells.length > 1 ? ` cell ${r.cell}` : ""}`;
  const slowest = [...records].sort((a, b) => b.durationMs - a.durationMs).slice(0, 5);
  const failing = records.filter((r) => r.outcome !== "ok");
  const lines = [
    t.toString(),
    "",
    `Slowest: ${slowest.map((r) => `${name(r)} ${r.durationMs} ms`).join(", ")}`,
  ];
  if (failing.length) {
    lines.push(`Not as expected: ${failing.length} of ${records.length} runs`);
    for (const r of failing.slice(0, 50))
      lines.push(
        `  ${name(r)}: ${r.outcome}${r.error ? ` (${r.error.split("\n")[0]})` : ""}${r.trace ? `; replay: faultline replay ${join(outDir, r.trace)}` : ""}`,
      );
    if (failing.length > 50)
      lines.push(`  … and ${failing.length - 50} more (see ${join(outDir, "results.jsonl")})`);
  } else lines.push(`Every run (${records.length}) ended as the scenario expects.`);
  return `${lines.join("\n")}\n`;
}
