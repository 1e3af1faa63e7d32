// Drivers' time: jiffies, the timer wheel's expiry rounding (kernel/time/timer.c calc_wheel_index),
// the softirq's order, hrtimers, a throwing timer function as an oops, timers left at rmmod, and
// Machine.advanceClock's events.
import { definePciDevice, pciFramebuffer } from "@faultline/devices";
import type { VirtualTimer } from "@faultline/phys";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import {
  addTimer,
  CLOCK_MONOTONIC,
  defineDriver,
  delTimer,
  HRTIMER_MODE_REL,
  HRTIMER_NORESTART,
  HRTIMER_RESTART,
  HZ,
  hrtimerActive,
  hrtimerCancel,
  hrtimerForwardNow,
  hrtimerSetup,
  hrtimerStart,
  INITIAL_JIFFIES,
  jiffies,
  jiffiesToMsecs,
  ktimeGet,
  MAX_JIFFY_OFFSET,
  Machine,
  modTimer,
  msecsToJiffies,
  TICK_NSEC,
  type TimerList,
  timeAfter,
  timerDelete,
  timerPending,
  timerSetup,
  timerShutdownSync,
  usecsToJiffies,
} from "./index";
import { wheelBucket } from "./internal/timer";

const RAM = 16 * 1024 * 1024;
const boot = () => Machine.create({ ramBytes: RAM });
/** The tick (ns since boot) at which jiffy `j` begins. */
const tickNs = (j: number) => (j - INITIAL_JIFFIES) * TICK_NSEC;

describe("jiffies", () => {
  it("start 300 s before the 32-bit wrap and count HZ per second of virtual time", async () => {
    const m = await boot();
    expect(HZ).toBe(250);
    expect(m.withKernel(jiffies)).toBe(2 ** 32 - 75_000);
    m.advanceClock(1_000_000_000 - 1);
    expect(m.withKernel(jiffies)).toBe(INITIAL_JIFFIES + HZ - 1);
    m.advanceClock(1);
    expect(m.withKernel(jiffies)).toBe(INITIAL_JIFFIES + HZ);
    expect(m.withKernel(ktimeGet)).toBe(1_000_000_000);
    expect(m.clockNs).toBe(1_000_000_000);
  });

  it("convert as <linux/jiffies.h> does for HZ 250: rounded up, negative ints saturate", () => {
    expect(msecsToJiffies(0)).toBe(0);
    expect(msecsToJiffies(1)).toBe(1);
    expect(msecsToJiffies(4)).toBe(1);
    expect(msecsToJiffies(5)).toBe(2);
    expect(msecsToJiffies(1000)).toBe(250);
    expect(msecsToJiffies(-1)).toBe(MAX_JIFFY_OFFSET);
    expect(usecsToJiffies(4001)).toBe(2);
    expect(jiffiesToMsecs(250)).toBe(1000);
    expect(timeAfter(INITIAL_JIFFIES + 1, INITIAL_JIFFIES)).toBe(true);
    expect(timeAfter(INITIAL_JIFFIES, INITIAL_JIFFIES)).toBe(false);
  });
});

