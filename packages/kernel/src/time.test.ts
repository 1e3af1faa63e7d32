// Processes' time: clock_gettime, nanosleep and clock_nanosleep on the virtual clock (errno as
// Linux's posix-timers.c / alarmtimer.c without an RTC), the 50 µs timer slack, sleeps that move an
// in-thread machine's clock (timers fire on the way), and sleeps handed to an external driver.
import { describe, expect, it } from "vitest";
import { timespec } from "./__fixtures__/test-helpers";
import {
  CLOCK_BOOTTIME,
  CLOCK_BOOTTIME_ALARM,
  CLOCK_MONOTONIC,
  CLOCK_MONOTONIC_COARSE,
  CLOCK_MONOTONIC_RAW,
  CLOCK_REALTIME,
  CLOCK_REALTIME_ALARM,
  CLOCK_REALTIME_COARSE,
  CLOCK_TAI,
  defineDriver,
  driveClockExternally,
  EFAULT,
  EINVAL,
  EOPNOTSUPP,
  EPERM,
  ErrnoError,
  jiffies,
  Machine,
  makeProcessCpuclock,
  modTimer,
  SYS_clock_getres,
  SYS_clock_gettime,
  SYS_nanosleep,
  TICK_NSEC,
  TIMER_ABSTIME,
  TIMER_SLACK_NS,
  takeSleep,
  timerSetup,
} from "./index";

const RAM = 16 * 1024 * 1024;

const BOOT = 1_735_689_600n * 1_000_000_000n;

describe("clock_gettime(2)", () => {
  it("reads the virtual clock; the wall clock from the boot time; coarse clocks the last tick; alarm clocks are -EINVAL", async () => {
    const m = await Machine.create({ ramBytes: RAM });
    const p = m.spawn();
    m.advanceClock(3 * TICK_NSEC + 1234);
    const now = 3 * TICK_NSEC + 1234;
    for (const c of [CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_BOOTTIME])
      expect(p.sys.clockGettime(c), `clock ${c}`).toBe(now);
    expect(p.sys.clockGettime(CLOCK_MONOTONIC_COARSE)).toBe(3 * TICK_NSEC);
    // Without tp the wall clock is a double (rounded); with tp it is exact.
    expect(p.sys.clockGettime(CLOCK_REALTIME)).toBe(Number(BOOT + BigInt(now)));
    const tp = new Uint8Array(16);
    for (const c of [CLOCK_REALTIME, CLOCK_TAI]) {
      expect(p.sys.clockGettime(c, tp)).toBe(0);
      expect(timespec(tp), `clock ${c}`).toEqual([1_735_689_600n, BigInt(now)]);
    }
    expect(p.sys.clockGettime(CLOCK_REALTIME_COARSE, tp)).toBe(0);
    expect(timespec(tp)).toEqual([1_735_689_600n, BigInt(3 * TICK_NSEC)]);
    for (const c of [CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM, 10, 12, 1000, makeProcessCpuclock(0, 3)])
      expect(p.sys.clockGettime(c), `clock ${c}`).toBe(-EINVAL);
    expect(p.sys.call(SYS_clock_gettime, CLOCK_MONOTONIC)).toBe(now);
    expect(() => p.libc.clockGettime(10)).toThrow(ErrnoError);
    // A buffer that cannot hold a struct timespec: -EFAULT, and nothing is written.
    const short = new Uint8Array(8);
    expect(p.sys.clockGettime(CLOCK_MONOTONIC, short)).toBe(-EFAULT);
    expect(short).toEqual(new Uint8Array(8));
    expect(() => p.sys.clockGettime(CLOCK_MONOTONIC, 5 as never)).toThrow(TypeError);
  });

  it("MachineOptions.bootTime sets the wall clock at boot; bad values are refused", async () => {
    const m = await Machine.create({ ramBytes: RAM, bootTime: 86_400 });
    const p = m.spawn();
    m.advanceClock(5);
    const tp = new Uint8Array(16);
    p.sys.clockGettime(CLOCK_REALTIME, tp);
    expect(timespec(tp)).toEqual([86_400n, 5n]);
    await expect(Machine.create({ ramBytes: RAM, bootTime: -1 })).rejects.toThrow(RangeError);
    await expect(Machine.create({ ramBytes: RAM, bootTime: 1.5 })).rejects.toThrow(TypeError);
    await expect(Machine.create({ ramBytes: RAM, bootTime: 8_277_292_037 })).rejects.toThrow(/bootTime/);
  });
});

