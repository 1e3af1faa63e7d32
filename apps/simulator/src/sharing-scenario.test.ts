// The second built-in scenario, `faultline run builtin:sharing` (issue 12): the command prints exactly
// what docs/run-a-multi-process-simulation.md shows (a deterministic run, --seed 1), and its programs
// end as the scenario expects.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { faultline } from "../test/cli-runner";
import { builtinScenario } from "./builtin-scenarios";
import { DEFAULT_SCENARIO } from "./default-scenario";
import { ScenarioError } from "./scenario";
import { SHARING_SCENARIO } from "./sharing-scenario";

const DOC = new URL("../../../docs/run-a-multi-process-simulation.md", import.meta.url);
const COMMAND = "faultline run builtin:sharing --seed 1";

/** The worker thread ids in the summary table depend on what else the host process runs. */
const maskThreads = (text: string) => text.replace(/^(│ \d+ +│ [^│]+│) \d+ +│/gm, "$1 <thread> │");

describe("builtin:sharing", () => {
  it("names the built-in scenarios, and refuses another name with the list", () => {
    expect(builtinScenario("builtin:sharing")).toBe(SHARING_SCENARIO);
    expect(builtinScenario("builtin:ldd3-chapter-15")).toBe(DEFAULT_SCENARIO);
    expect(() => builtinScenario("builtin:toString")).toThrow(ScenarioError);
    expect(() => builtinScenario("builtin:nope")).toThrow(
      "builtin:nope: (scenario): expected a scenario file or one of builtin:ldd3-chapter-15, builtin:sharing",
    );
  });

  it(`\`${COMMAND}\` prints the guide's transcript: the three ways shared, the SIGBUS caught, both exits 0`, async () => {
    const doc = readFileSync(DOC, "utf8");
    const block = new RegExp(`<!-- output: ${COMMAND} -->\\n\`\`\`text\\n([\\s\\S]*?)\`\`\``).exec(doc);
    expect(block, `the guide shows the output of ${COMMAND}`).not.toBeNull();
    const r = await faultline(...COMMAND.split(" ").slice(1));
    expect(r.code, r.stderr).toBe(0);
    expect(maskThreads(r.stdout)).toBe(maskThreads(block![1]!));
    // What the story is about, in case the guide and the command ever drift together.
    expect(r.stdout).toContain("the child's answers: file 10, memfd 20, segment 30");
    expect(r.stdout).toMatch(
      /SIGBUS caught: code 2 \(BUS_ADRERR\)[^\n]*\n[^\n]*the handler returned: going on/,
    );
    expect(r.stdout).toContain("Every process ended as the scenario expects.");
  }, 300_000);

  it("runs the same when observed for a report (--html): the caught SIGBUS is still caught", async () => {
    const dir = mkdtempSync(join(tmpdir(), "faultline-sharing-"));
    try {
      const html = join(dir, "sharing.html");
      const [plain, observed] = await Promise.all([
        faultline(...COMMAND.split(" ").slice(1)),
        faultline(...COMMAND.split(" ").slice(1), "--html", html),
      ]);
      expect(observed.code, observed.stdout + observed.stderr).toBe(0);
      expect(maskThreads(observed.stdout)).toBe(maskThreads(plain.stdout));
      expect(readFileSync(html, "utf8")).toContain("/memfd:sharing");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
