/**
 * The published .d.ts of every publishable package leaves out what its sources mark `@internal`
 * (tsup's dts build with `stripInternal`, tsup.shared.ts): the members of classes and interfaces, and
 * constructor parameter properties, e.g. `Machine.driverRefs`, `callDriver`, `currentProcess`. Reads
 * each package's dist/index.d.ts as `pnpm build` (turbo's `test` dependency) leaves it.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { publishablePackages, root } from "./publishable";

type Members = Map<string, Set<string>>;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== "__fixtures__") out.push(...sourceFiles(p));
    } else if (/\.ts$/.test(e.name) && !/\.(test|test-d)\.ts$/.test(e.name)) out.push(p);
  }
  return out;
}

const isInternal = (n: ts.Node) => ts.getJSDocTags(n).some((t) => t.tagName.text === "internal");
const nameOf = (n: ts.Node) => {
  const name = (n as { name?: ts.Node }).name;
  return name && (ts.isIdentifier(name) || ts.isPrivateIdentifier(name)) ? name.text : null;
};

/** Members of each class and interface (by name), all of them or only the @internal ones. */
function members(file: string, text: string, onlyInternal: boolean): Members {
  const out: Members = new Map();
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const add = (owner: string, member: string) => {
    if (!out.has(owner)) out.set(owner, new Set());
    out.get(owner)!.add(member);
  };
  const visit = (n: ts.Node) => {
    if ((ts.isClassDeclaration(n) || ts.isInterfaceDeclaration(n)) && n.name) {
      const owner = n.name.text;
      for (const m of n.members) {
        const name = nameOf(m);
        if (name !== null && (!onlyInternal || isInternal(m))) add(owner, name);
        if (ts.isConstructorDeclaration(m)) {
          for (const param of m.parameters) {
            const isProperty = ts
              .getModifiers(param)
              ?.some(
                (x) => x.kind === ts.SyntaxKind.ReadonlyKeyword || x.kind === ts.SyntaxKind.PublicKeyword,
              );
            const pname = nameOf(param);
            if (isProperty && pname !== null && (!onlyInternal || isInternal(param))) add(owner, pname);
          }
        }
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

const packages = publishablePackages().filter((p) => existsSync(join(root, p.dir, "src", "index.ts")));

describe("published types leave out @internal members", () => {
  it("Machine's internals are gone from @faultline/kernel's .d.ts, its public members are there", () => {
    const dts = join(root, "packages/kernel/dist/index.d.ts");
    expect(existsSync(dts), "build @faultline/kernel first").toBe(true);
    const machine = members(dts, readFileSync(dts, "utf8"), false).get("Machine");
    expect(machine).toBeDefined();
    for (const m of ["create", "spawn", "dmesg", "checkInvariants", "loadDriver", "withKernel", "procText"])
      expect(machine!.has(m), m).toBe(true);
    for (const m of [
      "kernel",
      "driverRefs",
      "callDriver",
      "currentProcess",
      "currentDriver",
      "chrdev",
      "reap",
    ])
      expect(machine!.has(m), m).toBe(false);
    const process = members(dts, readFileSync(dts, "utf8"), false).get("Process");
    expect(process!.has("pid")).toBe(true);
    expect(process!.has("task")).toBe(false);
    expect(process!.has("kernel")).toBe(false);
  });

  for (const p of packages) {
    it(`${p.name}: no member marked @internal in src is declared in dist/index.d.ts`, () => {
      const dts = join(root, p.dir, "dist", "index.d.ts");
      expect(existsSync(dts), `${dts}: build first (pnpm build)`).toBe(true);
      const internal: Members = new Map();
      for (const f of sourceFiles(join(root, p.dir, "src"))) {
        for (const [owner, names] of members(f, readFileSync(f, "utf8"), true)) {
          internal.set(owner, new Set([...(internal.get(owner) ?? []), ...names]));
        }
      }
      const published = members(dts, readFileSync(dts, "utf8"), false);
      const leaked: string[] = [];
      for (const [owner, names] of internal) {
        const declared = published.get(owner);
        for (const n of names) if (declared?.has(n)) leaked.push(`${owner}.${n}`);
      }
      expect(leaked).toEqual([]);
    });
  }
});
