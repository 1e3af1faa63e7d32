import { defineConfig, type Options } from "tsup";

export function faultlineBuild(entry: Options["entry"] = ["src/index.ts"]) {
  return defineConfig({
    entry,
    format: ["esm"],
    dts: true,
    clean: true,
    sourcemap: true,
    target: "node20",
    platform: "node",
  });
}
