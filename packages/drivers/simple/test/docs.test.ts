/**
 * Every code block of docs/write-a-driver-plugin.md is a file of test/docs/, included verbatim after a
 * `<!-- file: … -->` marker: this test checks that and runs the examples (tsc type-checks them with
 * this package; test/docs/hello.test.ts runs as a test of its own). After editing an example, refresh
 * the doc with `FAULTLINE_UPDATE_DOCS=1 pnpm --filter @faultline/driver-simple exec vitest run test/docs.test.ts`.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { main as useHello } from "./docs/use-hello";

const root = resolve(import.meta.dirname, "../../../..");
const DOC = "docs/write-a-driver-plugin.md";
const BLOCK = /(?:<!-- file: (\S+) -->\s*\n)?```(\w*)\n([\s\S]*?)```/g;

function refresh(doc: string): string {
  return doc.replace(
    /(<!-- file: (\S+) -->\s*\n```\w*\n)[\s\S]*?```/g,
    (_m, head: string, file: string) => `${head}${readFileSync(resolve(root, file), "utf8")}\`\`\``,
  );
}

describe(DOC, () => {
  // Never rewrite the doc in CI: a stale doc must fail there, not be fixed silently.
  if (process.env.FAULTLINE_UPDATE_DOCS && !process.env.CI) {
    writeFileSync(resolve(root, DOC), refresh(readFileSync(resolve(root, DOC), "utf8")));
  }
  const doc = readFileSync(resolve(root, DOC), "utf8");
  const blocks = [...doc.matchAll(BLOCK)].map((m) => ({ file: m[1] ?? null, lang: m[2]!, code: m[3]! }));

  it("shows only code that lives in the repo, verbatim", () => {
    expect(blocks.length).toBe(9);
    for (const b of blocks) {
      expect(b.file, `a block without a file marker:\n${b.code}`).not.toBeNull();
      expect(b.code).toBe(readFileSync(resolve(root, b.file!), "utf8"));
    }
  });

  it("shows a package.json that parses and follows the rules the repo's own drivers follow", () => {
    const shown = JSON.parse(blocks.find((b) => b.lang === "json")!.code);
    for (const pkg of [
      shown,
      JSON.parse(readFileSync(resolve(import.meta.dirname, "../package.json"), "utf8")),
    ]) {
      expect(pkg.keywords).toContain("faultline-driver");
      expect(Object.keys(pkg.peerDependencies)).toEqual(["@faultline/kernel"]);
      expect(pkg.type).toBe("module");
    }
  });

  it("runs the use-hello example", async () => {
    const r = await useHello();
    expect(r.greeting).toBe("Hello from the kernel!");
    expect(r.maps).toMatch(/ r--s 00000000 00:05 \d+ +\/dev\/hello\n$/);
    expect(r.signal).toBe("SIGBUS");
    expect(r.dmesg.some((l) => /^hello: loaded with major \d+$/.test(l))).toBe(true);
  });
});
