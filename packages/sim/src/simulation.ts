// The Simulation: the process table (one slot per worker), the free-running and deterministic
// kernel loops, the watchdog, syscalls that change the process table (fork, waitpid), and reaping.
//
// Over 700 lines on purpose (the two kernel loops, the watchdog, sleeps and signals): every part
// left here reads and changes the same slots, counters and recorded schedule, so splitting it further
// would hand the class's private state to other files.
// What needs none of it lives apart: spawn.ts (starting a worker), internal/entry.ts (faults, MMIO,
// page locations, fault signals), simulation-types.ts (options and results).
import type { Worker } from "node:worker_threads";
import type { Machine } from "@faultline/kernel";
import {
  BELL_BYTES,
  BELL_COUNT,
  BELL_SLEEPING,
  BELL_SPINS,
  KernelChannel,
  OP_EXIT,
  OP_NAMES,
  OP_START,
  OP_SYSCALL,
  OP_SYSCALL_FAST,
  STATE,
  STATE_EXITED,
  type SyscallRequest,
  WORKER_SPINS,
} from "./internal/channel";
import { type Recorder, serveEntry } from "./internal/entry";
import { DEFAULT_NS_PER_ENTRY, ScheduleClock } from "./internal/schedule-clock";
import { createTlbBuffer, KernelTlbClient } from "./internal/shared-tlb";
import type { WorkerBoot } from "./internal/worker-main";
import { type SimKernel, WNOHANG } from "./kernel-port";
import { machineKernel, toMachine } from "./machine-kernel";
import {
  type DeterministicOptions,
  type ProcessResult,
  resultAtExit,
  type SimulationOptions,
  SimulationTimeoutError,
} from "./simulation-types";
import { checkLoadable, programComm, programUrl, startWorker } from "./spawn";
import { prng, ReplayDivergenceError, type SimTrace, sameEvent, type TraceEvent } from "./trace";
import type { WorkerPool } from "./worker-pool";

export type { DeterministicOptions, ExitStatus, ProcessResult, SimulationOptions } from "./simulation-types";
export { SimulationTimeoutError } from "./simulation-types";

interface Slot {
  readonly pid: number;
  readonly parent: number;
  readonly program: string;
  readonly argv: readonly string[];
  readonly worker: Worker;
  readonly chan: KernelChannel;
  readonly tlb: KernelTlbClient;
  lastEntry: number;
  parked: { child: number; options: number } | null;
  dead: boolean;
  waited: boolean;
  result: ProcessResult | null;
  workerError: string | null;
  /** Why the simulator is terminating this worker (so its exit event reaps it with that reason). */
  killing: string | null;
  started: boolean;
}

const isSignal = (e: unknown): e is { signal: string } =>
  typeof e === "object" &&
  e !== null &&
  (e as Record<symbol, unknown>)[Symbol.for("faultline.SignalError")] === true;

const SPIN_IDLE_MS = 0.2;
const YIELD_EVERY_MS = 2;
/**
 * Deterministic mode: how long the kernel spins for the running process's next entry before it blocks
 * on the doorbell. Short: a spinning kernel thread takes a core from the process it waits for (and,
 * in a sweep, from the other runs), and the doorbell wakes it within microseconds. None at all when
 * the simulation must not spin (SimulationOptions.spin).
 */
const DETERMINISTIC_SPIN_MS = 0.05;

/** Deterministic runs going on in this thread (their kernel loops share it). */
let deterministicRuns = 0;

/**
 * One kernel, many CPUs: the kernel runs on this thread; each simulated process runs in its own
 * worker thread with its own MMU over the shared RAM and page tables, and enters the kernel only
 * for syscalls and the faults its page walk cannot satisfy.
 */
