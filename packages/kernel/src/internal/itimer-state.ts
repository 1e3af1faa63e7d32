/**
 * The processes' ITIMER_REAL timers (signal_struct's real_timer), apart from itimer.ts so that
 * exit.ts can cancel one without importing the signal code (which imports exit.ts).
 *
 * Linux embeds the hrtimer in signal_struct, and exit cancels it (do_exit → exit_itimers and
 * __exit_signal's hrtimer_cancel(&sig->real_timer)), so it goes with the process. The virtual clock
 * has no timer_free: a timer it made stays in its name table for the machine's life (phys clock.ts),
 * and a timer per process would keep every process that ever called alarm(2) alive there. So the
 * clock timers are a pool, all named ITIMER_REAL: an armed alarm holds one (the lowest free slot)
 * until it fires, alarm(0) cancels it, or its process's last thread exits. The pool is as large as
 * the most alarms ever armed at once, and a free slot refers to no process.
 */
import type { VirtualTimer } from "@faultline/phys";
import type { Kernel, Task } from "./kernel";

/** The name of every alarm timer on the virtual clock (a snapshot tells them apart by rank: the slot). */
export const ITIMER_REAL = "ITIMER_REAL";

/** One clock timer of the pool and the process whose alarm it is (its leader at alarm time), or null. */
export interface AlarmSlot {
  readonly vt: VirtualTimer;
  leader: Task | null;
}

/** A machine's pool: slot i is the i-th ITIMER_REAL timer its clock made; the slot of each armed alarm's group. */
export interface AlarmPool {
  readonly slots: AlarmSlot[];
  readonly byGroup: Map<Set<Task>, AlarmSlot>;
}

const pools = new WeakMap<Kernel, AlarmPool>();

export function alarmPool(k: Kernel): AlarmPool {
  let p = pools.get(k);
  if (!p) {
    p = { slots: [], byGroup: new Map() };
    pools.set(k, p);
  }
  return p;
}

/** The armed alarm of t's process, if it has one. */
export const alarmOf = (k: Kernel, t: Task): AlarmSlot | undefined => pools.get(k)?.byGroup.get(t.group);

/** Disarms the slot's timer and gives the slot back to the pool. */
export function releaseAlarm(k: Kernel, slot: AlarmSlot): void {
  slot.vt.del();
  if (slot.leader) pools.get(k)?.byGroup.delete(slot.leader.group);
  slot.leader = null;
}

/** do_exit() of a group's last thread: hrtimer_cancel(&sig->real_timer), and the slot is free again. */
export function exitItimers(k: Kernel, t: Task): void {
  const slot = alarmOf(k, t);
  if (slot) releaseAlarm(k, slot);
}
