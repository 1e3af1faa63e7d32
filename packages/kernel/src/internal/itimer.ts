/**
 * kernel/time/itimer.c's ITIMER_REAL as alarm(2) sets it: one hrtimer per process (signal_struct's
 * real_timer) on CLOCK_MONOTONIC, exact (an itimer gets no timer slack), that sends SIGALRM to the
 * process when it expires (it_real_fn). fork's child starts without one; the last thread's exit
 * cancels it (itimer-state.ts). Its expiry shows in a run's clock events as
 * "pid <tgid>: it_real_fn".
 */
import { SI_KERNEL, SIGALRM } from "../signal";
import { type AlarmTimer, alarmOf, setAlarm } from "./itimer-state";
import type { Kernel, Task } from "./kernel";
import { sendSignal } from "./signal";
import { NSEC_PER_SEC } from "./timer";

/** The name of process `tgid`'s ITIMER_REAL on the virtual clock (traces, snapshots). */
export const itRealName = (tgid: number): string => `pid ${tgid}: it_real_fn`;
const IT_REAL_NAME = /^pid (\d{1,7}): it_real_fn$/;

/** it_real_fn(): SIGALRM to the process (its leader, or any thread still running). */
function itRealFn(k: Kernel, leader: Task): void {
  const target = leader.state === "running" ? leader : [...leader.group].find((o) => o.state === "running");
  if (!target) return;
  sendSignal(k, target, SIGALRM, Object.freeze({ signo: SIGALRM, code: SI_KERNEL, addr: 0 }));
}

/**
 * alarm(seconds) (alarm_setitimer): arms the process's ITIMER_REAL for `seconds` from now (0
 * disarms it) and returns the seconds the previous one had left, rounded to the nearest second and
 * never 0 for one still pending (an expired-but-pending one counts 1 µs: itimer_get_remtime).
 */
export function sysAlarm(k: Kernel, t: Task, seconds: number): number {
  const clock = k.phys.clock;
  let a: AlarmTimer | undefined = alarmOf(t);
  const leader = k.tasks.get(t.tgid) ?? t;
  let left = 0;
  if (a?.vt.expires != null) left = Math.max(a.vt.expires - clock.now, 1000);
  if (seconds === 0) a?.vt.del();
  else {
    if (!a) {
      a = { vt: clock.newTimer(() => itRealFn(k, leader), itRealName(t.tgid)) };
      setAlarm(t, a);
    }
    a.vt.mod(clock.now + seconds * NSEC_PER_SEC);
  }
  const sec = Math.floor(left / NSEC_PER_SEC);
  const nsec = left % NSEC_PER_SEC;
  return (sec === 0 && nsec > 0) || nsec >= NSEC_PER_SEC / 2 ? sec + 1 : sec;
}

/**
 * A restored machine's alarms, made again before its clock is restored: for each process whose
 * ITIMER_REAL the saved clock has armed (a timer named "pid <tgid>: it_real_fn"), the process's timer,
 * which the clock's restore then arms for its saved expiry and order. `clock` is the saved
 * VirtualClockState, not yet checked (the clock's restore checks the rest). An Error names an armed
 * alarm whose process has no running thread on the restored machine (exit cancels the alarm).
 */
export function restoreAlarms(k: Kernel, clock: unknown): void {
  const armed = (clock as { armed?: unknown } | null)?.armed;
  if (!Array.isArray(armed)) return;
  for (const a of armed) {
    const m = Array.isArray(a) && typeof a[0] === "string" ? IT_REAL_NAME.exec(a[0]) : null;
    if (!m) continue;
    const tgid = Number(m[1]);
    const leader = k.tasks.get(tgid);
    if (!leader || leader.tgid !== tgid || ![...leader.group].some((o) => o.state === "running"))
      throw new Error(`alarm of pid ${tgid}: armed in the snapshot, and no such process runs`);
    if (alarmOf(leader)) continue;
    setAlarm(leader, { vt: k.phys.clock.newTimer(() => itRealFn(k, leader), itRealName(tgid)) });
  }
}
