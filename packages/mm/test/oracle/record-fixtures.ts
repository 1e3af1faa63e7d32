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

import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { CASES } from "./cases.ts";
import {
  type ExpectedFixture,
  FIXTURE_DIR,
  type FixtureFile,
  fixtureFileName,
  recordedRandomScripts,
} from "./expected.ts";
import {
  compileOracle,
  type HostMmFeatures,
  hostFeatures,
  kernelRelease,
  ORACLE_SOURCE,
  oracleUnavailableReason,
  runTextOnLinux,
  ZERO_PAGE_PROBE,
  zeroPageFromProbe,
} from "./linux.ts";
import { type Script, serializeScript } from "./script.ts";
import { diffTranscripts, normalizeTranscript } from "./transcript.ts";

const runner = process.env.FAULTLINE_ORACLE_RUNNER ? resolve(process.env.FAULTLINE_ORACLE_RUNNER) : null;
const only = process.env.FAULTLINE_RECORD_CASES?.split(",").filter(Boolean) ?? null;

if (!runner && compileOracle() === null) {
  console.error(`cannot record fixtures: ${oracleUnavailableReason}`);
  process.exit(1);
}

/** Runs script text through the runner: its stdout lines and its stderr (what it says of its guest). */
function viaRunner(cmd: string, text: string): { lines: string[]; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), "faultline-record-"));
  try {
    writeFileSync(join(dir, "script.txt"), text);
    const r = spawnSync(cmd, [ORACLE_SOURCE, join(dir, "script.txt")], {
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    });
    if (r.status !== 0) throw new Error(`runner failed (status ${r.status}):\n${r.stderr}`);
    return { lines: r.stdout.split("\n").filter((l) => l !== ""), stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs script text on this machine's kernel, or through the runner. */
function runText(text: string): string[] {
  return runner ? viaRunner(runner, text).lines : runTextOnLinux(text);
}

/** This kernel's features, or the runner's guest's (kernel release and PKU from its stderr, zero-page probe). */
function guestFeatures(): { kernel: string; host: HostMmFeatures } {
  if (!runner) return { kernel: kernelRelease(), host: hostFeatures() };
  const r = viaRunner(runner, ZERO_PAGE_PROBE);
  const kernel = /guest kernel: (\S+)/.exec(r.stderr)?.[1];
  if (!kernel) throw new Error(`runner did not report its guest kernel:\n${r.stderr}`);
  return { kernel, host: { pku: /pku=1 ospke=1/.test(r.stderr), zeroPage: zeroPageFromProbe(r.lines) } };
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
for (const r of recordedRandomScripts()) {
  if (wanted(r.name)) cases.push(record(r.name, r.doc, r.script));
}

const { kernel, host } = guestFeatures();
const file: FixtureFile = { kernel, arch: process.arch, host, cases };
const path = join(FIXTURE_DIR, fixtureFileName(file.kernel, host));
mkdirSync(FIXTURE_DIR, { recursive: true });
writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`);
console.log(`wrote ${cases.length} transcripts (kernel ${file.kernel}, ${JSON.stringify(host)}) to ${path}`);
