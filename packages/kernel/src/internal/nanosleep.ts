/**
 * Sleeping processes: hrtimer.c's do_nanosleep / hrtimer_nanosleep and posix-cpu-timers.c's
 * do_cpu_nanosleep, on the virtual clock.
 *
 * A sleep is a record on its task until it ends: its expiry on the virtual clock (the request plus
 * the 50 µs timer slack, the hrtimer's hard expiry), or for an absolute CLOCK_REALTIME/CLOCK_TAI
 * sleep the wall-clock time (so a clock_settime while it sleeps moves its wake-up, as
 * clock_was_set() re-programs such hrtimers), or for a CPU-time clock the CPU time it waits for.
 *
 * Who moves the clock: on an in-thread machine nothing else runs while a process sleeps, so the
 * sleep advances the clock deadline by deadline up to its wake-up (timers and interrupts fire on
 * the way, every one of them: a day's sleep next to a 60 Hz device runs five million vblanks). A
 * machine whose clock is driven from outside (the simulator: `driveClockExternally`) gets the
 * wake-up time instead (`takeSleep`), parks the process and asks `sleepWake` whether it may go on
 * (it moves with clock_settime, signals and other tasks' CPU time), then ends it (`endSleep`).
 *
 * A CPU-time sleep waits for CPU time other tasks spend: on an in-thread machine none runs while
 * it sleeps, so one whose time has not come would hang for ever (as it would on Linux for a lone
 * process): it fails with -EDEADLK instead, which Linux never returns here (a limit of the model).
 */
import { EFAULT, EINTR } from "../constants";
import type { Kernel, Task } from "./kernel";
import { processCputime, threadCputime } from "./posix-cpu-timers";
import { offsReal } from "./timekeeping";
import { cpuIdle } from "./timer";

/** The default timer_slack_ns of a task (50 µs). */
export const TIMER_SLACK_NS = 50_000;
/** EDEADLK: an in-thread CPU-time sleep that could never end (see above). */
export const EDEADLK = 35;

/** One task's sleep, from the syscall to its end. */
interface Sleep {
  /** Monotonic ns at which it ends (its hrtimer's hard expiry), for a sleep on a clock. */
  wake: number;
  /** An absolute wall-clock expiry (ns since the Epoch), which follows clock_settime; or null. */
  readonly real: bigint | null;
  /** A CPU-time sleep: whose CPU time, and the value it waits for (ns); or null. */
  readonly cpu: { readonly task: Task; readonly perthread: boolean; readonly expires: number } | null;
  /** Where the time left goes when a signal interrupts it (null: NULL, or TIMER_ABSTIME). */
  readonly rem: Uint8Array | null;
  interrupted: boolean;
  /** takeSleep handed its wake-up out. */
  handed: boolean;
}

const external = new WeakSet<Kernel>();
const sleeps = new WeakMap<Task, Sleep>();

/** The simulator drives this kernel's clock: sleeps are handed out (takeSleep), not slept here. */
export function driveClockExternally(k: Kernel): void {
  external.add(k);
}

/** The sleep's wake-up on the virtual clock: now once it may end, Infinity while it waits for CPU time. */
function wakeOf(k: Kernel, s: Sleep): number {
  const now = k.phys.clock.now;
  if (s.interrupted) return now;
  if (s.cpu) return cpuNow(s.cpu) >= s.cpu.expires ? now : Number.POSITIVE_INFINITY;
  if (s.real !== null) return Number(s.real - offsReal(k)) + TIMER_SLACK_NS;
  return s.wake;
}

function cpuNow(c: NonNullable<Sleep["cpu"]>): number {
  return c.perthread ? threadCputime(c.task) : processCputime(c.task);
}

/** The virtual time `t` asked to be woken at by its last syscall (once), or null. */
export function takeSleep(k: Kernel, t: Task): number | null {
  const s = sleeps.get(t);
  if (!s || s.handed) return null;
  s.handed = true;
  return wakeOf(k, s);
}

