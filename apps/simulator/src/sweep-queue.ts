// `faultline sweep --queue redis://…` and `faultline worker --queue redis://…`: the same sweep, its runs
// spread over any number of machines through a BullMQ queue on Redis. The submitter enqueues one job
// per (matrix cell, seed) under an id made of the sweep's identity, the cell and the seed, so a
// resubmitted sweep finds its jobs (done ones included) instead of adding them twice; it follows them
// and writes the same results folder a local sweep writes, each run exactly once. A worker runs jobs
// with the scenario's plugins as its own host resolves them, refusing a job whose plugin versions
// differ from the submitter's. A worker that dies mid-job loses its lock; BullMQ's stalled-job check
// gives the job to another worker.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { WorkerPool } from "@faultline/sim";
import { type ConnectionOptions, type Job, Queue, UnrecoverableError, Worker } from "bullmq";
import { ScenarioError } from "./errors";
import { resolveFrom } from "./plugins";
import { parseScenario } from "./scenario";
import { spinPays } from "./sweep-affinity";
import { applyCell, type Cell } from "./sweep-matrix";
import { appendResult, type RunRecord, readResults, runKey, traceName } from "./sweep-results";
import { type RunJob, runOne } from "./sweep-run";

/** The one queue every sweep and worker uses; jobs say which sweep they belong to. */
export const QUEUE_NAME = "faultline-sweep";

/** What a job carries: everything a worker on another host needs to run it and check it may. */
export interface QueueJobData {
  readonly version: 1;
  readonly sweep: string;
  /** The run (RunJob without a trace path: the worker keeps the trace in the result instead). */
  readonly job: Omit<RunJob, "traceFile">;
  readonly traceName: string;
  /** Plugin module specifier → the version the submitter's folder resolves it to (null: not a package). */
  readonly plugins: Readonly<Record<string, string | null>>;
}

/** What a job returns: the run's record and its trace (base64), and who ran it. */
export interface QueueJobResult {
  readonly record: RunRecord;
  readonly trace: string | null;
  readonly worker: string;
}

/** `redis://[user:password@]host[:port][/db]` (or rediss://) as BullMQ connection options. */
export function connectionOf(url: string): ConnectionOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ScenarioError("command line", "--queue", "a redis://host:port/db URL", url);
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:")
    throw new ScenarioError("command line", "--queue", "a redis:// or rediss:// URL", url);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0)
    throw new ScenarioError(
      "command line",
      "--queue",
      "a database number (a non-negative integer) after the /",
      u.pathname,
    );
  return {
    host: u.hostname || "127.0.0.1",
    port: u.port ? Number(u.port) : 6379,
    db,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === "rediss:" ? { tls: {} } : {}),
    // Workers block on Redis: BullMQ wants no per-request retry limit there.
    maxRetriesPerRequest: null,
  };
}

/** Every `{ module }` a scenario names (devices, drivers, programs given as bare specifiers). */
function pluginModules(raw: unknown): string[] {
  const out = new Set<string>();
  const visit = (x: unknown) => {
    if (Array.isArray(x)) for (const y of x) visit(y);
    else if (x && typeof x === "object") {
      const m = (x as { module?: unknown }).module;
      if (typeof m === "string") out.add(m);
      for (const v of Object.values(x)) visit(v);
    }
  };
  visit(raw);
  return [...out].sort();
}

/** The version of the package `specifier` resolves to from `baseDir`, null when it is not a package. */
export function pluginVersion(specifier: string, baseDir: string): string | null {
  let dir = dirname(fileURLToPath(resolveFrom(specifier, baseDir)));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg)) {
      const p = JSON.parse(readFileSync(pkg, "utf8")) as { name?: string; version?: string };
      if (p.name) return p.version ?? null;
    }
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/** The sweep's identity: the scenario with every cell applied and the run limit (not the seeds). */
function sweepId(scenario: unknown, cells: readonly Cell[], timeoutMs: number): string {
  const h = createHash("sha256");
  h.update(JSON.stringify({ cells: cells.map((c) => applyCell(scenario, c.params)), timeoutMs }));
  return h.digest("hex").slice(0, 16);
}

const jobIdOf = (sweep: string, cell: Cell, seed: number): string =>
  `${sweep}-${createHash("sha256").update(JSON.stringify(cell.params)).digest("hex").slice(0, 8)}-${seed}`;

