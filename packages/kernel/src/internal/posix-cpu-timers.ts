/**
 * kernel/time/posix-cpu-timers.c: the CPU-time clocks (CLOCK_PROCESS_CPUTIME_ID,
 * CLOCK_THREAD_CPUTIME_ID, and the clock ids made from a pid by make_process_cpuclock /
 * make_thread_cpuclock, as clock_getcpuclockid(3) and pthread_getcpuclockid(3) return them).
 *
 * What CPU time is here: the model runs user code in no virtual time, so a task's CPU time is what
 * its kernel entries cost: CPU_NS_PER_ENTRY (1 µs) for each syscall it enters and each page fault
 * it takes (min_flt + maj_flt). This is the simulator's default cost of a kernel entry in a
 * deterministic run, so there a lone process's CPU time keeps pace with CLOCK_MONOTONIC; on an
 * in-thread machine the clock does not move for syscalls and CPU time runs ahead of it. It is a
 * count of what the task did, so it is the same on every run of a program (deterministic in
 * deterministic mode, and in free mode too). All of it is system time: CPUCLOCK_SCHED and
 * CPUCLOCK_PROF read the sum, CPUCLOCK_VIRT (user time) reads 0.
 *
 * A process's clock is the sum over its threads, the exited ones included (signal->sum_sched_runtime).
 */
import { EINVAL } from "../constants";
import type { Kernel, Task } from "./kernel";

/** The CPU time one kernel entry (a syscall, a page fault) costs a task, ns. */
export const CPU_NS_PER_ENTRY = 1000;

/** CPUCLOCK_PROF (include/linux/posix-timers_types.h): user + system time. */
export const CPUCLOCK_PROF = 0;
/** CPUCLOCK_VIRT: user time (0 here: all CPU time is the kernel entries'). */
export const CPUCLOCK_VIRT = 1;
/** CPUCLOCK_SCHED: the scheduler's runtime (what CLOCK_PROCESS_CPUTIME_ID reads). */
export const CPUCLOCK_SCHED = 2;
/** The bits of a CPU clock id that say which CPU time it reads. */
export const CPUCLOCK_CLOCK_MASK = 3;
const CPUCLOCK_PERTHREAD_MASK = 4;
/** CLOCKFD: the low bits of a dynamic (fd-based) posix clock id. */
const CLOCKFD = 3;

/** make_process_cpuclock(pid, clock): the clock id of process `pid`'s CPU time (0: the caller's). */
export const makeProcessCpuclock = (pid: number, clock: number): number => (~pid << 3) | clock | 0;
/** make_thread_cpuclock(tid, clock): the clock id of thread `tid`'s CPU time (0: the calling thread's). */
export const makeThreadCpuclock = (tid: number, clock: number): number =>
  makeProcessCpuclock(tid, clock | CPUCLOCK_PERTHREAD_MASK);

/** CPUCLOCK_PID(): the pid a CPU clock id names (0: the caller). */
export const cpuclockPid = (clock: number): number => ~(clock >> 3);
/** CPUCLOCK_PERTHREAD(). */
export const cpuclockPerthread = (clock: number): boolean => (clock & CPUCLOCK_PERTHREAD_MASK) !== 0;
/** A negative clock id that names a dynamic clock by fd (clock_posix_dynamic), not a CPU clock. */
export const isClockfd = (clock: number): boolean =>
  (clock & (CPUCLOCK_PERTHREAD_MASK | CPUCLOCK_CLOCK_MASK)) === CLOCKFD;

/** sum_sched_runtime of a thread group's exited threads (keyed by the group's set). */
const deadSum = new WeakMap<Set<Task>, number>();

/** A syscall entry: its cost is charged to `t`. */
export function chargeSyscall(t: Task): void {
  t.nsyscalls++;
}

/** task_sched_runtime(): the CPU time of thread `t`, ns. */
export function threadCputime(t: Task): number {
  return (t.nsyscalls + t.minflt + t.majflt) * CPU_NS_PER_ENTRY;
}

/** thread_group_sched_runtime(): the CPU time of t's process, its exited threads included, ns. */
export function processCputime(t: Task): number {
  let sum = deadSum.get(t.group) ?? 0;
  for (const o of t.group) sum += threadCputime(o);
  return sum;
}

/** __exit_signal(): a thread leaves its group; its CPU time stays in the process's. */
export function accountExitedThread(t: Task): void {
  deadSum.set(t.group, (deadSum.get(t.group) ?? 0) + threadCputime(t));
}

/**
 * pid_for_clock() + pid_task(): the task whose CPU time the clock id reads, or null (-EINVAL):
 * pid 0 is the caller (its thread, or its process); a thread clock must name a thread of the
 * caller's own process; a process clock names a process by its pid, or (for clock_gettime only)
 * by the caller's own thread id.
 */
export function taskForClock(k: Kernel, cur: Task, clock: number, gettime: boolean): Task | null {
  if ((clock & CPUCLOCK_CLOCK_MASK) >= CLOCKFD) return null;
  const thread = cpuclockPerthread(clock);
  const pid = cpuclockPid(clock);
  if (pid === 0) return cur;
  const t = k.tasks.get(pid);
  if (!t || t.state === "dead") return null;
  if (thread) return t.group === cur.group ? t : null;
  if (gettime && t === cur) return t;
  // The pid must be a thread group's leader (pid_has_task(pid, PIDTYPE_TGID)).
  return t.pid === t.tgid ? t : null;
}

/** posix_cpu_clock_get(): the CPU time the clock id reads, ns, or -EINVAL. */
export function cpuClockGet(k: Kernel, cur: Task, clock: number): number {
  const t = taskForClock(k, cur, clock, true);
  if (!t) return -EINVAL;
  if ((clock & CPUCLOCK_CLOCK_MASK) === CPUCLOCK_VIRT) return 0;
  return cpuclockPerthread(clock) ? threadCputime(t) : processCputime(t);
}

/** A task's CPU-time counters as a machine snapshot keeps them: its syscall entries and its group's exited threads' sum. */
export function saveCputime(t: Task): readonly [number, number] {
  return [t.nsyscalls, deadSum.get(t.group) ?? 0];
}

/** Puts saved counters back on a restored task (an Error names a bad one). */
export function restoreCputime(t: Task, s: unknown): void {
  const [n, dead] = Array.isArray(s) ? s : [];
  const ok = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
  if (!ok(n) || !ok(dead)) throw new Error(`task ${t.pid}: CPU time counters`);
  t.nsyscalls = n;
  if (dead) deadSum.set(t.group, dead);
}
