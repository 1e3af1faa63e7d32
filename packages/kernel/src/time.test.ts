// Processes' time: clock_gettime, nanosleep and clock_nanosleep on the virtual clock (errno as
// Linux's posix-timers.c / alarmtimer.c without an RTC), the 50 µs timer slack, sleeps that move an
// in-thread machine's clock (timers fire on the way), and sleeps handed to an external driver.
import { describe, expect, it } from "vitest";
import {
  CLOCK_BOOTTIME,
  CLOCK_BOOTTIME_ALARM,
  CLOCK_MONOTONIC,
  CLOCK_MONOTONIC_COARSE,
  CLOCK_MONOTONIC_RAW,
  CLOCK_PROCESS_CPUTIME_ID,
  CLOCK_REALTIME,
  CLOCK_REALTIME_ALARM,
  CLOCK_REALTIME_COARSE,
  CLOCK_TAI,
  CLOCK_THREAD_CPUTIME_ID,
  defineDriver,
  driveClockExternally,
  EINVAL,
  EOPNOTSUPP,
  ErrnoError,
  jiffies,
  Machine,
  modTimer,
  SYS_clock_gettime,
  SYS_nanosleep,
  TICK_NSEC,
  TIMER_ABSTIME,
  TIMER_SLACK_NS,
  takeSleep,
  timerSetup,
} from "./index";

const RAM = 16 * 1024 * 1024;

describe("clock_gettime(2)", () => {
  it("reads the virtual clock; coarse clocks the last tick; CPU-time and alarm clocks are -EINVAL", async () => {
    const m = await Machine.create({ ramBytes: RAM });
    const p = m.spawn();
    m.advanceClock(3 * TICK_NSEC + 1234);
    const now = 3 * TICK_NSEC + 1234;
    for (const c of [CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_BOOTTIME, CLOCK_TAI])
      expect(p.sys.clockGettime(c), `clock ${c}`).toBe(now);
    expect(p.sys.clockGettime(CLOCK_MONOTONIC_COARSE)).toBe(3 * TICK_NSEC);
    expect(p.sys.clockGettime(CLOCK_REALTIME_COARSE)).toBe(3 * TICK_NSEC);
    for (const c of [
      CLOCK_PROCESS_CPUTIME_ID,
      CLOCK_THREAD_CPUTIME_ID,
      CLOCK_REALTIME_ALARM,
      CLOCK_BOOTTIME_ALARM,
      10,
      12,
      -1,
    ])
      expect(p.sys.clockGettime(c), `clock ${c}`).toBe(-EINVAL);
    expect(p.sys.call(SYS_clock_gettime, CLOCK_MONOTONIC)).toBe(now);
    expect(() => p.libc.clockGettime(10)).toThrow(ErrnoError);
  });
});

describe("nanosleep(2) and clock_nanosleep(2)", () => {
  it("on an in-thread machine move the clock to the wake-up (plus the timer slack), firing timers on the way", async () => {
    const fired: number[] = [];
    const drv = defineDriver({
      name: "sleepy",
      apiVersion: 1,
      init() {
        modTimer(
          timerSetup({}, () => fired.push(jiffies())),
          jiffies() + 5,
        );
        return 0;
      },
    });
    const m = await Machine.create({ ramBytes: RAM, drivers: [drv] });
    const p = m.spawn();
    expect(p.sys.nanosleep(0, 30_000_000)).toBe(0);
    expect(m.clockNs).toBe(30_000_000 + TIMER_SLACK_NS);
    expect(fired.length).toBe(1);
    expect(p.libc.nanosleep(1, 0)).toBe(0);
    expect(p.sys.clockGettime(CLOCK_MONOTONIC)).toBe(1_030_000_000 + 2 * TIMER_SLACK_NS);
    // Absolute: until that time on the clock; a time already past returns after the slack at most.
    const t = m.clockNs;
    expect(p.sys.clockNanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, 2, 0)).toBe(0);
    expect(m.clockNs).toBe(2_000_000_000 + TIMER_SLACK_NS);
    expect(p.sys.clockNanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, 1, t - 1_000_000_000)).toBe(0);
    expect(m.clockNs).toBe(2_000_000_000 + TIMER_SLACK_NS);
    m.checkInvariants();
  });

  it("refuse bad timespecs with -EINVAL and clocks that cannot sleep with -EOPNOTSUPP", async () => {
    const m = await Machine.create({ ramBytes: RAM });
    const p = m.spawn();
    expect(p.sys.nanosleep(0, 1_000_000_000)).toBe(-EINVAL);
    expect(p.sys.nanosleep(0, -1)).toBe(-EINVAL);
    expect(p.sys.nanosleep(-1, 0)).toBe(-EINVAL);
    expect(p.sys.call(SYS_nanosleep, 0, 999_999_999)).toBe(0);
    for (const c of [
      CLOCK_MONOTONIC_RAW,
      CLOCK_MONOTONIC_COARSE,
      CLOCK_REALTIME_COARSE,
      CLOCK_REALTIME_ALARM,
      CLOCK_BOOTTIME_ALARM,
    ])
      expect(p.sys.clockNanosleep(c, 0, 0, 1), `clock ${c}`).toBe(-EOPNOTSUPP);
    for (const c of [CLOCK_PROCESS_CPUTIME_ID, 10, -5])
      expect(p.sys.clockNanosleep(c, 0, 0, 1)).toBe(-EINVAL);
    expect(p.sys.clockNanosleep(CLOCK_MONOTONIC, 0, 0, 2_000_000_000)).toBe(-EINVAL);
    // glibc's clock_nanosleep returns the error number itself.
    expect(p.libc.clockNanosleep(CLOCK_MONOTONIC_RAW, 0, 0, 1)).toBe(EOPNOTSUPP);
    expect(() => p.libc.nanosleep(0, -1)).toThrow(ErrnoError);
    expect(() => p.sys.nanosleep(Number.NaN, 0)).toThrow(TypeError);
  });

  it("with the clock driven from outside hand the wake-up over instead of moving the clock", async () => {
    const m = await Machine.create({ ramBytes: RAM });
    driveClockExternally(m);
    const p = m.spawn();
    m.advanceClock(1000);
    expect(p.sys.nanosleep(0, 5000)).toBe(0);
    expect(m.clockNs).toBe(1000);
    expect(takeSleep(m, p.pid)).toBe(6000 + TIMER_SLACK_NS);
    expect(takeSleep(m, p.pid)).toBeNull();
    expect(p.sys.nanosleep(0, -1)).toBe(-EINVAL);
    expect(takeSleep(m, p.pid)).toBeNull();
  });
});
