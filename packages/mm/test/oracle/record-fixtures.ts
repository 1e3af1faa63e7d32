// Records the kernel's transcripts of the hand-written cases and a few random scripts into
// __fixtures__/linux-<series>-<pku|nopku>-<zeropage|nozeropage>.json, with the host features that
// name the file (fixture files of other hosts are kept). Run on Linux x86-64 with a C compiler:
//
//   pnpm --filter @faultline/mm exec tsx test/oracle/record-fixtures.ts
//
// To record on another kernel, name a runner that boots it and runs oracle.c on a script
// (`<runner> <oracle.c> <script.txt>`: transcript on stdout, `guest kernel: <release>` and
// `guest cpu: pku=<0|1> ospke=<0|1>` on stderr), and which cases to record; e.g. a PKU CPU under QEMU:
//
//   FAULTLINE_ORACLE_RUNNER=../../tools/pku-qemu/run-oracle.sh \
//   FAULTLINE_RECORD_CASES=faults,zero-page,pkeys,exec-only \
//   pnpm --filter @faultline/mm exec tsx test/oracle/record-fixtures.ts

import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { CASES } from "./cases.ts";
import {
  type ExpectedFixture,
  FIXTURE_DIR,
  type FixtureFile,
  fixtureFileName,
  RECORDED_RANDOM_SEEDS,
  RECORDED_RANDOM_STEPS,
} from "./expected.ts";
import {
  compileOracle,
  type HostMmFeatures,
  hostFeatures,
  kernelRelease,
  ORACLE_SOURCE,
  oracleUnavailableReason,
  runTextOnLinux,
} from "./linux.ts";
import { randomScript, type Script, serializeScript } from "./script.ts";
import { diffTranscripts, normalizeTranscript } from "./transcript.ts";

const runner = process.env.FAULTLINE_ORACLE_RUNNER ? resolve(process.env.FAULTLINE_ORACLE_RUNNER) : null;
const only = process.env.FAULTLINE_RECORD_CASES?.split(",").filter(Boolean) ?? null;

if (!runner && compileOracle() === null) {
  console.error(`cannot record fixtures: ${oracleUnavailableReason}`);
  process.exit(1);
}

/** Runs script text on this machine's kernel, or through the runner (recording what it says of its guest). */
function runText(text: string): string[] {
  if (!runner) return runTextOnLinux(text);
  const dir = mkdtempSync(join(tmpdir(), "faultline-record-"));
  try {
    writeFileSync(join(dir, "script.txt"), text);
    const out = execFileSync(runner, [ORACLE_SOURCE, join(dir, "script.txt")], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 64 * 1024 * 1024,
    });
    return out.split("\n").filter((l) => l !== "");
  } catch (e) {
    const err = e as { stderr?: string };
    throw new Error(`runner failed: ${err.stderr ?? e}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** This kernel's features, or the runner's guest's (kernel release, PKU from its stderr, zero-page probe). */
function guestFeatures(): { kernel: string; host: HostMmFeatures } {
  if (!runner) return { kernel: kernelRelease(), host: hostFeatures() };
  const dir = mkdtempSync(join(tmpdir(), "faultline-record-"));
  try {
    writeFileSync(
      join(dir, "script.txt"),
      "arena 0x100000000000 0x400000\nmmap 0x100000000000 0x1000 0x3 0x32\nload8 0x100000000000\nrss\n",
    );
    const r = spawnSync(runner, [ORACLE_SOURCE, join(dir, "script.txt")], { encoding: "utf8" });
    const kernel = /guest kernel: (\S+)/.exec(r.stderr)?.[1] ?? "";
    const rssLine = r.stdout.split("\n")[2] ?? "";
    if (!kernel || !/= rss \d+ anon \d+$/.test(rssLine))
      throw new Error(`runner did not report its guest:\n${r.stderr}\n${r.stdout}`);
    return { kernel, host: { pku: /pku=1 ospke=1/.test(r.stderr), zeroPage: /= rss 0 /.test(rssLine) } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function record(name: string, doc: string, script: Script): ExpectedFixture {
  const text = serializeScript(script);
  const transcript = normalizeTranscript(runText(text));
  const again = diffTranscripts(transcript, runText(text));
  if (again) throw new Error(`${name}: the kernel transcript is not reproducible\n${again.report}`);
  return { name, doc, text, transcript };
}

const wanted = (name: string) => only === null || only.includes(name);
const cases: ExpectedFixture[] = CASES.filter((c) => wanted(c.name)).map((c) =>
  record(c.name, c.doc, c.script),
);
for (const seed of RECORDED_RANDOM_SEEDS) {
  if (!wanted(`random-${seed}`)) continue;
  cases.push(
    record(
      `random-${seed}`,
      `randomScript(${seed}, ${RECORDED_RANDOM_STEPS})`,
      randomScript(seed, RECORDED_RANDOM_STEPS),
    ),
  );
}

const { kernel, host } = guestFeatures();
const file: FixtureFile = { kernel, arch: process.arch, host, cases };
const path = join(FIXTURE_DIR, fixtureFileName(file.kernel, host));
mkdirSync(FIXTURE_DIR, { recursive: true });
writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`);
console.log(`wrote ${cases.length} transcripts (kernel ${file.kernel}, ${JSON.stringify(host)}) to ${path}`);
