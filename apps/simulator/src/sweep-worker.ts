// A sweep's child process: runs the jobs its parent sends, one at a time, each in a fresh machine.
// Its simulated processes run on a pool of worker threads kept for the child's life (the runtime and
// the programs' imports loaded once per thread, not once per process); started with --fresh, every
// process gets a new thread (the parent then also starts a new child per run: `sweep --no-reuse`).
// A crash or a hang here costs the sweep this process (the parent starts another), not the sweep.
import { WorkerPool } from "@faultline/sim";
import { FRESH_ARG, keepCurrentTrace, type RunJob, runOne } from "./sweep-run";

export type ToWorker =
  /**
   * `spin`: whether the run's threads spin before they sleep while they wait for each other, as the
   * sweep decided once this child was pinned or not (sweep-affinity.ts spinPays).
   */
  { type: "run"; job: RunJob; spin: boolean } | { type: "timeout"; error: string };
export type FromWorker =
  | { type: "done"; record: import("./sweep-results").RunRecord }
  | { type: "failed"; error: string }
  | { type: "trace"; trace: string | null }
  /** Sent once loaded (the bench times a child's start with it; the sweep needs no signal). */
  | { type: "ready" }
  /** Every second while a run goes on: the event loop answers (the sweep kills a child that stops). */
  | { type: "alive" };

const workerPool = process.argv.includes(FRESH_ARG) ? undefined : new WorkerPool();
const send = (m: FromWorker) => process.send?.(m);

process.on("message", (m: ToWorker) => {
  if (m.type === "timeout") {
    send({ type: "trace", trace: keepCurrentTrace(m.error) });
    return;
  }
  const alive = setInterval(() => send({ type: "alive" }), 1000);
  runOne(m.job, { ...(workerPool ? { workerPool } : {}), spin: m.spin })
    .finally(() => clearInterval(alive))
    .then(
      (record) => send({ type: "done", record }),
      (e: unknown) =>
        send({ type: "failed", error: e instanceof Error ? (e.stack ?? e.message) : String(e) }),
    );
});
send({ type: "ready" });
// The parent went away (the sweep ended or was interrupted): nothing left to do.
process.on("disconnect", () => process.exit(0));
