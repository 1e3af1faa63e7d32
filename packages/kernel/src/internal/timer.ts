/**
 * kernel/time/timer.c and kernel/time/hrtimer.c on the machine's virtual clock (phys VirtualClock):
 * the jiffies tick, the timer wheel's expiry rounding, the timer softirq, and hrtimers. Over ~500
 * lines on purpose: the wheel, hrtimers and their snapshot state share the expiry rules and the
 * softirq that runs both.
 *
 * - jiffies = INITIAL_JIFFIES + ⌊now / TICK_NSEC⌋ (HZ 250, CONFIG_HZ's default; the count starts
 *   300 s before its 32-bit wrap, as Linux's does, to flush out wrap bugs).
 * - A timer_list goes into the wheel as __mod_timer → calc_wheel_index puts it: the level chosen by
 *   `expires - base->clk`, the expiry rounded up to the level's granularity *plus one*
 *   (calc_index: `(expires >> LVL_SHIFT(lvl)) + 1`, so a timer never fires early: one armed for
 *   jiffies + 1 runs at the tick of jiffies + 2, one 1000 jiffies out up to 64 jiffies late); an
 *   expiry already past goes to the current bucket and runs at the next tick.
 * - base->clk follows forward_timer_base(): process context brings it up to jiffies; while the
 *   softirq runs timers it is jiffies + 1.
 * - The softirq (run_timer_softirq → __run_timers) is one virtual timer armed for the earliest
 *   bucket: at that tick it expires every due timer, the highest wheel level first and, within a
 *   bucket, the last queued first (hlist_add_head), each detached before its function runs.
 * - Timer functions and hrtimer functions run as driver code in interrupt context (no process is
 *   current): a throw is an oops, as for an interrupt handler; the timer is not re-armed.
 * - hrtimers fire at their exact ns (hrtimer_interrupt, hard irq context); HRTIMER_RESTART re-arms
 *   for the expiry the function forwarded to. An active hrtimer holds a slot of the machine's
 *   HRTIMER clock-timer pool (timer-pool.ts: the clock cannot free a timer, and a snapshot must not
 *   name one by the order drivers set theirs up in); an inactive one holds nothing on the clock.
 *
 * Flags, as a one-CPU machine can tell them apart:
 * - TIMER_DEFERRABLE: the timer does not wake an idle CPU. The virtual clock moves only while the
 *   CPU idles (advanceClock, a sleep, the simulator's idle jumps) or between kernel entries, and
 *   the timer softirq's tick is armed for non-deferrable timers only (tick_nohz_next_event leaves
 *   BASE_DEF out): a deferrable timer runs at the first tick some other timer_list brings, or at
 *   the next tick after a process enters the kernel (the CPU is busy and its periodic tick runs:
 *   run_local_timers checks every base). hrtimers and device interrupts do not tick.
 * - TIMER_PINNED, TIMER_IRQSAFE: kept in `flags` with no other effect: there is one CPU (nothing to
 *   pin to or migrate from), and timer functions already run to completion with nothing preempting
 *   them. Any other bit is a driver bug: WARN_ON_ONCE in do_init_timer, and the bit is dropped.
 * - HRTIMER_MODE_SOFT (hrtimerSetup): the function runs from HRTIMER_SOFTIRQ, after the hard
 *   hrtimers and device timers expiring at the same instant; hrtimerStart's mode must agree on
 *   SOFT (WARN_ON_ONCE otherwise; the timer keeps its setup base). HRTIMER_MODE_HARD is what an
 *   unmarked hrtimer is already without PREEMPT_RT; HRTIMER_MODE_PINNED is ignored (one CPU).
 *   ABS/REL matter to hrtimerStart only.
 * - hrtimer clocks: CLOCK_MONOTONIC, CLOCK_BOOTTIME (no suspend: the same), CLOCK_REALTIME and
 *   CLOCK_TAI. The driver API reads only the monotonic clock (ktimeGet), so all four count on it
 *   here and clock_settime does not move an armed hrtimer: a difference from Linux, where
 *   clock_was_set() updates the REALTIME/TAI bases' offsets and retrigger_next_event() fires an
 *   absolute timer whose expiry the new time passed. Another clock id: WARN, and MONOTONIC
 *   (hrtimer_clockid_to_base).
 */
