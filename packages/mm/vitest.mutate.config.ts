// The tests Stryker runs against each mutant of the mm fault/COW/split/merge/pfn code (stryker.config.json):
// the unit tests and the oracle's Faultline side (recorded transcripts, hand-written cases, peer suites),
// without the live-kernel comparisons (CC points nowhere), which need a compiler and take minutes.
// Self-contained (no import from outside the package): Stryker runs it in a copy of this folder.
import { defineProject } from "vitest/config";

const conditions = ["@faultline/source", "module", "node", "import", "default"];

export default defineProject({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    name: "mm-mutate",
    environment: "node",
    include: [
      "src/**/*.test.ts",
      "test/oracle/faultline-vs-linux.test.ts",
      "test/oracle/peer-suites.test.ts",
    ],
    exclude: ["src/vma-tree.test.ts", "src/mm.property.test.ts"],
    testTimeout: 60_000,
    env: { CC: "/nonexistent/cc" },
  },
});
