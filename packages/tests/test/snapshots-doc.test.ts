// docs/snapshots.md shows these example files verbatim, and this runs exactly those files.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { saveAndRestore } from "./examples/save-and-restore";
import { blinkAcrossSnapshot } from "./examples/timer-driver";

const root = new URL("../../../", import.meta.url);

describe("docs/snapshots.md", () => {
  it("shows the example files as they are, and the example runs", async () => {
    const doc = readFileSync(new URL("docs/snapshots.md", root), "utf8");
    const blocks = [...doc.matchAll(/<!-- file: (\S+) -->\n```ts\n([\s\S]*?)```/g)];
    expect(blocks.map((b) => b[1])).toEqual([
      "packages/tests/test/examples/save-and-restore.ts",
      "packages/tests/test/examples/counter-driver.ts",
      "packages/tests/test/examples/timer-driver.ts",
    ]);
    for (const [, path, code] of blocks) expect(code).toBe(readFileSync(new URL(path!, root), "utf8"));
    const r = await saveAndRestore();
    expect(r.text).toBe("Kept across a snapshot");
    // Two opens: one before the snapshot (restored with the driver's state), one after.
    expect(r.opens).toBe(2);
    // A 64 MiB machine that used a few pages: a few KiB.
    expect(r.bytes).toBeLessThan(64 * 1024);
    // The timer fires on the restored machine as on the original: 12 blinks in 1.25 s, same clock.
    const t = await blinkAcrossSnapshot();
    expect(t).toEqual({ original: 12, restored: 12, clock: true });
  }, 120_000);
});
