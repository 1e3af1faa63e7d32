// The kernel transcripts a differential test file compares Faultline with, recorded into a fixture so
// that every host runs the comparison, compiler and matching kernel or not. Setting the file's
// record variable (FAULTLINE_RECORD_…=1) on a host that can run the oracle records them anew.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { expect } from "vitest";
import { compileOracle, kernelRelease, runTextOnLinux } from "../../mm/test/oracle/linux.ts";

export interface RecordedTranscripts {
  /** The kernel release they were recorded on. */
  readonly kernel: string;
  readonly cases: Record<string, { readonly text: string; readonly transcript: readonly string[] }>;
}

/**
 * The fixture's transcripts (null when there is no fixture), recorded first from this host's
 * kernel when `recordEnv` is set and the oracle compiles. `scripts` maps case name to script text.
 */
export function recordedTranscripts(
  fixture: URL,
  recordEnv: string,
  scripts: Readonly<Record<string, string>>,
): RecordedTranscripts | null {
  if (process.env[recordEnv] && compileOracle()) {
    const cases: RecordedTranscripts["cases"] = {};
    for (const [name, text] of Object.entries(scripts))
      cases[name] = { text, transcript: runTextOnLinux(text) };
    const out: RecordedTranscripts = { kernel: kernelRelease(), cases };
    writeFileSync(fixture, `${JSON.stringify(out, null, 2)}\n`);
  }
  return existsSync(fixture) ? (JSON.parse(readFileSync(fixture, "utf8")) as RecordedTranscripts) : null;
}

/** The fixture exists and holds a transcript of every case, for its script as it is now. */
export function expectRecordedCover(
  recorded: RecordedTranscripts | null,
  recordEnv: string,
  scripts: Readonly<Record<string, string>>,
): asserts recorded is RecordedTranscripts {
  expect(recorded, `record with ${recordEnv}=1`).not.toBeNull();
  for (const [name, text] of Object.entries(scripts)) expect(recorded!.cases[name]?.text, name).toBe(text);
}
