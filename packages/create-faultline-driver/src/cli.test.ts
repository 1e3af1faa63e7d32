/**
 * The generator as a user meets it: the arguments it refuses (with the message and exit code), the
 * folder it will not write into, and what it writes (every template file, the name filled in, the
 * .gitignore renamed, nothing left of a build). The generated package itself is built and tested from
 * packed tarballs by packages/tests; its TypeScript is type-checked and its tests run here too
 * (template/src/*.test.ts is part of this package's test run).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { main, TEMPLATE_DIR } from "./index";
import { invalidPackageName } from "./scaffold";

let cwd = "";
beforeEach(() => {
  cwd = mkdtempSync(join(tmpdir(), "create-faultline-driver-"));
});
afterEach(() => {
  rmSync(cwd, { recursive: true, force: true });
});

function run(argv: string[], userAgent?: string) {
  let stdout = "";
  let stderr = "";
  const code = main(argv, {
    cwd,
    userAgent,
    out: (t) => {
      stdout += t;
    },
    err: (t) => {
      stderr += t;
    },
  });
  return { code, stdout, stderr };
}

/** Every file under `dir`, relative, sorted. */
const tree = (dir: string) =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();

describe("create-faultline-driver", () => {
  it("scaffolds every template file into <name>/, the name filled in, .gitignore renamed", () => {
    const r = run(["faultline-driver-foo"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const dir = join(cwd, "faultline-driver-foo");
    const files = tree(dir);
    expect(files).toEqual(
      [
        ".gitignore",
        "README.md",
        "package.json",
        "programs/read-ticker.program.ts",
        "scenario.json",
        "src/index.ts",
        "src/ticker-device.ts",
        "src/ticker-driver.ts",
        "src/ticker.test.ts",
        "tsconfig.json",
        "tsup.config.ts",
        "vitest.config.ts",
      ].sort(),
    );
    // The template files are the template, but for {{name}}.
    for (const f of files) {
      const name = f === ".gitignore" ? "_gitignore" : f === "package.json" ? "_package.json" : f;
      const src = readFileSync(join(TEMPLATE_DIR, name), "utf8");
      expect(readFileSync(join(dir, f), "utf8"), f).toBe(src.replaceAll("{{name}}", "faultline-driver-foo"));
      expect(readFileSync(join(dir, f), "utf8"), f).not.toContain("{{");
    }
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    expect(pkg.name).toBe("faultline-driver-foo");
    const scenario = JSON.parse(readFileSync(join(dir, "scenario.json"), "utf8"));
    expect(scenario.machine.drivers[0].module).toBe("faultline-driver-foo");
    expect(readFileSync(join(dir, "README.md"), "utf8")).toMatch(/^# faultline-driver-foo\n/);
    expect(r.stdout).toBe(
      "Scaffolded faultline-driver-foo in faultline-driver-foo (12 files). Next:\n\n" +
        "  cd faultline-driver-foo\n  npm install\n  npm test\n  npm run simulate    # build, then npx faultline run scenario.json\n",
    );
  });

  it("a scoped name goes into a folder without the scope, or the folder given; pnpm's next steps under pnpm", () => {
    expect(run(["@me/faultline-driver-bar"]).code).toBe(0);
    expect(JSON.parse(readFileSync(join(cwd, "faultline-driver-bar/package.json"), "utf8")).name).toBe(
      "@me/faultline-driver-bar",
    );
    mkdirSync(join(cwd, "empty"));
    const r = run(["baz", "empty/here"], "pnpm/10.34.9 npm/? node/v20.19.0 linux x64");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("  cd empty/here\n  pnpm install\n  pnpm test\n  pnpm simulate");
    expect(readdirSync(join(cwd, "empty/here"))).toContain("package.json");
  });

  it("an empty folder is fine; a non-empty one is refused (exit 1) and left alone", () => {
    mkdirSync(join(cwd, "ok"));
    expect(run(["ok"]).code).toBe(0);
    mkdirSync(join(cwd, "busy"));
    writeFileSync(join(cwd, "busy/notes.txt"), "mine");
    const r = run(["busy"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "create-faultline-driver: cannot scaffold into busy: it is not empty (notes.txt). Choose another folder or empty it.\n",
    );
    expect(readdirSync(join(cwd, "busy"))).toEqual(["notes.txt"]);
    writeFileSync(join(cwd, "file"), "");
    expect(run(["x", "file"]).stderr).toMatch(/cannot scaffold into file: it exists and is not a folder/);
  });

  it.each([
    [[], "give the new package's name, e.g. faultline-driver-foo"],
    [
      ["My-Driver"],
      '"My-Driver" is not a valid npm package name: it has capital letters (npm names are lowercase)',
    ],
    [
      ["my driver"],
      '"my driver" is not a valid npm package name: it contains characters that are not URL-safe ("my driver")',
    ],
    [[".hidden"], '".hidden" is not a valid npm package name: it starts with a dot'],
    [["fs"], '"fs" is not a valid npm package name: "fs" is a Node.js core module'],
    [["@scope"], '"@scope" is not a valid npm package name: a scoped name is "@scope/name"'],
    [["a", "b", "c"], "expected <name> [folder], got 3 arguments"],
    [["--force", "x"], "unknown option --force"],
  ])("refuses %j with exit 2 and says why", (argv, why) => {
    const r = run(argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      new RegExp(`^create-faultline-driver: ${why.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\n\nUsage: `),
    );
    expect(readdirSync(cwd)).toEqual([]);
  });

  it("--help prints the usage and exits 0", () => {
    const r = run(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: npm create faultline-driver@latest <name> \[folder\]\n/);
  });

  it("npm's name rules: length, underscore, special characters", () => {
    expect(invalidPackageName("a".repeat(215))).toBe("it is 215 characters long (214 at most)");
    expect(invalidPackageName("_x")).toBe("it starts with an underscore");
    expect(invalidPackageName("x(y)")).toBe(`it contains one of ~'!()* ("x(y)")`);
    expect(invalidPackageName("node_modules")).toBe('"node_modules" is reserved');
    expect(invalidPackageName(" x")).toBe("it has leading or trailing spaces");
    for (const ok of ["x", "faultline-driver-x", "@a/b", "a.b_c-d", "a".repeat(214)])
      expect(invalidPackageName(ok), ok).toBeNull();
  });
});

describe("the template", () => {
  const pkg = JSON.parse(readFileSync(join(TEMPLATE_DIR, "_package.json"), "utf8"));

  it("asks for versions of @faultline packages that the workspace's satisfy (^x.y.z, 0.x semantics)", () => {
    const deps: Record<string, string> = { ...pkg.peerDependencies, ...pkg.devDependencies };
    const faultline = Object.entries(deps).filter(([n]) => n.startsWith("@faultline/"));
    expect(faultline.map(([n]) => n).sort()).toEqual([
      "@faultline/devices",
      "@faultline/kernel",
      "@faultline/sim",
      "@faultline/simulator",
      "@faultline/testkit",
    ]);
    const folders: Record<string, string> = { simulator: "../../apps/simulator" };
    for (const [name, range] of faultline) {
      const short = name.slice("@faultline/".length);
      const dir = resolve(import.meta.dirname, "..", folders[short] ?? `../${short}`);
      const version: string = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).version;
      const m = /^\^(\d+)\.(\d+)\.(\d+)$/.exec(range);
      expect(m, `${name}: ${range}`).not.toBeNull();
      const [maj, min, patch] = version.split(".").map(Number) as [number, number, number];
      const want = m!.slice(1).map(Number) as [number, number, number];
      // ^0.y.z: same 0.y, patch at least z; ^x.y.z (x > 0): same x, at least y.z.
      const ok =
        want[0] === 0
          ? maj === 0 && min === want[1] && patch >= want[2]
          : maj === want[0] && (min > want[1] || (min === want[1] && patch >= want[2]));
      expect(ok, `${name}@${version} does not satisfy ${range}`).toBe(true);
    }
  });

  it("is a plugin as the guide describes it: keyword, kernel as a peer, ESM, exports with types, tests with the kit", () => {
    expect(pkg.keywords).toContain("faultline-driver");
    expect(Object.keys(pkg.peerDependencies)).toContain("@faultline/kernel");
    expect(pkg.type).toBe("module");
    expect(pkg.exports["."]).toEqual({ types: "./dist/index.d.ts", default: "./dist/index.js" });
    expect(Object.keys(pkg.devDependencies)).toEqual(
      expect.arrayContaining(["tsup", "vitest", "publint", "typescript", "@faultline/testkit", "tsx"]),
    );
    expect(readFileSync(join(TEMPLATE_DIR, "src/ticker.test.ts"), "utf8")).toContain(
      'from "@faultline/testkit/vitest"',
    );
  });
});