export class Simulation<M extends Machine | null = Machine | null> {
  readonly kernel: SimKernel;
  private readonly tlbEntries: number;
  private readonly hangTimeoutMs: number;
  private readonly deadlineMs: number;
  private readonly loadTimeoutMs: number;
  private readonly pool: WorkerPool | null;
  /** When each pooled process's worker is back in the pool (run() waits for them). */
  private readonly released: Promise<void>[] = [];
  private readonly slots = new Map<number, Slot>();
  private readonly bell = new Int32Array(new SharedArrayBuffer(BELL_BYTES));
  /** Waiting threads spin before they sleep (SimulationOptions.spin). */
  private readonly spin: boolean;
  private readonly events: TraceEvent[] = [];
  private readonly spawns: Array<{ pid: number; program: string; argv: readonly string[] }> = [];
  private readonly random: (() => number) | null;
  private readonly replaying: SimTrace | null;
  private running = false;
  private live = 0;
  /** Virtual time: the clock's schedule and the processes asleep on it. */
  private readonly time: ScheduleClock;
  /** Notes about processes killed by the simulator (crash, hang), as a dmesg would show them. */
  readonly log: string[] = [];

  /**
   * The machine the simulation runs on (for /proc views, dmesg, invariants): a `Machine` whenever the
   * options gave `machine` (or nothing), null only for a simulation on a bare `kernel` port. The
   * factories' overloads type it accordingly, so `(await Simulation.create({ machine })).machine`
   * needs no `!`.
   */
  readonly machine: M;

  private constructor(
    options: SimulationOptions,
    kernel: SimKernel,
    machine: M,
    readonly seed: number | null,
    replaying: SimTrace | null,
  ) {
    this.kernel = kernel;
    this.machine = machine;
    this.tlbEntries = options.tlbEntries ?? 256;
    this.hangTimeoutMs = options.hangTimeoutMs ?? 10_000;
    this.deadlineMs = options.deadlineMs ?? Number.POSITIVE_INFINITY;
    this.loadTimeoutMs = options.loadTimeoutMs ?? 60_000;
    this.pool = options.workerPool ?? null;
    this.spin = options.spin ?? true;
    this.bell[BELL_SPINS] = this.spin ? WORKER_SPINS : 0;
    this.random = seed === null ? null : prng(seed);
    this.replaying = replaying;
    this.time = new ScheduleClock(
      kernel.clock,
      (op, args, ret) => this.record(0, op, args, ret),
      (options as DeterministicOptions).nsPerEntry ?? DEFAULT_NS_PER_ENTRY,
      kernel.sleepWake ? (pid) => kernel.sleepWake!(pid) : undefined,
    );
  }

  /** Free-running: every process on its own thread, all at once. */
  static async create(options: SimulationOptions & { readonly kernel: SimKernel }): Promise<Simulation<null>>;
  static async create(
    options: SimulationOptions & { readonly kernel?: undefined },
  ): Promise<Simulation<Machine>>;
  static async create(options: SimulationOptions): Promise<Simulation>;
  static async create(options: SimulationOptions): Promise<Simulation> {
    return Simulation.make(options, null, null);
  }

  private static async make(
    options: SimulationOptions,
    seed: number | null,
    replaying: SimTrace | null,
  ): Promise<Simulation> {
    if (options.kernel) return new Simulation<null>(options, options.kernel, null, seed, replaying);
    const machine = await toMachine(options.machine ?? {});
    return new Simulation<Machine>(options, machineKernel(machine), machine, seed, replaying);
  }

  /**
   * Deterministic: the same workers, but exactly one runs at a time; at every kernel entry a PRNG
   * seeded with `seed` picks who goes on. The run is recorded (`trace()`).
   */
  static async deterministic(
    options: DeterministicOptions & { readonly kernel: SimKernel },
  ): Promise<Simulation<null>>;
  static async deterministic(
    options: DeterministicOptions & { readonly kernel?: undefined },
  ): Promise<Simulation<Machine>>;
  static async deterministic(options: DeterministicOptions): Promise<Simulation>;
  static async deterministic(options: DeterministicOptions): Promise<Simulation> {
    return Simulation.make(options, options.seed, null);
  }

