import { describe, expect, it } from "vitest";
import { CASES, unmetExpectations } from "./cases";
import { compareWithExpected, FIXTURE_SETS, LIVE_SCRIPT_STEPS, RECORDED_LIVE_SEEDS } from "./expected";
import { runLikeHost, runOnFaultline } from "./faultline";
import { describeHost, hostFeatures, liveKernelMismatch, runOnLinux } from "./linux";
import { randomScript, randomScriptWithFiles, randomScriptWithForks, type Script } from "./script";
import { diffTranscripts } from "./transcript";

const live = liveKernelMismatch();
// Seeds 1000–1999 are each compared once: the first 300 against their recorded transcripts (every
// host, compiler or not), the next 700 against the live kernel. Running the recorded ones live as
// well repeated the same scripts (about 40% of this file's time) without checking anything new.
const FIRST_SEED = RECORDED_LIVE_SEEDS[RECORDED_LIVE_SEEDS.length - 1]! + 1;
const RANDOM_SCRIPTS = Number(process.env.FAULTLINE_ORACLE_SCRIPTS ?? 700);
const recorded = FIXTURE_SETS.reduce((n, s) => n + s.cases.length, 0);

describe("Faultline (modern era) prints the kernel's transcript", () => {
  it(`matches every recorded kernel transcript (${recorded} scripts in ${FIXTURE_SETS.length} files, each run with its host's features)`, () => {
    const bad = compareWithExpected((s, host) => runOnFaultline(s, undefined, undefined, host));
    expect(bad.map((b) => `${b.name}\n${b.diff.report}`).join("\n\n")).toBe("");
    // Several hundred scripts: about 25 s on a loaded 2-core machine.
  }, 180_000);

  // Every kind of host, whatever this machine is: PKU and zero-page expectations are Linux's
  // (arch/x86/mm/pkeys.c, mm/mprotect.c, do_anonymous_page), checked live on hosts that have them.
  for (const pku of [false, true]) {
    for (const zeroPage of [true, false]) {
      const host = { pku, zeroPage };
      it(`meets every hand-written case's expectations for a host with ${describeHost(host)}`, () => {
        const unmet = CASES.flatMap((c) =>
          unmetExpectations(c, runOnFaultline(c.script, undefined, undefined, host), host),
        );
        expect(unmet).toEqual([]);
      });
    }
  }

  /** The scripts `make(seed)` for `count` seeds from `first`, each run on the live kernel and here. */
  const liveRandom = (title: string, first: number, count: number, make: (seed: number) => Script) =>
    it.skipIf(live !== null)(
      `matches the live kernel on ${count} ${title} (seeds ${first}–${first + count - 1})${
        live === null
          ? ` (configured like this host: ${describeHost(hostFeatures())})`
          : ` [SKIPPED: ${live}]`
      }`,
      () => {
        const failures: string[] = [];
        for (let seed = first; seed < first + count && failures.length < 3; seed++) {
          const script = make(seed);
          const diff = diffTranscripts(runOnLinux(script), runLikeHost(script), {
            labels: ["linux", "faultline"],
          });
          if (diff) failures.push(`seed ${seed}:\n${diff.report}`);
        }
        expect(failures.join("\n\n")).toBe("");
      },
      240_000,
    );

  // After the recorded seeds.
  liveRandom("random seeded scripts", FIRST_SEED, RANDOM_SCRIPTS, (seed) =>
    randomScript(seed, LIVE_SCRIPT_STEPS),
  );

  // A wider mix (memfd files, seals, mlock, more madvise advice: script.ts randomScriptWithFiles) on
  // seeds of its own, live only: its operations found eight rules Faultline had wrong (MADV_PAGEOUT,
  // MADV_POPULATE_*'s walk, memfd seals before MAP_FIXED, fallocate and fault-around, ...).
  liveRandom(
    "random scripts with memfd files, seals, mlock and more madvise",
    400000,
    Number(process.env.FAULTLINE_ORACLE_FILE_SCRIPTS ?? 150),
    (seed) => randomScriptWithFiles(seed, 2 * LIVE_SCRIPT_STEPS),
  );

  // The same mix with operations inside fork children too (script.ts randomScriptWithForks): lazy-free
  // and mlocked pages shared with a child, MREMAP_DONTUNMAP of locked memory, pages a child's exit
  // leaves behind. 13 of these 60 seeds fail when MADV_FREE marks nothing lazy-free.
  liveRandom(
    "random scripts with operations in fork children too",
    500000,
    Number(process.env.FAULTLINE_ORACLE_FORK_SCRIPTS ?? 60),
    (seed) => randomScriptWithForks(seed, 2 * LIVE_SCRIPT_STEPS),
  );
});