export interface QueueSweepInput {
  readonly raw: unknown;
  readonly file: string;
  readonly baseDir: string;
  readonly cells: readonly Cell[];
  readonly seeds: readonly number[];
  readonly outDir: string;
  readonly timeoutMs: number;
  readonly queueUrl: string;
  readonly progress: boolean;
  readonly write: (text: string) => void;
}

/**
 * Enqueues the runs not yet in the results folder and waits for them, appending each record (and
 * writing each trace) once, as it completes. Returns every record of the sweep's seeds and cells.
 */
export async function runOnQueue(o: QueueSweepInput): Promise<RunRecord[]> {
  const connection = connectionOf(o.queueUrl);
  mkdirSync(o.outDir, { recursive: true });
  const previous = readResults(o.outDir);
  const done = new Set(previous.map((r) => runKey(r.params, r.seed)));
  const sweep = sweepId(o.raw, o.cells, o.timeoutMs);
  const plugins: Record<string, string | null> = {};
  for (const m of pluginModules(o.raw)) plugins[m] = pluginVersion(m, o.baseDir);
  const jobs: { name: string; data: QueueJobData; opts: { jobId: string } }[] = [];
  for (const seed of o.seeds)
    for (const cell of o.cells) {
      if (done.has(runKey(cell.params, seed))) continue;
      jobs.push({
        name: "run",
        data: {
          version: 1,
          sweep,
          job: {
            scenario: applyCell(o.raw, cell.params),
            file: o.file,
            baseDir: o.baseDir,
            cell,
            seed,
            timeoutMs: o.timeoutMs,
          },
          traceName: traceName(seed, cell.index, o.cells.length),
          plugins,
        },
        opts: { jobId: jobIdOf(sweep, cell, seed) },
      });
    }
  if (previous.length)
    o.write(`resuming: ${previous.length} runs already recorded in ${o.outDir}, ${jobs.length} to go\n`);
  const queue = new Queue<QueueJobData, QueueJobResult>(QUEUE_NAME, {
    connection,
    // A worker killed mid-run is the stalled-job check's business (retried); a job that fails is not
    // retried: its failure (a plugin mismatch, a broken run) is the answer.
    defaultJobOptions: { attempts: 1, removeOnComplete: false, removeOnFail: false },
  });
  const fresh: RunRecord[] = [];
  try {
    for (let i = 0; i < jobs.length; i += 500) await queue.addBulk(jobs.slice(i, i + 500));
    o.write(`queued ${jobs.length} runs on ${QUEUE_NAME} at ${o.queueUrl} (sweep ${sweep})\n`);
    const pending = new Map(jobs.map((j) => [j.opts.jobId, j.data]));
    const t0 = performance.now();
    while (pending.size) {
      const ids = [...pending.keys()];
      const found = await Promise.all(ids.map((id) => queue.getJob(id)));
      for (let k = 0; k < ids.length; k++) {
        const id = ids[k]!;
        const data = pending.get(id)!;
        const job = found[k];
        const r = job ? finished(job, data, o.outDir) : lostJob(data, "the job disappeared from the queue");
        if (!r) continue;
        pending.delete(id);
        appendResult(o.outDir, r);
        fresh.push(r);
      }
      if (o.progress) {
        const s = (performance.now() - t0) / 1000;
        process.stderr.write(
          `\r\x1b[Ksweep (queue): ${fresh.length}/${jobs.length} done, ${fresh.filter((r) => r.outcome !== "ok").length} failed, ${(fresh.length / s).toFixed(1)} runs/s`,
        );
      }
      if (pending.size) await new Promise((r) => setTimeout(r, 250));
    }
    if (o.progress) process.stderr.write("\n");
  } finally {
    await queue.close();
  }
  const wanted = new Set(o.cells.flatMap((c) => o.seeds.map((s) => runKey(c.params, s))));
  return [...previous, ...fresh].filter((r) => wanted.has(runKey(r.params, r.seed)));
}

/** The record of a finished job (its trace written to the folder), or null while it is not finished. */
function finished(
  job: Job<QueueJobData, QueueJobResult>,
  data: QueueJobData,
  outDir: string,
): RunRecord | null {
  if (job.finishedOn === undefined) return null;
  if (job.failedReason !== undefined && !job.returnvalue) return lostJob(data, job.failedReason);
  const res = job.returnvalue;
  if (res.trace !== null) writeFileSync(join(outDir, data.traceName), Buffer.from(res.trace, "base64"));
  return { ...res.record, trace: res.trace !== null ? data.traceName : null };
}

