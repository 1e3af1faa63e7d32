// Signals and sleeps (hrtimer.c do_nanosleep, arch/x86 signal.c handle_signal, itimer.c alarm):
// a signal whose handler runs interrupts nanosleep/clock_nanosleep with -EINTR, the time left in
// rem (never for TIMER_ABSTIME), SA_RESTART or not (signal(7): sleeps are never restarted after a
// handler); an ignored or blocked signal does not wake the sleeper; a fatal one ends the process.
import { describe, expect, it, vi } from "vitest";
import { timespec } from "./__fixtures__/test-helpers";
import {
  CLOCK_MONOTONIC,
  CLOCK_PROCESS_CPUTIME_ID,
  CLOCK_REALTIME,
  CPUCLOCK_SCHED,
  driveClockExternally,
  EINTR,
  endSleep,
  Machine,
  makeProcessCpuclock,
  SA_RESTART,
  SIG_BLOCK,
  SIG_IGN,
  SIGALRM,
  SIGUSR1,
  SignalError,
  SYS_alarm,
  sleepWake,
  TIMER_ABSTIME,
  TIMER_SLACK_NS,
  takeSleep,
} from "./index";

const RAM = 16 * 1024 * 1024;
const S = 1_000_000_000;

async function boot() {
  const m = await Machine.create({ ramBytes: RAM });
  return { m, p: m.spawn() };
}

describe("alarm(2)", () => {
  it("arms SIGALRM on the clock and returns what the previous alarm had left, rounded", async () => {
    const { m, p } = await boot();
    const caught: number[] = [];
    p.sys.sigaction(SIGALRM, { handler: () => caught.push(m.clockNs) });
    expect(p.sys.alarm(10)).toBe(0);
    m.advanceClock(2.4 * S);
    expect(p.sys.alarm(3)).toBe(8); // 7.6 s left: to the nearest second
    m.advanceClock(2.8 * S);
    expect(p.sys.alarm(3)).toBe(1); // 0.2 s left: never 0 while pending
    expect(p.sys.alarm(0)).toBe(3);
    expect(m.nextClockDeadline()).toBeNull();
    expect(p.sys.call(SYS_alarm, 1)).toBe(0);
    m.advanceClock(S);
    expect(caught).toEqual([]); // delivered on the way back to user mode: at the next syscall
    expect(p.sys.alarm(0)).toBe(0);
    expect(caught).toEqual([6.2 * S]);
  });

  it("kills by default; a fork child does not inherit it; the process's exit cancels it", async () => {
    const { m, p } = await boot();
    p.sys.alarm(5);
    const c = m.process(p.sys.fork())!;
    expect(c.sys.alarm(0)).toBe(0);
    expect(p.sys.alarm(5)).toBe(5);
    m.advanceClock(5 * S);
    expect(p.state).toBe("zombie");
    expect(p.exitSignal).toBe("SIGALRM");
    c.sys.alarm(7);
    c.sys.exit(0);
    expect(m.nextClockDeadline()).toBeNull();
  });

  it("exit gives the alarm's clock timer back: many short processes that set one make the clock one timer, none fires for the dead", async () => {
    const { m, p } = await boot();
    const made = vi.spyOn(m.phys.clock, "newTimer");
    for (let i = 0; i < 40; i++) {
      const c = m.process(p.sys.fork())!;
      expect(c.sys.alarm(2 + (i % 3))).toBe(0);
      if (i % 4 === 1) expect(c.sys.alarm(0)).toBe(2 + (i % 3));
      m.advanceClock(S / 4);
      c.sys.exit(0);
      expect(p.sys.waitpid(c.pid)).toEqual({ pid: c.pid, status: 0 });
      expect(m.process(c.pid)).toBeUndefined();
    }
    // Every alarm(2) of the 40 processes used the same clock timer: the clock holds none of them.
    expect(made).toHaveBeenCalledTimes(1);
    expect(m.nextClockDeadline()).toBeNull();
    expect(m.advanceClock(10 * S)).toEqual([]);
  });

  it("alarms armed at once hold a clock timer each; a fired or cancelled one's timer serves the next alarm", async () => {
    const { m, p } = await boot();
    const made = vi.spyOn(m.phys.clock, "newTimer");
    const a = m.process(p.sys.fork())!;
    const b = m.process(p.sys.fork())!;
    expect(p.sys.alarm(3)).toBe(0);
    expect(a.sys.alarm(1)).toBe(0);
    expect(b.sys.alarm(2)).toBe(0);
    expect(made).toHaveBeenCalledTimes(3);
    expect(m.advanceClock(S)).toEqual([{ ns: S, kind: "timer", name: `pid ${a.pid}: it_real_fn` }]);
    expect(a.exitSignal).toBe("SIGALRM");
    const c = m.process(p.sys.fork())!;
    expect(c.sys.alarm(5)).toBe(0); // a's timer, free since it fired
    expect(p.sys.alarm(0)).toBe(2);
    expect(b.sys.alarm(4)).toBe(1); // re-armed: the same timer
    expect(p.sys.alarm(0)).toBe(0);
    expect(made).toHaveBeenCalledTimes(3);
    expect(m.advanceClock(5 * S).map((e) => [e.ns, (e as { name: string }).name])).toEqual([
      [5 * S, `pid ${b.pid}: it_real_fn`],
      [6 * S, `pid ${c.pid}: it_real_fn`],
    ]);
    expect([b.exitSignal, c.exitSignal, p.state]).toEqual(["SIGALRM", "SIGALRM", "running"]);
    // Three timers made, three free: a new process's alarm takes one of them.
    const d = m.process(p.sys.fork())!;
    expect(d.sys.alarm(1)).toBe(0);
    expect(made).toHaveBeenCalledTimes(3);
  });
});

