/**
 * Pools of virtual-clock timers for kernel timers that come and go: processes' alarm(2) timers
 * (itimer.ts) and drivers' hrtimers (timer.ts). Linux embeds such a timer in its owner (the hrtimer
 * in signal_struct, in the driver's struct) and it goes with it. The virtual clock has no timer_free
 * (phys clock.ts: a timer it made stays in its name table for the machine's life), so a clock timer
 * per kernel timer would keep every process or driver object that ever armed one alive, and a
 * snapshot would name it by the order timers happened to be made in.
 *
 * So a kernel timer holds a pool's clock timer only while it is armed: it takes the lowest free slot
 * and gives it back when it expires for good, is cancelled, or its owner goes (a process's exit, a
 * module's unload). A pool is as large as the most of its timers armed at once; a free slot refers
 * to nothing. Every slot's clock timer has the pool's name (the kernel records each expiry's event
 * under the holder's own name: clock-events.ts leaves the pools out).
 *
 * A machine snapshot names a slot as the clock does, by its rank among the clock's timers of the
 * pool's name, which is the slot's index, and says which kernel timer holds it (a process's tgid, a
 * driver's name for its hrtimer). A restored machine takes slots again for the saved holders, in
 * saved slot order, and `renumber` moves the saved clock's entries to them: which slot a timer had
 * never depends on the order processes or drivers set timers up in.
 */
import type { VirtualClock, VirtualClockState, VirtualTimer } from "@faultline/phys";

/** The clock name of the processes' alarm(2) timers (itimer.ts). */
export const ITIMER_REAL = "ITIMER_REAL";
/** The clock name of the drivers' hrtimers (timer.ts). */
export const HRTIMER = "HRTIMER";
/** The clock name of the timer wheel's softirq, one per machine (timer.ts). */
export const TIMER_SOFTIRQ = "TIMER_SOFTIRQ";
/**
 * The clock timers whose expiries the kernel records under another name: the softirq each timer it
 * runs, the pools' timers their holder (clock-events.ts records every other clock timer by its own
 * name). A new shared clock name goes here.
 */
export const RECORDED_BY_HOLDER: ReadonlySet<string> = new Set([ITIMER_REAL, HRTIMER, TIMER_SOFTIRQ]);

/** One clock timer of a pool and the kernel timer holding it, or null. */
export interface PoolSlot<T> {
  readonly vt: VirtualTimer;
  holder: T | null;
}

export class TimerPool<T> {
  private readonly slots: PoolSlot<T>[] = [];

  /** `expired` runs when a held slot's clock timer expires (the slot is still held then). */
  constructor(
    private readonly clock: VirtualClock,
    readonly name: string,
    private readonly expired: (holder: T, slot: PoolSlot<T>) => void,
  ) {}

  /** The lowest free slot (a new clock timer when every slot is held), now `holder`'s, disarmed. */
  take(holder: T): PoolSlot<T> {
    let slot = this.slots.find((s) => s.holder === null);
    if (!slot) {
      const s: PoolSlot<T> = {
        vt: this.clock.newTimer(() => {
          if (s.holder !== null) this.expired(s.holder, s);
        }, this.name),
        holder: null,
      };
      this.slots.push(s);
      slot = s;
    }
    slot.holder = holder;
    return slot;
  }

  /** Disarms the slot's clock timer; the slot is free again. */
  release(slot: PoolSlot<T>): void {
    slot.vt.del();
    slot.holder = null;
  }

  /** The slot's index: its clock timer's rank among the clock's timers of the pool's name. */
  indexOf(slot: PoolSlot<T>): number {
    return this.slots.indexOf(slot);
  }

  /** Each held slot's index and holder, lowest first. */
  held(): Array<readonly [number, T]> {
    const out: Array<readonly [number, T]> = [];
    this.slots.forEach((s, i) => {
      if (s.holder !== null) out.push([i, s.holder]);
    });
    return out;
  }

  /**
   * A saved clock state with this pool's entries moved to this machine's slots: `ranks` maps each
   * saved slot to the slot its holder took here. An Error names an entry no saved holder has (or a
   * second entry for one), and holders whose timer the saved clock does not have armed (`holder`
   * and `list` name them: "process's alarm", "alarms"). A clock state that is not one is left to
   * the clock's restore to refuse.
   */
  renumber(
    clock: VirtualClockState,
    ranks: ReadonlyMap<number, number>,
    holder: string,
    list: string,
  ): VirtualClockState {
    const armed = (clock as { armed?: unknown } | null)?.armed;
    if (!Array.isArray(armed)) return clock;
    const moved = new Set<number>();
    const out = armed.map((a: unknown) => {
      if (!Array.isArray(a) || a[0] !== this.name) return a;
      const r = ranks.get(a[1]);
      if (r === undefined || moved.has(r))
        throw new Error(
          `clock: timer ${this.name} #${String(a[1])} was armed in the snapshot and no ${holder} holds it`,
        );
      moved.add(r);
      return [this.name, r, a[2], a[3]];
    });
    if (moved.size !== ranks.size)
      throw new Error(`${list}: ${ranks.size} in the snapshot, ${moved.size} of them armed on its clock`);
    return { ...clock, armed: out as VirtualClockState["armed"] };
  }
}