import { NANOSECONDS_PER_SECOND, type VirtualClockState, type VirtualTimer } from "@faultline/phys";
import { warn, warnOnce } from "./bug";
import { recordClockEvent } from "./clock-events";
import { CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_TAI } from "./clockid";
import type { Kernel, Task } from "./kernel";
import { callDriver } from "./oops";
import { HRTIMER, type PoolSlot, TIMER_SOFTIRQ, TimerPool } from "./timer-pool";
import type { Hrtimer, HrtimerFunc, TimerFunc, TimerList } from "./timer-types";

export type { Hrtimer, HrtimerFunc, TimerFunc, TimerList };

/** CONFIG_HZ: timer interrupts per second (Kconfig.hz's default, HZ_250). */
export const HZ = 250;
export const NSEC_PER_SEC = NANOSECONDS_PER_SECOND;
/** TICK_NSEC: ns per jiffy, (NSEC_PER_SEC + HZ/2) / HZ. */
export const TICK_NSEC = 4_000_000;
/** INITIAL_JIFFIES on 64-bit: (unsigned long)(unsigned int)(-300 * HZ). */
export const INITIAL_JIFFIES = 2 ** 32 - 300 * HZ;

// The wheel's shape (kernel/time/timer.c): 9 levels of 64 buckets for HZ > 100, each level 8× coarser.
const LVL_CLK_SHIFT = 3;
const LVL_BITS = 6;
const LVL_SIZE = 1 << LVL_BITS;
const LVL_DEPTH = 9;
const lvlGran = (lvl: number): number => 2 ** (lvl * LVL_CLK_SHIFT);
const lvlStart = (n: number): number => (LVL_SIZE - 1) * 2 ** ((n - 1) * LVL_CLK_SHIFT);
const WHEEL_TIMEOUT_CUTOFF = lvlStart(LVL_DEPTH);
const WHEEL_TIMEOUT_MAX = WHEEL_TIMEOUT_CUTOFF - lvlGran(LVL_DEPTH - 1);

/**
 * calc_wheel_index(): the jiffy whose tick expires a timer queued with `expires` while base->clk is
 * `clk`, and its level (which orders timers expiring at the same tick).
 */
export function wheelBucket(expires: number, clk: number): { bucket: number; level: number } {
  const delta = expires - clk;
  if (delta < 0) return { bucket: clk, level: 0 };
  let lvl = 0;
  while (lvl < LVL_DEPTH - 1 && delta >= lvlStart(lvl + 1)) lvl++;
  let e = expires;
  if (lvl === LVL_DEPTH - 1 && delta >= WHEEL_TIMEOUT_CUTOFF) e = clk + WHEEL_TIMEOUT_MAX;
  const g = lvlGran(lvl);
  return { bucket: (Math.floor(e / g) + 1) * g, level: lvl };
}

/** timer_setup flag: the timer does not wake an idle CPU (see above). */
export const TIMER_DEFERRABLE = 0x00080000;
/** timer_setup flag: the timer stays on the CPU that armed it (one CPU: no effect). */
export const TIMER_PINNED = 0x00100000;
/** timer_setup flag: the function runs with interrupts off (nothing preempts it here anyway). */
export const TIMER_IRQSAFE = 0x00200000;
const TIMER_INIT_FLAGS = TIMER_DEFERRABLE | TIMER_PINNED | TIMER_IRQSAFE;

interface TimerState {
  readonly k: Kernel;
  readonly owner: string;
  /** Jiffy of the tick that expires it, while pending. */
  bucket: number;
  level: number;
  seq: number;
  pending: boolean;
}

interface TimerBase {
  clk: number;
  /** A tick the busy CPU runs for due deferrable timers (kickDeferrable), or null. */
  busyTick: number | null;
  /** The earliest bucket of a pending deferrable timer (Infinity: none), kept by armSoftirq. */
  deferrableNext: number;
  /** The softirq is expiring timers (base->clk is jiffies + 1). */
  running: boolean;
  seq: number;
  readonly pending: Set<TimerList>;
  readonly softirq: VirtualTimer;
}

const bases = new WeakMap<Kernel, TimerBase>();
const timers = new WeakMap<object, TimerState>();

export function jiffiesOf(k: Kernel): number {
  return INITIAL_JIFFIES + Math.floor(k.phys.clock.now / TICK_NSEC);
}