describe("-EINTR", () => {
  it("a handled signal interrupts nanosleep: -EINTR, the time left (slack included) in rem, the handler run", async () => {
    const { m, p } = await boot();
    const caught: number[] = [];
    p.sys.sigaction(SIGALRM, { handler: () => caught.push(m.clockNs), flags: SA_RESTART });
    p.sys.alarm(1);
    const rem = new Uint8Array(16);
    expect(p.sys.nanosleep(5, 0, rem)).toBe(-EINTR);
    expect(m.clockNs).toBe(S);
    expect(timespec(rem).map(Number)).toEqual([4, TIMER_SLACK_NS]);
    expect(caught).toEqual([S]);
    // clock_nanosleep, relative: the same; glibc returns EINTR itself.
    p.sys.alarm(2);
    rem.fill(0);
    expect(p.libc.clockNanosleep(CLOCK_MONOTONIC, 0, 3, 500, rem)).toBe(EINTR);
    expect(timespec(rem).map(Number)).toEqual([1, 500 + TIMER_SLACK_NS]);
    // Absolute: -EINTR and rem untouched.
    p.sys.alarm(1);
    rem.fill(0xee);
    expect(p.sys.clockNanosleep(CLOCK_REALTIME, TIMER_ABSTIME, 1_735_689_600 + 60, 0, rem)).toBe(-EINTR);
    expect(rem.every((b) => b === 0xee)).toBe(true);
    expect(m.clockNs).toBe(4 * S);
    expect(caught).toEqual([S, 3 * S, 4 * S]);
    // Without rem the call still returns -EINTR; a sleep that was not interrupted is 0.
    p.sys.alarm(1);
    expect(p.sys.nanosleep(2, 0)).toBe(-EINTR);
    expect(p.sys.nanosleep(0, 1000)).toBe(0);
    m.checkInvariants();
  });

  it("a signal pending for its handler when the sleep begins ends it at once, all of it left", async () => {
    const { m, p } = await boot();
    const q = m.spawn();
    const caught: number[] = [];
    p.sys.sigaction(SIGUSR1, { handler: (i) => caught.push(i.signo) });
    // Sent while p ran user code: it is delivered on p's way out of its next syscall.
    q.sys.kill(p.pid, SIGUSR1);
    const rem = new Uint8Array(16);
    expect(p.sys.nanosleep(1, 0, rem)).toBe(-EINTR);
    expect(timespec(rem).map(Number)).toEqual([1, TIMER_SLACK_NS]);
    expect(m.clockNs).toBe(0);
    expect(caught).toEqual([SIGUSR1]);
  });

  it("an ignored or blocked signal does not wake the sleeper; a fatal one ends it", async () => {
    const { m, p } = await boot();
    p.sys.sigaction(SIGALRM, SIG_IGN);
    p.sys.alarm(1);
    expect(p.sys.nanosleep(2, 0)).toBe(0);
    expect(m.clockNs).toBe(2 * S + TIMER_SLACK_NS);
    p.sys.sigaction(SIGALRM, { handler: () => {} });
    p.sys.sigprocmask(SIG_BLOCK, [SIGALRM]);
    p.sys.alarm(1);
    expect(p.sys.nanosleep(2, 0)).toBe(0);
    expect(p.sys.sigpending()).toEqual([SIGALRM]);
    const q = m.spawn();
    q.sys.alarm(1);
    expect(() => q.sys.nanosleep(10, 0)).toThrow(SignalError);
    expect(q.exitSignal).toBe("SIGALRM");
    expect(m.clockNs).toBe(5 * S + 2 * TIMER_SLACK_NS);
  });

  it("with the clock driven from outside, another process's kill ends a parked sleep with -EINTR", async () => {
    const { m, p } = await boot();
    driveClockExternally(m);
    const q = m.spawn();
    const caught: number[] = [];
    p.sys.sigaction(SIGUSR1, { handler: (i) => caught.push(i.signo) });
    const rem = new Uint8Array(16);
    expect(p.sys.nanosleep(3, 0, rem)).toBe(0);
    expect(takeSleep(m, p.pid)).toBe(3 * S + TIMER_SLACK_NS);
    m.advanceClock(S);
    expect(sleepWake(m, p.pid)).toBe(3 * S + TIMER_SLACK_NS);
    q.sys.kill(p.pid, SIGUSR1);
    expect(sleepWake(m, p.pid)).toBe(S);
    expect(caught).toEqual([]);
    expect(endSleep(m, p.pid)).toBe(-EINTR);
    expect(timespec(rem).map(Number)).toEqual([2, TIMER_SLACK_NS]);
    expect(caught).toEqual([SIGUSR1]);
    expect(sleepWake(m, p.pid)).toBeNull();
    // A CPU-clock sleep interrupted: rem holds the CPU time still to wait.
    expect(p.sys.clockNanosleep(makeProcessCpuclock(q.pid, CPUCLOCK_SCHED), 0, 0, 10_000, rem)).toBe(0);
    q.sys.clockGettime(CLOCK_PROCESS_CPUTIME_ID);
    q.sys.kill(p.pid, SIGUSR1);
    expect(endSleep(m, p.pid)).toBe(-EINTR);
    expect(timespec(rem).map(Number)).toEqual([0, 8000]);
    // A sleep that ran its course ends with 0.
    p.sys.nanosleep(0, 10);
    m.advanceClock(TIMER_SLACK_NS + 10);
    expect(sleepWake(m, p.pid)).toBe(S + TIMER_SLACK_NS + 10);
    expect(endSleep(m, p.pid)).toBe(0);
  });
});
