// The Chrome trace of a deterministic run puts the machine's clock on its own track: pid 0 events
// (timers and interrupts, src/report.ts chromeTrace) get tid 0, a thread name and category "clock".
import { describe, expect, it } from "vitest";
import { chromeTrace } from "./report";
import type { EraRun } from "./run";

const run = (events: EraRun["events"]): EraRun => ({
  era: "modern",
  processes: [],
  console: "",
  dmesg: [],
  iomem: "",
  meminfo: "",
  events,
  ms: 1,
});

describe("chromeTrace and the clock", () => {
  it("gives timer and irq events a clock track; syscalls keep theirs", () => {
    const t = chromeTrace([
      run([
        { pid: 1, op: "nanosleep", args: [0, 1000], ret: 0 },
        { pid: 0, op: "timer", args: [16666667, "fl-fb: vblank"], ret: 0 },
        { pid: 0, op: "irq", args: [16666667, 11], ret: 1 },
        { pid: 1, op: "wake", args: [16667667], ret: 0 },
      ]),
    ]) as {
      traceEvents: Array<{ ph: string; name: string; tid?: number; cat?: string; args?: { name?: string } }>;
    };
    const x = t.traceEvents.filter((e) => e.ph === "X");
    expect(x.map((e) => [e.name, e.tid, e.cat])).toEqual([
      ["nanosleep", 1, "syscall"],
      ["timer", 0, "clock"],
      ["irq", 0, "clock"],
      ["wake", 1, "syscall"],
    ]);
    expect(t.traceEvents.find((e) => e.ph === "M" && e.tid === 0)?.args?.name).toBe(
      "clock: timers and interrupts",
    );
    // A run without clock events has no clock track.
    const plain = chromeTrace([run([{ pid: 1, op: "getpid", args: [], ret: 1 }])]) as typeof t;
    expect(plain.traceEvents.some((e) => e.ph === "M" && e.tid === 0)).toBe(false);
  });
});
