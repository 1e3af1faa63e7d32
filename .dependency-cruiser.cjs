/**
 * The import-cycle check of `pnpm test` (issue 8): no cycle in any package's src (packages/*,
 * packages/drivers/*), type-only imports included (tsPreCompilationDeps). Run: `pnpm cycles`. Tests
 * are left out (nothing imports them).
 */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "An import cycle (type-only imports count): layer the modules instead.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.base.json" },
    doNotFollow: { path: "node_modules" },
    exclude: { path: "\\.test\\.ts$" },
    enhancedResolveOptions: { extensions: [".ts", ".js", ".mjs"] },
  },
};
