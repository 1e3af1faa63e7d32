import { defineConfig, type Options } from "tsup";

export interface FaultlineBuildOptions {
  /**
   * Build the declarations against the workspace packages' TypeScript sources (the `@faultline/source`
   * condition of tsconfig.base.json) instead of their built dist/*.d.ts. Only for a package whose
   * sources use upstream members marked @internal, which the built .d.ts leave out (kernel uses
   * devices', sim the kernel's). Otherwise the declaration build resolves an upstream package through
   * its `types` condition, already built (turbo's build depends on ^build): it no longer parses and
   * checks every upstream source again (a driver's build took ~15 s of CPU, now ~6.5 s; same output),
   * and it proves the package compiles against what its users get.
   */
  readonly upstreamSources?: boolean;
}

export function faultlineBuild(entry: Options["entry"] = ["src/index.ts"], opts: FaultlineBuildOptions = {}) {
  return defineConfig({
    entry,
    format: ["esm"],
    // Members marked @internal (the machine's kernel state, callDriver, currentProcess, …) are for the
    // workspace's own packages: the published .d.ts leaves them out (packages/tests/test/published-types.test.ts).
    dts: {
      compilerOptions: { stripInternal: true, ...(opts.upstreamSources ? {} : { customConditions: [] }) },
    },
    clean: true,
    sourcemap: true,
    target: "node20",
    platform: "node",
  });
}
