// The "Time" story of docs/write-a-pci-driver.md (test/time-story.ts): vblanks at 60 Hz from the
// device's timer, counted by the driver's interrupt handler; a driver timer on the wheel's rounding.
import { describe, expect, it } from "vitest";
import { main as clocks } from "./clocks-story";
import { main } from "./time-story";

describe("docs/write-a-pci-driver.md: Time", () => {
  it("counts 59 vblanks in the first second (the 60th is at 1.00000002 s), 66 after a 100 ms sleep", async () => {
    const r = await main();
    const period = Math.round(1e9 / 60);
    expect(r.firstEvents).toEqual([
      { ns: period, kind: "timer", name: "fl-fb: vblank" },
      { ns: period, kind: "irq", irq: 11, count: 1 },
      { ns: 2 * period, kind: "timer", name: "fl-fb: vblank" },
      { ns: 2 * period, kind: "irq", irq: 11, count: 2 },
    ]);
    expect(r.vblanksAfterOneSecond).toBe(59);
    // nanosleep: 100 ms plus the 50 µs default timer slack.
    expect(r.clockNs).toBe(1_100_050_000);
    expect(r.vblanksAfterSleep).toBe(66);
    expect(r.interrupts).toContain(" 11:         66   IO-APIC  11-fasteoi   fl_fb\n");
    // msecs_to_jiffies(250) is 63 jiffies; the wheel runs the timer at 64, 128, 192, 256.
    expect(r.beats).toEqual([64, 128, 192, 256]);
    r.machine.checkInvariants();
  });
});

describe("docs/write-a-pci-driver.md: Time, processes' clocks", () => {
  it("the wall clock from bootTime, an alarm's -EINTR with the time left, CPU time, a deferrable timer", async () => {
    const r = await clocks();
    expect(r.wallAtBoot).toEqual([1_767_225_600n, 0n]);
    expect(r.slept).toBe(-4); // -EINTR
    expect(r.left).toEqual([2n, 50_000n]); // 2 s and the 50 µs timer slack
    expect(r.caught).toEqual([1_000_000_000]);
    expect(r.ranDuringSleep).toBe(0);
    expect(r.cpuNs).toBe(5000);
    expect(r.ran).toEqual([251]); // the first tick after the entry at jiffy 250
    r.machine.checkInvariants();
  });
});
