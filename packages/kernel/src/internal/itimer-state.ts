/**
 * The per-process ITIMER_REAL timer (signal_struct's real_timer), apart from itimer.ts so that
 * exit.ts can cancel it without importing the signal code (which imports exit.ts).
 */
import type { VirtualTimer } from "@faultline/phys";
import type { Task } from "./kernel";

/** A process's alarm: its timer on the virtual clock. */
export interface AlarmTimer {
  readonly vt: VirtualTimer;
}

const alarms = new WeakMap<Set<Task>, AlarmTimer>();

/** The alarm of t's process, if it ever set one. */
export const alarmOf = (t: Task): AlarmTimer | undefined => alarms.get(t.group);

export function setAlarm(t: Task, a: AlarmTimer): void {
  alarms.set(t.group, a);
}

/** do_exit() of a group's last thread: hrtimer_cancel(&sig->real_timer). */
export function exitItimers(t: Task): void {
  alarms.get(t.group)?.vt.del();
}