function base(k: Kernel): TimerBase {
  let b = bases.get(k);
  if (!b) {
    const softirq = k.phys.clock.newTimer(() => runTimers(k, b!), TIMER_SOFTIRQ);
    b = {
      clk: jiffiesOf(k),
      busyTick: null,
      deferrableNext: Number.POSITIVE_INFINITY,
      running: false,
      seq: 0,
      pending: new Set(),
      softirq,
    };
    bases.set(k, b);
  }
  return b;
}

/** timer_setup(): binds the timer to its function and to the module that set it up. */
export function timerSetup(k: Kernel, owner: string, timer: TimerList, fn: TimerFunc, flags: number): void {
  if (typeof fn !== "function") throw new TypeError("timerSetup: the callback is not a function");
  const old = timers.get(timer);
  if (old?.pending) detach(base(old.k), timer, old);
  timer.function = fn;
  let f = flags >>> 0;
  if (f & ~TIMER_INIT_FLAGS) {
    warnOnce(k, "do_init_timer", `timer_setup: flags 0x${f.toString(16)} outside TIMER_INIT_FLAGS: dropped`);
    f &= TIMER_INIT_FLAGS;
  }
  timer.flags = f;
  timers.set(timer, { k, owner, bucket: 0, level: 0, seq: 0, pending: false });
}

function stateOf(timer: TimerList, what: string): TimerState {
  const s = timer && typeof timer === "object" ? timers.get(timer) : undefined;
  // debug_object_assert_init: a timer that was never set up is a driver bug.
  if (!s) throw new Error(`${what}: timer was not set up with timerSetup`);
  return s;
}

function detach(b: TimerBase, timer: TimerList, s: TimerState): void {
  s.pending = false;
  b.pending.delete(timer);
  armSoftirq(b, s.k);
}

/**
 * One walk of the pending timers: sets `b.deferrableNext` to the earliest bucket of a deferrable one
 * and returns the earliest bucket of the others (Infinity: none).
 */
function earliestBuckets(b: TimerBase): number {
  let next = Number.POSITIVE_INFINITY;
  let deferrable = Number.POSITIVE_INFINITY;
  for (const t of b.pending) {
    const bucket = timers.get(t)!.bucket;
    if (t.flags & TIMER_DEFERRABLE) deferrable = Math.min(deferrable, bucket);
    else next = Math.min(next, bucket);
  }
  b.deferrableNext = deferrable;
  return next;
}

function armSoftirq(b: TimerBase, k: Kernel): void {
  // Deferrable timers do not wake the idle CPU: only the others arm the tick (kickDeferrable).
  let next = earliestBuckets(b);
  if (b.busyTick !== null) next = Math.min(next, b.busyTick);
  if (next === Number.POSITIVE_INFINITY) {
    b.softirq.del();
    return;
  }
  // An expiry already past sits in the current bucket and runs at the next tick.
  const tick = Math.max(next, jiffiesOf(k) + (b.running ? 0 : 1));
  const ns = (tick - INITIAL_JIFFIES) * TICK_NSEC;
  if (b.softirq.expires !== ns) b.softirq.mod(ns);
}

/** __mod_timer(): 1 when the timer was pending, 0 when not; a shut-down timer is left alone (0). */
export function modTimer(timer: TimerList, expires: number, onlyPending = false): number {
  const s = stateOf(timer, "modTimer");
  if (!Number.isFinite(expires)) throw new TypeError(`modTimer: expires ${expires} is not a jiffy`);
  const b = base(s.k);
  const was = s.pending ? 1 : 0;
  if (onlyPending && !was) return 0;
  // The fast path: a pending timer re-armed for the same jiffy keeps its place.
  if (was && timer.expires === expires) return 1;
  if (!timer.function) return 0;
  const j = jiffiesOf(s.k);
  // forward_timer_base(): only when jiffies has moved past clk (clk is jiffies + 1 inside the softirq).
  if (!b.running && j - b.clk >= 1) b.clk = j;
  timer.expires = expires;
  const { bucket, level } = wheelBucket(expires, b.clk);
  s.bucket = bucket;
  s.level = level;
  s.seq = b.seq++;
  s.pending = true;
  b.pending.add(timer);
  armSoftirq(b, s.k);
  return was;
}

