// Worker threads kept between processes. Starting a worker and loading the runtime into it (the MMU,
// the channel, @faultline/mm and phys, tsx when programs are TypeScript) costs far more than most
// simulated processes run: a sweep of thousands of short runs spends most of its time there. A pool's
// worker, once its process has exited, takes the next process of any simulation that shares the pool.
//
// What a pooled process sees is what a fresh worker's would: its program module is imported afresh
// (under a query of its own, so its top-level state starts anew), its MMU, TLB, channel and signal
// handlers are made for it, and what it reports (exit, error text, stacks) is the same byte for byte.
// What it shares with the processes the worker ran before is the modules its program imports (a
// library's top-level state), as the threads of one Node process share them, and the program module
// itself when the program allows it (defineProgram's reuseModule: no load, no recompile).
import { MessageChannel, type MessagePort, type Worker } from "node:worker_threads";
import type { WorkerBoot } from "./internal/worker-main";
import { isTypeScript, startPooledWorker } from "./spawn";

const sourceMode = import.meta.url.endsWith(".ts");

/** Options of a WorkerPool. */
export interface WorkerPoolOptions {
  /** Idle workers kept for the next processes (default 64); more are ended as their processes exit. */
  readonly maxIdle?: number;
  /**
   * Processes one worker runs before it is ended and replaced (default 500): each process imports its
   * program module afresh (unless the program allows reuse: ProgramOptions.reuseModule), and a module
   * once imported stays in that worker's memory.
   */
  readonly maxProcesses?: number;
}

/** What the simulation hears about the worker while it runs its process. */
export interface WorkerLease {
  readonly onError: (e: unknown) => void;
  readonly onExit: () => void;
}

/** A worker as the pool hands it out, and when the process it runs is over (idle again or ended). */
export interface PooledRun {
  readonly worker: Worker;
  readonly released: Promise<void>;
}

interface Pooled {
  readonly worker: Worker;
  readonly port: MessagePort;
  readonly kind: "js" | "ts";
  uses: number;
  lease: WorkerLease | null;
  release: (() => void) | null;
  dead: boolean;
}

/**
 * Worker threads shared by the simulations given it as `SimulationOptions.workerPool` (one at a time
 * or several at once): a process starts on an idle worker when there is one. Idle workers do not keep
 * Node running; `close()` ends them.
 */
export class WorkerPool {
  private readonly maxIdle: number;
  private readonly maxProcesses: number;
  private readonly idle: Record<Pooled["kind"], Pooled[]> = { js: [], ts: [] };
  private closed = false;
  /** Worker threads this pool started. */
  started = 0;
  /** Processes that started on a worker another process had used before. */
  reused = 0;

  constructor(options: WorkerPoolOptions = {}) {
    this.maxIdle = options.maxIdle ?? 64;
    this.maxProcesses = options.maxProcesses ?? 500;
  }

  /** Idle workers now. */
  get idleWorkers(): number {
    return this.idle.js.length + this.idle.ts.length;
  }

  /**
   * Runs the process `boot` describes on an idle worker, or on a new one. The lease hears of the
   * worker's errors and its end until the process is over (its program returned, threw, or was told
   * it was killed); then the worker is idle again. Terminating the worker ends it for good.
   */
  run(boot: WorkerBoot, lease: WorkerLease): PooledRun {
    if (this.closed) throw new Error("WorkerPool: closed");
    // A published install registers tsx only in workers that run TypeScript programs.
    const kind = !sourceMode && isTypeScript(boot.program) ? "ts" : "js";
    let p = this.idle[kind].pop();
    if (p) this.reused++;
    else p = this.start(kind);
    const pooled = p;
    const released = new Promise<void>((r) => {
      pooled.release = r;
    });
    p.lease = lease;
    p.worker.ref();
    p.port.postMessage(boot);
    return { worker: p.worker, released };
  }

  /** The process on `p` is over: the lease ends, and whoever waits for the worker hears it. */
  private settle(p: Pooled): void {
    p.lease = null;
    const release = p.release;
    p.release = null;
    release?.();
  }

  private start(kind: Pooled["kind"]): Pooled {
    const { port1, port2 } = new MessageChannel();
    const worker = startPooledWorker(port2, kind === "ts");
    const p: Pooled = { worker, port: port1, kind, uses: 0, lease: null, release: null, dead: false };
    this.started++;
    worker.on("error", (e) => p.lease?.onError(e));
    worker.on("exit", () => {
      p.dead = true;
      const i = this.idle[kind].indexOf(p);
      if (i >= 0) this.idle[kind].splice(i, 1);
      port1.close();
      const lease = p.lease;
      this.settle(p);
      lease?.onExit();
    });
    // The worker's process is over: idle again, unless the pool has enough or the worker ran its share.
    port1.on("message", () => {
      p.uses++;
      if (!p.dead) {
        if (this.closed || p.uses >= this.maxProcesses || this.idleWorkers >= this.maxIdle)
          void worker.terminate();
        else {
          worker.unref();
          this.idle[kind].push(p);
        }
      }
      this.settle(p);
    });
    port1.unref();
    return p;
  }

  /** Ends the idle workers, and each busy one as its process ends. */
  async close(): Promise<void> {
    this.closed = true;
    const idle = [...this.idle.js, ...this.idle.ts];
    this.idle.js.length = 0;
    this.idle.ts.length = 0;
    await Promise.all(idle.map((p) => p.worker.terminate()));
  }
}
