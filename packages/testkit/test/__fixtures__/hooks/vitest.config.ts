// Run by test/hooks.test.ts in a vitest of its own: the fixture's tests are meant to fail.
import { defineConfig } from "vitest/config";

const conditions = ["@faultline/source", "module", "node", "import", "default"];
export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: { include: ["vitest-hooks.fixture.ts"], testTimeout: 60_000 },
});