describe("timer_list on the wheel", () => {
  it("fires one tick after the jiffy it asks for at level 0, rounded up to 8 jiffies at level 1", async () => {
    const m = await boot();
    const fired: Array<[string, number]> = [];
    const near = m.withKernel(() => timerSetup({}, () => fired.push(["near", m.clockNs])));
    const far = m.withKernel(() => timerSetup({}, () => fired.push(["far", m.clockNs])));
    const j0 = INITIAL_JIFFIES;
    expect(m.withKernel(() => modTimer(near, j0 + 1))).toBe(0);
    // Pending, same expiry: mod_timer's fast path says 1 and keeps its place.
    expect(m.withKernel(() => modTimer(near, j0 + 1))).toBe(1);
    // delta 100 ≥ LVL_START(1) = 63: level 1, granularity 8: (j0 + 100) >> 3, + 1, << 3 = j0 + 104.
    expect(m.withKernel(() => modTimer(far, j0 + 100))).toBe(0);
    expect(wheelBucket(j0 + 100, j0)).toEqual({ bucket: j0 + 104, level: 1 });
    m.advanceClock(tickNs(j0 + 2) - 1);
    expect(fired).toEqual([]);
    m.advanceClock(1);
    expect(fired).toEqual([["near", tickNs(j0 + 2)]]);
    expect(m.withKernel(() => timerPending(near))).toBe(false);
    m.advanceClock(tickNs(j0 + 104) - m.clockNs);
    expect(fired.at(-1)).toEqual(["far", tickNs(j0 + 104)]);
    m.checkInvariants();
  });

  it("runs a past expiry at the next tick; delete and shutdown stop it; add_timer on a pending timer is a BUG", async () => {
    const m = await boot();
    m.advanceClock(10 * TICK_NSEC + 5);
    const j = m.withKernel(jiffies);
    let n = 0;
    const t = m.withKernel(() => timerSetup({}, () => n++));
    m.withKernel(() => modTimer(t, j - 5));
    expect(m.nextClockDeadline()).toBe(tickNs(j + 1));
    m.advanceClock(TICK_NSEC);
    expect(n).toBe(1);
    m.withKernel(() => modTimer(t, j + 3));
    expect(m.withKernel(() => delTimer(t))).toBe(1);
    expect(m.withKernel(() => timerDelete(t))).toBe(0);
    m.advanceClock(100 * TICK_NSEC);
    expect(n).toBe(1);
    t.expires = m.withKernel(jiffies) + 1;
    m.withKernel(() => addTimer(t));
    expect(() => m.withKernel(() => addTimer(t))).toThrow(/add_timer on a pending timer/);
    expect(m.withKernel(() => timerShutdownSync(t))).toBe(1);
    expect(m.withKernel(() => modTimer(t, m.withKernel(jiffies) + 1))).toBe(0);
    m.advanceClock(100 * TICK_NSEC);
    expect(n).toBe(1);
  });

  it("expires a tick's timers highest level first, the last queued first; re-arming from the function goes one tick further", async () => {
    const m = await boot();
    const j0 = INITIAL_JIFFIES;
    const order: string[] = [];
    const mk = (name: string) => m.withKernel(() => timerSetup({}, () => order.push(name)));
    const a = mk("a");
    const b = mk("b");
    const c = mk("c");
    // c: level 1 bucket j0 + 72 (delta 70); a, b: level 0 bucket j0 + 72 once the clock is at j0 + 20.
    m.withKernel(() => modTimer(c, j0 + 70));
    m.advanceClock(tickNs(j0 + 20));
    m.withKernel(() => modTimer(a, j0 + 71));
    m.withKernel(() => modTimer(b, j0 + 71));
    m.advanceClock(tickNs(j0 + 72) - m.clockNs);
    expect(order).toEqual(["c", "b", "a"]);
    // A periodic timer asking for jiffies + 1 from its own function: base->clk is jiffies + 1 there,
    // so each period is two ticks.
    const ticks: number[] = [];
    const p: TimerList = m.withKernel(() =>
      timerSetup({}, function periodic() {
        ticks.push(jiffies());
        modTimer(p, jiffies() + 1);
      }),
    );
    m.withKernel(() => modTimer(p, jiffies() + 1));
    m.advanceClock(10 * TICK_NSEC);
    const j = j0 + 72;
    expect(ticks).toEqual([j + 2, j + 4, j + 6, j + 8, j + 10]);
  });

  it("never fires early, fires once per arming, within its level's granularity (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({
              op: fc.constant("mod" as const),
              t: fc.nat(3),
              delta: fc.integer({ min: -3, max: 5000 }),
            }),
            fc.record({ op: fc.constant("del" as const), t: fc.nat(3) }),
            fc.record({ op: fc.constant("adv" as const), ns: fc.nat(40 * TICK_NSEC) }),
          ),
          { maxLength: 40 },
        ),
        async (ops) => {
          const m = await boot();
          // The reference: which timers are pending, and for which expiry.
          const want = new Map<number, number>();
          const fires: Array<{ t: number; at: number; expires: number }> = [];
          const ts = [0, 1, 2, 3].map((i) =>
            m.withKernel(() =>
              timerSetup({}, (tl) => fires.push({ t: i, at: jiffies(), expires: tl.expires })),
            ),
          );
          const check = () => {
            for (const f of fires.splice(0)) {
              expect(want.get(f.t)).toBe(f.expires);
              want.delete(f.t);
              expect(f.at).toBeGreaterThan(f.expires - 1);
              // Level granularity (8^lvl) plus the one jiffy calc_index adds; at most 1 + 512 at delta < 5000.
              expect(f.at - f.expires).toBeLessThanOrEqual(513);
            }
          };
          for (const o of ops) {
            if (o.op === "mod") {
              const expires = m.withKernel(jiffies) + o.delta;
              const r = m.withKernel(() => modTimer(ts[o.t]!, expires));
              const same = want.get(o.t) === expires;
              expect(r).toBe(want.has(o.t) ? 1 : 0);
              if (!same) want.set(o.t, expires);
            } else if (o.op === "del") {
              expect(m.withKernel(() => timerDelete(ts[o.t]!))).toBe(want.has(o.t) ? 1 : 0);
              want.delete(o.t);
            } else {
              m.advanceClock(o.ns);
              check();
            }
            for (let i = 0; i < 4; i++) expect(m.withKernel(() => timerPending(ts[i]!))).toBe(want.has(i));
          }
          m.advanceClock(600 * TICK_NSEC + 5000 * TICK_NSEC);
          check();
          expect(want.size).toBe(0);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("a timer function that throws is an oops in interrupt context: nobody is killed, the tick's other timers run", async () => {
    let t: TimerList | null = null;
    let ran = 0;
    const drv = defineDriver({
      name: "ticker",
      apiVersion: 1,
      init() {
        t = timerSetup({}, function tickerFn() {
          throw new Error("tick exploded");
        });
        const other = timerSetup({}, () => ran++);
        modTimer(t, jiffies() + 2);
        modTimer(other, jiffies() + 2);
        return 0;
      },
    });
    const m = await Machine.create({ ramBytes: RAM, drivers: [drv] });
    const p = m.spawn();
    const events = m.advanceClock(10 * TICK_NSEC);
    expect(ran).toBe(1);
    expect(m.dmesg().join("\n")).toContain("BUG: driver ticker oops in timer tickerFn: tick exploded");
    expect(m.oopses()).toMatchObject([{ driver: "ticker", callback: "timer tickerFn", pid: null }]);
    expect(p.state).toBe("running");
    // Same bucket, same level: the last queued runs first.
    expect(events.map((e) => e.kind === "timer" && e.name)).toEqual(["ticker: timer", "ticker: tickerFn"]);
    expect(m.withKernel(() => timerPending(t!))).toBe(false);
    m.checkInvariants();
  });

  it("rmmod deletes the timers a module left pending, with a warning", async () => {
    let fired = 0;
    const drv = defineDriver({
      name: "leaky",
      apiVersion: 1,
      init() {
        modTimer(
          timerSetup({}, function leakyFn() {
            fired++;
          }),
          jiffies() + 50,
        );
        return 0;
      },
    });
    const m = await Machine.create({ ramBytes: RAM, drivers: [drv] });
    expect(m.unloadDriver("leaky")).toBe(0);
    expect(m.dmesg().join("\n")).toContain("leaky: unloaded with timer leakyFn pending: deleted");
    m.advanceClock(100 * TICK_NSEC);
    expect(fired).toBe(0);
    expect(m.nextClockDeadline()).toBeNull();
  });
});