/** add_timer(): BUG_ON(timer_pending(timer)), then mod_timer(timer, timer->expires). */
export function addTimer(timer: TimerList): void {
  const s = stateOf(timer, "addTimer");
  if (s.pending) throw new Error("kernel BUG at kernel/time/timer.c: add_timer on a pending timer");
  modTimer(timer, timer.expires);
}

/** timer_delete() / del_timer(): 1 when it was pending. */
export function timerDelete(timer: TimerList): number {
  const s = stateOf(timer, "timerDelete");
  if (!s.pending) return 0;
  detach(base(s.k), timer, s);
  return 1;
}

/** timer_shutdown_sync(): deleted, and every later modTimer/addTimer is ignored. */
export function timerShutdown(timer: TimerList): number {
  const r = timerDelete(timer);
  timer.function = null;
  return r;
}

/** timer_pending(): whether the timer is armed (queued on the wheel). */
export function timerPending(timer: TimerList): boolean {
  return stateOf(timer, "timerPending").pending;
}

/** __run_timers() at this tick: every timer whose bucket is due, highest level first, newest first. */
function runTimers(k: Kernel, b: TimerBase): void {
  const j = jiffiesOf(k);
  const due = [...b.pending].filter((t) => timers.get(t)!.bucket <= j);
  due.sort((x, y) => {
    const a = timers.get(x)!;
    const c = timers.get(y)!;
    return c.level - a.level || c.seq - a.seq;
  });
  b.clk = j + 1;
  b.running = true;
  if (b.busyTick !== null && b.busyTick <= j) b.busyTick = null;
  const prev: Task | null = k.current;
  k.current = null;
  try {
    for (const t of due) {
      const s = timers.get(t)!;
      // A function earlier in this run may have deleted or re-armed it.
      if (!s.pending || s.bucket > j) continue;
      s.pending = false;
      b.pending.delete(t);
      const fn = t.function;
      if (!fn) continue;
      const name = `${s.owner}: ${fn.name || "timer"}`;
      recordClockEvent(k, { ns: k.phys.clock.now, kind: "timer", name });
      callDriver(k, s.owner, `timer ${fn.name || "function"}`, () => fn(t), undefined);
    }
  } finally {
    k.current = prev;
    b.running = false;
  }
  armSoftirq(b, k);
}

/**
 * A process entered the kernel: the CPU is busy and its periodic tick runs, so a deferrable timer
 * already due runs at the next tick (at most one jiffy away) instead of waiting for another timer.
 */
export function kickDeferrable(k: Kernel): void {
  const b = bases.get(k);
  // Every syscall entry comes here: one compare while no deferrable timer is due.
  if (!b || b.busyTick !== null) return;
  const j = jiffiesOf(k);
  if (b.deferrableNext > j + 1) return;
  b.busyTick = j + 1;
  armSoftirq(b, k);
}

/** The CPU goes idle (a process sleeps): the tick stops, and deferrable timers wait again. */
export function cpuIdle(k: Kernel): void {
  const b = bases.get(k);
  if (!b || b.busyTick === null) return;
  b.busyTick = null;
  armSoftirq(b, k);
}

/** Drops the timers a module left pending (its code is going away), with a warning each. */
export function freeOwnerTimers(k: Kernel, owner: string): void {
  const b = bases.get(k);
  if (b) {
    for (const t of [...b.pending]) {
      const s = timers.get(t)!;
      if (s.owner !== owner) continue;
      k.log.printk(4, `${owner}: unloaded with timer ${t.function?.name || "(anonymous)"} pending: deleted`);
      detach(b, t, s);
    }
  }
  for (const h of [...(hrActive.get(k) ?? [])]) {
    const s = hrtimers.get(h)!;
    if (s.owner !== owner) continue;
    k.log.printk(4, `${owner}: unloaded with hrtimer ${h.function?.name || "(anonymous)"} active: cancelled`);
    hrtimerCancel(h);
  }
}

// ---- hrtimers --------------------------------------------------------------------------------

