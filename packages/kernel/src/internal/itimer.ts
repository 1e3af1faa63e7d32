/**
 * kernel/time/itimer.c's ITIMER_REAL as alarm(2) sets it: one hrtimer per process (signal_struct's
 * real_timer) on CLOCK_MONOTONIC, exact (an itimer gets no timer slack), that sends SIGALRM to the
 * process when it expires (it_real_fn). fork's child starts without one; the last thread's exit
 * cancels it. Its clock timer is a slot of a pool (timer-pool.ts says why), held while armed; its
 * expiry shows in a run's clock events as "pid <tgid>: it_real_fn".
 */
import type { VirtualClockState } from "@faultline/phys";
import { SI_KERNEL, SIGALRM } from "../signal";
import { recordClockEvent } from "./clock-events";
import { type AlarmSlot, type Alarms, alarmOf, alarmsOf, releaseAlarm, setAlarms } from "./itimer-state";
import type { Kernel, Task } from "./kernel";
import { sendSignal } from "./signal";
import { NSEC_PER_SEC } from "./timer";
import { ITIMER_REAL, TimerPool } from "./timer-pool";

/** The name of process `tgid`'s ITIMER_REAL expiry in a run's clock events. */
export const itRealName = (tgid: number): string => `pid ${tgid}: it_real_fn`;

/** it_real_fn(): SIGALRM to the process (its leader, or any thread still running). */
function itRealFn(k: Kernel, leader: Task): void {
  const target = leader.state === "running" ? leader : [...leader.group].find((o) => o.state === "running");
  if (!target) return;
  sendSignal(k, target, SIGALRM, Object.freeze({ signo: SIGALRM, code: SI_KERNEL, addr: 0 }));
}

/** A slot's timer expired: the slot is free again, and it_real_fn runs for the process that held it. */
function itRealExpired(k: Kernel, leader: Task, slot: AlarmSlot): void {
  releaseAlarm(k, slot);
  // The clock names the pool's timers alike (clock-events.ts leaves them out): the event names the process.
  recordClockEvent(k, { ns: k.phys.clock.now, kind: "timer", name: itRealName(leader.tgid) });
  itRealFn(k, leader);
}

function machineAlarms(k: Kernel): Alarms {
  let a = alarmsOf(k);
  if (!a) {
    const pool = new TimerPool<Task>(k.phys.clock, ITIMER_REAL, (leader, slot) =>
      itRealExpired(k, leader, slot),
    );
    a = { pool, byGroup: new Map() };
    setAlarms(k, a);
  }
  return a;
}

/** A slot of the pool for the alarm of `leader`'s process. */
function takeSlot(k: Kernel, leader: Task): AlarmSlot {
  const a = machineAlarms(k);
  const slot = a.pool.take(leader);
  a.byGroup.set(leader.group, slot);
  return slot;
}

/**
 * alarm(seconds) (alarm_setitimer): arms the process's ITIMER_REAL for `seconds` from now (0
 * disarms it) and returns the seconds the previous one had left, rounded to the nearest second and
 * never 0 for one still pending (an expired-but-pending one counts 1 µs: itimer_get_remtime).
 */
export function sysAlarm(k: Kernel, t: Task, seconds: number): number {
  const clock = k.phys.clock;
  const a = alarmOf(k, t);
  let left = 0;
  if (a?.vt.expires != null) left = Math.max(a.vt.expires - clock.now, 1000);
  if (seconds === 0) {
    if (a) releaseAlarm(k, a);
  } else (a ?? takeSlot(k, k.tasks.get(t.tgid) ?? t)).vt.mod(clock.now + seconds * NSEC_PER_SEC);
  const sec = Math.floor(left / NSEC_PER_SEC);
  const nsec = left % NSEC_PER_SEC;
  return (sec === 0 && nsec > 0) || nsec >= NSEC_PER_SEC / 2 ? sec + 1 : sec;
}

/**
 * The armed alarms as a machine snapshot keeps them: [slot, tgid] each, the slot being its timer's
 * rank among the clock's ITIMER_REAL timers (the clock's own state holds the expiry and order).
 */
export function saveAlarms(k: Kernel): Array<readonly [number, number]> {
  return (alarmsOf(k)?.pool.held() ?? []).map(([slot, leader]) => [slot, leader.tgid] as const);
}

/**
 * A restored machine's alarms, before its clock is restored: each saved [slot, tgid] takes a slot of
 * this machine's pool (in saved slot order, so the pool holds just the armed alarms), and the saved
 * clock state comes back with each ITIMER_REAL timer's rank moved to its new slot, for the clock's
 * restore to arm at its saved expiry and order. An Error names an alarm whose process has no running
 * thread here (exit cancels the alarm), and an ITIMER_REAL timer no alarm holds or the reverse.
 */
export function restoreAlarms(k: Kernel, saved: unknown, clock: VirtualClockState): VirtualClockState {
  if (!Array.isArray(saved)) throw new Error("alarms: expected a list");
  const a = machineAlarms(k);
  if (a.byGroup.size) throw new Error("alarms: the restored machine has alarms armed already");
  const leaders = new Map<number, Task>();
  const groups = new Set<Set<Task>>();
  saved.forEach((x, i) => {
    const [slot, tgid] = Array.isArray(x) ? x : [];
    if (typeof slot !== "number" || !Number.isSafeInteger(slot) || slot < 0)
      throw new Error(`alarm ${i}: slot ${String(slot)} is not a non-negative integer`);
    const leader = typeof tgid === "number" ? k.tasks.get(tgid) : undefined;
    if (!leader || leader.tgid !== tgid || ![...leader.group].some((o) => o.state === "running"))
      throw new Error(`alarm of pid ${String(tgid)}: armed in the snapshot, and no such process runs`);
    if (leaders.has(slot) || groups.has(leader.group))
      throw new Error(`alarm ${i}: slot ${slot} or process ${tgid} holds two alarms`);
    leaders.set(slot, leader);
    groups.add(leader.group);
  });
  const ranks = new Map<number, number>();
  for (const slot of [...leaders.keys()].sort((x, y) => x - y))
    ranks.set(slot, a.pool.indexOf(takeSlot(k, leaders.get(slot)!)));
  return a.pool.renumber(clock, ranks, "process's alarm", "alarms");
}
