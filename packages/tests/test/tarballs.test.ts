/**
 * What each publishable package's tarball holds, as `npm pack --dry-run` lists it: its built code, a
 * README that reads right on a registry page (no relative link to a file the tarball lacks; says it is
 * ESM only and which Node it needs), the project's LICENSE, and no tests, fixtures, benchmarks or
 * examples.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { type Publishable, publishablePackages, root } from "./publishable";

const run = promisify(execFile);
const packages = publishablePackages();

/** A path that is a test, a fixture or another thing only the repository needs. */
const NOT_FOR_USERS =
  /(^|\/)(test|tests|__tests__|__fixtures__|fixtures|bench|examples|coverage|\.turbo)\/|\.(test|spec|test-d)\.[cm]?[jt]sx?$|(^|\/)(tsconfig[^/]*\.json|tsup\.config\.ts|vitest\.config\.ts|turbo\.json)$/;

/** Markdown links and images whose target is neither absolute nor an anchor. */
function relativeLinks(markdown: string): string[] {
  return [...markdown.matchAll(/!?\[[^\]]*\]\(([^)\s]+)[^)]*\)/g)]
    .map((m) => m[1]!)
    .filter((t) => !/^(https?:|mailto:|#)/.test(t));
}

/** Each package's tarball contents by folder, from one `npm pack --dry-run` of them all. */
async function packLists(ps: readonly Publishable[]): Promise<Map<string, string[]>> {
  // One npm for every folder: npm's own start-up, not the listing, is what takes the time.
  const { stdout } = await run(
    "npm",
    ["pack", "--dry-run", "--json", "--ignore-scripts", ...ps.map((p) => `./${p.dir}`)],
    { cwd: root, maxBuffer: 64 * 1024 * 1024 },
  );
  const reports = JSON.parse(stdout) as Array<{ name: string; files: Array<{ path: string }> }>;
  const byName = new Map(reports.map((r) => [r.name, r.files.map((f) => f.path).sort()]));
  return new Map(ps.map((p) => [p.dir, byName.get(p.name) ?? []]));
}

describe("tarballs of the publishable packages", () => {
  let lists = new Map<string, string[]>();
  beforeAll(async () => {
    lists = await packLists(packages);
    expect([...lists].filter(([, files]) => files.length === 0).map(([dir]) => dir)).toEqual([]);
  }, 240_000);

  it("finds the packages", () => {
    expect(packages.map((p) => p.dir)).toEqual(
      expect.arrayContaining(["packages/phys", "packages/mm", "packages/kernel", "apps/simulator"]),
    );
  });

  for (const p of packages) {
    describe(p.name, () => {
      it("ships its code, README, LICENSE and package.json, and no tests or fixtures", () => {
        const files = lists.get(p.dir)!;
        expect(files).toEqual(expect.arrayContaining(["LICENSE", "README.md", "package.json"]));
        expect(files.some((f) => f.startsWith("dist/") && f.endsWith(".js"))).toBe(true);
        // A create-* package ships its template/ on purpose, tests and build configs included.
        const own = p.name.startsWith("create-") ? files.filter((f) => !f.startsWith("template/")) : files;
        expect(own.filter((f) => NOT_FOR_USERS.test(f))).toEqual([]);
      });

      it("has the project's LICENSE (MIT) and says so in package.json", () => {
        expect(p.pkg.license).toBe("MIT");
        expect(readFileSync(join(root, p.dir, "LICENSE"), "utf8")).toBe(
          readFileSync(join(root, "LICENSE"), "utf8"),
        );
      });

      it("has a README whose links work on a registry page, saying ESM only and Node 20", () => {
        const readme = readFileSync(join(root, p.dir, "README.md"), "utf8");
        const files = lists.get(p.dir)!;
        for (const target of relativeLinks(readme)) {
          const file = target.replace(/^\.\//, "").replace(/#.*$/, "");
          expect(files, `README link ${target} is not in the tarball`).toContain(file);
        }
        expect(readme).toMatch(/ESM only/);
        expect(readme).toMatch(/Node\.js 20(\.\d+)? or later/);
      });
    });
  }

  it("the README check would catch a relative link out of the package", () => {
    expect(relativeLinks("see [guide](../../docs/x.md), [api](https://x.dev/a) and [top](#top)")).toEqual([
      "../../docs/x.md",
    ]);
    expect(NOT_FOR_USERS.test("src/__fixtures__/a.ts")).toBe(true);
    expect(NOT_FOR_USERS.test("src/machine.test.ts")).toBe(true);
    expect(NOT_FOR_USERS.test("dist/index.js")).toBe(false);
    expect(existsSync(join(root, "LICENSE"))).toBe(true);
  });
});