export const HRTIMER_NORESTART = 0;
export const HRTIMER_RESTART = 1;
export const HRTIMER_MODE_ABS = 0x00;
export const HRTIMER_MODE_REL = 0x01;
/** Bound to this CPU (ignored: there is one). */
export const HRTIMER_MODE_PINNED = 0x02;
/** The function runs in softirq context, after the hard hrtimers of the same instant. */
export const HRTIMER_MODE_SOFT = 0x04;
/** Hard irq context even on PREEMPT_RT (what an unmarked hrtimer is anyway here). */
export const HRTIMER_MODE_HARD = 0x08;
export const HRTIMER_MODE_ABS_PINNED = HRTIMER_MODE_ABS | HRTIMER_MODE_PINNED;
export const HRTIMER_MODE_REL_PINNED = HRTIMER_MODE_REL | HRTIMER_MODE_PINNED;
export const HRTIMER_MODE_ABS_SOFT = HRTIMER_MODE_ABS | HRTIMER_MODE_SOFT;
export const HRTIMER_MODE_REL_SOFT = HRTIMER_MODE_REL | HRTIMER_MODE_SOFT;
export const HRTIMER_MODE_ABS_PINNED_SOFT = HRTIMER_MODE_ABS_PINNED | HRTIMER_MODE_SOFT;
export const HRTIMER_MODE_REL_PINNED_SOFT = HRTIMER_MODE_REL_PINNED | HRTIMER_MODE_SOFT;
export const HRTIMER_MODE_ABS_HARD = HRTIMER_MODE_ABS | HRTIMER_MODE_HARD;
export const HRTIMER_MODE_REL_HARD = HRTIMER_MODE_REL | HRTIMER_MODE_HARD;
export const HRTIMER_MODE_ABS_PINNED_HARD = HRTIMER_MODE_ABS_PINNED | HRTIMER_MODE_HARD;
export const HRTIMER_MODE_REL_PINNED_HARD = HRTIMER_MODE_REL_PINNED | HRTIMER_MODE_HARD;

interface HrState {
  readonly k: Kernel;
  readonly owner: string;
  /** "<module>: <function>": its expiries' clock events. */
  readonly name: string;
  /** HRTIMER_MODE_SOFT at setup (is_soft). */
  readonly soft: boolean;
  /** A soft one whose expiry came while other timers of the same instant were still due: it runs after them. */
  raised: boolean;
  /** The pool's clock timer it holds while active or running its function, else null. */
  slot: PoolSlot<Hrtimer> | null;
}

const hrtimers = new WeakMap<object, HrState>();
const hrActive = new WeakMap<Kernel, Set<Hrtimer>>();
const hrPools = new WeakMap<Kernel, TimerPool<Hrtimer>>();

function hrPool(k: Kernel): TimerPool<Hrtimer> {
  let p = hrPools.get(k);
  if (!p) {
    p = new TimerPool<Hrtimer>(k.phys.clock, HRTIMER, (timer) => fireHrtimer(k, timer));
    hrPools.set(k, p);
  }
  return p;
}

/** Gives the hrtimer's clock timer back to the pool (disarmed). */
function hrRelease(s: HrState): void {
  if (s.slot) hrPool(s.k).release(s.slot);
  s.slot = null;
}

/** hrtimer_setup(timer, function, clock_id, mode). */
export function hrtimerSetup(
  k: Kernel,
  owner: string,
  timer: Hrtimer,
  fn: HrtimerFunc,
  clockId: number,
  mode: number,
): void {
  if (typeof fn !== "function") throw new TypeError("hrtimerSetup: the callback is not a function");
  // hrtimer_clockid_to_base(): another clock id is a WARN, and the timer goes on CLOCK_MONOTONIC.
  if (
    clockId !== CLOCK_MONOTONIC &&
    clockId !== CLOCK_BOOTTIME &&
    clockId !== CLOCK_REALTIME &&
    clockId !== CLOCK_TAI
  )
    warn(k, "hrtimer_clockid_to_base", `Invalid clockid ${clockId}. Using MONOTONIC`);
  const old = hrtimers.get(timer);
  if (old) {
    hrtimerCancel(timer);
    hrRelease(old);
  }
  timer.function = fn;
  timer.expires = 0;
  const soft = (mode & HRTIMER_MODE_SOFT) !== 0;
  hrtimers.set(timer, {
    k,
    owner,
    name: `${owner}: ${fn.name || "hrtimer"}`,
    soft,
    raised: false,
    slot: null,
  });
}

function hrState(timer: Hrtimer, what: string): HrState {
  const s = timer && typeof timer === "object" ? hrtimers.get(timer) : undefined;
  if (!s) throw new Error(`${what}: hrtimer was not set up with hrtimerSetup`);
  return s;
}

