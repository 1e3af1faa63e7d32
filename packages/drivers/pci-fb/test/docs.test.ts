/**
 * Every ```ts block of docs/write-a-pci-driver.md is a file of the repo, included verbatim after a
 * `<!-- file: … -->` marker: this test checks that and runs the story. After editing one of those
 * files, refresh the doc with
 * `FAULTLINE_UPDATE_DOCS=1 pnpm --filter @faultline/driver-pci-fb exec vitest run test/docs.test.ts`.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "./story";

const root = resolve(import.meta.dirname, "../../../..");
const DOC = "docs/write-a-pci-driver.md";
const BLOCK = /(?:<!-- file: (\S+) -->\s*\n)?```(\w*)\n([\s\S]*?)```/g;

describe(DOC, () => {
  // Never rewrite the doc in CI: a stale doc must fail there, not be fixed silently.
  if (process.env.FAULTLINE_UPDATE_DOCS && !process.env.CI) {
    const doc = readFileSync(resolve(root, DOC), "utf8").replace(
      /(<!-- file: (\S+) -->\s*\n```ts\n)[\s\S]*?```/g,
      (_m, head: string, file: string) => `${head}${readFileSync(resolve(root, file), "utf8")}\`\`\``,
    );
    writeFileSync(resolve(root, DOC), doc);
  }
  it("shows only code that lives in the repo, verbatim", () => {
    const doc = readFileSync(resolve(root, DOC), "utf8");
    const blocks = [...doc.matchAll(BLOCK)].filter((b) => b[2] === "ts");
    expect(blocks.length).toBe(5);
    for (const b of blocks) {
      expect(b[1], `a ts block without a file marker:\n${b[3]}`).toBeDefined();
      expect(b[3]).toBe(readFileSync(resolve(root, b[1]!), "utf8"));
    }
  });

  it("runs the story: probe, iomem, two processes share pixels, six vblanks", async () => {
    const r = await main();
    expect(r.seen).toBe(0xff00ff00);
    expect(r.width).toBe(64);
    expect(r.vblanks).toBe(6);
    expect(r.iomem).toMatch(/\n {2}[0-9a-f]+-[0-9a-f]+ : 0000:00:02\.0\n {4}[0-9a-f]+-[0-9a-f]+ : fl_fb\n/);
    expect(r.interrupts).toContain(" 11:          6   IO-APIC  11-fasteoi   fl_fb\n");
    expect(r.viewerMaps).toMatch(/r--s 00000000 00:05 \d+ +\/dev\/flfb0\n/);
    r.machine.checkInvariants();
  });
});
