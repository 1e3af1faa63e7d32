/**
 * kernel/time/posix-timers.c and hrtimer.c's nanosleep, for processes: clock_gettime(2),
 * nanosleep(2) and clock_nanosleep(2) on the machine's virtual clock.
 *
 * - There is no wall clock and no RTC: CLOCK_REALTIME (and CLOCK_TAI, whose offset is 0 until NTP
 *   sets it) count from boot like CLOCK_MONOTONIC; the *_COARSE clocks read the last tick (jiffy);
 *   the alarm clocks need an RTC (clock_gettime -EINVAL, clock_nanosleep -EOPNOTSUPP, as
 *   alarmtimer.c without an rtc device); CPU-time clocks (2, 3 and the negative per-thread ids) are
 *   not modelled: -EINVAL.
 * - A sleep ends at its expiry plus the task's timer slack (50 µs, the default timer_slack_ns:
 *   hrtimer_set_expires_range_ns), the time at which the hrtimer's hard expiry fires on an idle CPU.
 * - Who moves the clock: on an in-thread machine nothing else runs while a process sleeps, so the
 *   sleep advances the clock to the wake-up (timers and interrupts fire on the way, every one of
 *   them: a day's sleep next to a 60 Hz device runs five million vblanks). A machine whose
 *   clock is driven from outside (the simulator: `driveClockExternally`) gets the wake-up time
 *   instead (`takeSleep`), parks the process and answers it when its schedule reaches that time.
 */
import { EINVAL, EOPNOTSUPP } from "../constants";
import {
  CLOCK_BOOTTIME,
  CLOCK_BOOTTIME_ALARM,
  CLOCK_MONOTONIC,
  CLOCK_MONOTONIC_COARSE,
  CLOCK_MONOTONIC_RAW,
  CLOCK_REALTIME,
  CLOCK_REALTIME_ALARM,
  CLOCK_REALTIME_COARSE,
  CLOCK_TAI,
  TIMER_ABSTIME,
} from "./clockid";
import type { Kernel, Task } from "./kernel";
import { TICK_NSEC } from "./timer";

/** The default timer_slack_ns of a task (50 µs). */
export const TIMER_SLACK_NS = 50_000;
const NSEC_PER_SEC = 1_000_000_000;

const external = new WeakSet<Kernel>();
const sleeps = new WeakMap<Task, number>();

/** The simulator drives this kernel's clock: sleeps are handed out (takeSleep), not slept here. */
export function driveClockExternally(k: Kernel): void {
  external.add(k);
}

/** The virtual time `t` asked to be woken at by its last syscall (and forgets it), or null. */
export function takeSleep(t: Task): number | null {
  const w = sleeps.get(t);
  if (w === undefined) return null;
  sleeps.delete(t);
  return w;
}

/** The clock's reading for a clockid, or -EINVAL (posix_clock's clock_get_timespec). */
function clockRead(k: Kernel, clockid: number): number {
  const now = k.phys.clock.now;
  switch (clockid) {
    case CLOCK_REALTIME:
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_BOOTTIME:
    case CLOCK_TAI:
      return now;
    case CLOCK_REALTIME_COARSE:
    case CLOCK_MONOTONIC_COARSE:
      return Math.floor(now / TICK_NSEC) * TICK_NSEC;
    default:
      return -EINVAL;
  }
}

/** clock_gettime(clockid): the time in ns (instead of a struct timespec through a pointer), or -EINVAL. */
export function sysClockGettime(k: Kernel, _t: Task, clockid: number): number {
  return clockRead(k, clockid);
}

/** timespec64_valid(): tv_sec ≥ 0 and 0 ≤ tv_nsec < 1 s. */
const validTimespec = (sec: number, nsec: number): boolean => sec >= 0 && nsec >= 0 && nsec < NSEC_PER_SEC;

function sleepUntil(k: Kernel, t: Task, expires: number): number {
  const wake = expires + TIMER_SLACK_NS;
  if (external.has(k)) {
    sleeps.set(t, wake);
    return 0;
  }
  const now = k.phys.clock.now;
  if (wake > now) k.phys.clock.advance(wake - now);
  return 0;
}

/** nanosleep(req, rem): sleeps `tv_sec` s + `tv_nsec` ns on CLOCK_MONOTONIC; 0, or -EINVAL. */
export function sysNanosleep(k: Kernel, t: Task, sec: number, nsec: number): number {
  if (!validTimespec(sec, nsec)) return -EINVAL;
  return sleepUntil(k, t, k.phys.clock.now + sec * NSEC_PER_SEC + nsec);
}

/**
 * clock_nanosleep(clockid, flags, req, rem): relative, or absolute with TIMER_ABSTIME (a time already
 * past returns at once). -EINVAL for an unknown clock or a bad timespec, -EOPNOTSUPP for a clock
 * that cannot sleep (the coarse and raw clocks have no nsleep; the alarm clocks need an RTC).
 */
export function sysClockNanosleep(
  k: Kernel,
  t: Task,
  clockid: number,
  flags: number,
  sec: number,
  nsec: number,
): number {
  switch (clockid) {
    case CLOCK_REALTIME:
    case CLOCK_MONOTONIC:
    case CLOCK_BOOTTIME:
    case CLOCK_TAI:
      break;
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_REALTIME_COARSE:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_REALTIME_ALARM:
    case CLOCK_BOOTTIME_ALARM:
      return -EOPNOTSUPP;
    default:
      return -EINVAL;
  }
  if (!validTimespec(sec, nsec)) return -EINVAL;
  const ns = sec * NSEC_PER_SEC + nsec;
  // An absolute time already past: the hrtimer fires at once (its slack aside) and the call returns.
  return sleepUntil(k, t, flags & TIMER_ABSTIME ? ns : k.phys.clock.now + ns);
}
