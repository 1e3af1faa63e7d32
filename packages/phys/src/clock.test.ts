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
