// The tests Stryker runs against each mutant of the kernel's oops path (stryker.config.json):
// the kernel's own tests.
// Self-contained (no import from outside the package): Stryker runs it in a copy of this folder.
import { defineProject } from "vitest/config";

const conditions = ["@faultline/source", "module", "node", "import", "default"];

export default defineProject({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    name: "kernel-mutate",
    environment: "node",
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    exclude: ["test/two-copies.test.ts"],
    testTimeout: 60_000,
    env: { CC: "/nonexistent/cc" },
  },
});
