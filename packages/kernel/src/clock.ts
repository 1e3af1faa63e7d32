/**
 * For whoever drives a machine's virtual clock from outside (the simulator's schedule): sleeps are
 * handed over instead of slept (internal/time.ts). An in-thread machine needs none of this: its
 * clock moves with `Machine.advanceClock` and with the sleeps of its processes.
 */
import { driveClockExternally as drive, takeSleep as take } from "./internal/time";
import type { Machine } from "./machine";

/**
 * From now on nanosleep/clock_nanosleep on `m` do not move its clock: they record the wake-up time
 * for `takeSleep`, and the caller answers the process when its clock gets there.
 */
export function driveClockExternally(m: Machine): void {
  drive(m.kernel);
}

/** After a syscall of process `pid`: the virtual time (ns) it asked to sleep until, once; or null. */
export function takeSleep(m: Machine, pid: number): number | null {
  const p = m.process(pid);
  return p ? take(p.task) : null;
}
