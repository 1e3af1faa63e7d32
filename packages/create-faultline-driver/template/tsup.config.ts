import { defineConfig } from "tsup";

// ESM and .d.ts into dist/; @faultline/* stay imports (peer dependencies are never bundled).
export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm"],
  dts: true,
  clean: true,
  sourcemap: true,
  target: "node20",
  platform: "node",
});
