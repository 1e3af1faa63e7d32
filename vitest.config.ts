import { defineConfig } from "vitest/config";

// One project per package, named by its own vitest.config.ts: a bare "packages/*" glob would also make
// a project of packages/drivers (a folder of packages, not a package) and run its tests twice.
export default defineConfig({
  test: {
    projects: [
      "packages/*/vitest.config.ts",
      "packages/drivers/*/vitest.config.ts",
      "apps/*/vitest.config.ts",
    ],
  },
});
