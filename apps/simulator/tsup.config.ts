import { defineConfig } from "tsup";

// The command (dist/cli.js), the child process a sweep forks (dist/sweep-worker.js) and the built-in
// programs it starts in workers by URL (dist/programs/<name>.program.js, next to it as in src/).
export default defineConfig({
  entry: ["src/cli.ts", "src/sweep-worker.ts", "src/programs/*.program.ts"],
  format: ["esm"],
  dts: false,
  clean: true,
  sourcemap: true,
  target: "node20",
  platform: "node",
  splitting: false,
});
