/**
 * kernel/time/posix-timers.c and hrtimer.c's nanosleep, for processes: clock_gettime(2),
 * clock_settime(2), clock_getres(2), nanosleep(2) and clock_nanosleep(2) on the machine's virtual
 * clock (the clocks themselves: timekeeping.ts).
 *
 * - The clock ids as clockid_to_kclock() sorts them: 0-11 the posix_clocks table (10 is empty),
 *   negative ids CPU clocks or, with CLOCKFD in the low bits, dynamic clocks by fd (none exist
 *   here: -EINVAL, and no nsleep: -EOPNOTSUPP). The alarm clocks need an RTC (clock_gettime and
 *   clock_getres -EINVAL, clock_nanosleep -EOPNOTSUPP, as alarmtimer.c without an rtc device).
 * - CPU-time clocks (what CPU time is here: posix-cpu-timers.ts): CLOCK_PROCESS_CPUTIME_ID,
 *   CLOCK_THREAD_CPUTIME_ID and the ids make_process_cpuclock/make_thread_cpuclock build from a
 *   pid; a pid that names no process (or a thread outside the caller's process) is -EINVAL. They
 *   cannot be set (-EPERM for a valid id, clock_posix_cpu's rule; -EINVAL for 2 and 3, which have
 *   no clock_set); their resolution is 1 ns (CPUCLOCK_SCHED) or a tick (PROF, VIRT).
 *   clock_nanosleep on the calling thread's own CPU clock is -EINVAL (posix_cpu_nsleep), on
 *   CLOCK_THREAD_CPUTIME_ID -EOPNOTSUPP (clock_thread has no nsleep; glibc's wrapper says EINVAL).
 * - Only CLOCK_REALTIME can be set (do_sys_settimeofday64): a bad timespec or a time past
 *   TIME_SETTOD_SEC_MAX -EINVAL, then without CAP_SYS_TIME -EPERM, then a time before the time
 *   since boot -EINVAL; every other clock -EINVAL (no clock_set).
 * - clock_getres: 1 ns for the hrtimer clocks (high-resolution timers: hrtimer_resolution), a
 *   tick (KTIME_LOW_RES, 4 ms) for the coarse clocks.
 * - A struct timespec a call writes (clock_gettime's tp, clock_getres's res, the sleeps' rem) is a
 *   16-byte buffer (tv_sec, tv_nsec: little-endian 64-bit); a shorter one is -EFAULT. Without it,
 *   clock_gettime and clock_getres return the time in ns as their result (a wall-clock time beyond
 *   2^53 ns rounded to a double: give tp to read it exactly).
 * - Sleeps (the slack, who moves the clock, signals): nanosleep.ts.
 */
import { EFAULT, EINVAL, EOPNOTSUPP, EPERM } from "../constants";
import {
  CLOCK_BOOTTIME,
  CLOCK_BOOTTIME_ALARM,
  CLOCK_MONOTONIC,
  CLOCK_MONOTONIC_COARSE,
  CLOCK_MONOTONIC_RAW,
  CLOCK_PROCESS_CPUTIME_ID,
  CLOCK_REALTIME,
  CLOCK_REALTIME_ALARM,
  CLOCK_REALTIME_COARSE,
  CLOCK_TAI,
  CLOCK_THREAD_CPUTIME_ID,
  TIMER_ABSTIME,
} from "./clockid";
import type { Kernel, Task } from "./kernel";
import { sleep } from "./nanosleep";
import {
  CPUCLOCK_CLOCK_MASK,
  CPUCLOCK_SCHED,
  cpuClockGet,
  cpuclockPerthread,
  cpuclockPid,
  isClockfd,
  makeProcessCpuclock,
  makeThreadCpuclock,
  processCputime,
  taskForClock,
  threadCputime,
} from "./posix-cpu-timers";
import {
  doSettimeofday,
  ktimeGetCoarse,
  ktimeGetCoarseReal,
  ktimeGetReal,
  TIME_SETTOD_SEC_MAX,
} from "./timekeeping";
import { NSEC_PER_SEC, TICK_NSEC } from "./timer";

/** hrtimer_resolution with high-resolution timers on. */
const HRTIMER_RESOLUTION = 1;

/** CLOCK_PROCESS_CPUTIME_ID and CLOCK_THREAD_CPUTIME_ID as the CPU clock ids they stand for. */
const PROCESS_CLOCK = makeProcessCpuclock(0, CPUCLOCK_SCHED);
const THREAD_CLOCK = makeThreadCpuclock(0, CPUCLOCK_SCHED);

