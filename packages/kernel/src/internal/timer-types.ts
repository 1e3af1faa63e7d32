// The timer structures a driver holds (struct timer_list, struct hrtimer), apart from timer.ts so that
// the driver API's types (driver-types.ts) can name them without importing the kernel's timer code.

/** A timer's function (void (*function)(struct timer_list *)). */
export type TimerFunc = (timer: TimerList) => void;

/** struct timer_list, the fields a driver reads and writes. */
export interface TimerList {
  /** The jiffy it is due at (mod_timer sets it; add_timer reads it). */
  expires: number;
  /** Its function; null after timer_shutdown_sync (the timer can no longer be armed). */
  function: TimerFunc | null;
  flags: number;
}

/** enum hrtimer_restart (*function)(struct hrtimer *). */
export type HrtimerFunc = (timer: Hrtimer) => number;

/** struct hrtimer: its expiry (ns on CLOCK_MONOTONIC, the virtual clock) and function. */
export interface Hrtimer {
  /** node.expires (hrtimer_get_expires). */
  expires: number;
  function: HrtimerFunc | null;
}
