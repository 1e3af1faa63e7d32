// CPU-time clocks (posix-cpu-timers.c): CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID and the
// ids made from a pid. CPU time here is 1 µs per kernel entry (syscall or page fault) of the task
// (internal/posix-cpu-timers.ts), so every reading below is a count of what the task did.
import { describe, expect, it } from "vitest";
import {
  CLOCK_PROCESS_CPUTIME_ID,
  CLOCK_REALTIME,
  CLOCK_THREAD_CPUTIME_ID,
  CLONE_PTHREAD,
  CPUCLOCK_PROF,
  CPUCLOCK_SCHED,
  CPUCLOCK_VIRT,
  driveClockExternally,
  EINVAL,
  EOPNOTSUPP,
  EPERM,
  endSleep,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  Machine,
  makeProcessCpuclock,
  makeThreadCpuclock,
  PROT_READ,
  PROT_WRITE,
  SYS_getpid,
  sleepWake,
  TICK_NSEC,
  TIMER_ABSTIME,
  takeSleep,
} from "./index";

const RAM = 16 * 1024 * 1024;
const US = 1000;

describe("CPU-time clocks", () => {
  it("count 1 µs per syscall and per page fault of the task, the reading's own call included", async () => {
    const m = await Machine.create({ ramBytes: RAM });
    const p = m.spawn();
    expect(p.sys.clockGettime(CLOCK_PROCESS_CPUTIME_ID)).toBe(1 * US);
    expect(p.sys.clockGettime(CLOCK_THREAD_CPUTIME_ID)).toBe(2 * US);
    const a = p.sys.mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    p.mmu.store32(a, 1);
    p.mmu.store32(a + 4096, 1);
    // mmap, two faults, and this call.
    expect(p.sys.clockGettime(CLOCK_THREAD_CPUTIME_ID)).toBe(6 * US);
    // getpid is a system call like any other (entry_SYSCALL_64): 1 µs. The virtual clock does not
    // move for CPU time.
    p.sys.call(SYS_getpid);
    expect(p.sys.clockGettime(CLOCK_PROCESS_CPUTIME_ID)).toBe(8 * US);
    expect(m.clockNs).toBe(0);
    // The same clocks by pid: PROF is the same sum, VIRT (user time) is 0, all of it being system time.
    expect(p.sys.clockGettime(makeProcessCpuclock(p.pid, CPUCLOCK_SCHED))).toBe(9 * US);
    expect(p.sys.clockGettime(makeProcessCpuclock(0, CPUCLOCK_PROF))).toBe(10 * US);
    expect(p.sys.clockGettime(makeThreadCpuclock(p.pid, CPUCLOCK_PROF))).toBe(11 * US);
    expect(p.sys.clockGettime(makeProcessCpuclock(0, CPUCLOCK_VIRT))).toBe(0);
    const tp = new Uint8Array(16);
    expect(p.sys.clockGettime(CLOCK_PROCESS_CPUTIME_ID, tp)).toBe(0);
    expect(new DataView(tp.buffer).getBigInt64(8, true)).toBe(BigInt(13 * US));
  });

  it("a process's clock sums its threads, exited ones included; a thread's is its own", async () => {
    const m = await Machine.create({ ramBytes: RAM });
    const p = m.spawn();
    const tid = p.libc.clone(CLONE_PTHREAD); // 1
    const t = m.process(tid)!;
    for (let i = 0; i < 5; i++) t.sys.clockGettime(CLOCK_REALTIME);
    expect(t.sys.clockGettime(CLOCK_THREAD_CPUTIME_ID)).toBe(6 * US);
    expect(p.sys.clockGettime(CLOCK_THREAD_CPUTIME_ID)).toBe(2 * US);
    expect(p.sys.clockGettime(CLOCK_PROCESS_CPUTIME_ID)).toBe(9 * US);
    // The other thread's clock by its tid, from inside the process.
    expect(p.sys.clockGettime(makeThreadCpuclock(tid, CPUCLOCK_SCHED))).toBe(6 * US);
    t.sys.exit(0);
    expect(p.sys.clockGettime(CLOCK_PROCESS_CPUTIME_ID)).toBe(12 * US);
    expect(p.sys.clockGettime(makeThreadCpuclock(tid, CPUCLOCK_SCHED))).toBe(-EINVAL);
  });

  it("pid rules: another process by its pid; no task, a thread outside the process, a thread id as a process: -EINVAL", async () => {
    const m = await Machine.create({ ramBytes: RAM });
    const p = m.spawn();
    const q = m.spawn();
    q.sys.clockGettime(CLOCK_REALTIME);
    q.sys.clockGettime(CLOCK_REALTIME);
    expect(p.sys.clockGettime(makeProcessCpuclock(q.pid, CPUCLOCK_SCHED))).toBe(2 * US);
    expect(p.sys.clockGettime(makeThreadCpuclock(q.pid, CPUCLOCK_SCHED))).toBe(-EINVAL);
    expect(p.sys.clockGettime(makeProcessCpuclock(999, CPUCLOCK_SCHED))).toBe(-EINVAL);
    const tid = p.libc.clone(CLONE_PTHREAD);
    const t = m.process(tid)!;
    // A thread id names a process only for that thread's own clock_gettime.
    expect(p.sys.clockGettime(makeProcessCpuclock(tid, CPUCLOCK_SCHED))).toBe(-EINVAL);
    expect(t.sys.clockGettime(makeProcessCpuclock(tid, CPUCLOCK_SCHED))).toBeGreaterThan(0);
    expect(t.sys.clockGetres(makeProcessCpuclock(tid, CPUCLOCK_SCHED))).toBe(-EINVAL);
    // Resolution: 1 ns for the scheduler's clock, a tick for PROF and VIRT.
    expect(p.sys.clockGetres(CLOCK_PROCESS_CPUTIME_ID)).toBe(1);
    expect(p.sys.clockGetres(CLOCK_THREAD_CPUTIME_ID)).toBe(1);
    expect(p.sys.clockGetres(makeProcessCpuclock(q.pid, CPUCLOCK_PROF))).toBe(TICK_NSEC);
    expect(p.sys.clockGetres(makeProcessCpuclock(999, CPUCLOCK_SCHED))).toBe(-EINVAL);
    // Never settable: -EPERM for a valid CPU clock id (whatever the timespec), -EINVAL for a bad one
    // and for 2 and 3 (no clock_set).
    expect(p.sys.clockSettime(makeProcessCpuclock(q.pid, CPUCLOCK_SCHED), 0, -1)).toBe(-EPERM);
    expect(p.sys.clockSettime(makeProcessCpuclock(999, CPUCLOCK_SCHED), 0, 0)).toBe(-EINVAL);
    expect(p.sys.clockSettime(CLOCK_PROCESS_CPUTIME_ID, 0, 0)).toBe(-EINVAL);
    expect(p.sys.clockSettime(CLOCK_THREAD_CPUTIME_ID, 0, 0)).toBe(-EINVAL);
  });

  it("clock_nanosleep: the caller's own thread clock -EINVAL, CLOCK_THREAD_CPUTIME_ID -EOPNOTSUPP, a time reached returns at once", async () => {
    const m = await Machine.create({ ramBytes: RAM });
    const p = m.spawn();
    const q = m.spawn();
    expect(p.sys.clockNanosleep(CLOCK_THREAD_CPUTIME_ID, 0, 0, 1)).toBe(-EOPNOTSUPP);
    expect(p.sys.clockNanosleep(makeThreadCpuclock(0, CPUCLOCK_SCHED), 0, 0, 1)).toBe(-EINVAL);
    expect(p.sys.clockNanosleep(makeThreadCpuclock(p.pid, CPUCLOCK_SCHED), 0, 0, 1)).toBe(-EINVAL);
    expect(p.sys.clockNanosleep(makeProcessCpuclock(999, CPUCLOCK_SCHED), 0, 0, 1)).toBe(-EINVAL);
    expect(p.sys.clockNanosleep(CLOCK_PROCESS_CPUTIME_ID, 0, 0, -1)).toBe(-EINVAL);
    expect(p.sys.clockNanosleep(CLOCK_PROCESS_CPUTIME_ID, 0, 0, 0)).toBe(0);
    expect(p.sys.clockNanosleep(CLOCK_PROCESS_CPUTIME_ID, TIMER_ABSTIME, 0, 1)).toBe(0);
    // In-thread nothing else runs while it sleeps: a CPU time still to come would never arrive.
    expect(p.sys.clockNanosleep(makeProcessCpuclock(q.pid, CPUCLOCK_SCHED), 0, 0, 1)).toBe(-35);
    expect(m.clockNs).toBe(0);
  });

  it("with the clock driven from outside, a sleep on another process's CPU clock ends when it has spent that time", async () => {
    const m = await Machine.create({ ramBytes: RAM });
    driveClockExternally(m);
    const p = m.spawn();
    const q = m.spawn();
    expect(p.sys.clockNanosleep(makeProcessCpuclock(q.pid, CPUCLOCK_SCHED), 0, 0, 3 * US)).toBe(0);
    expect(takeSleep(m, p.pid)).toBe(Number.POSITIVE_INFINITY);
    q.sys.clockGettime(CLOCK_REALTIME);
    q.sys.clockGettime(CLOCK_REALTIME);
    expect(sleepWake(m, p.pid)).toBe(Number.POSITIVE_INFINITY);
    q.sys.clockGettime(CLOCK_REALTIME);
    expect(sleepWake(m, p.pid)).toBe(m.clockNs);
    expect(endSleep(m, p.pid)).toBe(0);
    expect(sleepWake(m, p.pid)).toBeNull();
  });
});