  /**
   * Runs a recorded trace again: spawns its programs and follows its schedule; `run()` rejects with
   * ReplayDivergenceError at the first event that differs.
   */
  static async replay(
    trace: SimTrace,
    options: SimulationOptions & { readonly kernel: SimKernel },
  ): Promise<Simulation<null>>;
  static async replay(
    trace: SimTrace,
    options: SimulationOptions & { readonly kernel?: undefined },
  ): Promise<Simulation<Machine>>;
  static async replay(trace: SimTrace, options: SimulationOptions): Promise<Simulation>;
  static async replay(trace: SimTrace, options: SimulationOptions): Promise<Simulation> {
    const sim = await Simulation.make(options, trace.seed, trace);
    for (const s of trace.spawns) {
      const pid = sim.spawn(s.program, s.argv);
      if (pid !== s.pid) throw new ReplayDivergenceError(-1, undefined, undefined);
    }
    return sim;
  }

  get deterministicMode(): boolean {
    return this.random !== null;
  }

  /** Starts a process running `program` (a module URL or path whose default export is defineProgram). */
  spawn(program: string | URL, argv: readonly string[] = []): number {
    const url = programUrl(program);
    checkLoadable(url);
    const pid = this.kernel.spawn(programComm(url));
    this.start(pid, 0, url, argv, false, undefined);
    this.spawns.push({ pid, program: url, argv: [...argv] });
    return pid;
  }

  private start(
    pid: number,
    parent: number,
    program: string,
    argv: readonly string[],
    isChild: boolean,
    forkTag: unknown,
    isThread = false,
  ): Slot {
    const chan = KernelChannel.create();
    const tlbBuf = createTlbBuffer(this.tlbEntries);
    const tlb = new KernelTlbClient(this.kernel.mem, chan.i32, tlbBuf, this.tlbEntries);
    this.kernel.mm(pid).tlbClients.add(tlb);
    const boot: WorkerBoot = {
      phys: this.kernel.mem.share(),
      channel: chan.buffer,
      bell: this.bell.buffer as SharedArrayBuffer,
      tlb: tlbBuf,
      tlbEntries: this.tlbEntries,
      pgdRoot: this.kernel.target(pid).pgdRoot,
      pkru: this.kernel.mm(pid).pkru.buffer as SharedArrayBuffer,
      pku: this.kernel.mm(pid).pkeys.enabled,
      pid,
      program,
      argv,
      isChild,
      forkTag,
      isThread,
    };
    const onError = (e: unknown) => {
      slot.workerError = e instanceof Error ? (e.stack ?? e.message) : String(e);
    };
    const onExit = () => {
      // Crashed or terminated without saying goodbye: reap it, the others go on.
      if (!slot.dead) {
        this.reap(
          slot,
          "SIGKILL",
          slot.killing ?? `worker thread ended without exit: ${slot.workerError ?? "terminated"}`,
        );
      }
      this.wake();
    };
    // A pooled worker (SimulationOptions.workerPool) reports through the lease while it runs this
    // process, then goes back to the pool; a fresh one ends with its process.
    let worker: Worker;
    if (this.pool) {
      const run = this.pool.run(boot, { onError, onExit });
      worker = run.worker;
      this.released.push(run.released);
    } else worker = startWorker(boot).on("error", onError).on("exit", onExit);
    const slot: Slot = {
      pid,
      parent,
      program,
      argv,
      worker,
      chan,
      tlb,
      lastEntry: performance.now(),
      parked: null,
      dead: false,
      waited: false,
      result: null,
      workerError: null,
      killing: null,
      started: false,
    };
    this.slots.set(pid, slot);
    this.live++;
    return slot;
  }

  /**
   * The worker thread of a live process (to inspect it, or terminate it as a crash would); undefined
   * once a pooled process has ended (its worker may run another process by then).
   */
  worker(pid: number): Worker | undefined {
    const s = this.slots.get(pid);
    return s && !(s.dead && this.pool) ? s.worker : undefined;
  }

  /** Kills a process: its worker is stopped first, then the kernel releases everything it held. */
  async kill(pid: number, reason = "killed"): Promise<void> {
    const slot = this.slots.get(pid);
    if (!slot || slot.dead) return;
    slot.killing = reason;
    await slot.worker.terminate();
    if (!slot.dead) this.reap(slot, "SIGKILL", reason);
  }

