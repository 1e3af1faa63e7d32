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
