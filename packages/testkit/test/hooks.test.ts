/**
 * The hooks fail tests on their own: a fixture file whose tests each break one rule (a leaked frame,
 * an undeclared oops, a broken invariant) or none runs under vitest (useMachine from
 * @faultline/testkit/vitest) and under node:test (from @faultline/testkit/node-test), each in a child
 * process, and exactly the rule breakers fail, each with the kit's message.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const fixtures = resolve(import.meta.dirname, "__fixtures__/hooks");
const require = createRequire(import.meta.url);

/** What each test of the fixture should end as: null passes, a RegExp fails with that message. */
const EXPECTED: Record<string, RegExp | null> = {
  clean: null,
  "leaked frame":
    /1 frame\(s\) not back once every process exited and every driver was unloaded .*: pfn 0x[0-9a-f]+ \(refcount 1, mapcount 0\)/,
  "unexpected oops":
    /unexpected driver buggy oops in vm_ops->fault \(pid 1\): buggy: cannot read properties of null/,
  "declared oops": null,
  "broken invariant":
    /checkInvariants\(\) after the test: pfn 0x[0-9a-f]+: refcount 1 but 2 references exist/,
};

describe("useMachine's hook fails a test that breaks a rule, and only those", () => {
  it("vitest (afterEach)", () => {
    const out = mkdtempSync(join(tmpdir(), "testkit-hooks-"));
    try {
      const vitest = join(dirname(require.resolve("vitest/package.json")), "vitest.mjs");
      const r = spawnSync(
        process.execPath,
        [
          vitest,
          "run",
          "--config",
          join(fixtures, "vitest.config.ts"),
          "--reporter=json",
          `--outputFile=${out}/r.json`,
        ],
        { cwd: fixtures, encoding: "utf8", env: { ...process.env, CI: "1", NO_COLOR: "1" } },
      );
      expect(r.status, r.stderr).toBe(1);
      const report = JSON.parse(readFileSync(join(out, "r.json"), "utf8")) as {
        testResults: Array<{
          assertionResults: Array<{ title: string; status: string; failureMessages: string[] }>;
        }>;
      };
      const results = report.testResults.flatMap((f) => f.assertionResults);
      expect(results.map((t) => t.title)).toEqual(Object.keys(EXPECTED));
      for (const t of results) {
        const want = EXPECTED[t.title]!;
        expect(t.status, `${t.title}: ${t.failureMessages.join("\n")}`).toBe(want ? "failed" : "passed");
        if (want) {
          expect(t.failureMessages).toHaveLength(1);
          expect(t.failureMessages[0]).toMatch(/^TestKitError: \d problem\(s\) found after the test:\n/);
          expect(t.failureMessages[0]).toMatch(want);
        }
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it("node:test (afterEach)", () => {
    const r = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "--conditions=@faultline/source",
        "--test",
        "--test-reporter=tap",
        "node-hooks.fixture.ts",
      ],
      { cwd: fixtures, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } },
    );
    expect(r.status, r.stderr).toBe(1);
    // TAP: "ok 1 - clean" / "not ok 2 - leaked frame", each followed by its YAML block.
    const tests = [...r.stdout.matchAll(/^(not ok|ok) \d+ - (.+)$/gm)].map((m) => ({
      name: m[2]!,
      ok: m[1] === "ok",
      at: m.index,
    }));
    expect(tests.map((t) => t.name)).toEqual(Object.keys(EXPECTED));
    for (const [i, t] of tests.entries()) {
      const want = EXPECTED[t.name]!;
      const report = r.stdout.slice(t.at, tests[i + 1]?.at);
      expect(t.ok, `${t.name}: ${report}`).toBe(want === null);
      if (want) {
        expect(report).toMatch(/failureType: 'hookFailed'/);
        expect(report).toMatch(want);
      }
    }
  });
});