  /** The recorded schedule of a deterministic run (kernel entries with their results). */
  trace(): SimTrace {
    return { version: 1, seed: this.seed ?? 0, spawns: [...this.spawns], events: [...this.events] };
  }

  /** Runs until every process has exited; resolves with how each one ended, by pid. */
  async run(): Promise<ProcessResult[]> {
    if (this.running) throw new Error("run() is already running");
    this.running = true;
    const t0 = performance.now();
    // Atomics.waitAsync does not keep Node's event loop alive; this timer does while the kernel sleeps.
    const keepAlive = setInterval(() => {}, 1 << 30);
    try {
      if (this.random) await this.runDeterministic(t0);
      else await this.runFree(t0);
    } finally {
      // Every process is over; a pooled worker is free again a moment after its process exited.
      await Promise.all(this.released);
      clearInterval(keepAlive);
      this.running = false;
    }
    return this.results();
  }

  results(): ProcessResult[] {
    return [...this.slots.values()]
      .flatMap((s) => (s.result ? [s.result] : []))
      .sort((a, b) => a.pid - b.pid);
  }

  // ---- the kernel loop ----------------------------------------------------------------------

  private wake(): void {
    Atomics.add(this.bell, BELL_COUNT, 1);
    Atomics.notify(this.bell, BELL_COUNT);
  }

  private async sleep(ms: number): Promise<void> {
    Atomics.store(this.bell, BELL_SLEEPING, 1);
    const seen = Atomics.load(this.bell, BELL_COUNT);
    if (!this.anyPending()) await Atomics.waitAsync(this.bell, BELL_COUNT, seen, ms).value;
    Atomics.store(this.bell, BELL_SLEEPING, 0);
  }

  /**
   * Deterministic: blocks the kernel thread on the doorbell (Atomics.wait, no event-loop turn) until a
   * process enters the kernel or `ms` pass; returns at once when every live process is in the kernel.
   * The waitAsync of sleep() would not do here: other processes wait in the kernel for their turn, so
   * it returns at once, and each of its wake-ups costs an event-loop turn. With `yieldThread` (another
   * simulation runs on this thread) the same wait is an Atomics.waitAsync, so that one runs meanwhile.
   */
  private async block(ms: number, yieldThread: boolean): Promise<void> {
    Atomics.store(this.bell, BELL_SLEEPING, 1);
    // Read before looking at the channels: a request posted after this rings a changed count.
    const seen = Atomics.load(this.bell, BELL_COUNT);
    let running = false;
    for (const s of this.slots.values()) if (!s.dead && !s.chan.pending()) running = true;
    if (running && ms > 0) {
      if (yieldThread) await Atomics.waitAsync(this.bell, BELL_COUNT, seen, ms).value;
      else Atomics.wait(this.bell, BELL_COUNT, seen, ms);
    }
    Atomics.store(this.bell, BELL_SLEEPING, 0);
  }

  private anyPending(): boolean {
    for (const s of this.slots.values())
      if (!s.dead && s.chan.pending() && !s.parked && !this.time.sleeping(s.pid)) return true;
    return false;
  }

  /**
   * Serves every channel without blocking on any: spins while requests keep coming (a sleeping kernel
   * costs a worker 10–80 µs per call), yields to the event loop every few ms (worker exit events,
   * timers), and sleeps on the doorbell with Atomics.waitAsync when idle.
   */
  private async runFree(t0: number): Promise<void> {
    let busyAt = performance.now();
    let yieldAt = busyAt;
    this.time.startWall(busyAt);
    while (this.live > 0) {
      let served = false;
      // The clock follows wall time: timers fire, sleepers whose time has passed are answered.
      for (const pid of this.time.syncWall(performance.now())) this.wakeSleeper(pid);
      // A timer may have ended a process (SIGALRM's default action): its worker stops too.
      if (this.time.takeFired()) this.reapKilled();
      for (const s of this.slots.values()) {
        if (!s.dead && !s.parked && !this.time.sleeping(s.pid) && s.chan.pending()) {
          this.serve(s);
          served = true;
        }
      }
      const now = performance.now();
      if (served) busyAt = now;
      if (now - yieldAt > YIELD_EVERY_MS) {
        await new Promise<void>((r) => setImmediate(r));
        yieldAt = performance.now();
        await this.watchdog(t0);
      } else if (!served && (!this.spin || now - busyAt > SPIN_IDLE_MS)) {
        await this.sleep(this.time.msToNext(50));
        yieldAt = performance.now();
        await this.watchdog(t0);
      }
    }
  }

