/**
 * The processes' ITIMER_REAL timers (signal_struct's real_timer), apart from itimer.ts so that
 * exit.ts can cancel one without importing the signal code (which imports exit.ts). Linux cancels
 * the hrtimer in exit (do_exit → exit_itimers, __exit_signal's hrtimer_cancel(&sig->real_timer)).
 * Here an armed alarm holds a slot of the machine's ITIMER_REAL timer pool (timer-pool.ts) until it
 * fires, alarm(0) cancels it, or its process's last thread exits; a process without an armed alarm
 * holds nothing on the clock.
 */
import type { Kernel, Task } from "./kernel";
import type { PoolSlot, TimerPool } from "./timer-pool";

export { ITIMER_REAL } from "./timer-pool";

/** A slot of the pool, held by the leader of the process whose alarm it is (at alarm time). */
export type AlarmSlot = PoolSlot<Task>;

/** A machine's alarms: the pool, and the slot of each thread group with an armed alarm. */
export interface Alarms {
  readonly pool: TimerPool<Task>;
  readonly byGroup: Map<Set<Task>, AlarmSlot>;
}

const machines = new WeakMap<Kernel, Alarms>();

/** The machine's alarms, made by itimer.ts at the first alarm(2) (or restore). */
export const alarmsOf = (k: Kernel): Alarms | undefined => machines.get(k);

export function setAlarms(k: Kernel, a: Alarms): void {
  machines.set(k, a);
}

/** The armed alarm of t's process, if it has one. */
export const alarmOf = (k: Kernel, t: Task): AlarmSlot | undefined => machines.get(k)?.byGroup.get(t.group);

/** Disarms the alarm and gives its slot back to the pool. */
export function releaseAlarm(k: Kernel, slot: AlarmSlot): void {
  const a = machines.get(k);
  if (slot.holder) a?.byGroup.delete(slot.holder.group);
  a?.pool.release(slot);
}

/** do_exit() of a group's last thread: hrtimer_cancel(&sig->real_timer), and the slot is free again. */
export function exitItimers(k: Kernel, t: Task): void {
  const slot = alarmOf(k, t);
  if (slot) releaseAlarm(k, slot);
}