/** A parked sleeper's wake-up now (it moves with settime, signals, CPU time), or null when `t` does not sleep. */
export function sleepWake(k: Kernel, t: Task): number | null {
  const s = sleeps.get(t);
  return s ? wakeOf(k, s) : null;
}

/**
 * Whether `t` is inside a sleep that has not ended: on a machine whose clock the simulator drives,
 * a process parked in nanosleep/clock_nanosleep (its worker waits inside the syscall).
 */
export function isAsleep(t: Task): boolean {
  return sleeps.has(t);
}

/** signal_wake_up() on a sleeping task: a signal its handler will take ends the sleep with -EINTR. */
export function interruptSleep(t: Task): void {
  const s = sleeps.get(t);
  if (s) s.interrupted = true;
}

/**
 * The end of `t`'s sleep: 0 when its time came; -EINTR when a signal interrupted it, the time left
 * (the hrtimer's remaining time, slack included; the CPU time still to wait) written to rem. For
 * a parked sleeper (the simulator) this is the syscall's return value.
 */
export function endSleep(k: Kernel, t: Task): number {
  const s = sleeps.get(t);
  if (!s) return 0;
  sleeps.delete(t);
  if (!s.interrupted) return 0;
  const left = s.cpu
    ? s.cpu.expires - cpuNow(s.cpu)
    : wakeOf(k, { ...s, interrupted: false }) - k.phys.clock.now;
  // Expired meanwhile: the sleep is over (do_nanosleep's `rem <= 0`, do_cpu_nanosleep's zero value).
  if (left <= 0) return 0;
  if (s.rem) {
    const r = putRem(s.rem, left);
    if (r) return r;
  }
  // -ERESTART_RESTARTBLOCK / -ERESTARTNOHAND, and the handler that woke it makes them -EINTR.
  return -EINTR;
}

function putRem(buf: Uint8Array, ns: number): number {
  if (buf.byteLength < 16) return -EFAULT; // nanosleep_copyout
  const v = new DataView(buf.buffer, buf.byteOffset, 16);
  v.setBigInt64(0, BigInt(Math.floor(ns / 1e9)), true);
  v.setBigInt64(8, BigInt(ns % 1e9), true);
  return 0;
}

/**
 * Starts `t`'s sleep and, on an in-thread machine, sleeps it: the clock moves deadline by deadline
 * until the wake-up, a signal, or the task's death. Returns the syscall's result.
 */
export function sleep(
  k: Kernel,
  t: Task,
  how: {
    readonly expires?: number;
    readonly real?: bigint;
    readonly cpu?: Sleep["cpu"];
    readonly rem: Uint8Array | null;
  },
): number {
  const s: Sleep = {
    wake: (how.expires ?? 0) + TIMER_SLACK_NS,
    real: how.real ?? null,
    cpu: how.cpu ?? null,
    rem: how.rem,
    interrupted: false,
    handed: false,
  };
  sleeps.set(t, s);
  // A signal already pending for a handler (it came while the process ran: the simulator delivers
  // signals on the way out of the kernel): schedule() does not sleep, the call ends with -EINTR.
  if (t.sig.pending & ~t.sig.blocked) s.interrupted = true;
  // The only process sleeps: the CPU idles, its tick stops (deferrable timers wait: timer.ts).
  cpuIdle(k);
  if (external.has(k)) return 0;
  const clock = k.phys.clock;
  for (;;) {
    if (t.state !== "running") break;
    const w = wakeOf(k, s);
    if (clock.now >= w) break;
    const next = clock.nextDeadline();
    const to = next !== null && next < w ? next : w;
    if (to === Number.POSITIVE_INFINITY) {
      sleeps.delete(t);
      return -EDEADLK;
    }
    clock.advance(Math.max(0, to - clock.now));
  }
  return endSleep(k, t);
}
