// Virtual time in a simulation: who moves the machine's clock, and the processes asleep on it.
//
// - Deterministic mode: time is part of the seed's schedule. Every kernel entry served costs
//   `nsPerEntry` of virtual time (timers due on the way fire right after that entry, before the next
//   pick); when no process can go on and some sleep, the clock jumps to the earliest wake-up. A
//   sleeper whose time has come is ready like any process and is woken when the PRNG picks it. Every
//   timer and interrupt lands in the trace (pid 0, "timer" / "irq", with its virtual time), so a
//   replay checks them too.
// - Free mode: the clock follows wall time from the start of run() (nanoseconds of performance.now()),
//   moved by the kernel loop as it goes round; sleepers are answered as soon as their time has passed.
//
// Sleeps come from the kernel (SimKernel.takeSleep after nanosleep/clock_nanosleep): the process is
// left in the kernel, its channel unanswered, until it is woken with what the kernel says the sleep
// returns (SimKernel.endSleep: 0, or -EINTR when a signal for its handler came first). While it
// sleeps its wake-up is the kernel's (SimKernel.sleepWake): a signal makes it now, a clock_settime
// moves an absolute CLOCK_REALTIME sleep, a CPU-clock sleep waits (Infinity) for another task's CPU time.
import type { SimClock } from "../kernel-port";

/** What the schedule records for each clock event (pid 0 in the trace). */
export type ClockRecorder = (op: "timer" | "irq", args: unknown[], ret: number) => void;

/** Deterministic: the longest idle jump in one go (1 s of virtual time). */
export const IDLE_STEP_NS = 1_000_000_000;

/** Free mode: the clock follows wall time in steps of at least this much (ms). */
const SYNC_EVERY_MS = 0.02;

/** The default cost of one kernel entry in deterministic mode: 1 µs of virtual time. */
export const DEFAULT_NS_PER_ENTRY = 1000;

export class ScheduleClock {
  private readonly sleepers = new Map<number, number>();
  private wallBase = 0;
  private clockBase = 0;
  private lastSync = Number.NEGATIVE_INFINITY;
  private fired = 0;

  constructor(
    private readonly clock: SimClock | undefined,
    private readonly record: ClockRecorder,
    private readonly nsPerEntry: number,
    /** The kernel's current wake-up of a parked sleeper (SimKernel.sleepWake), if it tells. */
    private readonly wakeOf?: (pid: number) => number | null,
  ) {}

  /** A sleeper's wake-up as of now: the kernel's, else the one it parked with. */
  private wake(pid: number): number | undefined {
    const w = this.sleepers.get(pid);
    if (w === undefined) return undefined;
    return this.wakeOf?.(pid) ?? w;
  }

  /** Whether clock events happened since the last call (a timer may have killed a process: SIGALRM). */
  takeFired(): boolean {
    const f = this.fired > 0;
    this.fired = 0;
    return f;
  }

  /** The clock's time (0 for a kernel without one). */
  get now(): number {
    return this.clock?.now() ?? 0;
  }

  /** A process asked to sleep until `wake` (virtual ns). */
  park(pid: number, wake: number): void {
    this.sleepers.set(pid, wake);
  }

  sleeping(pid: number): boolean {
    return this.sleepers.has(pid);
  }

  /** A sleeper may be answered now. */
  due(pid: number): boolean {
    const w = this.wake(pid);
    return w !== undefined && this.now >= w;
  }

  /** Forgets a sleeper (woken, or dead). */
  forget(pid: number): void {
    this.sleepers.delete(pid);
  }

  private advance(ns: number): void {
    if (!this.clock || !(ns > 0)) return;
    for (const e of this.clock.advance(ns)) {
      this.fired++;
      if (e.kind === "timer") this.record("timer", [e.ns, e.name], 0);
      else this.record("irq", [e.ns, e.irq], e.count);
    }
  }

  /** Deterministic: one kernel entry was served; its cost passes. */
  afterEntry(): void {
    this.advance(this.nsPerEntry);
  }

  /**
   * Deterministic, nobody ready: moves towards the earliest wake-up, at most IDLE_STEP_NS at a time
   * (so a long sleep beside periodic timers lets the kernel loop yield and its deadline apply between
   * steps; each timer still fires at its own instant, so the trace is the same). False when nobody sleeps.
   */
  idle(): boolean {
    let next = Number.POSITIVE_INFINITY;
    for (const pid of this.sleepers.keys()) next = Math.min(next, this.wake(pid)!);
    if (next === Number.POSITIVE_INFINITY || !this.clock) return false;
    this.advance(Math.min(IDLE_STEP_NS, Math.max(0, next - this.now)));
    return true;
  }

  /** Free mode: starts following wall time. */
  startWall(wallMs: number): void {
    this.wallBase = wallMs;
    this.clockBase = this.now;
  }

  /**
   * Free mode: brings the clock up to wall time; the pids whose sleep has ended (forgotten here).
   * The kernel loop calls it on every turn; it moves the clock at most every 20 µs of wall time.
   */
  syncWall(wallMs: number): number[] {
    if (!this.clock || wallMs - this.lastSync < SYNC_EVERY_MS) return [];
    this.lastSync = wallMs;
    const target = this.clockBase + Math.floor((wallMs - this.wallBase) * 1e6);
    this.advance(target - this.now);
    const woken: number[] = [];
    for (const pid of this.sleepers.keys()) if (this.now >= this.wake(pid)!) woken.push(pid);
    for (const pid of woken) this.sleepers.delete(pid);
    return woken;
  }

  /** Free mode: how long the kernel loop may sleep before the clock has something to do (ms). */
  msToNext(capMs: number): number {
    if (!this.clock) return capMs;
    let next = this.clock.nextDeadline() ?? Number.POSITIVE_INFINITY;
    for (const pid of this.sleepers.keys()) next = Math.min(next, this.wake(pid)!);
    if (next === Number.POSITIVE_INFINITY) return capMs;
    return Math.max(0, Math.min(capMs, (next - this.now) / 1e6));
  }
}