function activeSet(k: Kernel): Set<Hrtimer> {
  let s = hrActive.get(k);
  if (!s) {
    s = new Set();
    hrActive.set(k, s);
  }
  return s;
}

/** hrtimer_start(timer, tim, mode): REL from now, ABS an absolute ns. */
export function hrtimerStart(timer: Hrtimer, tim: number, mode: number): void {
  const s = hrState(timer, "hrtimerStart");
  if (!Number.isFinite(tim)) throw new TypeError(`hrtimerStart: ${tim} is not a time`);
  // hrtimer_start_range_ns(): the mode's SOFT bit must match the setup's (the base stays the setup's).
  if (((mode & HRTIMER_MODE_SOFT) !== 0) !== s.soft)
    warnOnce(
      s.k,
      "hrtimer_start_range_ns",
      `hrtimer_start: mode 0x${(mode >>> 0).toString(16)} and the hrtimer's setup disagree on HRTIMER_MODE_SOFT`,
    );
  s.raised = false;
  const now = s.k.phys.clock.now;
  timer.expires = mode & HRTIMER_MODE_REL ? now + Math.max(0, tim) : tim;
  s.slot ??= hrPool(s.k).take(timer);
  s.slot.vt.mod(timer.expires);
  activeSet(s.k).add(timer);
}

/** hrtimer_cancel(): 1 when it was active, 0 otherwise. */
export function hrtimerCancel(timer: Hrtimer): number {
  const s = hrState(timer, "hrtimerCancel");
  const set = activeSet(s.k);
  if (!set.has(timer)) return 0;
  hrRelease(s);
  set.delete(timer);
  return 1;
}

/** hrtimer_active(): whether the hrtimer is queued (or running its function). */
export function hrtimerActive(timer: Hrtimer): boolean {
  const s = hrState(timer, "hrtimerActive");
  return activeSet(s.k).has(timer);
}

/**
 * hrtimer_forward_now(timer, interval): moves the expiry forward by whole intervals until it is
 * after now; returns how many (the overruns), 0 when it already was.
 */
export function hrtimerForwardNow(timer: Hrtimer, interval: number): number {
  const s = hrState(timer, "hrtimerForwardNow");
  if (!(interval > 0)) throw new RangeError(`hrtimerForwardNow: interval ${interval} must be positive`);
  const now = s.k.phys.clock.now;
  const delta = now - timer.expires;
  if (delta < 0) return 0;
  const n = Math.floor(delta / interval) + 1;
  timer.expires += n * interval;
  return n;
}

/**
 * __run_hrtimer(): the function in hard irq context (a soft one from HRTIMER_SOFTIRQ, once the other
 * timers of its instant have run); HRTIMER_RESTART re-arms for its expiry. The hrtimer keeps its
 * clock timer while its function runs, and gives it back unless it is active again after.
 */
function fireHrtimer(k: Kernel, timer: Hrtimer): void {
  const s = hrtimers.get(timer)!;
  const clock = k.phys.clock;
  // hrtimer_interrupt runs the hard queues first and raises the softirq: go behind what is still due now.
  if (s.soft && !s.raised && clock.nextDeadline() === clock.now) {
    s.raised = true;
    s.slot!.vt.mod(clock.now);
    return;
  }
  s.raised = false;
  // The pool's clock timers share a name (clock-events.ts leaves them out): the event names the hrtimer.
  recordClockEvent(k, { ns: clock.now, kind: "timer", name: s.name });
  const set = activeSet(k);
  set.delete(timer);
  const fn = timer.function;
  if (!fn) {
    hrRelease(s);
    return;
  }
  const prev: Task | null = k.current;
  k.current = null;
  let r: number;
  try {
    r = callDriver(k, s.owner, `hrtimer ${fn.name || "function"}`, () => fn(timer), HRTIMER_NORESTART);
  } finally {
    k.current = prev;
  }
  // Set up again from its own function: the old state gave its clock timer back.
  if (hrtimers.get(timer) !== s) return;
  // Started again from its own function: active again, on the clock timer it kept.
  if (set.has(timer)) return;
  if (r !== HRTIMER_RESTART) {
    hrRelease(s);
    return;
  }
  if (!(timer.expires > clock.now)) {
    // Linux would re-run it at once, forever (hrtimer_interrupt's "interrupt took" hang): a bug
    // reported here, and the timer stopped.
    k.log.printk(
      4,
      `hrtimer: ${s.owner}: ${fn.name || "function"} restarted without forwarding its expiry: stopped`,
    );
    hrRelease(s);
    return;
  }
  s.slot!.vt.mod(timer.expires);
  set.add(timer);
}

