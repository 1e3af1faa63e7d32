/**
 * Every ```ts block of docs/write-a-device-model.md is one of the files in test/docs/, included
 * verbatim after a `<!-- file: … -->` marker; this test checks that and runs the examples (tsc checks
 * their types as part of this package's typecheck). After editing an example, refresh the doc with
 * `FAULTLINE_UPDATE_DOCS=1 pnpm --filter @faultline/devices exec vitest run test/docs.test.ts`.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { main as memoryDevices } from "./docs/memory-devices";
import { main as metronome } from "./docs/metronome";
import { main as useDice } from "./docs/use-dice";

const root = resolve(import.meta.dirname, "../../..");
const DOC = "docs/write-a-device-model.md";

function docBlocks(doc: string): Array<{ file: string | null; code: string }> {
  const out: Array<{ file: string | null; code: string }> = [];
  const re = /(?:<!-- file: (\S+) -->\s*\n)?```(\w*)\n([\s\S]*?)```/g;
  for (const m of doc.matchAll(re)) {
    if (m[2] === "ts" || m[2] === "typescript") out.push({ file: m[1] ?? null, code: m[3]! });
  }
  return out;
}

/** Rewrites each marked block with its file's current text. */
function refresh(doc: string): string {
  return doc.replace(
    /(<!-- file: (\S+) -->\s*\n```ts\n)[\s\S]*?```/g,
    (_m, head: string, file: string) => `${head}${readFileSync(resolve(root, file), "utf8")}\`\`\``,
  );
}

describe(DOC, () => {
  // Never rewrite the doc in CI: a stale doc must fail there, not be fixed silently.
  if (process.env.FAULTLINE_UPDATE_DOCS && !process.env.CI) {
    writeFileSync(resolve(root, DOC), refresh(readFileSync(resolve(root, DOC), "utf8")));
  }
  const doc = readFileSync(resolve(root, DOC), "utf8");

  it("shows only code that lives in the repo, verbatim", () => {
    const blocks = docBlocks(doc);
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    for (const b of blocks) {
      expect(b.file, `a ts block without a file marker:\n${b.code}`).not.toBeNull();
      expect(b.code).toBe(readFileSync(resolve(root, b.file!), "utf8"));
    }
  });

  it("runs the dice example", () => {
    const r = useDice();
    expect(r.rolls).toHaveLength(3);
    for (const n of r.rolls) expect(n).toBeGreaterThanOrEqual(1);
    for (const n of r.rolls) expect(n).toBeLessThanOrEqual(6);
    expect(r.saved).toMatchObject({ name: "dice", version: 1 });
    expect(r.errors).toEqual(["dice: write to register 0 ignored"]);
    expect(r.iomem).toContain("000c8000-000c800f : dice\n");
  });

  it("runs the metronome example: beats on the virtual clock, one INTx edge per acknowledged beat", () => {
    const r = metronome();
    expect(r.atStart).toBe(0);
    expect(r.afterOneSecond).toBe(2);
    expect(r.beats).toBe(3);
    expect(r.edges).toEqual(["raise@500000000", "lower@1000000000", "raise@1500000000"]);
    expect(r.now).toBe(1_500_000_000);
    expect(doc).toContain("`raise@500000000`, `lower@1000000000`, `raise@1500000000`");
  });

  it("runs the memory devices example", () => {
    const r = memoryDevices();
    expect(r).toMatchObject({ isaByte: 0x11, pciByte: 0x22, isaHasPages: true, pciHasPages: false });
    expect(r.iomem).toContain("000d0000-000d3fff : isa-ram\n");
    expect(r.iomem).toContain(
      `${r.bar.toString(16)}-${(r.bar + (1 << 20) - 1).toString(16)} : ${r.pciName}\n`,
    );
  });
});