  /**
   * Exactly one process runs at a time. The kernel waits until every live process is in the kernel
   * (so nothing else can change memory), then the seeded PRNG (or the trace being replayed) picks
   * whose request is served next; that process runs until its next kernel entry.
   */
  private async runDeterministic(t0: number): Promise<void> {
    deterministicRuns++;
    try {
      await this.deterministicLoop(t0);
    } finally {
      deterministicRuns--;
    }
  }

  private async deterministicLoop(t0: number): Promise<void> {
    let runner: Slot | null = null;
    let yieldAt = performance.now();
    // Time spent waiting for program modules to load (bounded by loadTimeoutMs) does not count toward
    // the deadline: where a hung run is cut, and so its trace, does not depend on how busy the host was.
    let loadWait = 0;
    let loadingSince: number | null = null;
    let waitingSince: number | null = null;
    while (this.live > 0) {
      const all = [...this.slots.values()].filter((s) => !s.dead);
      if (all.some((s) => !s.chan.pending())) {
        // Someone runs user code (or is still loading): wait for it, with the watchdog on.
        const now = performance.now();
        waitingSince ??= now;
        if (all.some((s) => !s.started && !s.chan.pending())) loadingSince ??= now;
        else if (loadingSince !== null) {
          loadWait += now - loadingSince;
          loadingSince = null;
        }
        // Another deterministic run on this thread (faultline worker --jobs N, or a library user's
        // Promise.all): neither spinning nor Atomics.wait, which would hold the thread it needs.
        const shared = deterministicRuns > 1;
        if (
          shared ||
          !this.spin ||
          now - waitingSince > DETERMINISTIC_SPIN_MS ||
          now - yieldAt > YIELD_EVERY_MS
        ) {
          // Until the next entry, or 20 ms of user code; then, every few ms, the event loop's turn (a
          // worker's exit, the pool's messages, timers) and the watchdog, which sees the runner in the
          // kernel unless it ran those 20 ms without entering it. Shared runs too: their deadline holds.
          await this.block(20, shared);
          if (performance.now() - yieldAt > YIELD_EVERY_MS) {
            await new Promise<void>((r) => setImmediate(r));
            yieldAt = performance.now();
            const loading = loadingSince !== null ? yieldAt - loadingSince : 0;
            await this.watchdog(t0 + loadWait + loading, runner);
          }
        }
        continue;
      }
      waitingSince = null;
      if (loadingSince !== null) {
        loadWait += performance.now() - loadingSince;
        loadingSince = null;
      }
      const ready = all.filter((s) => this.ready(s)).sort((a, b) => a.pid - b.pid);
      let pick: Slot | undefined;
      const index = this.events.length;
      // Everyone waits and someone sleeps: time passes until the first wake-up.
      if (!ready.length && this.time.idle()) {
        if (this.time.takeFired()) this.reapKilled();
        this.replayMatches(index, this.events.length);
        if (performance.now() - yieldAt > YIELD_EVERY_MS) {
          await new Promise<void>((r) => setImmediate(r));
          yieldAt = performance.now();
          await this.watchdog(t0 + loadWait, runner);
        }
        continue;
      }
      if (this.replaying) {
        const want = this.replaying.events[index];
        pick = want ? ready.find((s) => s.pid === want.pid) : undefined;
        if (!pick) {
          this.abortAll("replay diverged");
          throw new ReplayDivergenceError(index, want, undefined);
        }
      } else {
        if (!ready.length) {
          this.abortAll("deadlock");
          throw new Error(`deterministic run deadlocked: pids ${all.map((s) => s.pid).join(", ")} all wait`);
        }
        pick = ready[Math.floor(this.random!() * ready.length)]!;
      }
      pick.parked = null;
      runner = pick;
      this.serve(pick);
      // The entry's cost in virtual time: timers due on the way fire now, recorded after it.
      this.time.afterEntry();
      if (this.time.takeFired()) this.reapKilled();
      this.replayMatches(index, Math.max(this.events.length, index + 1));
      if (performance.now() - yieldAt > YIELD_EVERY_MS) {
        await new Promise<void>((r) => setImmediate(r));
        yieldAt = performance.now();
      }
    }
  }

