// timer_list flags and hrtimer modes, as a one-CPU virtual machine can tell them apart
// (internal/timer.ts): TIMER_DEFERRABLE does not wake the idle CPU, the other flags are kept,
// unknown bits WARN; HRTIMER_MODE_SOFT runs after the hard timers of its instant; setup and start
// disagreeing on SOFT WARN once; an unknown hrtimer clock WARNs and is CLOCK_MONOTONIC.
import { describe, expect, it } from "vitest";
import {
  CLOCK_MONOTONIC,
  CLOCK_REALTIME,
  CLOCK_TAI,
  HRTIMER_MODE_ABS,
  HRTIMER_MODE_ABS_SOFT,
  HRTIMER_MODE_REL,
  HRTIMER_MODE_REL_PINNED_HARD,
  HRTIMER_MODE_REL_SOFT,
  HRTIMER_NORESTART,
  hrtimerSetup,
  hrtimerStart,
  INITIAL_JIFFIES,
  jiffies,
  Machine,
  modTimer,
  TICK_NSEC,
  TIMER_DEFERRABLE,
  TIMER_IRQSAFE,
  TIMER_PINNED,
  timerSetup,
} from "./index";

const RAM = 16 * 1024 * 1024;
const boot = () => Machine.create({ ramBytes: RAM });
const warnings = (m: Machine) => m.dmesg().filter((l) => l.startsWith("WARNING:"));

describe("timer_list flags", () => {
  it("unknown bits: WARN_ON_ONCE in do_init_timer and dropped; PINNED and IRQSAFE kept and run on time", async () => {
    const m = await boot();
    const ran: number[] = [];
    const t = m.withKernel(() =>
      timerSetup({}, () => ran.push(jiffies() - INITIAL_JIFFIES), 0x3 | TIMER_PINNED),
    );
    expect(t.flags).toBe(TIMER_PINNED);
    expect(warnings(m)).toEqual(["WARNING: CPU: 0 PID: 0 at do_init_timer"]);
    const u = m.withKernel(() => timerSetup({}, () => ran.push(-1), 0x40000000 | TIMER_IRQSAFE));
    expect(u.flags).toBe(TIMER_IRQSAFE);
    expect(warnings(m).length).toBe(1); // once
    m.withKernel(() => modTimer(t, jiffies() + 3));
    m.advanceClock(10 * TICK_NSEC);
    expect(ran).toEqual([4]);
  });

  it("TIMER_DEFERRABLE: an idle CPU does not wake for it; another timer's tick or a kernel entry runs it", async () => {
    const m = await boot();
    const p = m.spawn();
    const ran: string[] = [];
    const j0 = m.withKernel(() => jiffies());
    const d = m.withKernel(() =>
      timerSetup(
        {},
        function lazy() {
          ran.push(`lazy@${jiffies() - j0}`);
        },
        TIMER_DEFERRABLE,
      ),
    );
    const n = m.withKernel(() =>
      timerSetup({}, function busy() {
        ran.push(`busy@${jiffies() - j0}`);
      }),
    );
    m.withKernel(() => modTimer(d, j0 + 5));
    // Only a deferrable timer pending: nothing to wake for.
    expect(m.nextClockDeadline()).toBeNull();
    m.advanceClock(50 * TICK_NSEC);
    expect(ran).toEqual([]);
    // A non-deferrable timer's tick runs every due timer, the deferrable one included.
    m.withKernel(() => modTimer(n, jiffies() + 10));
    const events = m.advanceClock(20 * TICK_NSEC);
    expect(ran).toEqual(["busy@61", "lazy@61"]);
    expect(events.map((e) => (e.kind === "timer" ? e.name : e.kind))).toEqual([
      "kernel: busy",
      "kernel: lazy",
    ]);
    // A process entering the kernel: its CPU ticks at the next jiffy, which runs a deferrable timer due by then.
    m.withKernel(() => modTimer(d, jiffies() + 1));
    m.advanceClock(30 * TICK_NSEC);
    expect(ran.length).toBe(2);
    p.sys.clockGettime(CLOCK_MONOTONIC);
    m.advanceClock(30 * TICK_NSEC);
    expect(ran).toEqual(["busy@61", "lazy@61", "lazy@101"]);
    // A process that sleeps idles the CPU: a deferrable timer due during the sleep waits.
    m.withKernel(() => modTimer(d, jiffies() + 2));
    p.sys.nanosleep(0, 100 * TICK_NSEC);
    expect(ran.length).toBe(3);
    // A plain timer armed the same way runs on time.
    m.withKernel(() => modTimer(n, jiffies() + 2));
    m.advanceClock(10 * TICK_NSEC);
    expect(ran.slice(3)).toEqual(["busy@233", "lazy@233"]);
  });
});