/** A job that ended without a run record (refused by the worker, or lost). */
function lostJob(data: QueueJobData, error: string): RunRecord {
  return {
    version: 1,
    seed: data.job.seed,
    cell: data.job.cell.index,
    params: data.job.cell.params,
    outcome: "crashed",
    processes: [],
    minflt: 0,
    majflt: 0,
    peakRssKb: 0,
    invariant: "unchecked",
    error: `queue job failed: ${error}`,
    trace: null,
    durationMs: 0,
  };
}

export interface QueueWorkerOptions {
  readonly queueUrl: string;
  /** Runs at once in this process. */
  readonly jobs: number;
  /** Where the scenario's relative programs and its plugins resolve on this host (default: the job's folder). */
  readonly dir: string | undefined;
  /** How long a job stays with a worker that stopped renewing its lock before another worker takes it. */
  readonly lockMs: number;
  /** Keep the simulated processes' worker threads from job to job (default), or start new ones. */
  readonly reuse?: boolean;
  readonly write: (text: string) => void;
}

/** Checks that every plugin resolves here to the version the submitter had; a message if not. */
function pluginMismatch(data: QueueJobData, baseDir: string): string | null {
  for (const [m, want] of Object.entries(data.plugins)) {
    let have: string | null;
    try {
      have = pluginVersion(m, baseDir);
    } catch {
      return `plugin ${m} is not installed on ${hostname()} (looked from ${baseDir}); the sweep was submitted with ${want ?? "a local file"}`;
    }
    if (have !== want)
      return `plugin ${m}: the sweep was submitted with version ${want ?? "(not a package)"}, ${hostname()} has ${have ?? "(not a package)"} (from ${baseDir}); install the same version on every worker`;
  }
  return null;
}

/**
 * Takes jobs until stopped (SIGINT, SIGTERM, or `stop()`). Resolves once the worker has closed.
 */
export function queueWorker(o: QueueWorkerOptions): { closed: Promise<void>; stop: () => Promise<void> } {
  const scratch = mkdtempSync(join(tmpdir(), "faultline-worker-"));
  const me = `${hostname()}:${process.pid}`;
  // One pool of threads for every job this worker runs (the runtime loaded once per thread).
  const workerPool = o.reuse === false ? undefined : new WorkerPool();
  // As the local sweep's unpinned children: threads spin while they wait only if a core is free for that.
  const runOptions = {
    ...(workerPool ? { workerPool } : {}),
    ...(spinPays(o.jobs, false) ? {} : { spin: false }),
  };
  const name = (job: Job<QueueJobData>) => String(job.data?.traceName ?? job.id).replace(/\.trace$/, "");
  const worker = new Worker<QueueJobData, QueueJobResult>(
    QUEUE_NAME,
    async (job) => {
      const data = job.data;
      o.write(`running ${name(job)}\n`);
      if (data?.version !== 1)
        throw new UnrecoverableError(
          `job ${job.id}: not a faultline sweep job of a version this worker knows`,
        );
      const baseDir = o.dir
        ? resolve(o.dir)
        : existsSync(data.job.baseDir)
          ? data.job.baseDir
          : process.cwd();
      const why = pluginMismatch(data, baseDir);
      if (why) throw new UnrecoverableError(why);
      parseScenario(data.job.scenario, data.job.file);
      const traceFile = join(scratch, `${job.id}.trace`);
      const record = await runOne({ ...data.job, baseDir, traceFile }, runOptions);
      let trace: string | null = null;
      if (record.trace !== null && existsSync(traceFile)) {
        trace = readFileSync(traceFile).toString("base64");
        rmSync(traceFile, { force: true });
      }
      return { record, trace, worker: me };
    },
    {
      connection: connectionOf(o.queueUrl),
      concurrency: o.jobs,
      lockDuration: o.lockMs,
      stalledInterval: Math.max(500, Math.floor(o.lockMs / 2)),
      maxStalledCount: 10,
    },
  );
  worker.on("completed", (job) => o.write(`ran ${name(job)}\n`));
  worker.on("failed", (job, e) => o.write(`job ${job?.id ?? "?"} failed: ${e.message}\n`));
  let closing: Promise<void> | null = null;
  const stop = () => {
    closing ??= worker
      .close()
      .then(() => workerPool?.close())
      .finally(() => rmSync(scratch, { recursive: true, force: true }));
    return closing;
  };
  const closed = new Promise<void>((done) => {
    const onSignal = () => void stop().then(done);
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    worker.on("closed", () => done());
  });
  o.write(`faultline worker ${me}: taking jobs from ${QUEUE_NAME} at ${o.queueUrl}, ${o.jobs} at a time\n`);
  return { closed, stop };
}
