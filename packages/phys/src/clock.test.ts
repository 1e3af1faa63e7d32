import { describe, expect, it } from "vitest";
import { NANOSECONDS_PER_SECOND, VirtualClock } from "./clock";

describe("VirtualClock", () => {
  it("fires timers at their own instants, in arming order on ties, periodic ones again", () => {
    const c = new VirtualClock();
    const log: string[] = [];
    const period = Math.round(NANOSECONDS_PER_SECOND / 60);
    const vblank = c.newTimer(() => {
      log.push(`vblank@${c.now}`);
      vblank.mod(c.now + period);
    });
    const a = c.newTimer(() => log.push(`a@${c.now}`));
    const b = c.newTimer(() => log.push(`b@${c.now}`));
    vblank.mod(period);
    b.mod(100);
    a.mod(100);
    expect(c.nextDeadline()).toBe(100);
    expect(c.advance(2 * period + 1)).toBe(4);
    expect(log).toEqual(["b@100", "a@100", `vblank@${period}`, `vblank@${2 * period}`]);
    expect(c.now).toBe(2 * period + 1);
    vblank.del();
    expect(vblank.expires).toBeNull();
    expect(c.advance(NANOSECONDS_PER_SECOND)).toBe(0);
    expect(() => c.advance(-1)).toThrow(RangeError);
  });
});

describe("VirtualClock hooks", () => {
  it("tells onFire of each expiry and onError of a callback that threw, and goes on", () => {
    const c = new VirtualClock();
    const seen: string[] = [];
    c.onFire = (name, ns) => seen.push(`${name}@${ns}`);
    c.onError = (name, e) => seen.push(`${name} threw ${(e as Error).message}`);
    const bad = c.newTimer(() => {
      throw new Error("boom");
    }, "bad");
    const good = c.newTimer(() => seen.push("good ran"), "good");
    bad.mod(10);
    good.mod(20);
    expect(c.advance(30)).toBe(2);
    expect(seen).toEqual(["bad@10", "bad threw boom", "good@20", "good ran"]);
    expect(c.now).toBe(30);
    // Without onError the throw propagates (and time stops at the failing timer).
    c.onError = null;
    bad.mod(40);
    expect(() => c.advance(100)).toThrow("boom");
    expect(c.now).toBe(40);
  });
});

describe("VirtualClock state (machine snapshots)", () => {
  /** A clock with timers "a", "b", "a" (two of one name), as a machine makes them at boot. */
  const make = (log: string[]) => {
    const c = new VirtualClock();
    const t = [c.newTimer(() => log.push("a0"), "a"), c.newTimer(() => log.push("b"), "b")];
    t.push(c.newTimer(() => log.push("a1"), "a"));
    return { c, t };
  };

  it("restores the time and the armed timers by name and rank: they fire as on the original", () => {
    const la: string[] = [];
    const { c: a, t } = make(la);
    a.advance(5);
    t[2]!.mod(20);
    t[0]!.mod(20); // same instant: armed later, fires later
    t[1]!.mod(30);
    const s = a.saveState();
    expect(s).toEqual({
      now: 5,
      seq: 3,
      armed: [
        ["a", 1, 20, 0],
        ["a", 0, 20, 1],
        ["b", 0, 30, 2],
      ],
    });
    const lb: string[] = [];
    const { c: b, t: u } = make(lb);
    u[1]!.mod(2); // armed on the fresh clock, not in the state: disarmed by the restore
    b.restoreState(structuredClone(s));
    expect(b.now).toBe(5);
    expect(b.nextDeadline()).toBe(20);
    a.advance(100);
    b.advance(100);
    expect(lb).toEqual(la);
    expect(la).toEqual(["a1", "a0", "b"]);
    expect(b.saveState()).toEqual(a.saveState());
  });

  it("refuses a timer nothing made, or a bad time, and changes nothing then", () => {
    const { c } = make([]);
    c.newTimer(() => {}, "x").mod(9);
    const before = c.saveState();
    expect(() => c.restoreState({ now: 1, seq: 0, armed: [["nosuch", 0, 5, 0]] })).toThrow(
      /timer "nosuch" #0 was armed in the snapshot and nothing on this machine made it/,
    );
    expect(() => c.restoreState({ now: 1, seq: 0, armed: [["a", 2, 5, 0]] })).toThrow(/"a" #2/);
    expect(() => c.restoreState({ now: -1, seq: 0, armed: [] })).toThrow(/time -1/);
    expect(() => c.restoreState({ now: 10, seq: 0, armed: [["a", 0, 5, 0]] })).toThrow(/expires before/);
    expect(c.saveState()).toEqual(before);
  });
});
