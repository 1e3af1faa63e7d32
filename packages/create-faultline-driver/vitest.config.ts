import { defineProject } from "vitest/config";
import { SOURCE_CONDITION } from "../../vitest.shared.ts";

// The generator's tests, and the template's own tests run here against the workspace's sources (the
// packed-tarball test in packages/tests runs them again in a generated project).
const conditions = [SOURCE_CONDITION, "module", "node", "import", "default"];
export default defineProject({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    name: "create-faultline-driver",
    environment: "node",
    include: ["src/**/*.test.ts", "test/**/*.test.ts", "template/src/**/*.test.ts"],
    testTimeout: 30_000,
  },
});
