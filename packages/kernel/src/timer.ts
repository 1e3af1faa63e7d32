/**
 * Time for drivers, as <linux/jiffies.h>, <linux/timer.h> and <linux/hrtimer.h> name it, on the
 * machine's virtual clock (the same clock device models arm their timers on: see
 * internal/timer.ts for the wheel's rules).
 *
 * The clock moves only when the machine's owner moves it: `Machine.advanceClock(ns)` in a test, the
 * simulator's schedule in a run (docs/write-a-pci-driver.md, "Time"). Timer and hrtimer functions run
 * in interrupt context: no process is current, a throw is an oops that kills nobody (Linux panics:
 * "Fatal exception in interrupt") and the timer stays disarmed.
 */
import { currentKernel } from "./internal/current";
import type { Kernel } from "./internal/kernel";
import {
  addTimer as doAddTimer,
  hrtimerSetup as doHrtimerSetup,
  modTimer as doModTimer,
  timerDelete as doTimerDelete,
  timerSetup as doTimerSetup,
  type Hrtimer,
  type HrtimerFunc,
  jiffiesOf,
  type TimerFunc,
  type TimerList,
  timerShutdown,
} from "./internal/timer";

export type { ClockEvent } from "./internal/clock-events";
export * from "./internal/clockid";
export { TIMER_SLACK_NS } from "./internal/nanosleep";
export {
  CPUCLOCK_PROF,
  CPUCLOCK_SCHED,
  CPUCLOCK_VIRT,
  makeProcessCpuclock,
  makeThreadCpuclock,
} from "./internal/posix-cpu-timers";
export {
  HRTIMER_MODE_ABS,
  HRTIMER_MODE_ABS_HARD,
  HRTIMER_MODE_ABS_PINNED,
  HRTIMER_MODE_ABS_PINNED_HARD,
  HRTIMER_MODE_ABS_PINNED_SOFT,
  HRTIMER_MODE_ABS_SOFT,
  HRTIMER_MODE_HARD,
  HRTIMER_MODE_PINNED,
  HRTIMER_MODE_REL,
  HRTIMER_MODE_REL_HARD,
  HRTIMER_MODE_REL_PINNED,
  HRTIMER_MODE_REL_PINNED_HARD,
  HRTIMER_MODE_REL_PINNED_SOFT,
  HRTIMER_MODE_REL_SOFT,
  HRTIMER_MODE_SOFT,
  HRTIMER_NORESTART,
  HRTIMER_RESTART,
  type Hrtimer,
  type HrtimerFunc,
  HZ,
  hrtimerActive,
  hrtimerCancel,
  hrtimerForwardNow,
  hrtimerStart,
  INITIAL_JIFFIES,
  NSEC_PER_SEC,
  TICK_NSEC,
  TIMER_DEFERRABLE,
  TIMER_IRQSAFE,
  TIMER_PINNED,
  type TimerFunc,
  type TimerList,
  timerPending,
} from "./internal/timer";
export const NSEC_PER_MSEC = 1_000_000;
export const NSEC_PER_USEC = 1_000;
export const MSEC_PER_SEC = 1_000;
/** MAX_JIFFY_OFFSET, ((LONG_MAX >> 1) - 1), as the nearest double. */
export const MAX_JIFFY_OFFSET = 2 ** 62;

const owner = (k: Kernel) => k.currentDriver ?? "kernel";

/** The jiffies counter now (the `jiffies` variable; INITIAL_JIFFIES at boot, HZ per second). */
export function jiffies(): number {
  return jiffiesOf(currentKernel("jiffies"));
}

/** get_jiffies_64(): the same count (64-bit here too). */
export const getJiffies64 = (): number => jiffiesOf(currentKernel("getJiffies64"));

/** ktime_get(): CLOCK_MONOTONIC in ns, the virtual clock's time since boot. */
export function ktimeGet(): number {
  return currentKernel("ktimeGet").phys.clock.now;
}

/** time_after(a, b): a is later than b (wrap-safe in C; jiffies do not wrap here in 64 bits). */
export const timeAfter = (a: number, b: number): boolean => b - a < 0;
/** time_before(a, b): a is earlier than b. */
export const timeBefore = (a: number, b: number): boolean => timeAfter(b, a);
/** time_after_eq(a, b): a is b or later. */
export const timeAfterEq = (a: number, b: number): boolean => a - b >= 0;
/** time_before_eq(a, b): a is b or earlier. */
export const timeBeforeEq = (a: number, b: number): boolean => timeAfterEq(b, a);

