import { describe, expect, it } from "vitest";
import { compareWithExpected, EXPECTED } from "./expected";
import { runOnFaultline } from "./faultline";
import { compileOracle, oracleUnavailableReason, runOnLinux } from "./linux";
import { randomScript } from "./script";
import { diffTranscripts } from "./transcript";

const cc = compileOracle();
const FIRST_SEED = 1000;
const RANDOM_SCRIPTS = Number(process.env.FAULTLINE_ORACLE_SCRIPTS ?? 1000);

describe("Faultline (modern era) prints the kernel's transcript", () => {
  it(`matches every recorded kernel transcript (${EXPECTED.length} scripts)`, () => {
    const bad = compareWithExpected((s) => runOnFaultline(s));
    expect(bad.map((b) => `${b.name}\n${b.diff.report}`).join("\n\n")).toBe("");
  });

  it.skipIf(!cc)(
    `matches the live kernel on ${RANDOM_SCRIPTS} random seeded scripts${cc ? "" : ` (skipped: ${oracleUnavailableReason})`}`,
    () => {
      const failures: string[] = [];
      for (let seed = FIRST_SEED; seed < FIRST_SEED + RANDOM_SCRIPTS && failures.length < 3; seed++) {
        const script = randomScript(seed, 60);
        const diff = diffTranscripts(runOnLinux(script), runOnFaultline(script), {
          labels: ["linux", "faultline"],
        });
        if (diff) failures.push(`seed ${seed}:\n${diff.report}`);
      }
      expect(failures.join("\n\n")).toBe("");
    },
    240_000,
  );
});
