// `pnpm bench [--compare]`: every package's bench through turbo (one at a time: they measure), then,
// with --compare, each figure against the committed bench/results.json (bench/compare.mjs).
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const compare = args.includes("--compare");
const rest = args.filter((a) => a !== "--compare");
const run = (cmd, argv) =>
  spawnSync(cmd, argv, { stdio: "inherit", cwd: join(here, ".."), env: process.env }).status ?? 1;

const status = run("turbo", ["run", "bench", "--concurrency=1", "--output-logs=full", ...rest]);
if (compare) run(process.execPath, [join(here, "compare.mjs")]);
process.exit(status);