/** msecs_to_jiffies(m): rounded up (HZ 250: ⌈m / 4⌉); a negative int is MAX_JIFFY_OFFSET. */
export function msecsToJiffies(m: number): number {
  const u = m >>> 0;
  if (u > 0x7fffffff) return MAX_JIFFY_OFFSET;
  const per = MSEC_PER_SEC / 250;
  return Math.floor((u + per - 1) / per);
}

/** usecs_to_jiffies(u): rounded up. */
export function usecsToJiffies(u: number): number {
  const v = u >>> 0;
  if (v > 0x7fffffff) return MAX_JIFFY_OFFSET;
  const per = 1_000_000 / 250;
  return Math.floor((v + per - 1) / per);
}

/** jiffies_to_msecs(j): an unsigned int (HZ 250: j × 4, modulo 2^32). */
export const jiffiesToMsecs = (j: number): number => ((j % 2 ** 32) * (MSEC_PER_SEC / 250)) % 2 ** 32;

/** jiffies_to_usecs(j): an unsigned int (j × 4000, modulo 2^32). */
export const jiffiesToUsecs = (j: number): number => ((j % 2 ** 32) * (1_000_000 / 250)) % 2 ** 32;

/**
 * timer_setup(timer, callback, flags): binds a timer_list to its function (and to the calling
 * module: its pending timers are deleted, with a warning, when it unloads). Give it any object
 * (`timerSetup({}, fn, 0)`); it becomes and returns the TimerList.
 */
export function timerSetup(timer: Partial<TimerList>, callback: TimerFunc, flags = 0): TimerList {
  const k = currentKernel("timerSetup");
  const t = timer as TimerList;
  t.expires ??= 0;
  doTimerSetup(k, owner(k), t, callback, flags);
  return t;
}

/**
 * mod_timer(timer, expires): (re)arms it for jiffy `expires` (it runs at the wheel's tick for that
 * jiffy, never before); 1 when it was pending, 0 when it was not (or was shut down).
 */
export function modTimer(timer: TimerList, expires: number): number {
  currentKernel("modTimer");
  return doModTimer(timer, expires);
}

/** mod_timer_pending(): like modTimer, but only re-arms a pending timer (0 otherwise). */
export function modTimerPending(timer: TimerList, expires: number): number {
  currentKernel("modTimerPending");
  return doModTimer(timer, expires, true);
}

/** add_timer(): arms it for `timer.expires`; a pending timer is a kernel BUG (an oops). */
export function addTimer(timer: TimerList): void {
  currentKernel("addTimer");
  doAddTimer(timer);
}

/** timer_delete() (del_timer before 6.2): 1 when it was pending, 0 otherwise. */
export function timerDelete(timer: TimerList): number {
  currentKernel("timerDelete");
  return doTimerDelete(timer);
}
/** The pre-6.2 name of timerDelete. */
export const delTimer = timerDelete;

/**
 * timer_delete_sync(): as timerDelete; there is one CPU and timer functions run to completion, so
 * there is never a running function to wait for.
 */
export function timerDeleteSync(timer: TimerList): number {
  currentKernel("timerDeleteSync");
  return doTimerDelete(timer);
}
/** The pre-6.2 name of timerDeleteSync. */
export const delTimerSync = timerDeleteSync;

/** timer_shutdown_sync(): deleted, and never armed again (later modTimer/addTimer do nothing). */
export function timerShutdownSync(timer: TimerList): number {
  currentKernel("timerShutdownSync");
  return timerShutdown(timer);
}

/**
 * hrtimer_setup(timer, function, clock_id, mode): a timer at ns resolution on the same clock
 * (CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_REALTIME and CLOCK_TAI all count on the monotonic virtual
 * clock here; another id is a WARN and CLOCK_MONOTONIC). HRTIMER_MODE_SOFT in `mode` runs the
 * function from the softirq, after the hard timers of the same instant. Give it any
 * object; it becomes and returns the Hrtimer. The function returns HRTIMER_RESTART (after moving
 * the expiry with hrtimerForwardNow) or HRTIMER_NORESTART.
 */
export function hrtimerSetup(
  timer: Partial<Hrtimer>,
  fn: HrtimerFunc,
  clockId: number,
  mode: number,
): Hrtimer {
  const k = currentKernel("hrtimerSetup");
  doHrtimerSetup(k, owner(k), timer as Hrtimer, fn, clockId, mode);
  return timer as Hrtimer;
}
