/**
 * kernel/time/posix-timers.c and hrtimer.c's nanosleep, for processes: clock_gettime(2),
 * clock_settime(2), clock_getres(2), nanosleep(2) and clock_nanosleep(2) on the machine's virtual
 * clock (the clocks themselves: timekeeping.ts).
 *
 * - The clock ids as clockid_to_kclock() sorts them: 0-11 the posix_clocks table (10 is empty),
 *   negative ids CPU clocks or, with CLOCKFD in the low bits, dynamic clocks by fd (none exist
 *   here: -EINVAL, and no nsleep: -EOPNOTSUPP). The alarm clocks need an RTC (clock_gettime and
 *   clock_getres -EINVAL, clock_nanosleep -EOPNOTSUPP, as alarmtimer.c without an rtc device);
 *   CPU-time clocks are not modelled yet: -EINVAL.
 * - Only CLOCK_REALTIME can be set (do_sys_settimeofday64): a bad timespec or a time past
 *   TIME_SETTOD_SEC_MAX -EINVAL, then without CAP_SYS_TIME -EPERM, then a time before the time
 *   since boot -EINVAL; every other clock -EINVAL (no clock_set).
 * - clock_getres: 1 ns for the hrtimer clocks (high-resolution timers: hrtimer_resolution), a
 *   tick (KTIME_LOW_RES, 4 ms) for the coarse clocks.
 * - A struct timespec a call writes (clock_gettime's tp, clock_getres's res, the sleeps' rem) is a
 *   16-byte buffer (tv_sec, tv_nsec: little-endian 64-bit); a shorter one is -EFAULT. Without it,
 *   clock_gettime and clock_getres return the time in ns as their result (a wall-clock time beyond
 *   2^53 ns rounded to a double: give tp to read it exactly).
 * - A sleep ends at its expiry plus the task's timer slack (50 µs, the default timer_slack_ns:
 *   hrtimer_set_expires_range_ns), the time at which the hrtimer's hard expiry fires on an idle CPU.
 *   TIMER_ABSTIME on CLOCK_REALTIME (and CLOCK_TAI) sleeps until the wall clock reads that time.
 * - Who moves the clock: on an in-thread machine nothing else runs while a process sleeps, so the
 *   sleep advances the clock to the wake-up (timers and interrupts fire on the way, every one of
 *   them: a day's sleep next to a 60 Hz device runs five million vblanks). A machine whose
 *   clock is driven from outside (the simulator: `driveClockExternally`) gets the wake-up time
 *   instead (`takeSleep`), parks the process and answers it when its schedule reaches that time.
 */
import { EFAULT, EINVAL, EOPNOTSUPP, EPERM } from "../constants";
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
import { isClockfd } from "./posix-cpu-timers";
import {
  doSettimeofday,
  ktimeGetCoarse,
  ktimeGetCoarseReal,
  ktimeGetReal,
  offsReal,
  TIME_SETTOD_SEC_MAX,
} from "./timekeeping";
import { TICK_NSEC } from "./timer";

/** The default timer_slack_ns of a task (50 µs). */
export const TIMER_SLACK_NS = 50_000;
const NSEC_PER_SEC = 1_000_000_000;
/** hrtimer_resolution with high-resolution timers on. */
const HRTIMER_RESOLUTION = 1;

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

/** posix_clocks[] plus the negative ids: which table entry a clock id picks, or null (-EINVAL). */
type KClock = "hres" | "coarse" | "alarm" | "cpu" | "fd";
function kclockOf(clockid: number): KClock | null {
  if (clockid < 0) return isClockfd(clockid) ? "fd" : "cpu";
  switch (clockid) {
    case CLOCK_REALTIME:
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_BOOTTIME:
    case CLOCK_TAI:
      return "hres";
    case CLOCK_REALTIME_COARSE:
    case CLOCK_MONOTONIC_COARSE:
      return "coarse";
    case CLOCK_REALTIME_ALARM:
    case CLOCK_BOOTTIME_ALARM:
      return "alarm";
    default:
      return null;
  }
}

