// pnpm mutate [chunk...]: runs Stryker over the configured scope, one chunk at a time, then
// summary.ts. A chunk is `kernel` (the oops path, packages/kernel/stryker.config.json) or `mm:<name>`
// (packages/mm/stryker.config.mjs: fault, vma, pfn). No argument runs them all, in that order
// (hours on 2 shared cores); `pnpm mutate mm:vma` runs one chunk and re-summarises with the
// reports other chunks left in mutation/; `pnpm mutate --incremental mm:vma` reruns only what changed. FAULTLINE_MUTATE_CONCURRENCY sets mm's Stryker concurrency
// (default 1).
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "../..");
const all = ["kernel", "mm:fault", "mm:vma", "mm:pfn"];
const args = process.argv.slice(2).filter((a) => a !== "--");
// --incremental: Stryker runs again only the mutants whose code or covering tests changed since the
// chunk's last run (mutation/<chunk>.incremental.json), taking the other results from it.
const incremental = args.includes("--incremental");
const asked = args.filter((a) => a !== "--incremental");
for (const a of asked) {
  if (!all.includes(a)) {
    console.error(`pnpm mutate: no chunk ${a} (chunks: ${all.join(", ")})`);
    process.exit(2);
  }
}
for (const chunk of asked.length > 0 ? asked : all) {
  const [pkg, name] = chunk.split(":") as [string, string | undefined];
  const env = { ...process.env, TURBO_TELEMETRY_DISABLED: "1" };
  if (name) env.FAULTLINE_MUTATE_CHUNK = name;
  console.log(`\n== pnpm mutate: ${chunk} ==`);
  const r = spawnSync("pnpm", ["exec", "stryker", "run", ...(incremental ? ["--incremental"] : [])], {
    cwd: join(root, "packages", pkg),
    env,
    stdio: "inherit",
  });
  if (r.status !== 0) {
    console.error(`pnpm mutate: Stryker failed on ${chunk} (exit ${r.status ?? r.signal})`);
    process.exit(1);
  }
}
const s = spawnSync("pnpm", ["exec", "tsx", join(import.meta.dirname, "summary.ts")], {
  cwd: root,
  stdio: "inherit",
});
process.exit(s.status ?? 1);