describe("hrtimers", () => {
  it("fire at their ns; HRTIMER_RESTART after hrtimerForwardNow is periodic; cancel says whether it was active", async () => {
    const m = await boot();
    const at: number[] = [];
    const h = m.withKernel(() =>
      hrtimerSetup(
        {},
        (t) => {
          at.push(ktimeGet());
          return at.length < 3 && hrtimerForwardNow(t, 1_500_000) === 1 ? HRTIMER_RESTART : HRTIMER_NORESTART;
        },
        CLOCK_MONOTONIC,
        HRTIMER_MODE_REL,
      ),
    );
    m.withKernel(() => hrtimerStart(h, 1_000_000, HRTIMER_MODE_REL));
    expect(hrtimerActive(h)).toBe(true);
    m.advanceClock(10_000_000);
    expect(at).toEqual([1_000_000, 2_500_000, 4_000_000]);
    expect(hrtimerActive(h)).toBe(false);
    expect(hrtimerCancel(h)).toBe(0);
    m.withKernel(() => hrtimerStart(h, 5, HRTIMER_MODE_REL));
    expect(hrtimerCancel(h)).toBe(1);
    m.advanceClock(10);
    expect(at.length).toBe(3);
  });

  it("hold a clock timer only while active: many set up, started, fired, restarted and cancelled make the clock as many as were active at once", async () => {
    const m = await boot();
    const made = vi.spyOn(m.phys.clock, "newTimer");
    const ran: number[] = [];
    for (let i = 0; i < 30; i++) {
      const h = m.withKernel(() =>
        hrtimerSetup(
          {},
          function once() {
            ran.push(i);
            return HRTIMER_NORESTART;
          },
          CLOCK_MONOTONIC,
          HRTIMER_MODE_REL,
        ),
      );
      // Set up again: still nothing on the clock until started.
      if (i % 5 === 0) m.withKernel(() => hrtimerSetup(h, h.function!, CLOCK_MONOTONIC, HRTIMER_MODE_REL));
      m.withKernel(() => hrtimerStart(h, 1000 + i, HRTIMER_MODE_REL));
      const other = m.withKernel(() => hrtimerSetup({}, () => HRTIMER_NORESTART, CLOCK_MONOTONIC, 0));
      m.withKernel(() => hrtimerStart(other, 10, HRTIMER_MODE_REL));
      if (i % 3 === 0) expect(hrtimerCancel(other)).toBe(1);
      m.advanceClock(2000);
    }
    expect(ran).toEqual([...Array(30).keys()]);
    expect(made).toHaveBeenCalledTimes(2);
  });

  it("a restart without a new expiry is stopped with a warning instead of spinning forever", async () => {
    const m = await boot();
    let n = 0;
    const h = m.withKernel(() =>
      hrtimerSetup(
        {},
        function stuck() {
          n++;
          return HRTIMER_RESTART;
        },
        CLOCK_MONOTONIC,
        HRTIMER_MODE_REL,
      ),
    );
    m.withKernel(() => hrtimerStart(h, 100, HRTIMER_MODE_REL));
    m.advanceClock(1000);
    expect(n).toBe(1);
    expect(m.dmesg().join("\n")).toContain(
      "hrtimer: kernel: stuck restarted without forwarding its expiry: stopped",
    );
  });
});

