/**
 * Faultline as a user gets it: every publishable package packed with `pnpm pack` (workspace:*
 * ranges become versions), installed with npm from those tarballs into a project outside the
 * workspace (no links, no source condition), and used there: a third-party device model and driver
 * with TypeScript simulation programs in workers, the `faultline` command on the built-in scenario
 * and on a scenario of the user's own, and the clear refusal of a TypeScript program when tsx is
 * not installed. Then `npm create faultline-driver` from the packed create-faultline-driver: the
 * generated plugin package, its @faultline dependencies pointed at the tarballs, installs, builds,
 * type-checks, passes its tests (with the packed @faultline/testkit) and publint, and runs its
 * scenario with `npx faultline`. The packages must be built first (turbo's `test` depends on `^build`).
 */
import { execFileSync, spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Publishable, publishablePackages, root } from "./publishable";

const fixtures = resolve(import.meta.dirname, "__fixtures__/consumer");
/** Every publishable package (found, not listed: a new one is packed too). */
const PACKAGES = publishablePackages();

/** The file `pnpm pack` writes: @faultline/driver-simple@0.1.0 → faultline-driver-simple-0.1.0.tgz. */
const tarballName = (p: Publishable) =>
  `${p.name.replace(/^@/, "").replace("/", "-")}-${String(p.pkg.version)}.tgz`;

let work = "";
let project = "";
let noTsx = "";
/** The @faultline packages' tarballs by name, as `file:` specifiers. */
const deps: Record<string, string> = {};
/** create-faultline-driver's tarball (what `npm create faultline-driver` would fetch). */
let createTarball = "";

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
      if (!existsSync(join(root, p.dir, "dist")))
        throw new Error(`${p.dir} has no dist/: build first (pnpm build, or pnpm test which builds)`);
    }
    work = mkdtempSync(join(tmpdir(), "faultline-packed-"));
    const tarballs = join(work, "tarballs");
    mkdirSync(tarballs);
    // One recursive pnpm for every package (the same tarballs as `pnpm pack` in each folder; pnpm's
    // start-up, once per package, took most of the time).
    const only = PACKAGES.flatMap((p) => ["--filter", `./${p.dir}`]);
    sh("pnpm", ["-r", ...only, "pack", "--pack-destination", tarballs], root);
    for (const p of PACKAGES) {
      const file = join(tarballs, tarballName(p));
      expect(existsSync(file), file).toBe(true);
      if (p.name === "create-faultline-driver") createTarball = file;
      else deps[p.name] = `file:${file}`;
    }
    expect(Object.keys(deps)).toEqual(expect.arrayContaining(["@faultline/kernel", "@faultline/testkit"]));
    expect(createTarball).not.toBe("");
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
    // Packing every publishable package and one npm install: minutes when the machine is busy.
  }, 600_000);

  afterAll(() => {
    // Three installed projects: removing them takes a while on a busy machine.
    if (work) rmSync(work, { recursive: true, force: true });
  }, 120_000);

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

  it("npm create faultline-driver (the packed one) scaffolds a plugin that installs, builds, passes its tests and runs its scenario", () => {
    const gen = join(work, "generated");
    mkdirSync(gen);
    // What `npm create faultline-driver@latest faultline-driver-ticker` runs, from the tarball.
    const created = inProject(gen, "npm", [
      "exec",
      "--yes",
      `--package=${createTarball}`,
      "--",
      "create-faultline-driver",
      "faultline-driver-ticker",
    ]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(
      /^Scaffolded faultline-driver-ticker in faultline-driver-ticker \(\d+ files\)/,
    );
    const pkgDir = join(gen, "faultline-driver-ticker");
    // Its @faultline dependencies are the tarballs (a registry would serve these same files).
    const pkgFile = join(pkgDir, "package.json");
    const pkg = JSON.parse(readFileSync(pkgFile, "utf8")) as {
      peerDependencies: Record<string, string>;
      devDependencies: Record<string, string>;
      overrides?: Record<string, string>;
    };
    expect(Object.keys(pkg.peerDependencies)).toContain("@faultline/kernel");
    for (const name of Object.keys(pkg.devDependencies)) {
      if (!name.startsWith("@faultline/")) continue;
      expect(deps[name], `${name} was not packed`).toBeDefined();
      pkg.devDependencies[name] = deps[name]!;
    }
    pkg.overrides = deps;
    writeFileSync(pkgFile, JSON.stringify(pkg, null, 2));
    // The registry packages (vitest, tsup, typescript, publint, tsx) from npm's cache when it has them.
    const install = inProject(pkgDir, "npm", [
      "install",
      "--prefer-offline",
      "--no-audit",
      "--no-fund",
      "--loglevel=error",
    ]);
    expect(install.code, install.stderr).toBe(0);
    // One kernel: the plugin's peer, the test kit's and the simulator's are the same copy.
    const kernels = readdirSync(join(pkgDir, "node_modules"), { recursive: true })
      .map(String)
      .filter((f) => /(^|\/)@faultline\/kernel$/.test(f));
    expect(kernels).toEqual(["@faultline/kernel"]);

    for (const script of ["build", "typecheck", "publint"]) {
      const r = inProject(pkgDir, "npm", ["run", script]);
      expect(r.code, `npm run ${script}: ${r.stdout}${r.stderr}`).toBe(0);
    }
    expect(existsSync(join(pkgDir, "dist/index.js"))).toBe(true);
    expect(existsSync(join(pkgDir, "dist/index.d.ts"))).toBe(true);
    const test = inProject(pkgDir, "npm", ["test"]);
    expect(test.code, `${test.stdout}${test.stderr}`).toBe(0);
    expect(test.stdout).toMatch(/Tests\s+8 passed \(8\)/);

    const run = inProject(pkgDir, "npx", ["--no-install", "faultline", "run", "scenario.json", "--json"]);
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as {
      ok: boolean;
      processes: Array<{ program: string; exit: unknown }>;
      runs: Array<{ console: string[] }>;
    };
    expect(out.ok).toBe(true);
    expect(out.processes.map((p) => [p.program, p.exit])).toEqual([
      ["./programs/read-ticker.program.ts", { code: 0 }],
      ["./programs/read-ticker.program.ts", { signal: "SIGSEGV" }],
    ]);
    const lines = out.runs.flatMap((r) => r.console);
    expect(lines.filter((l) => /^\[pid \d+\] ticker 5449434b counts \d+ \d+ \d+$/.test(l))).toHaveLength(1);
    expect(lines.filter((l) => /^\[pid \d+\] ticker 5449434b counts \d+$/.test(l))).toHaveLength(1);
    // An npm install of the tools, a tsup build with declarations, tsc, vitest and a simulation: about
    // a minute on a quiet machine, several on a busy one.
  }, 600_000);
});
