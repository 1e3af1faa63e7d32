import { Worker, type WorkerOptions } from "node:worker_threads";

/**
 * Starts a worker_threads Worker running a TypeScript module from source, under vitest or tsx on
 * Node 20: a JS bootstrap registers tsx's loader inside the worker, and the "@faultline/source"
 * condition makes `@faultline/*` imports resolve to the packages' src/index.ts, as in tests.
 */
export function tsWorker(entry: URL, options: Omit<WorkerOptions, "argv" | "execArgv"> = {}): Worker {
  return new Worker(new URL("./ts-worker-bootstrap.mjs", import.meta.url), {
    ...options,
    argv: [entry.href],
    execArgv: ["--conditions=@faultline/source"],
  });
}
