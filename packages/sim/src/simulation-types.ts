// What a Simulation is given (options) and what it hands back (how each process ended), and the
// snapshot of a process taken as it is reaped.

import type { Machine, MachineOptions } from "@faultline/kernel";
import { renderMaps, renderSmaps, smapsCounters } from "@faultline/mm";
import type { HandledSignalRecord, SimKernel } from "./kernel-port";
import type { WorkerPool } from "./worker-pool";

/** How a process ended: its exit code, or the signal that killed it. */
export type ExitStatus = { readonly code: number } | { readonly signal: string };

/** How one process ended, and what it cost. */
export interface ProcessResult {
  readonly pid: number;
  readonly program: string;
  readonly threadId: number;
  readonly exit: ExitStatus;
  readonly minflt: number;
  readonly majflt: number;
  /** Peak resident set (VmHWM), in KiB. */
  readonly rssKb: number;
  /** Resident pages shared with another mapping / private to this process, at exit (smaps sums, KiB). */
  readonly sharedKb: number;
  readonly privateKb: number;
  /** The process's /proc/PID/maps and /proc/PID/smaps as they were when it exited. */
  readonly maps: string;
  readonly smaps: string;
  /** Why the process died when it did not exit by itself (a throw, a crash, a hang, a kill). */
  readonly error?: string;
  /** Signals its handlers caught (sigaction), oldest first: the first 64, and how many in all. */
  readonly handledSignals: readonly HandledSignalRecord[];
  readonly handledSignalCount: number;
}

/** Options of `Simulation.create`. */
export interface SimulationOptions {
  /** The machine to run processes on (built from options if not a Machine). */
  readonly machine?: Machine | MachineOptions;
  /** Or any kernel behind the SimKernel port (tests of the runtime alone). */
  readonly kernel?: SimKernel;
  /** Direct-mapped TLB entries per worker (default 256). */
  readonly tlbEntries?: number;
  /**
   * A process that makes no kernel entry for this long while another process waits for it (in
   * waitpid, or for its turn in deterministic mode) is killed as hung (default 10 000 ms).
   */
  readonly hangTimeoutMs?: number;
  /**
   * `run()` kills whatever still runs after this long and rejects (default: no deadline). In
   * deterministic mode, time spent waiting for program modules to load is not counted (loadTimeoutMs
   * bounds it), so a run whose process hangs in user code is cut at the same point of its schedule
   * on a busy host as on an idle one.
   */
  readonly deadlineMs?: number;
  /**
   * A process whose program module has not finished loading (its top level still runs) this long
   * after it was started is killed, in both modes, with the program named in its error (default
   * 60 000 ms: a module compiled by tsx in a worker on a busy 2-core machine takes seconds).
   */
  readonly loadTimeoutMs?: number;
  /**
   * Start processes on the pool's idle worker threads instead of a new thread each (see WorkerPool):
   * the same runs, without a thread start and the runtime's loading per process. A killed or crashed
   * process's worker is ended, not reused.
   */
  readonly workerPool?: WorkerPool;
  /**
   * Whether threads that wait for each other spin a little before they sleep (default true): a
   * worker for the kernel's reply, the kernel for the next request. Spinning cuts a kernel entry's
   * latency when a core is free for the waiting thread; where every core has other work (a sweep
   * with a run per core) it takes the core the awaited thread needs: false then. Results and traces
   * are the same either way.
   */
  readonly spin?: boolean;
}

/** Options of `Simulation.deterministic`: the simulation options and the seed. */
export interface DeterministicOptions extends SimulationOptions {
  readonly seed: number;
  /**
   * Virtual time one kernel entry costs (default 1000 ns): the clock advances by it after each
   * entry served, and jumps to the earliest wake-up when every process sleeps (internal/schedule-clock.ts).
   */
  readonly nsPerEntry?: number;
}

/** run() gave up: the deadline passed (processes still running were killed). */
export class SimulationTimeoutError extends Error {
  constructor(
    message: string,
    readonly results: readonly ProcessResult[],
  ) {
    super(message);
    this.name = "SimulationTimeoutError";
  }
}

/** How process `pid` ended, with its counters, maps and smaps as they are now (before the kernel's exit). */
export function resultAtExit(
  kernel: SimKernel,
  pid: number,
  program: string,
  threadId: number,
  exit: ExitStatus,
  error: string | undefined,
): ProcessResult {
  const mm = kernel.mm(pid);
  let sharedKb = 0;
  let privateKb = 0;
  const maps = mm.dead ? "" : renderMaps(mm);
  const smaps = mm.dead ? "" : renderSmaps(mm);
  const handled = kernel.handledSignals?.(pid) ?? { list: [], count: 0 };
  if (!mm.dead) {
    for (const v of mm) {
      const c = smapsCounters(mm, v);
      sharedKb += (c.sharedClean + c.sharedDirty) / 1024;
      privateKb += (c.privateClean + c.privateDirty) / 1024;
    }
  }
  return {
    pid,
    program,
    threadId,
    exit,
    minflt: mm.minflt,
    majflt: mm.majflt,
    rssKb: mm.hiwaterRss * 4,
    sharedKb,
    privateKb,
    maps,
    smaps,
    ...(error !== undefined ? { error } : {}),
    handledSignals: handled.list,
    handledSignalCount: handled.count,
  };
}
