// The second built-in scenario, `faultline run builtin:sharing` (issue 12): the command prints exactly
// what docs/run-a-multi-process-simulation.md shows (a deterministic run, --seed 1), and its programs
// end as the scenario expects.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { builtinScenario } from "./builtin-scenarios";
import { DEFAULT_SCENARIO } from "./default-scenario";
import { ScenarioError } from "./scenario";
import { SHARING_SCENARIO } from "./sharing-scenario";

const run = promisify(execFile);
const appDir = fileURLToPath(new URL("..", import.meta.url));
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
    const r = await run(
      process.execPath,
      ["--import", "tsx", "--conditions=@faultline/source", "src/cli.ts", ...COMMAND.split(" ").slice(1)],
      { cwd: appDir, encoding: "utf8", maxBuffer: 16 << 20 },
    );
    expect(maskThreads(r.stdout)).toBe(maskThreads(block![1]!));
    // What the story is about, in case the guide and the command ever drift together.
    expect(r.stdout).toContain("the child's answers: file 10, memfd 20, segment 30");
    expect(r.stdout).toMatch(
      /SIGBUS caught: code 2 \(BUS_ADRERR\)[^\n]*\n[^\n]*the handler returned: going on/,
    );
    expect(r.stdout).toContain("Every process ended as the scenario expects.");
  }, 300_000);
});
