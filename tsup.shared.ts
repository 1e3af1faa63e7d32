import { defineConfig, type Options } from "tsup";

export function faultlineBuild(entry: Options["entry"] = ["src/index.ts"]) {
  return defineConfig({
    entry,
    format: ["esm"],
    // Members marked @internal (the machine's kernel state, callDriver, currentProcess, …) are for the
    // workspace's own packages: the published .d.ts leaves them out (packages/tests/test/published-types.test.ts).
    dts: { compilerOptions: { stripInternal: true } },
    clean: true,
    sourcemap: true,
    target: "node20",
    platform: "node",
  });
}