describe("clock_settime(2) and clock_getres(2)", () => {
  it("set CLOCK_REALTIME only, with CAP_SYS_TIME, to a valid time no earlier than the time since boot", async () => {
    const m = await Machine.create({ ramBytes: RAM });
    const p = m.spawn();
    m.advanceClock(10 * TICK_NSEC + 7);
    const tp = new Uint8Array(16);
    expect(p.sys.clockSettime(CLOCK_REALTIME, 2_000_000_000, 5)).toBe(0);
    p.sys.clockGettime(CLOCK_REALTIME, tp);
    expect(timespec(tp)).toEqual([2_000_000_000n, 5n]);
    // The coarse clocks were brought up to the exact time of the settime (timekeeping_forward_now).
    expect(p.sys.clockGettime(CLOCK_MONOTONIC_COARSE)).toBe(10 * TICK_NSEC + 7);
    p.sys.clockGettime(CLOCK_REALTIME_COARSE, tp);
    expect(timespec(tp)).toEqual([2_000_000_000n, 5n]);
    m.advanceClock(TICK_NSEC);
    p.sys.clockGettime(CLOCK_REALTIME_COARSE, tp);
    expect(timespec(tp)).toEqual([2_000_000_000n, BigInt(TICK_NSEC - 7 + 5)]);
    // The monotonic clocks do not move.
    expect(p.sys.clockGettime(CLOCK_MONOTONIC)).toBe(11 * TICK_NSEC + 7);
    for (const c of [CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_BOOTTIME, CLOCK_TAI, CLOCK_REALTIME_COARSE])
      expect(p.sys.clockSettime(c, 1, 0), `clock ${c}`).toBe(-EINVAL);
    // Bad timespecs, a time past TIME_SETTOD_SEC_MAX, a time before the time since boot: -EINVAL.
    expect(p.sys.clockSettime(CLOCK_REALTIME, 1, 1_000_000_000)).toBe(-EINVAL);
    expect(p.sys.clockSettime(CLOCK_REALTIME, -1, 0)).toBe(-EINVAL);
    expect(p.sys.clockSettime(CLOCK_REALTIME, 8_277_292_037, 0)).toBe(-EINVAL);
    expect(p.sys.clockSettime(CLOCK_REALTIME, 0, 44_000_000)).toBe(-EINVAL);
    expect(p.sys.clockSettime(CLOCK_REALTIME, 0, 44_000_007)).toBe(0);
    // Without CAP_SYS_TIME: -EPERM, after the timespec checks; a child inherits the lack.
    p.task.capSysTime = false;
    expect(p.sys.clockSettime(CLOCK_REALTIME, 5, 0)).toBe(-EPERM);
    expect(p.sys.clockSettime(CLOCK_REALTIME, 5, -1)).toBe(-EINVAL);
    expect(() => p.libc.clockSettime(CLOCK_REALTIME, 5, 0)).toThrow(ErrnoError);
    const child = m.process(p.sys.fork())!;
    expect(child.sys.clockSettime(CLOCK_REALTIME, 5, 0)).toBe(-EPERM);
    m.checkInvariants();
  });

  it("clock_getres: 1 ns for the high-resolution clocks, a tick for the coarse ones, -EINVAL otherwise", async () => {
    const m = await Machine.create({ ramBytes: RAM });
    const p = m.spawn();
    for (const c of [CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_BOOTTIME, CLOCK_TAI])
      expect(p.sys.clockGetres(c), `clock ${c}`).toBe(1);
    for (const c of [CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE])
      expect(p.sys.clockGetres(c)).toBe(TICK_NSEC);
    const res = new Uint8Array(16);
    expect(p.sys.clockGetres(CLOCK_MONOTONIC_COARSE, res)).toBe(0);
    expect(timespec(res)).toEqual([0n, 4_000_000n]);
    for (const c of [CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM, 10, 12, makeProcessCpuclock(0, 3)])
      expect(p.sys.clockGetres(c), `clock ${c}`).toBe(-EINVAL);
    expect(p.sys.call(SYS_clock_getres, CLOCK_MONOTONIC, null)).toBe(1);
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

  it("TIMER_ABSTIME on CLOCK_REALTIME sleeps until the wall clock reads that time", async () => {
    const m = await Machine.create({ ramBytes: RAM, bootTime: 1000 });
    const p = m.spawn();
    expect(p.sys.clockNanosleep(CLOCK_REALTIME, TIMER_ABSTIME, 1002, 500)).toBe(0);
    expect(m.clockNs).toBe(2_000_000_500 + TIMER_SLACK_NS);
    // The wall clock set forward by an hour: the same kind of sleep is an hour shorter on the clock.
    expect(p.sys.clockSettime(CLOCK_REALTIME, 4600, 0)).toBe(0);
    const t = m.clockNs;
    expect(p.sys.clockNanosleep(CLOCK_TAI, TIMER_ABSTIME, 4601, 0)).toBe(0);
    expect(m.clockNs).toBe(t + 1_000_000_000 + TIMER_SLACK_NS);
    // A wall-clock time already past returns at once.
    expect(p.sys.clockNanosleep(CLOCK_REALTIME, TIMER_ABSTIME, 1002, 0)).toBe(0);
    expect(m.clockNs).toBe(t + 1_000_000_000 + TIMER_SLACK_NS);
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
    for (const c of [10, 12, 1000]) expect(p.sys.clockNanosleep(c, 0, 0, 1)).toBe(-EINVAL);
    // A dynamic (fd) clock id: clock_posix_dynamic has no nsleep.
    expect(p.sys.clockNanosleep(makeProcessCpuclock(0, 3), 0, 0, 1)).toBe(-EOPNOTSUPP);
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