describe("the machine's clock", () => {
  it("advanceClock reports device timers and the interrupts they raise; a device timer that throws is logged and stopped", async () => {
    const fb = pciFramebuffer({ refreshHz: 100 });
    let bad: VirtualTimer | null = null;
    const broken = definePciDevice({
      name: "broken",
      vendorId: 0x1b36,
      deviceId: 0x0fff,
      classCode: 0xff0000,
      slot: 5,
      state: { name: "broken", version: 1, fields: {} },
      bars: [],
      realize(_s, ctx) {
        bad = ctx.newTimer(() => {
          throw new Error("model bug");
        }, "watchdog");
      },
    });
    const m = await Machine.create({ ramBytes: RAM, devices: [fb, broken] });
    const events = m.advanceClock(25_000_000);
    // No driver: the vblank timer runs, no irq is delivered (no action on the line).
    expect(events).toEqual([
      { ns: 10_000_000, kind: "timer", name: "fl-fb: vblank" },
      { ns: 20_000_000, kind: "timer", name: "fl-fb: vblank" },
    ]);
    bad!.mod(m.clockNs + 1);
    const after = m.advanceClock(10_000_000);
    expect(m.dmesg().join("\n")).toContain(
      "broken: watchdog: timer callback threw: model bug; timer stopped",
    );
    expect(after.map((e) => e.kind === "timer" && e.name)).toEqual(["broken: watchdog", "fl-fb: vblank"]);
    expect(bad!.expires).toBeNull();
  });
});
