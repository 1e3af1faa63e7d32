// docs/architecture.md names Faultline files so a reader who knows Linux finds the code in one hop:
// every file it names must exist (issue 8). Names in a package's section are relative to that
// package's src/ (or the package itself: `test/fakes.ts`); Linux, QEMU and other upstream paths
// (`mm/mremap.c`, `include/linux/pci.h`) are not ours and are skipped.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const docPath = join(root, "docs/architecture.md");

/** The package directory a `## heading` of architecture.md is about, if it names one. */
const SECTION_DIRS: Record<string, string> = {
  phys: "packages/phys",
  mm: "packages/mm",
  kernel: "packages/kernel",
  devices: "packages/devices",
  sim: "packages/sim",
  simulator: "apps/simulator",
};

/** Our source files have these extensions; upstream ones (.c, .h, .rst, .tbl) are not checked. */
const OURS = /\.(ts|mts|mjs|cjs|json|md)$/;

export interface NamedFile {
  readonly name: string;
  readonly section: string;
  readonly line: number;
}

/** Every file name in backticks (and every relative link) of `text`, with its section. */
export function namedFiles(text: string): NamedFile[] {
  const out: NamedFile[] = [];
  let section = "";
  for (const [i, line] of text.split("\n").entries()) {
    const heading = /^##\s+(\S+)/.exec(line);
    if (heading) section = heading[1]!;
    for (const m of line.matchAll(/`([^`\s]+)`/g)) {
      const name = m[1]!;
      // `.d.ts`, `*.test.ts` and `pgtable*.h` are kinds of file, not files.
      if (!OURS.test(name) || name.startsWith(".") || name.includes("*")) continue;
      out.push({ name, section, line: i + 1 });
    }
    for (const m of line.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/.test(target)) continue; // https:, mailto:
      out.push({ name: join("docs", target), section: "", line: i + 1 });
    }
  }
  return out;
}

/** Every workspace package directory (packages/*, packages/drivers/*, apps/*), relative to the root. */
function packageDirs(): string[] {
  const dirs: string[] = [];
  for (const parent of ["packages", "packages/drivers", "apps"])
    for (const e of readdirSync(join(root, parent), { withFileTypes: true }))
      if (e.isDirectory() && existsSync(join(root, parent, e.name, "package.json")))
        dirs.push(join(parent, e.name));
  return dirs;
}

/**
 * Where `f` may live: its section's src/ and package directory first, then the repository root, then
 * any package (a section may name another package's file: "the PTE number is mm's (`pgtable.ts`)").
 */
export function candidates(f: NamedFile, all: readonly string[] = packageDirs()): string[] {
  const dir = SECTION_DIRS[f.section];
  const own = dir ? [dir] : [];
  const dirs = [...own, ...all.filter((d) => d !== dir)];
  return [f.name, ...dirs.flatMap((d) => [join(d, "src", f.name), join(d, f.name)])];
}

describe("docs/architecture.md", () => {
  const text = readFileSync(docPath, "utf8");
  const named = namedFiles(text);

  it("names Faultline files (the check has something to check)", () => {
    expect(named.length).toBeGreaterThan(40);
    expect(named.map((f) => f.name)).toContain("mremap.ts");
  });

  it("names only files that exist", () => {
    const all = packageDirs();
    const missing = named
      .filter((f) => !candidates(f, all).some((c) => existsSync(join(root, c))))
      .map((f) => `line ${f.line}: ${f.name} (section "${f.section}")`);
    expect(missing).toEqual([]);
  });

  it("the check finds a file that does not exist", () => {
    const ghost = namedFiles("## mm\n\n| `mm/mremap.c` | `mremap2.ts` |\n");
    expect(ghost).toEqual([{ name: "mremap2.ts", section: "mm", line: 3 }]);
    expect(candidates(ghost[0]!).some((c) => existsSync(join(root, c)))).toBe(false);
    expect(namedFiles("see [x](../NOPE.md)")[0]!.name).toBe(join("docs", "../NOPE.md"));
    expect(existsSync(join(root, "docs", "../NOPE.md"))).toBe(false);
  });
});
