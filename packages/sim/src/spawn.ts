// Starting a process's worker thread (the exec half of spawn and fork): where the program module is,
// its comm name, whether it can load here, and the Worker that runs it. This file sits next to
// index.ts on purpose: its worker URLs are relative to it, and tsup bundles it into dist/index.js, so
// "./internal/worker-main" names the same file from source and from the published build.
import { pathToFileURL } from "node:url";
import { type MessagePort, Worker } from "node:worker_threads";
import type { PooledWorkerData, WorkerBoot } from "./internal/worker-main";

const sourceMode = import.meta.url.endsWith(".ts");
const WORKER_ENTRY = new URL(
  sourceMode ? "./internal/worker-main.ts" : "./internal/worker-main.js",
  import.meta.url,
);
/** Registers tsx in a worker, then loads the worker entry: for TypeScript program modules. */
const BOOTSTRAP = new URL(
  sourceMode ? "./internal/ts-worker-bootstrap.mjs" : "./internal/ts-worker-bootstrap.js",
  import.meta.url,
);
export const isTypeScript = (url: string): boolean => /\.[cm]?tsx?$/.test(new URL(url).pathname);

/** Whether tsx (an optional peer dependency) can be loaded from here. */
function tsxAvailable(): boolean {
  try {
    import.meta.resolve("tsx/esm/api");
    return true;
  } catch {
    return false;
  }
}

/** The module URL of `program` (a URL, a file: URL string or a path). */
export function programUrl(program: string | URL): string {
  return program instanceof URL
    ? program.href
    : program.startsWith("file:")
      ? program
      : pathToFileURL(program).href;
}

/** A TypeScript program needs tsx in the worker; say so before any worker starts. */
export function checkLoadable(url: string): void {
  if (!sourceMode && isTypeScript(url) && !tsxAvailable()) {
    throw new Error(
      `${url}: a TypeScript program needs tsx to load in a worker, and tsx is not installed (it is an optional peer dependency of @faultline/sim): npm install --save-dev tsx, or compile the program to JavaScript`,
    );
  }
}

/** The process's comm (TASK_COMM_LEN - 1 = 15 characters): the module's file name without extension. */
export function programComm(url: string): string {
  return url
    .slice(url.lastIndexOf("/") + 1)
    .replace(/\.[cm]?[jt]s$/, "")
    .slice(0, 15);
}

/** The worker thread that runs `boot.program`. */
export function startWorker(boot: WorkerBoot): Worker {
  // In this repository everything runs from source (tsx and the source export condition); a
  // published install runs compiled JavaScript, with tsx registered only for a TypeScript program.
  return sourceMode
    ? new Worker(BOOTSTRAP, {
        workerData: boot,
        argv: [WORKER_ENTRY.href],
        execArgv: ["--conditions=@faultline/source"],
      })
    : isTypeScript(boot.program)
      ? new Worker(BOOTSTRAP, { workerData: boot, argv: [WORKER_ENTRY.href] })
      : new Worker(WORKER_ENTRY, { workerData: boot });
}

/**
 * A worker of a WorkerPool: it waits for boots on `port` and runs one process after another.
 * `typeScript`: it registers tsx first (a published install only; from source every worker does).
 */
export function startPooledWorker(port: MessagePort, typeScript: boolean): Worker {
  const workerData: PooledWorkerData = { poolPort: port };
  const transferList = [port];
  return sourceMode
    ? new Worker(BOOTSTRAP, {
        workerData,
        transferList,
        argv: [WORKER_ENTRY.href],
        execArgv: ["--conditions=@faultline/source"],
      })
    : typeScript
      ? new Worker(BOOTSTRAP, { workerData, transferList, argv: [WORKER_ENTRY.href] })
      : new Worker(WORKER_ENTRY, { workerData, transferList });
}