// ---- machine snapshots (snapshot/hw.ts) -------------------------------------------------------

/**
 * The timer wheel and the hrtimers as a machine snapshot keeps them: base->clk and the arming
 * counter, each pending timer_list ([driver, name, expires, bucket, level, seq, flags]) and each
 * active hrtimer ([driver, name, expires, slot]: slot is the rank of its clock timer among the
 * clock's HRTIMER timers, timer-pool.ts). Timers are driver objects whose functions are driver code:
 * each is saved under the name its driver gives it (DriverSnapshot.timers) and found again by that
 * name on the restored machine. The softirq's and the hrtimers' virtual timers are the clock's.
 */
export interface KernelTimersState {
  readonly clk: number;
  readonly seq: number;
  /** base.busyTick: the tick a busy CPU runs for due deferrable timers, or null (absent: null). */
  readonly busyTick?: number | null;
  readonly wheel: ReadonlyArray<readonly [string, string, number, number, number, number, number]>;
  readonly hr: ReadonlyArray<readonly [string, string, number, number]>;
}

/** Whether `t` is a timer_list (else an hrtimer, or neither: null). */
export function timerKind(t: unknown): "timer" | "hrtimer" | null {
  if (!t || typeof t !== "object") return null;
  return timers.has(t) ? "timer" : hrtimers.has(t) ? "hrtimer" : null;
}

/**
 * The pending timers and active hrtimers of `k`, each named by `nameOf(driver, timer)`; a pending
 * one its driver does not name is an Error saying so (its function could not be found again).
 */
export function saveKernelTimers(
  k: Kernel,
  nameOf: (owner: string, timer: object) => string | null,
): KernelTimersState {
  const b = bases.get(k);
  const wheel: [string, string, number, number, number, number, number][] = [];
  for (const t of b?.pending ?? []) {
    const s = timers.get(t)!;
    const name =
      nameOf(s.owner, t) ??
      fail(
        `driver ${s.owner}'s timer ${t.function?.name || "(anonymous)"} is pending and its snapshot hooks do not name it (DriverSnapshot.timers)`,
      );
    wheel.push([s.owner, name, t.expires, s.bucket, s.level, s.seq, t.flags]);
  }
  const hr: [string, string, number, number][] = [];
  for (const h of hrActive.get(k) ?? []) {
    const s = hrtimers.get(h)!;
    const name =
      nameOf(s.owner, h) ??
      fail(
        `driver ${s.owner}'s hrtimer ${h.function?.name || "(anonymous)"} is active and its snapshot hooks do not name it (DriverSnapshot.timers)`,
      );
    hr.push([s.owner, name, h.expires, hrPool(k).indexOf(s.slot!)]);
  }
  return { clk: b?.clk ?? jiffiesOf(k), seq: b?.seq ?? 0, busyTick: b?.busyTick ?? null, wheel, hr };
}

const fail = (msg: string): never => {
  throw new Error(msg);
};

/**
 * Puts saved timers back on a restored machine: `find(driver, name)` gives the driver's timer of
 * that name (set up again by its init, probe or snapshot.restore, in any order). Exactly the saved
 * timers end up pending (with their saved place on the wheel) or active, each active hrtimer on a
 * clock timer of this machine's pool (taken in saved slot order). Returns the saved `clock` state
 * with the hrtimers' entries moved to those clock timers, for the clock's own restore to arm.
 * Checked whole before anything changes.
 */
