// The guide shows the example files verbatim, and this runs exactly those files.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { pingPong } from "../examples/ping-pong";
import { shmShare } from "../examples/shm-share";

const root = new URL("../../../", import.meta.url);

describe("docs/run-a-multi-process-simulation.md", () => {
  it("shows the example files as they are, and the example runs", async () => {
    const doc = readFileSync(new URL("docs/run-a-multi-process-simulation.md", root), "utf8");
    const blocks = [...doc.matchAll(/<!-- file: (\S+) -->\n```ts\n([\s\S]*?)```/g)];
    expect(blocks.map((b) => b[1])).toEqual([
      "packages/sim/examples/ping-pong.program.ts",
      "packages/sim/examples/ping-pong.ts",
      "packages/sim/examples/shm-share.program.ts",
      "packages/sim/examples/shm-share.ts",
    ]);
    for (const [, path, code] of blocks) expect(code).toBe(readFileSync(new URL(path!, root), "utf8"));
    const results = await pingPong(200);
    expect(results.map((r) => r.exit)).toEqual([{ code: 0 }, { code: 0 }]);
    const shared = await shmShare();
    expect(shared.map((r) => r.exit)).toEqual([{ code: 0 }, { code: 0 }]);
    expect(shared[0]!.handledSignals.map((s) => `${s.signal} ${s.code}`)).toEqual(["SIGBUS BUS_ADRERR"]);
  }, 120_000);
});
