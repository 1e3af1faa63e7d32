/**
 * Every ```ts block of docs/write-a-pci-driver.md and docs/dma-and-direct-io.md is one of the files
 * in test/docs/, included verbatim after a `<!-- file: … -->` marker; this test checks that and runs
 * the examples. After editing an example, refresh the docs with
 * `FAULTLINE_UPDATE_DOCS=1 pnpm --filter @faultline/kernel exec vitest run test/docs.test.ts`.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { main as dmaStory } from "./docs/dma-engine";
import { FB_WIDTH, main as fbStory } from "./docs/pci-framebuffer";

const root = resolve(import.meta.dirname, "../../..");

function docBlocks(doc: string): Array<{ file: string | null; code: string }> {
  const out: Array<{ file: string | null; code: string }> = [];
  const re = /(?:<!-- file: (\S+) -->\s*\n)?```(\w*)\n([\s\S]*?)```/g;
  for (const m of doc.matchAll(re)) {
    if (m[2] === "ts" || m[2] === "typescript") out.push({ file: m[1] ?? null, code: m[3]! });
  }
  return out;
}

const refresh = (doc: string): string =>
  doc.replace(
    /(<!-- file: (\S+) -->\s*\n```ts\n)[\s\S]*?```/g,
    (_m, head: string, file: string) => `${head}${readFileSync(resolve(root, file), "utf8")}\`\`\``,
  );

for (const DOC of ["docs/write-a-pci-driver.md", "docs/dma-and-direct-io.md"]) {
  describe(DOC, () => {
    if (process.env.FAULTLINE_UPDATE_DOCS) {
      writeFileSync(resolve(root, DOC), refresh(readFileSync(resolve(root, DOC), "utf8")));
    }
    it("shows only code that lives in the repo, verbatim", () => {
      const blocks = docBlocks(readFileSync(resolve(root, DOC), "utf8"));
      expect(blocks.length).toBeGreaterThanOrEqual(1);
      for (const b of blocks) {
        expect(b.file, `a ts block without a file marker:\n${b.code}`).not.toBeNull();
        expect(b.code).toBe(readFileSync(resolve(root, b.file!), "utf8"));
      }
    });
  });
}

describe("the PCI framebuffer example", () => {
  it("probes, claims VRAM under its BAR, shares pixels between processes, counts vblanks", async () => {
    const r = await fbStory();
    expect(r.seen).toBe(0xff00ff00);
    expect(r.width).toBe(FB_WIDTH);
    expect(r.vblanks).toBe(6);
    expect(r.iomem).toMatch(/\n {2}[0-9a-f]+-[0-9a-f]+ : 0000:00:02\.0\n {4}[0-9a-f]+-[0-9a-f]+ : fl_fb\n/);
    expect(r.interrupts).toContain(" 11:          6   IO-APIC  11-fasteoi   fl_fb\n");
    expect(r.viewerMaps).toContain("/dev/flfb0");
    r.machine.checkInvariants();
  });
});

describe("the DMA engine example", () => {
  it("copies between pinned user buffers through coherent descriptors, completes by MSI", async () => {
    const r = await dmaStory();
    expect(r.copied).toBe(r.expected);
    expect(r.written).toBe(24);
    expect(r.expected.length).toBe(5994);
    expect(r.completions).toBe(1);
    expect(r.interrupts).toMatch(/ 24: {10}1 {3}PCI-MSI \d+-edge {6}fl_dma\n/);
    expect(r.pinnedAfter).toBe(0);
    r.machine.checkInvariants();
  });
});
