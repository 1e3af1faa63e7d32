// Property test: random sequences of mmap/munmap/mremap/mprotect/madvise(DONTNEED)/fork/exit/load/
// store/page checks against a simple reference model (which pages are mapped, their protection, whether
// they are shared, and their bytes), with mm and allocator invariants after every step.
// test/fuzz.ts runs the same property for longer (`pnpm fuzz`).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Cmd, cmdArb, runSteps } from "../test/mm-model";

const RUNS = Number(process.env.FAULTLINE_PROPERTY_RUNS ?? 100);

describe("Mm against a page-level reference model", () => {
  it(`${RUNS} runs × 100 steps agree with the model`, () => {
    let steps = 0;
    fc.assert(
      fc.property(fc.array(cmdArb, { minLength: 100, maxLength: 100 }), (cmds: Cmd[]) => {
        steps += runSteps(cmds);
      }),
      { numRuns: RUNS },
    );
    // The budget is in executed steps (commands the model had to skip do not count).
    expect(steps).toBeGreaterThanOrEqual(RUNS * 90);
  }, 120_000);
});
