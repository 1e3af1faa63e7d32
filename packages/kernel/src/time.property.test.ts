// Property tests of the processes' clocks against small reference models: the wall clock
// (offs_real, settime, the coarse clocks' last update) and alarm(2) (its rounded old value and the
// SIGALRMs it delivers), over random sequences of clock advances and calls.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { timespec } from "./__fixtures__/test-helpers";
import {
  CLOCK_MONOTONIC_COARSE,
  CLOCK_REALTIME,
  CLOCK_REALTIME_COARSE,
  EINVAL,
  Machine,
  SIGALRM,
  TICK_NSEC,
} from "./index";

const RAM = 16 * 1024 * 1024;
const S = 1_000_000_000n;

const read = (b: Uint8Array): bigint => {
  const [sec, nsec] = timespec(b);
  return sec * S + nsec;
};

type Op =
  | { readonly kind: "advance"; readonly ns: number }
  | { readonly kind: "settime"; readonly sec: number; readonly nsec: number }
  | { readonly kind: "alarm"; readonly sec: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant("advance" as const),
    // Quarter seconds as well, so that an alarm is often left with exactly half a second.
    ns: fc.oneof(
      fc.integer({ min: 0, max: 3 * 1e9 }),
      fc.integer({ min: 0, max: 12 }).map((q) => q * 250_000_000),
    ),
  }),
  fc.record({
    kind: fc.constant("settime" as const),
    sec: fc.integer({ min: 0, max: 4_000_000_000 }),
    nsec: fc.integer({ min: -1, max: 1e9 }),
  }),
  fc.record({ kind: fc.constant("alarm" as const), sec: fc.integer({ min: 0, max: 4 }) }),
);

describe("processes' clocks against a reference model", () => {
  it("wall clock, coarse clocks and alarm(2) agree with the model after every step", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 2_000_000_000 }),
        fc.array(op, { maxLength: 25 }),
        async (boot, ops) => {
          const m = await Machine.create({ ramBytes: RAM, bootTime: boot });
          const p = m.spawn();
          let alarms = 0;
          p.sys.sigaction(SIGALRM, { handler: () => alarms++ });
          // The model: monotonic time, offs_real, the last settime, the alarm's expiry, SIGALRMs due.
          let mono = 0;
          let offs = BigInt(boot) * S;
          let setAt = 0;
          let alarmAt: number | null = null;
          let sent = 0;
          const tp = new Uint8Array(16);
          for (const o of ops) {
            if (o.kind === "advance") {
              mono += o.ns;
              m.advanceClock(o.ns);
              if (alarmAt !== null && alarmAt <= mono) {
                sent++;
                alarmAt = null;
              }
            } else if (o.kind === "settime") {
              const valid = o.nsec >= 0 && o.nsec < 1e9;
              const ns = BigInt(o.sec) * S + BigInt(o.nsec);
              const ok = valid && ns >= BigInt(mono);
              expect(p.sys.clockSettime(CLOCK_REALTIME, o.sec, o.nsec)).toBe(ok ? 0 : -EINVAL);
              if (ok) {
                offs = ns - BigInt(mono);
                setAt = mono;
              }
            } else {
              const left = alarmAt === null ? 0 : alarmAt - mono;
              const sec = Math.floor(left / 1e9);
              const want = (sec === 0 && left % 1e9 > 0) || left % 1e9 >= 5e8 ? sec + 1 : sec;
              expect(p.sys.alarm(o.sec)).toBe(want);
              alarmAt = o.sec === 0 ? null : mono + o.sec * 1e9;
            }
            expect(p.sys.clockGettime(CLOCK_REALTIME, tp)).toBe(0);
            expect(read(tp)).toBe(offs + BigInt(mono));
            const coarse = Math.max(Math.floor(mono / TICK_NSEC) * TICK_NSEC, setAt);
            expect(p.sys.clockGettime(CLOCK_MONOTONIC_COARSE)).toBe(coarse);
            p.sys.clockGettime(CLOCK_REALTIME_COARSE, tp);
            expect(read(tp)).toBe(offs + BigInt(coarse));
            // Each SIGALRM sent is caught by the time the process's next syscall returns.
            expect(alarms).toBe(sent);
          }
          m.checkInvariants();
        },
      ),
      { numRuns: 40 },
    );
  });
});
