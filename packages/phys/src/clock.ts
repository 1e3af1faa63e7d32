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

/**
 * The clock as a machine snapshot keeps it: the time, the arming counter, and each armed timer by
 * its name and its rank among the timers made with that name ([name, rank, expires, seq]).
 */
export interface VirtualClockState {
  readonly now: number;
  readonly seq: number;
  readonly armed: ReadonlyArray<readonly [string, number, number, number]>;
}

/** The machine's virtual clock (QEMU_CLOCK_VIRTUAL) with its timers; it advances only when told to. */
export class VirtualClock {
  private nowNs = 0;
  private seq = 0;
  private readonly timers = new Set<TimerState>();
  /** Every timer made, per name, in the order made (a snapshot names a timer by name and rank). */
  private readonly byName = new Map<string, TimerState[]>();
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
    const same = this.byName.get(name);
    if (same) same.push(t);
    else this.byName.set(name, [t]);
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

  /** The clock's state: time, arming counter, armed timers by name and rank (a machine snapshot). */
  saveState(): VirtualClockState {
    const armed: [string, number, number, number][] = [];
    for (const t of this.timers)
      if (t.expires !== null) armed.push([t.name, this.byName.get(t.name)!.indexOf(t), t.expires, t.seq]);
    armed.sort((a, b) => a[3] - b[3]);
    return { now: this.nowNs, seq: this.seq, armed };
  }

  /**
   * Puts a saved state back on a clock whose timers were made again (a restored machine's devices
   * and drivers made them, with the same names in the same order): the time, and exactly the saved
   * timers armed for their saved expiries. Everything is checked before anything changes: a timer
   * the state names that this clock has not made is a RangeError naming it.
   */
  restoreState(s: VirtualClockState): void {
    const num = (v: unknown, what: string) => {
      if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0)
        throw new RangeError(`clock: ${what} ${String(v)} is not a non-negative integer`);
      return v;
    };
    const now = num(s?.now, "time");
    const seq = num(s.seq, "arming counter");
    if (!Array.isArray(s.armed)) throw new RangeError("clock: armed timers: expected a list");
    const plan = s.armed.map((a) => {
      const name = Array.isArray(a) && typeof a[0] === "string" ? a[0] : "";
      const t = this.byName.get(name)?.[num(a?.[1], `timer ${JSON.stringify(name)} rank`)];
      if (!t)
        throw new RangeError(
          `clock: timer ${JSON.stringify(name)} #${String(a?.[1])} was armed in the snapshot and nothing on this machine made it`,
        );
      const expires = num(a[2], `timer ${name} expiry`);
      if (expires < now) throw new RangeError(`clock: timer ${name} expires before the clock's time`);
      return { t, expires, seq: num(a[3], `timer ${name} order`) };
    });
    for (const t of this.timers) t.expires = null;
    this.timers.clear();
    this.nowNs = now;
    this.seq = seq;
    for (const p of plan) {
      p.t.expires = p.expires;
      p.t.seq = p.seq;
      this.timers.add(p.t);
    }
  }
}