export function restoreKernelTimers(
  k: Kernel,
  st: KernelTimersState,
  find: (owner: string, name: string) => unknown,
  clock: VirtualClockState,
): VirtualClockState {
  const int = (v: unknown, what: string, min = 0) =>
    typeof v === "number" && Number.isSafeInteger(v) && v >= min
      ? v
      : fail(`timers: ${what}: expected an integer, got ${String(v)}`);
  const clk = int(st?.clk, "base clk");
  const seq = int(st.seq, "arming counter");
  const busyTick = st.busyTick === undefined || st.busyTick === null ? null : int(st.busyTick, "busy tick");
  if (!Array.isArray(st.wheel) || !Array.isArray(st.hr)) fail("timers: expected the wheel and hrtimers");
  const lookup = (a: unknown, kind: "timer" | "hrtimer", what: string) => {
    const [owner, name] = Array.isArray(a) ? a : [];
    if (typeof owner !== "string" || typeof name !== "string") fail(`timers: ${what}: a driver and a name`);
    const t = find(owner as string, name as string);
    if (timerKind(t) !== kind)
      fail(
        `driver ${owner}'s ${kind} ${JSON.stringify(name)} was armed in the snapshot and the restored driver names no such ${kind} (DriverSnapshot.timers)`,
      );
    const s = kind === "timer" ? timers.get(t as object)! : hrtimers.get(t as object)!;
    if (s.k !== k || s.owner !== owner) fail(`timers: ${owner}'s ${name} is not set up on this machine`);
    return t;
  };
  const wheel = st.wheel.map((a, i) => ({
    t: lookup(a, "timer", `timer ${i}`) as TimerList,
    expires: int(a[2], `timer ${i} expires`),
    bucket: int(a[3], `timer ${i} bucket`),
    level: int(a[4], `timer ${i} level`),
    seq: int(a[5], `timer ${i} seq`),
    flags: int(a[6], `timer ${i} flags`),
  }));
  const hr = st.hr.map((a, i) => ({
    t: lookup(a, "hrtimer", `hrtimer ${i}`) as Hrtimer,
    expires: int(a[2], `hrtimer ${i} expires`),
    slot: int(a[3], `hrtimer ${i} slot`),
  }));
  if (new Set(hr.map((h) => h.t)).size !== hr.length || new Set(hr.map((h) => h.slot)).size !== hr.length)
    fail("timers: an hrtimer or a clock timer slot twice");
  // No timer_list was ever armed (none set up since the restored drivers made no base) and the saved
  // softirq is not armed: the original had no base either, or one whose clk the first arming forwards
  // anyway (forward_timer_base). Making one here would save a stale clk the original has not. Else the
  // base (and its softirq's clock timer, which the clock's restore arms) exists from here on.
  const softirqArmed =
    Array.isArray(clock?.armed) && clock.armed.some((a) => Array.isArray(a) && a[0] === TIMER_SOFTIRQ);
  const untouched = !bases.has(k) && wheel.length === 0 && seq === 0 && busyTick === null && !softirqArmed;
  const b = untouched ? null : base(k);
  if (b) {
    for (const t of b.pending) timers.get(t)!.pending = false;
    b.pending.clear();
    b.clk = clk;
    b.seq = seq;
    b.busyTick = busyTick;
  }
  for (const w of wheel) {
    if (!w.t.function) fail("timers: a pending timer that was shut down");
    const s = timers.get(w.t)!;
    w.t.expires = w.expires;
    w.t.flags = w.flags;
    Object.assign(s, { bucket: w.bucket, level: w.level, seq: w.seq, pending: true });
    b!.pending.add(w.t);
  }
  // Only for b.deferrableNext, which kickDeferrable compares at every syscall entry: the softirq's
  // own expiry comes back with the saved clock.
  if (b) earliestBuckets(b);
  // The hrtimers the restored drivers started give their clock timers back; the saved ones take
  // slots in saved slot order, whoever set them up first.
  const set = activeSet(k);
  for (const h of set) hrRelease(hrtimers.get(h)!);
  set.clear();
  const pool = hrPool(k);
  const ranks = new Map<number, number>();
  for (const h of [...hr].sort((x, y) => x.slot - y.slot)) {
    const s = hrtimers.get(h.t)!;
    hrRelease(s);
    s.raised = false;
    s.slot = pool.take(h.t);
    ranks.set(h.slot, pool.indexOf(s.slot));
  }
  for (const h of hr) {
    h.t.expires = h.expires;
    set.add(h.t);
  }
  return pool.renumber(clock, ranks, "active hrtimer", "hrtimers");
}

/** After the clock's restore: every active hrtimer's virtual timer armed at its expiry (else an Error). */
export function checkHrtimersArmed(k: Kernel): void {
  for (const h of hrActive.get(k) ?? []) {
    const s = hrtimers.get(h)!;
    if (s.slot?.vt.expires !== h.expires)
      fail(
        `driver ${s.owner}'s hrtimer ${h.function?.name || "(anonymous)"}: the clock did not arm it for ${h.expires}`,
      );
  }
}
