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

const NSEC_PER_SEC = 1_000_000_000;

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
      a = { vt: clock.newTimer(() => itRealFn(k, leader), `pid ${t.tgid}: it_real_fn`) };
      setAlarm(t, a);
    }
    a.vt.mod(clock.now + seconds * NSEC_PER_SEC);
  }
  const sec = Math.floor(left / NSEC_PER_SEC);
  const nsec = left % NSEC_PER_SEC;
  return (sec === 0 && nsec > 0) || nsec >= NSEC_PER_SEC / 2 ? sec + 1 : sec;
}