/** posix_clocks[] plus the negative ids: which table entry a clock id picks, or null (-EINVAL). */
type KClock = "hres" | "coarse" | "alarm" | "cpu" | "fd";
function kclockOf(clockid: number): KClock | null {
  if (clockid < 0) return isClockfd(clockid) ? "fd" : "cpu";
  switch (clockid) {
    case CLOCK_PROCESS_CPUTIME_ID:
    case CLOCK_THREAD_CPUTIME_ID:
      return "cpu";
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
function clockGet(k: Kernel, t: Task, clockid: number): bigint | number {
  if (clockid === CLOCK_PROCESS_CPUTIME_ID) clockid = PROCESS_CLOCK;
  else if (clockid === CLOCK_THREAD_CPUTIME_ID) clockid = THREAD_CLOCK;
  if (clockid < 0) {
    if (isClockfd(clockid)) return -EINVAL;
    const r = cpuClockGet(k, t, clockid);
    return r < 0 ? r : BigInt(r);
  }
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
export function sysClockGettime(k: Kernel, t: Task, clockid: number, tp: Uint8Array | null): number {
  return answer(clockGet(k, t, clockid), tp);
}

/** clock_getres(clockid, res): as clock_gettime, with the clock's resolution. */
export function sysClockGetres(k: Kernel, t: Task, clockid: number, res: Uint8Array | null): number {
  const kc = kclockOf(clockid);
  if (kc === "hres") return answer(BigInt(HRTIMER_RESOLUTION), res);
  if (kc === "coarse") return answer(BigInt(TICK_NSEC), res);
  if (kc === "cpu") {
    const id = cpuId(clockid);
    if (!taskForClock(k, t, id, false)) return -EINVAL;
    // posix_cpu_clock_getres(): 1 ns for the scheduler's clock, a tick for the others.
    return answer((id & CPUCLOCK_CLOCK_MASK) === CPUCLOCK_SCHED ? 1n : BigInt(TICK_NSEC), res);
  }
  return -EINVAL;
}

/** A CPU clock's id: CLOCK_PROCESS_CPUTIME_ID and CLOCK_THREAD_CPUTIME_ID stand for the caller's. */
const cpuId = (clockid: number): number =>
  clockid === CLOCK_PROCESS_CPUTIME_ID
    ? PROCESS_CLOCK
    : clockid === CLOCK_THREAD_CPUTIME_ID
      ? THREAD_CLOCK
      : clockid;

/** timespec64_valid(): tv_sec ≥ 0 and 0 ≤ tv_nsec < 1 s. */
const validTimespec = (sec: number, nsec: number): boolean => sec >= 0 && nsec >= 0 && nsec < NSEC_PER_SEC;

/**
 * clock_settime(clockid, tp): only CLOCK_REALTIME has a clock_set. -EINVAL for any other clock, a
 * bad timespec or one past TIME_SETTOD_SEC_MAX; -EPERM without CAP_SYS_TIME; -EINVAL for a time
 * earlier than the time since boot.
 */
export function sysClockSettime(k: Kernel, t: Task, clockid: number, sec: number, nsec: number): number {
  // posix_cpu_clock_set(): a CPU clock can never be set, but a bad one is -EINVAL first.
  if (clockid < 0 && !isClockfd(clockid)) return taskForClock(k, t, clockid, false) ? -EPERM : -EINVAL;
  if (clockid !== CLOCK_REALTIME) return -EINVAL;
  if (!validTimespec(sec, nsec) || sec > TIME_SETTOD_SEC_MAX) return -EINVAL;
  if (!t.capSysTime) return -EPERM;
  return doSettimeofday(k, BigInt(sec) * 1_000_000_000n + BigInt(nsec));
}

/** nanosleep(req, rem): sleeps `tv_sec` s + `tv_nsec` ns on CLOCK_MONOTONIC; 0, -EINVAL or -EINTR. */
export function sysNanosleep(k: Kernel, t: Task, sec: number, nsec: number, rem: Uint8Array | null): number {
  if (!validTimespec(sec, nsec)) return -EINVAL;
  return sleep(k, t, { expires: k.phys.clock.now + sec * NSEC_PER_SEC + nsec, rem });
}

/**
 * clock_nanosleep(clockid, flags, req, rem): relative, or absolute with TIMER_ABSTIME (a time already
 * past returns at once; rem is never written). -EINVAL for an unknown clock or a bad timespec,
 * -EOPNOTSUPP for a clock that cannot sleep (the coarse and raw clocks and CLOCK_THREAD_CPUTIME_ID
 * have no nsleep; the alarm clocks need an RTC), -EINTR when a signal's handler interrupts it.
 */
export function sysClockNanosleep(
  k: Kernel,
  t: Task,
  clockid: number,
  flags: number,
  sec: number,
  nsec: number,
  rem: Uint8Array | null,
): number {
  const kc = kclockOf(clockid);
  if (kc === null) return -EINVAL;
  if (clockid === CLOCK_THREAD_CPUTIME_ID) return -EOPNOTSUPP;
  if (kc !== "hres" && kc !== "cpu") return -EOPNOTSUPP;
  if (clockid === CLOCK_MONOTONIC_RAW) return -EOPNOTSUPP;
  if (!validTimespec(sec, nsec)) return -EINVAL;
  const abs = (flags & TIMER_ABSTIME) !== 0;
  const out = abs ? null : rem;
  const ns = sec * NSEC_PER_SEC + nsec;
  if (kc === "cpu") return cpuNanosleep(k, t, cpuId(clockid), abs, ns, out);
  if (!abs) return sleep(k, t, { expires: k.phys.clock.now + ns, rem: out });
  // An absolute wall-clock time: it ends when the wall clock reads it (settime moves it).
  if (clockid === CLOCK_REALTIME || clockid === CLOCK_TAI)
    return sleep(k, t, { real: BigInt(sec) * 1_000_000_000n + BigInt(nsec), rem: null });
  // An absolute time already past: the hrtimer fires at once (its slack aside) and the call returns.
  return sleep(k, t, { expires: ns, rem: null });
}

/**
 * posix_cpu_nsleep(): -EINVAL on the caller's own thread clock or a clock naming no task; a CPU time
 * already reached (or a zero relative request) returns 0 at once; otherwise the task sleeps until
 * the clock's CPU time gets there.
 */
function cpuNanosleep(
  k: Kernel,
  t: Task,
  id: number,
  abs: boolean,
  ns: number,
  rem: Uint8Array | null,
): number {
  const perthread = cpuclockPerthread(id);
  if (perthread && (cpuclockPid(id) === 0 || cpuclockPid(id) === t.pid)) return -EINVAL;
  const task = taskForClock(k, t, id, false);
  if (!task) return -EINVAL;
  const now = perthread ? threadCputime(task) : processCputime(task);
  if ((!abs && ns === 0) || (abs && ns <= now)) return 0;
  return sleep(k, t, { cpu: { task, perthread, expires: abs ? ns : now + ns }, rem });
}
