// Recorded kernel transcripts (__fixtures__/linux-expected.json, written by record-fixtures.ts),
// so an emulator can be compared against real Linux output on machines without a C compiler.

import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseScript, type Script } from "./script.ts";
import { type DiffOptions, diffTranscripts, type TranscriptDiff } from "./transcript.ts";

export const FIXTURE_PATH = join(
  dirname(fileURLToPath(import.meta.url)),
  "__fixtures__",
  "linux-expected.json",
);

/** Seeds and length of the random scripts that record-fixtures.ts records. */
export const RECORDED_RANDOM_SEEDS: readonly number[] = [1, 2, 3, 4, 5, 6, 7, 8];
export const RECORDED_RANDOM_STEPS = 100;

export interface ExpectedFixture {
  readonly name: string;
  readonly doc: string;
  /** Script text (serializeScript), the source of truth for `script`. */
  readonly text: string;
  /** Kernel transcript, normalized with normalizeTranscript() (shmem inodes are `<ino>`). */
  readonly transcript: readonly string[];
}

export interface FixtureFile {
  /** `uname -r` and architecture of the machine that recorded the fixtures. */
  readonly kernel: string;
  readonly arch: string;
  readonly cases: readonly ExpectedFixture[];
}

export interface ExpectedCase extends ExpectedFixture {
  readonly script: Script;
}

function load(): { kernel: string; arch: string; cases: ExpectedCase[] } {
  if (!existsSync(FIXTURE_PATH)) return { kernel: "", arch: "", cases: [] };
  const file = JSON.parse(readFileSync(FIXTURE_PATH, "utf8")) as FixtureFile;
  return {
    kernel: file.kernel,
    arch: file.arch,
    cases: file.cases.map((c) => ({ ...c, script: parseScript(c.text) })),
  };
}

const loaded = load();

/** Kernel release the fixtures were recorded on ("" when the fixture file is missing). */
export const EXPECTED_KERNEL: string = loaded.kernel;
export const EXPECTED_ARCH: string = loaded.arch;
/** Hand-written cases (cases.ts) and random scripts with the kernel's transcripts. */
export const EXPECTED: readonly ExpectedCase[] = loaded.cases;

/** An emulator under test: runs a script and returns its transcript lines. */
export type TranscriptRunner = (script: Script) => readonly string[];

/**
 * Runs every recorded script through `run` and returns the cases whose transcript differs from
 * the kernel's (empty when everything matches).
 */
export function compareWithExpected(
  run: TranscriptRunner,
  opts: DiffOptions = {},
): { readonly name: string; readonly diff: TranscriptDiff }[] {
  const out: { name: string; diff: TranscriptDiff }[] = [];
  for (const c of EXPECTED) {
    const diff = diffTranscripts(c.transcript, run(c.script), { labels: ["linux", "emulator"], ...opts });
    if (diff) out.push({ name: c.name, diff });
  }
  return out;
}