  /** Replaying: the events `from`..`to` just recorded are the trace's (else ReplayDivergenceError). */
  private replayMatches(from: number, to: number): void {
    if (!this.replaying) return;
    for (let i = from; i < to; i++) {
      const want = this.replaying.events[i];
      const got = this.events[i];
      if (!want || !got || !sameEvent(want, got)) {
        this.abortAll("replay diverged");
        throw new ReplayDivergenceError(i, want, got);
      }
    }
  }

  /**
   * Answers a process whose sleep has ended: what the kernel says the sleep returns (0, or -EINTR
   * with rem written), with the handler frames of the signal that interrupted it. Returns that value.
   */
  private wakeSleeper(pid: number): number {
    const s = this.slots.get(pid);
    this.time.forget(pid);
    if (!s || s.dead) return 0;
    s.lastEntry = performance.now();
    const ret = this.kernel.endSleep?.(pid) ?? 0;
    const req = s.chan.parkedPayload;
    s.chan.parkedPayload = null;
    this.answer(s.chan, pid, ret, req?.args ?? []);
    return ret;
  }

  /**
   * A syscall's answer: its value, the buffers it filled (read, rem, …) and the handler frames that
   * signals set up on the way back to user space (kill to itself, an unblocked pending signal).
   */
  private answer(chan: Slot["chan"], pid: number, ret: unknown, args: readonly unknown[]): void {
    const frames = this.kernel.takeSignalFrames?.(pid) ?? [];
    const buffers = args.some((a) => a instanceof Uint8Array);
    if (!frames.length && !buffers && typeof ret === "number") {
      chan.reply(ret);
      return;
    }
    const bufs = args.map((a) => (a instanceof Uint8Array ? a : null));
    chan.replySyscall(frames.length ? { ret, bufs, frames } : { ret, bufs });
  }

  /** Whether a process in the kernel can be served now (a waitpid parks until a child exits). */
  private ready(s: Slot): boolean {
    if (this.time.sleeping(s.pid)) return this.time.due(s.pid);
    if (s.chan.op !== OP_SYSCALL && s.chan.op !== OP_SYSCALL_FAST) return true;
    const req = s.chan.peekSyscall();
    if (req.call !== "waitpid") return true;
    const child = Number(req.args[0]);
    const options = Number(req.args[1] ?? 0);
    if (options & WNOHANG) return true;
    const kids = [...this.slots.values()].filter(
      (c) => c.parent === s.pid && !c.waited && (child === -1 || c.pid === child),
    );
    return kids.length === 0 || kids.some((c) => c.dead);
  }

