/**
 * Every ```ts block of docs/dma-and-direct-io.md is a file of the repo, included verbatim after a
 * `<!-- file: … -->` marker: this test checks that and runs the story. After editing one of those
 * files, refresh the doc with
 * `FAULTLINE_UPDATE_DOCS=1 pnpm --filter @faultline/driver-dma-engine exec vitest run test/docs.test.ts`.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { mmapCoherent } from "./mmap-coherent";
import { main } from "./story";

const root = resolve(import.meta.dirname, "../../../..");
const DOC = "docs/dma-and-direct-io.md";
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
    expect(blocks.length).toBe(4);
    for (const b of blocks) {
      expect(b[1], `a ts block without a file marker:\n${b[3]}`).toBeDefined();
      expect(b[3]).toBe(readFileSync(resolve(root, b[1]!), "utf8"));
    }
  });

  it("runs the story: a DMA copy between pinned user buffers, completed by MSI", async () => {
    const r = await main();
    expect(r.written).toBe(24);
    expect(r.expected.length).toBe(5994);
    expect(r.copied).toBe(r.expected);
    expect(r.completions).toBe(1);
    expect(r.interrupts).toMatch(/ 24: {10}1 {3}PCI-MSI \d+-edge {6}fl_dma\n/);
    r.machine.checkInvariants();
  });

  it.each([false, true])("runs the dma_mmap_coherent example (iommu %s)", async (iommu) => {
    const r = await mmapCoherent(iommu);
    expect(r.text).toBe("page 1 of the ring");
    expect(r.tooFar).toBe(-6); // -ENXIO
    expect(r.smaps).toMatch(/^VmFlags: rd sh mr mw me ms pf io de dd sd $/m);
    r.machine.checkInvariants();
  });
});
