/**
 * docs/driver-api.md under test, like the guides: every code block carries a marker, `<!-- file: … -->`
 * (the block is that repo file verbatim, and the file runs here) or `<!-- output: <id> … -->` (the block
 * is what the kernel prints for that scenario, produced here by test/docs/driver-api-outputs.ts). After
 * editing an example file, refresh the doc with `FAULTLINE_UPDATE_DOCS=1 pnpm --filter
 * @faultline/driver-simple exec vitest run test/driver-api-doc.test.ts` (ignored when CI is set).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { Machine } from "@faultline/kernel";
import { describe, expect, it, vi } from "vitest";
import { myDriver } from "./docs/declare-driver";
import { oopsExcerpt, warningExcerpt } from "./docs/driver-api-outputs";
import { mapPages } from "./docs/map-pages";

const root = resolve(import.meta.dirname, "../../../..");
const DOC = "docs/driver-api.md";
const BLOCK = /(?:<!-- (file|output): (\S+)[^>]*-->\s*\n)?```(\w*)\n([\s\S]*?)```/g;
const OUTPUTS: Record<string, () => Promise<string[]>> = { warning: warningExcerpt, oops: oopsExcerpt };

if (process.env.FAULTLINE_UPDATE_DOCS && !process.env.CI) {
  const doc = readFileSync(resolve(root, DOC), "utf8").replace(
    /(<!-- file: (\S+) -->\s*\n```\w*\n)[\s\S]*?```/g,
    (_m, head: string, file: string) => `${head}${readFileSync(resolve(root, file), "utf8")}\`\`\``,
  );
  writeFileSync(resolve(root, DOC), doc);
}

describe(DOC, () => {
  const doc = readFileSync(resolve(root, DOC), "utf8");
  const blocks = [...doc.matchAll(BLOCK)].map((m) => ({
    kind: m[1] ?? null,
    ref: m[2] ?? null,
    code: m[4]!,
  }));

  it("marks every block: 3 example files shown verbatim, 2 kernel-log outputs", () => {
    expect(blocks.map((b) => `${b.kind}:${b.ref}`)).toEqual([
      "file:packages/drivers/simple/test/docs/driver-api-intro.ts",
      "file:packages/drivers/simple/test/docs/declare-driver.ts",
      "file:packages/drivers/simple/test/docs/map-pages.ts",
      "output:warning",
      "output:oops",
    ]);
    for (const b of blocks.filter((x) => x.kind === "file")) {
      expect(b.code).toBe(readFileSync(resolve(root, b.ref!), "utf8"));
    }
  });

  for (const id of Object.keys(OUTPUTS)) {
    it(`shows the kernel's own ${id} lines`, async () => {
      const shown = blocks
        .find((b) => b.kind === "output" && b.ref === id)!
        .code.trimEnd()
        .split("\n");
      expect(await OUTPUTS[id]!()).toEqual(shown);
    });
  }

  it("runs the opening example: a store through the mapping, maps and dmesg printed, invariants hold", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      await import("./docs/driver-api-intro");
      expect(log).toHaveBeenCalledTimes(1);
      const [maps, dmesg] = log.mock.calls[0]! as [string, string[]];
      expect(maps).toMatch(/ rw-s 000a0000 00:05 \d+ +\/dev\/simpler\n$/);
      expect(dmesg.some((l) => l.startsWith("Simple VMA open"))).toBe(true);
    } finally {
      log.mockRestore();
    }
  });

  it("runs the vm_map_pages example: pages 2 and 3 at vm_pgoff 2, -ENXIO past the fourth, VM_MIXEDMAP", async () => {
    const r = await mapPages();
    expect(r.seen).toBe("cd");
    expect(r.tooFar).toBe(-6); // -ENXIO
    expect(r.smaps).toMatch(/^VmFlags: rd sh mr mw me ms sd mm $/m);
    r.machine.checkInvariants();
  });

  it("the declared driver loads, takes a major, and unloads", async () => {
    const m = await Machine.create({ ramBytes: 16 << 20, drivers: [myDriver({ debug: 1 })] });
    expect(m.procText("/proc/devices")).toMatch(/^\s*\d+ my_driver$/m);
    expect(m.unloadDriver("my_driver")).toBe(0);
    m.checkInvariants();
  });
});
