/**
 * Faultline as a user gets it: every publishable package packed with `pnpm pack` (workspace:*
 * ranges become versions), installed with npm from those tarballs into a project outside the
 * workspace (no links, no source condition), and used there: a third-party device model and driver
 * with TypeScript simulation programs in workers, the `faultline` command on the built-in scenario
 * and on a scenario of the user's own, and the clear refusal of a TypeScript program when tsx is
 * not installed. The packages must be built first (turbo's `test` depends on `^build`).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../../..");
const fixtures = resolve(import.meta.dirname, "__fixtures__/consumer");
/** Every publishable package, by folder. */
const PACKAGES = [
  "packages/phys",
  "packages/mm",
  "packages/devices",
  "packages/kernel",
  "packages/sim",
  "packages/drivers/simple",
  "packages/drivers/nopage",
  "packages/drivers/region-remap",
  "packages/drivers/mem",
  "packages/drivers/scullp",
  "apps/simulator",
];

let work = "";
let project = "";
let noTsx = "";

function sh(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** Runs a command in the consumer project; never throws, returns what happened. */
function inProject(dir: string, cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, {
    cwd: dir,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
    maxBuffer: 32 * 1024 * 1024,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("Faultline installed from packed tarballs, outside the workspace", () => {
  beforeAll(() => {
    for (const p of PACKAGES) {
      if (!existsSync(join(root, p, "dist")))
        throw new Error(`${p} has no dist/: build first (pnpm build, or pnpm test which builds)`);
    }
    work = mkdtempSync(join(tmpdir(), "faultline-packed-"));
    const tarballs = join(work, "tarballs");
    mkdirSync(tarballs);
    const deps: Record<string, string> = {};
    for (const p of PACKAGES) {
      sh("pnpm", ["pack", "--pack-destination", tarballs], join(root, p));
    }
    for (const f of readdirSync(tarballs)) {
      // faultline-driver-simple-0.1.0.tgz → @faultline/driver-simple
      const name = `@faultline/${f.replace(/^faultline-/, "").replace(/-\d+\.\d+\.\d+\.tgz$/, "")}`;
      deps[name] = `file:${join(tarballs, f)}`;
    }
    expect(Object.keys(deps)).toHaveLength(PACKAGES.length);
    project = join(work, "consumer");
    cpSync(fixtures, project, { recursive: true });
    // The guides' own example device and driver, exactly as the docs show them (no second copy here).
    cpSync(join(root, "packages/devices/test/docs/dice.ts"), join(project, "dice.ts"));
    cpSync(join(root, "packages/drivers/simple/test/docs/hello-driver.ts"), join(project, "hello-driver.ts"));
    // Packed like everything else, so it is installed into node_modules as a registry package is.
    const plugin = resolve(import.meta.dirname, "__fixtures__/faultline-driver-hello");
    sh("npm", ["pack", "--pack-destination", work, "--loglevel=error"], plugin);
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify(
        {
          name: "consumer",
          private: true,
          type: "module",
          dependencies: {
            ...deps,
            tsx: "^4.19.0",
            // A third-party driver plugin (plain JavaScript) that scenarios load by package name.
            "faultline-driver-hello": `file:${join(work, "faultline-driver-hello-1.0.0.tgz")}`,
          },
          // The packages name each other by version: resolve those to the tarballs too.
          overrides: deps,
        },
        null,
        2,
      ),
    );
    sh("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], project);
    // The same install without tsx (an optional peer dependency of @faultline/sim).
    noTsx = join(work, "no-tsx");
    cpSync(project, noTsx, { recursive: true, verbatimSymlinks: true });
    rmSync(join(noTsx, "node_modules/tsx"), { recursive: true, force: true });
  }, 300_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("installs every package from its tarball, with dist and no tests or fixtures", () => {
    for (const p of ["phys", "mm", "kernel", "sim", "simulator", "driver-simple"]) {
      const dir = join(project, "node_modules/@faultline", p);
      expect(existsSync(join(dir, "dist")), p).toBe(true);
      const files = readdirSync(dir, { recursive: true }).map(String);
      expect(
        files.filter((f) => /\.test\.ts$|__fixtures__/.test(f)),
        p,
      ).toEqual([]);
    }
    expect(existsSync(join(project, "node_modules/.bin/faultline"))).toBe(true);
  });

  it("runs a third-party device and driver with TypeScript programs in worker threads", () => {
    const r = inProject(project, process.execPath, ["--import", "tsx", "main.ts"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as {
      exits: unknown[];
      console: string;
      iomem: string;
      dmesg: string[];
    };
    // Each worker read the driver's page, then died of SIGBUS on the page the driver refuses.
    expect(out.exits).toEqual([{ signal: "SIGBUS" }, { signal: "SIGBUS" }]);
    expect(out.console.match(/Hello from the kernel!/g)).toHaveLength(2);
    expect(out.iomem).toMatch(/000d0000-000d000f : dice/);
    expect(out.dmesg[0]).toMatch(/^hello: loaded with major \d+$/);
  });

  it("npx faultline: --help, the built-in scenario, and a user's scenario with a TypeScript program", () => {
    const help = inProject(project, "npx", ["--no-install", "faultline", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: faultline/);
    const builtin = inProject(project, "npx", [
      "--no-install",
      "faultline",
      "run",
      "--era",
      "modern",
      "--json",
    ]);
    expect(builtin.code, builtin.stderr).toBe(0);
    const b = JSON.parse(builtin.stdout) as { ok: boolean; processes: Array<{ program: string }> };
    expect(b.ok).toBe(true);
    expect(b.processes.map((p) => p.program)).toContain("builtin:pci");
    const own = inProject(project, "npx", ["--no-install", "faultline", "run", "scenario.json", "--json"]);
    expect(own.code, own.stderr).toBe(0);
    const o = JSON.parse(own.stdout) as { ok: boolean; processes: Array<{ exit: unknown; minflt: number }> };
    expect(o.ok).toBe(true);
    expect(o.processes[0]!.exit).toEqual({ code: 3 });
    expect(o.processes[0]!.minflt).toBe(3);
  });

  it("a scenario loads a third-party driver package and a device plugin by module specifier, and a program from the package", () => {
    const r = inProject(project, "npx", [
      "--no-install",
      "faultline",
      "run",
      "plugin-scenario.json",
      "--json",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      ok: boolean;
      processes: Array<{ era: string; program: string; exit: unknown }>;
      runs: Array<{ console: string[] }>;
    };
    expect(out.ok).toBe(true);
    expect(out.processes.map((p) => [p.era, p.program, p.exit])).toEqual([
      ["2.6.10", "faultline-driver-hello/reader", { code: 0 }],
      ["2.6.10", "./touch.program.ts", { code: 1 }],
      ["modern", "faultline-driver-hello/reader", { code: 0 }],
      ["modern", "./touch.program.ts", { code: 1 }],
    ]);
    for (const run of out.runs) expect(run.console).toContain("[pid 1] /dev/hello says Bonjour du noyau");
    const iomem = inProject(project, "npx", ["--no-install", "faultline", "iomem", "plugin-scenario.json"]);
    expect(iomem.stdout).toMatch(/000d0000-000d000f : dice/);
  });

  it("without tsx, a TypeScript program is refused before any worker starts, saying what to install", () => {
    const r = inProject(noTsx, process.execPath, [
      "node_modules/@faultline/simulator/bin/faultline.js",
      "run",
      "scenario.json",
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /scenario\.json: programs\[0\]\.program: expected a program module this installation can load, got file:.*touch\.program\.ts: a TypeScript program needs tsx .* npm install --save-dev tsx/,
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
