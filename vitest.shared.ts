// Shared vitest settings: workspace packages resolve to their TypeScript sources through the
// "@faultline/source" export condition, so tests never need a prior build.
import { defineProject } from "vitest/config";

export const SOURCE_CONDITION = "@faultline/source";

export function faultlineProject(name: string, extra: { testTimeout?: number } = {}) {
  return defineProject({
    resolve: { conditions: [SOURCE_CONDITION, "module", "node", "import", "default"] },
    ssr: { resolve: { conditions: [SOURCE_CONDITION, "module", "node", "import", "default"] } },
    test: {
      name,
      environment: "node",
      include: ["src/**/*.test.ts", "test/**/*.test.ts"],
      testTimeout: extra.testTimeout ?? 30_000,
    },
  });
}
