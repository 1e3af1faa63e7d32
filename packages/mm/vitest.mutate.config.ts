// The tests Stryker runs against each mutant of the mm fault/COW/split/merge/pfn code (stryker.config.mjs):
// the test files of the chunk being mutated (FAULTLINE_MUTATE_TESTS, set by stryker.config.mjs), without
// the live-kernel comparisons (CC points nowhere), which need a compiler and take minutes.
// Self-contained (no import from outside the package): Stryker runs it in a copy of this folder.
import { defineProject } from "vitest/config";

const conditions = ["@faultline/source", "module", "node", "import", "default"];
// A listed file that does not exist matches nothing.
const tests = (process.env.FAULTLINE_MUTATE_TESTS ?? "src/fault.test.ts").split(",");

export default defineProject({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    name: "mm-mutate",
    environment: "node",
    include: tests,
    testTimeout: 60_000,
    env: { CC: "/nonexistent/cc" },
  },
});