  private async watchdog(t0: number, runner: Slot | null = null): Promise<void> {
    const now = performance.now();
    if (now - t0 > this.deadlineMs) {
      const stuck = [...this.slots.values()].filter((s) => !s.dead);
      const msg = `simulation deadline of ${this.deadlineMs} ms passed; still running: ${stuck
        .map(
          (s) =>
            `pid ${s.pid} (${s.program}) ${s.chan.pending() ? `in the kernel (${OP_NAMES[s.chan.op]})` : "running user code"}`,
        )
        .join("; ")}`;
      await Promise.all(stuck.map((s) => this.kill(s.pid, msg)));
      throw new SimulationTimeoutError(msg, this.results());
    }
    for (const s of this.slots.values()) {
      // Still loading its program (no kernel entry yet): not a hang, but bounded by loadTimeoutMs
      // (in deterministic mode everyone else waits for it, so it would otherwise stop the run forever).
      if (!s.dead && !s.started && !s.chan.pending() && now - s.lastEntry > this.loadTimeoutMs) {
        const why = `pid ${s.pid} (${s.program}) did not finish loading its program module in ${this.loadTimeoutMs} ms (a top level that never returns?)`;
        this.log.push(why);
        await this.kill(s.pid, why);
        continue;
      }
      if (s.dead || !s.started || s.chan.pending() || now - s.lastEntry < this.hangTimeoutMs) continue;
      const waiter = this.random
        ? [...this.slots.values()].find((w) => !w.dead && w !== s)
        : [...this.slots.values()].find(
            (w) =>
              !w.dead &&
              w.parked &&
              (w.parked.child === s.pid || (w.parked.child === -1 && s.parent === w.pid)),
          );
      if (!waiter && !(this.random && s === runner)) continue;
      const why = `hung: pid ${s.pid} (${s.program}) made no syscall or fault for ${Math.round(now - s.lastEntry)} ms${
        waiter ? ` while pid ${waiter.pid} waits for it` : ""
      }`;
      this.log.push(why);
      await this.kill(s.pid, why);
    }
  }

  private abortAll(reason: string): void {
    for (const s of this.slots.values()) {
      if (s.dead) continue;
      void s.worker.terminate();
      this.reap(s, "SIGKILL", reason, true);
    }
  }

  // ---- serving one request ------------------------------------------------------------------

  private serve(s: Slot): void {
    if (this.time.sleeping(s.pid)) {
      // Deterministic: a sleeper whose time has come, picked by the schedule.
      this.record(s.pid, "wake", [this.time.now], this.wakeSleeper(s.pid));
      return;
    }
    s.lastEntry = performance.now();
    s.started = true;
    s.tlb.quiesce();
    try {
      this.serveRequest(s);
    } catch (e) {
      // The kernel killed the process while serving it (a driver oops), or a bug in the kernel:
      // that process dies, the kernel and everyone else go on.
      const signal = isSignal(e) ? e.signal : "SIGKILL";
      const why = e instanceof Error ? e.message : String(e);
      this.record(s.pid, "killed", [], signal);
      s.chan.kill(signal);
      this.reap(s, signal, `killed in the kernel: ${why}`);
      this.reapKilled(); // kill(0, …) ends the caller and the others
    }
  }

  private serveRequest(s: Slot): void {
    const { chan, pid } = s;
    switch (chan.op) {
      case OP_START:
        this.record(pid, "start", [], 0);
        chan.reply(0);
        return;
      case OP_EXIT: {
        const st = chan.readPayload<{
          code?: number;
          signal?: string;
          siCode?: string;
          addr?: number;
          detail?: string;
        }>();
        this.record(pid, "exit", [st.code ?? st.signal ?? 0], 0);
        chan.reply(0);
        if (st.signal) this.reap(s, st.signal, st.detail ?? st.signal, false, 0, st.siCode, st.addr);
        else this.reap(s, null, st.detail, false, st.code ?? 0);
        return;
      }
      case OP_SYSCALL:
      case OP_SYSCALL_FAST:
        this.syscall(s, chan.peekSyscall());
        return;
      default:
        if (!serveEntry(this.kernel, pid, chan, this.recorder))
          throw new Error(`pid ${pid}: unknown request op ${chan.op}`);
    }
  }

