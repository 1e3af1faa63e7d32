// Recorded kernel transcripts (__fixtures__/linux-*.json, written by record-fixtures.ts), so an
// emulator can be compared against real Linux output on machines without a C compiler. Each file
// records the kernel, and the host features that change results (PKU, the zero page): Faultline is
// run configured the same way when it is compared with that file.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_HOST_FEATURES, type HostMmFeatures } from "./linux.ts";
import { parseScript, randomScript, type Script } from "./script.ts";
import { type DiffOptions, diffTranscripts, type TranscriptDiff } from "./transcript.ts";

export const FIXTURE_DIR = join(dirname(fileURLToPath(import.meta.url)), "__fixtures__");

/** Seeds and length of the long random scripts that record-fixtures.ts records (`random-<seed>`). */
export const RECORDED_RANDOM_SEEDS: readonly number[] = [1, 2, 3, 4, 5, 6, 7, 8];
export const RECORDED_RANDOM_STEPS = 100;
/**
 * Random 60-step scripts recorded (`random-<seed>-60`) so that every host runs them against the
 * kernel's transcripts, compiler or not; the live comparison (faultline-vs-linux.test.ts) goes on
 * from the seed after the last of these.
 */
export const RECORDED_LIVE_SEEDS: readonly number[] = Array.from({ length: 300 }, (_, i) => 1000 + i);
export const LIVE_SCRIPT_STEPS = 60;

/** Every random script record-fixtures.ts records: its fixture name, doc and script. */
export function recordedRandomScripts(): { name: string; doc: string; script: Script }[] {
  return [
    ...RECORDED_RANDOM_SEEDS.map((seed) => ({
      name: `random-${seed}`,
      doc: `randomScript(${seed}, ${RECORDED_RANDOM_STEPS})`,
      script: randomScript(seed, RECORDED_RANDOM_STEPS),
    })),
    ...RECORDED_LIVE_SEEDS.map((seed) => ({
      name: `random-${seed}-${LIVE_SCRIPT_STEPS}`,
      doc: `randomScript(${seed}, ${LIVE_SCRIPT_STEPS})`,
      script: randomScript(seed, LIVE_SCRIPT_STEPS),
    })),
  ];
}

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
  /** Host features of the recording kernel; absent in files recorded before they were tracked. */
  readonly host?: HostMmFeatures;
  readonly cases: readonly ExpectedFixture[];
}

export interface ExpectedCase extends ExpectedFixture {
  readonly script: Script;
}

/** One fixture file: a kernel, its host features, its transcripts. */
export interface FixtureSet {
  readonly file: string;
  readonly kernel: string;
  readonly arch: string;
  readonly host: HostMmFeatures;
  readonly cases: readonly ExpectedCase[];
}

/** The file name record-fixtures.ts writes for a kernel series and host features. */
export function fixtureFileName(kernel: string, host: HostMmFeatures): string {
  const series = kernel.split(".").slice(0, 2).join(".");
  return `linux-${series}-${host.pku ? "pku" : "nopku"}-${host.zeroPage ? "zeropage" : "nozeropage"}.json`;
}

function load(): FixtureSet[] {
  if (!existsSync(FIXTURE_DIR)) return [];
  return readdirSync(FIXTURE_DIR)
    .filter((f) => /^linux-.*\.json$/.test(f))
    .sort()
    .map((f) => {
      const file = JSON.parse(readFileSync(join(FIXTURE_DIR, f), "utf8")) as FixtureFile;
      return {
        file: f,
        kernel: file.kernel,
        arch: file.arch,
        host: file.host ?? DEFAULT_HOST_FEATURES,
        cases: file.cases.map((c) => ({ ...c, script: parseScript(c.text) })),
      };
    });
}

/** Every fixture file, sorted by name. */
export const FIXTURE_SETS: readonly FixtureSet[] = load();

/** An emulator under test: runs a script, configured like `host`, and returns its transcript lines. */
export type TranscriptRunner = (script: Script, host: HostMmFeatures) => readonly string[];

/**
 * Runs every recorded script of every fixture file through `run` (configured like the file's host)
 * and returns the cases whose transcript differs from the kernel's (empty when everything matches).
 */
export function compareWithExpected(
  run: TranscriptRunner,
  opts: DiffOptions = {},
): { readonly name: string; readonly diff: TranscriptDiff }[] {
  const out: { name: string; diff: TranscriptDiff }[] = [];
  for (const set of FIXTURE_SETS) {
    for (const c of set.cases) {
      const diff = diffTranscripts(c.transcript, run(c.script, set.host), {
        labels: ["linux", "emulator"],
        ...opts,
      });
      if (diff) out.push({ name: `${set.file}: ${c.name}`, diff });
    }
  }
  return out;
}
