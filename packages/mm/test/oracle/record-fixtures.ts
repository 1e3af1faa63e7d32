// Records the kernel's transcripts of the hand-written cases and a few random scripts into
// __fixtures__/linux-expected.json. Run on Linux x86-64 with a C compiler:
//
//   pnpm --filter @faultline/mm exec tsx test/oracle/record-fixtures.ts

import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { CASES } from "./cases.ts";
import {
  type ExpectedFixture,
  FIXTURE_PATH,
  type FixtureFile,
  RECORDED_RANDOM_SEEDS,
  RECORDED_RANDOM_STEPS,
} from "./expected.ts";
import { compileOracle, kernelRelease, oracleUnavailableReason, runTextOnLinux } from "./linux.ts";
import { randomScript, type Script, serializeScript } from "./script.ts";
import { diffTranscripts, normalizeTranscript } from "./transcript.ts";

if (compileOracle() === null) {
  console.error(`cannot record fixtures: ${oracleUnavailableReason}`);
  process.exit(1);
}

function record(name: string, doc: string, script: Script): ExpectedFixture {
  const text = serializeScript(script);
  const transcript = normalizeTranscript(runTextOnLinux(text));
  const again = diffTranscripts(transcript, runTextOnLinux(text));
  if (again) throw new Error(`${name}: the kernel transcript is not reproducible\n${again.report}`);
  return { name, doc, text, transcript };
}

const cases: ExpectedFixture[] = CASES.map((c) => record(c.name, c.doc, c.script));
for (const seed of RECORDED_RANDOM_SEEDS) {
  cases.push(
    record(
      `random-${seed}`,
      `randomScript(${seed}, ${RECORDED_RANDOM_STEPS})`,
      randomScript(seed, RECORDED_RANDOM_STEPS),
    ),
  );
}

const file: FixtureFile = { kernel: kernelRelease(), arch: process.arch, cases };
mkdirSync(dirname(FIXTURE_PATH), { recursive: true });
writeFileSync(FIXTURE_PATH, `${JSON.stringify(file, null, 2)}\n`);
console.log(`wrote ${cases.length} transcripts (kernel ${file.kernel}) to ${FIXTURE_PATH}`);
