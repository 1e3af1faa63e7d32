// ScheduleClock on a fake clock: what deterministic and free runs do with virtual time (the events it
// records, the idle jump to the first wake-up, wall-time following and the sleeper bookkeeping).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { SimClock, SimClockEvent } from "../kernel-port";
import { IDLE_STEP_NS, ScheduleClock } from "./schedule-clock";

/** A clock with one periodic timer every `period` ns (name "tick"), raising irq 5. */
function fakeClock(period: number): SimClock & { fired: number } {
  let now = 0;
  let next = period;
  const c = {
    fired: 0,
    now: () => now,
    nextDeadline: () => next,
    advance(ns: number): SimClockEvent[] {
      const end = now + ns;
      const out: SimClockEvent[] = [];
      while (next <= end) {
        now = next;
        c.fired++;
        out.push({ ns: now, kind: "timer", name: "tick" }, { ns: now, kind: "irq", irq: 5, count: c.fired });
        next += period;
      }
      now = end;
      return out;
    },
  };
  return c;
}

describe("ScheduleClock", () => {
  it("deterministic: each entry costs nsPerEntry; the clock's events are recorded in order", () => {
    const clock = fakeClock(2500);
    const rec: unknown[] = [];
    const t = new ScheduleClock(clock, (op, args, ret) => rec.push([op, ...args, ret]), 1000);
    t.afterEntry();
    t.afterEntry();
    expect(rec).toEqual([]);
    t.afterEntry();
    expect(t.now).toBe(3000);
    expect(rec).toEqual([
      ["timer", 2500, "tick", 0],
      ["irq", 2500, 5, 1],
    ]);
  });

  it("deterministic: nobody ready, someone asleep: the clock jumps to the earliest wake-up", () => {
    const clock = fakeClock(1e9);
    const t = new ScheduleClock(clock, () => {}, 1000);
    expect(t.idle()).toBe(false);
    t.park(3, 50_000);
    t.park(4, 20_000);
    expect(t.sleeping(3) && t.sleeping(4)).toBe(true);
    expect(t.due(4)).toBe(false);
    expect(t.idle()).toBe(true);
    expect(t.now).toBe(20_000);
    expect(t.due(4)).toBe(true);
    expect(t.due(3)).toBe(false);
    t.forget(4);
    expect(t.idle()).toBe(true);
    expect(t.now).toBe(50_000);
    t.forget(3);
    expect(t.sleeping(3)).toBe(false);
    // A long sleep is reached in steps of at most IDLE_STEP_NS.
    t.park(5, 50_000 + 2.5 * IDLE_STEP_NS);
    expect(t.idle()).toBe(true);
    expect(t.now).toBe(50_000 + IDLE_STEP_NS);
    expect(t.due(5)).toBe(false);
    t.idle();
    t.idle();
    expect(t.due(5)).toBe(true);
    t.forget(5);
  });

  it("free: follows wall time from startWall, wakes each sleeper once its time has passed, bounds the idle wait", () => {
    const clock = fakeClock(16_000_000);
    const t = new ScheduleClock(clock, () => {}, 1000);
    t.startWall(100);
    t.park(7, 5_000_000);
    expect(t.msToNext(50)).toBe(5);
    expect(t.syncWall(104)).toEqual([]);
    expect(t.now).toBe(4_000_000);
    expect(t.syncWall(106)).toEqual([7]);
    expect(t.sleeping(7)).toBe(false);
    expect(t.msToNext(50)).toBe(10);
    expect(t.syncWall(130)).toEqual([]);
    expect(clock.fired).toBe(1);
  });

  it("property: never moves backwards, wakes nobody early, and every sleeper is woken by idle jumps", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1e7 }), { minLength: 1, maxLength: 8 }), (waits) => {
        const t = new ScheduleClock(fakeClock(3_000_000), () => {}, 1000);
        for (const [pid, w] of waits.entries()) t.park(pid, w);
        let last = t.now;
        const woken: number[] = [];
        while (t.idle()) {
          expect(t.now).toBeGreaterThanOrEqual(last);
          last = t.now;
          for (let pid = 0; pid < waits.length; pid++) {
            if (t.sleeping(pid) && t.due(pid)) {
              expect(t.now).toBeGreaterThanOrEqual(waits[pid]!);
              t.forget(pid);
              woken.push(pid);
            }
          }
        }
        expect(woken.sort((a, b) => a - b)).toEqual(waits.map((_, i) => i));
      }),
    );
  });
});
