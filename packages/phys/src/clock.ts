/**
 * The machine's virtual clock and its timers (QEMU's QEMU_CLOCK_VIRTUAL with timer_new_ns /
 * timer_mod / timer_del / qemu_clock_get_ns): time moves only when the machine's owner advances it
 * (a test, the simulator's scheduler), so a 60 Hz vblank fires the same way on every run of a seed.
 * Timers due at the same instant fire in the order they were armed.
 *
 * A callback that throws is a bug of whoever armed the timer: with `onError` set (the kernel's
 * Machine sets it: a dmesg line naming the timer) the timer stays disarmed and time goes on; without
 * it the throw propagates out of `advance`. `onFire` hears of every expiry (traces).
 */

/** Nanoseconds in one second. */
export const NANOSECONDS_PER_SECOND = 1_000_000_000;

/** A timer on the virtual clock (timer_new_ns/timer_mod/timer_del). */
export interface VirtualTimer {
  /** When it fires next (ns on the virtual clock), or null when not armed. */
  readonly expires: number | null;
  /** timer_mod(): (re)arms the timer for absolute time `expiresNs`. */
  mod(expiresNs: number): void;
  /** timer_del(): disarms it. */
  del(): void;
}

interface TimerState {
  expires: number | null;
  seq: number;
  readonly cb: () => void;
  readonly name: string;
}

/** The machine's virtual clock (QEMU_CLOCK_VIRTUAL) with its timers; it advances only when told to. */
export class VirtualClock {
  private nowNs = 0;
  private seq = 0;
  private readonly timers = new Set<TimerState>();
  /** Hears of each expiry, before its callback runs (name as given to newTimer, time in ns). */
  onFire: ((name: string, ns: number) => void) | null = null;
  /** Hears of a callback that threw (the timer stays disarmed); null: the throw propagates. */
  onError: ((name: string, error: unknown) => void) | null = null;

  /** qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL). */
  get now(): number {
    return this.nowNs;
  }

  /** timer_new_ns(): a disarmed timer calling `cb` when it expires (`name` for traces and errors). */
  newTimer(cb: () => void, name = "timer"): VirtualTimer {
    const t: TimerState = { expires: null, seq: 0, cb, name };
    const clock = this;
    return {
      get expires() {
        return t.expires;
      },
      mod(expiresNs: number) {
        if (!Number.isFinite(expiresNs)) throw new RangeError(`timer_mod: ${expiresNs} is not a time`);
        t.expires = Math.max(expiresNs, clock.nowNs);
        t.seq = clock.seq++;
        clock.timers.add(t);
      },
      del() {
        t.expires = null;
        clock.timers.delete(t);
      },
    };
  }

  /** The earliest armed expiry, or null. */
  nextDeadline(): number | null {
    let best: number | null = null;
    for (const t of this.timers)
      if (t.expires !== null && (best === null || t.expires < best)) best = t.expires;
    return best;
  }

  /**
   * Moves time forward by `ns`, firing every timer that falls due on the way at its own instant
   * (a callback that re-arms its timer inside the window fires again). Returns how many fired.
   */
  advance(ns: number): number {
    if (!Number.isFinite(ns) || ns < 0) throw new RangeError(`VirtualClock.advance: ${ns} is not a duration`);
    const end = this.nowNs + ns;
    let fired = 0;
    for (;;) {
      let due: TimerState | null = null;
      for (const t of this.timers) {
        if (t.expires === null || t.expires > end) continue;
        if (!due || t.expires < due.expires! || (t.expires === due.expires && t.seq < due.seq)) due = t;
      }
      if (!due) break;
      this.nowNs = due.expires!;
      due.expires = null;
      this.timers.delete(due);
      fired++;
      this.onFire?.(due.name, this.nowNs);
      if (!this.onError) due.cb();
      else {
        try {
          due.cb();
        } catch (e) {
          this.onError(due.name, e);
        }
      }
    }
    this.nowNs = end;
    return fired;
  }
}
