// How the simulator's tests run the real `faultline` command in a child process. The built
// dist/cli.js with plain node when every workspace package it loads is built and newer than its
// sources (turbo's `test` task depends on `build`, so on CI it always is): that is the command users
// install, and its worker threads load compiled JavaScript. Otherwise (a local run after editing a
// source file, without `pnpm build`) the TypeScript sources through tsx and the source export
// condition, as `pnpm faultline` does in this repository: the same command, several times slower
// because tsx registers itself in every worker thread. FAULTLINE_TEST_CLI=source or =dist forces one.
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
export const appDir = resolve(fileURLToPath(new URL("..", import.meta.url)));
const repo = resolve(appDir, "../..");

/** Tests and their fixtures: not part of a build. */
const NOT_BUILT = /\.test\.ts$|(^|\/)__fixtures__(\/|$)/;

/** Newest modification time of a file under `dir` that a build reads (0 when there is none). */
function newest(dir: string): number {
  if (!existsSync(dir)) return 0;
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const file = join(e.parentPath, e.name);
    if (e.isFile() && !NOT_BUILT.test(file)) t = Math.max(t, statSync(file).mtimeMs);
  }
  return t;
}

/** Folders of the workspace packages `dir` depends on, transitively, `dir` included. */
function workspaceClosure(dir: string, seen = new Set<string>()): Set<string> {
  if (seen.has(dir)) return seen;
  seen.add(dir);
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
    dependencies?: Record<string, string>;
  };
  for (const [name, range] of Object.entries(pkg.dependencies ?? {})) {
    if (!range.startsWith("workspace:")) continue;
    // node_modules/<name> is pnpm's link to the package's folder.
    workspaceClosure(realpathSync(join(dir, "node_modules", name)), seen);
  }
  return seen;
}

/** Why the built command cannot stand for the sources (null: it can). */
export function distStaleness(): string | null {
  if (!existsSync(join(appDir, "dist/cli.js"))) return "apps/simulator/dist/cli.js does not exist";
  for (const dir of workspaceClosure(appDir)) {
    const built = newest(join(dir, "dist"));
    const edited = Math.max(newest(join(dir, "src")), statSync(join(dir, "package.json")).mtimeMs);
    if (built === 0 || built < edited)
      return `${relative(repo, dir)}: dist/ is older than src/ (run pnpm build)`;
  }
  return null;
}

function choose(): "dist" | "source" {
  const forced = process.env.FAULTLINE_TEST_CLI;
  if (forced === "dist" || forced === "source") return forced;
  const stale = distStaleness();
  if (stale === null) return "dist";
  console.warn(`faultline tests: running the CLI from source through tsx (slower): ${stale}`);
  return "source";
}

/** "dist" or "source": which command the tests run. */
export const CLI_MODE = choose();

/** node's arguments that start the command, before its own. */
export const CLI_ARGS =
  CLI_MODE === "dist"
    ? [join(appDir, "dist/cli.js")]
    : ["--import", "tsx", "--conditions=@faultline/source", join(appDir, "src/cli.ts")];

/** Runs the real command line in apps/simulator; never throws, returns what happened. */
export async function faultline(
  ...args: string[]
): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const r = await run(process.execPath, [...CLI_ARGS, ...args], {
      cwd: appDir,
      maxBuffer: 16 * 1024 * 1024,
      env: { ...process.env, NO_COLOR: "1" },
    });
    return { stdout: r.stdout, stderr: r.stderr, code: 0 };
  } catch (e) {
    const x = e as { stdout: string; stderr: string; code: number };
    return { stdout: x.stdout, stderr: x.stderr, code: x.code };
  }
}