/** kc->clock_get(): the clock's reading in ns (a bigint), or -errno (a number). */
function clockGet(k: Kernel, clockid: number): bigint | number {
  switch (clockid) {
    case CLOCK_REALTIME:
    case CLOCK_TAI:
      return ktimeGetReal(k);
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_BOOTTIME:
      return BigInt(k.phys.clock.now);
    case CLOCK_REALTIME_COARSE:
      return ktimeGetCoarseReal(k);
    case CLOCK_MONOTONIC_COARSE:
      return BigInt(ktimeGetCoarse(k));
    default:
      return -EINVAL;
  }
}

/** put_timespec64(): `ns` as struct timespec into `buf`; -EFAULT when it does not hold one. */
export function putTimespec(buf: Uint8Array, ns: bigint): number {
  if (buf.byteLength < 16) return -EFAULT;
  const v = new DataView(buf.buffer, buf.byteOffset, 16);
  v.setBigInt64(0, ns / 1_000_000_000n, true);
  v.setBigInt64(8, ns % 1_000_000_000n, true);
  return 0;
}

/** A reading as the call returns it: written to `tp` (0), or as the result in ns. */
function answer(r: bigint | number, tp: Uint8Array | null): number {
  if (typeof r === "number") return r;
  return tp ? putTimespec(tp, r) : Number(r);
}

/** clock_gettime(clockid, tp): 0 with the time in `tp`, or without `tp` the time in ns; or -EINVAL. */
export function sysClockGettime(k: Kernel, _t: Task, clockid: number, tp: Uint8Array | null): number {
  return answer(clockGet(k, clockid), tp);
}

/** clock_getres(clockid, res): as clock_gettime, with the clock's resolution. */
export function sysClockGetres(_k: Kernel, _t: Task, clockid: number, res: Uint8Array | null): number {
  const kc = kclockOf(clockid);
  if (kc === "hres") return answer(BigInt(HRTIMER_RESOLUTION), res);
  if (kc === "coarse") return answer(BigInt(TICK_NSEC), res);
  return -EINVAL;
}

/** timespec64_valid(): tv_sec ≥ 0 and 0 ≤ tv_nsec < 1 s. */
const validTimespec = (sec: number, nsec: number): boolean => sec >= 0 && nsec >= 0 && nsec < NSEC_PER_SEC;

/**
 * clock_settime(clockid, tp): only CLOCK_REALTIME has a clock_set. -EINVAL for any other clock, a
 * bad timespec or one past TIME_SETTOD_SEC_MAX; -EPERM without CAP_SYS_TIME; -EINVAL for a time
 * earlier than the time since boot.
 */
export function sysClockSettime(k: Kernel, t: Task, clockid: number, sec: number, nsec: number): number {
  if (clockid !== CLOCK_REALTIME) return -EINVAL;
  if (!validTimespec(sec, nsec) || sec > TIME_SETTOD_SEC_MAX) return -EINVAL;
  if (!t.capSysTime) return -EPERM;
  return doSettimeofday(k, BigInt(sec) * 1_000_000_000n + BigInt(nsec));
}

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
export function sysNanosleep(k: Kernel, t: Task, sec: number, nsec: number, _rem: Uint8Array | null): number {
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
  _rem: Uint8Array | null,
): number {
  const kc = kclockOf(clockid);
  if (kc === null || kc === "cpu") return -EINVAL;
  if (kc !== "hres" || clockid === CLOCK_MONOTONIC_RAW) return -EOPNOTSUPP;
  if (!validTimespec(sec, nsec)) return -EINVAL;
  const ns = sec * NSEC_PER_SEC + nsec;
  if (!(flags & TIMER_ABSTIME)) return sleepUntil(k, t, k.phys.clock.now + ns);
  // An absolute time on the wall clock: its monotonic time is what the wall clock reads less offs_real.
  const real = clockid === CLOCK_REALTIME || clockid === CLOCK_TAI;
  const expires = real ? Number(BigInt(sec) * 1_000_000_000n + BigInt(nsec) - offsReal(k)) : ns;
  // An absolute time already past: the hrtimer fires at once (its slack aside) and the call returns.
  return sleepUntil(k, t, expires);
}
