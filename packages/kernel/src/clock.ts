/**
 * For whoever drives a machine's virtual clock from outside (the simulator's schedule): sleeps are
 * handed over instead of slept (internal/nanosleep.ts). An in-thread machine needs none of this: its
 * clock moves with `Machine.advanceClock` and with the sleeps of its processes.
 */
import {
  driveClockExternally as drive,
  endSleep as end,
  takeSleep as take,
  sleepWake as wake,
} from "./internal/nanosleep";
import { deliverPending } from "./internal/signal";
import type { Machine } from "./machine";

/**
 * From now on nanosleep/clock_nanosleep on `m` do not move its clock: they record the wake-up time
 * for `takeSleep`, and the caller answers the process when its clock gets there.
 */
export function driveClockExternally(m: Machine): void {
  drive(m.kernel);
}

/**
 * After a syscall of process `pid`: the virtual time (ns) it asked to sleep until, once; or null.
 * Infinity for a sleep on a CPU-time clock (it ends when that CPU time is spent: ask `sleepWake`).
 */
export function takeSleep(m: Machine, pid: number): number | null {
  const p = m.process(pid);
  return p ? take(m.kernel, p.task) : null;
}

/**
 * While process `pid` sleeps: the virtual time it may go on at, as of now (a clock_settime moves an
 * absolute CLOCK_REALTIME sleep; a signal for its handler, or the CPU time a CPU-clock sleep waits
 * for, makes it now); null when it does not sleep.
 */
export function sleepWake(m: Machine, pid: number): number | null {
  const p = m.process(pid);
  return p ? wake(m.kernel, p.task) : null;
}

/**
 * Ends process `pid`'s sleep when the caller wakes it: the sleep's return value (0, or -EINTR with
 * the time left written to its rem buffer); signals pending for it are then delivered, as on the
 * way back to user mode (handlers given as functions run; others wait in its signal frames).
 */
export function endSleep(m: Machine, pid: number): number {
  const p = m.process(pid);
  if (!p) return 0;
  const t = p.task;
  const r = end(m.kernel, t);
  // exit_to_user_mode(): the signal that interrupted the sleep is delivered on the way out.
  if (t.state === "running" && t.sig.pending !== 0n) deliverPending(m.kernel, t);
  return r;
}