describe("hrtimer modes", () => {
  it("HRTIMER_MODE_SOFT runs after the hard hrtimers of its instant, under its own name", async () => {
    const m = await boot();
    const ran: string[] = [];
    const fn = (name: string) =>
      ({
        [name]: () => {
          ran.push(name);
          return HRTIMER_NORESTART;
        },
      })[name]!;
    const soft = m.withKernel(() => hrtimerSetup({}, fn("soft"), CLOCK_MONOTONIC, HRTIMER_MODE_REL_SOFT));
    const hard = m.withKernel(() =>
      hrtimerSetup({}, fn("hard"), CLOCK_MONOTONIC, HRTIMER_MODE_REL_PINNED_HARD),
    );
    // The soft one armed first for the same instant: the hard one still runs before it.
    m.withKernel(() => hrtimerStart(soft, 1000, HRTIMER_MODE_REL_SOFT));
    m.withKernel(() => hrtimerStart(hard, 1000, HRTIMER_MODE_REL));
    const events = m.advanceClock(5000);
    expect(ran).toEqual(["hard", "soft"]);
    expect(events).toEqual([
      { ns: 1000, kind: "timer", name: "kernel: hard" },
      { ns: 1000, kind: "timer", name: "kernel: soft" },
    ]);
    // Alone, it runs at its time.
    m.withKernel(() => hrtimerStart(soft, 7000, HRTIMER_MODE_ABS_SOFT));
    expect(m.advanceClock(5000)).toEqual([{ ns: 7000, kind: "timer", name: "kernel: soft" }]);
    expect(warnings(m)).toEqual([]);
  });

  it("start and setup disagreeing on SOFT WARN once; an unknown clock WARNs and is CLOCK_MONOTONIC", async () => {
    const m = await boot();
    let n = 0;
    const tick = () => {
      n++;
      return HRTIMER_NORESTART;
    };
    const h = m.withKernel(() => hrtimerSetup({}, tick, CLOCK_MONOTONIC, HRTIMER_MODE_ABS));
    m.withKernel(() => hrtimerStart(h, 100, HRTIMER_MODE_ABS_SOFT));
    m.withKernel(() => hrtimerStart(h, 100, HRTIMER_MODE_ABS_SOFT));
    expect(warnings(m)).toEqual(["WARNING: CPU: 0 PID: 0 at hrtimer_start_range_ns"]);
    m.advanceClock(200);
    expect(n).toBe(1);
    for (const c of [CLOCK_REALTIME, CLOCK_TAI])
      m.withKernel(() => hrtimerSetup({}, tick, c, HRTIMER_MODE_ABS));
    expect(warnings(m).length).toBe(1);
    const bad = m.withKernel(() => hrtimerSetup({}, tick, 5, HRTIMER_MODE_REL));
    expect(m.dmesg()).toContain("Invalid clockid 5. Using MONOTONIC");
    m.withKernel(() => hrtimerStart(bad, 50, HRTIMER_MODE_REL));
    m.advanceClock(100);
    expect(n).toBe(2);
  });
});