  private syscall(s: Slot, req: SyscallRequest): void {
    const { pid, chan } = s;
    let ret: unknown;
    switch (req.call) {
      case "fork": {
        ret = this.kernel.fork(pid);
        if (typeof ret === "number" && ret > 0)
          this.start(ret, pid, s.program, s.argv, true, req.args[0] ?? undefined);
        break;
      }
      case "clone": {
        // A thread is a worker on the same mm (its TLB joins the mm's shootdowns); nobody waits for
        // it (parent -1). Without CLONE_VM the kernel forked: a child as fork's.
        const flags = Number(req.args[0]);
        ret = this.kernel.clone ? this.kernel.clone(pid, flags) : -38;
        if (typeof ret === "number" && ret > 0) {
          const thread = (flags & 0x10000) !== 0;
          this.start(ret, thread ? -1 : pid, s.program, s.argv, !thread, req.args[1] ?? undefined, thread);
        }
        break;
      }
      case "waitpid": {
        const child = Number(req.args[0]);
        const options = Number(req.args[1] ?? 0);
        ret = this.kernel.waitpid(pid, child, options | WNOHANG);
        if (ret === 0 && !(options & WNOHANG)) {
          // Parks: answered when a child exits (see reap), the kernel thread goes on meanwhile.
          s.parked = { child, options };
          chan.parkedPayload = req;
          return;
        }
        if (Array.isArray(ret)) {
          const w = this.slots.get(ret[0] as number);
          if (w) w.waited = true;
        }
        break;
      }
      default:
        ret = this.kernel.syscall(pid, req.call, req.args);
    }
    this.record(pid, req.call, req.args, ret);
    // nanosleep / clock_nanosleep: the process stays in the kernel until its wake-up time.
    const wake = this.kernel.takeSleep?.(pid) ?? null;
    if (wake !== null && this.kernel.clock) {
      this.time.park(pid, wake);
      // Its buffers (rem) go back with the answer when it wakes.
      chan.parkedPayload = req;
      return;
    }
    this.answer(chan, pid, ret, req.args);
    // Calls that may end other processes or threads (kill, tgkill, exit_group).
    if (["kill", "tgkill", "exit_group", "exitGroup"].includes(req.call) || (req.call as unknown) === 62)
      this.reapKilled();
  }

  /** Processes another process's kill() ended in the kernel: their workers stop, and they are reaped. */
  private reapKilled(): void {
    for (const o of this.slots.values()) {
      if (o.dead) continue;
      const how = this.kernel.ended?.(o.pid);
      if (!how) continue;
      const signal = "signal" in how ? how.signal : null;
      o.killing = `killed by ${signal ?? "exit"}`;
      void o.worker.terminate();
      this.reap(o, signal, o.killing, true, "code" in how ? how.code : 0);
    }
  }

  /** A parked waitpid whose child may have exited: try again. */
  private retryParked(): void {
    for (const s of this.slots.values()) {
      if (s.dead || !s.parked || this.random) continue;
      const req = s.chan.parkedPayload!;
      s.parked = null;
      this.syscall(s, req);
    }
  }

  private record(pid: number, op: string, args: readonly unknown[], ret: unknown): void {
    // Buffers are copied as they are now: a request's bytes live in reused channel memory, and a
    // sleep's rem is written into its request when it wakes.
    if (this.random)
      this.events.push({ pid, op, args: args.map((a) => (a instanceof Uint8Array ? a.slice() : a)), ret });
  }

  /** `record` for the kernel entries served in internal/entry.ts. */
  private readonly recorder: Recorder = (pid, op, args, ret) => this.record(pid, op, args, ret);

  /** The process is gone: the kernel releases its mm and files, and anyone waiting is told. */
  private reap(
    s: Slot,
    signal: string | null,
    error?: string,
    quiet = false,
    code = 0,
    siCode?: string,
    addr?: number,
  ): void {
    if (s.dead) return;
    s.dead = true;
    this.time.forget(s.pid);
    this.live--;
    Atomics.store(s.chan.i32, STATE, STATE_EXITED);
    this.kernel.mm(s.pid).tlbClients.delete(s.tlb);
    s.result = resultAtExit(
      this.kernel,
      s.pid,
      s.program,
      s.worker.threadId,
      signal ? { signal } : { code },
      error,
    );
    this.kernel.exit(
      s.pid,
      signal
        ? { signal, ...(siCode !== undefined ? { siCode } : {}), ...(addr !== undefined ? { addr } : {}) }
        : { code },
    );
    s.tlb.quiesce(true);
    if (signal && !quiet && error) this.log.push(`pid ${s.pid}: ${signal}: ${error.split("\n")[0]}`);
    // A fatal signal ends every thread of the process: their workers go too.
    if (signal) this.reapKilled();
    this.retryParked();
  }
}
