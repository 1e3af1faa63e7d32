// Handled signals against the live kernel (issue 12 §1): each script runs through oracle.c on this
// machine's kernel and on a Faultline process, and the transcripts must be the same. The kernel's
// transcripts are also recorded (__fixtures__/oracle-signals.json) so machines without a C compiler
// still compare Faultline with Linux; re-record with FAULTLINE_RECORD_SIGNALS=1.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  compileOracle,
  kernelRelease,
  oracleUnavailableReason,
  runTextOnLinux,
} from "../../mm/test/oracle/linux.ts";
import { runSignalScript } from "./oracle-signals";

const A = "0x100000000000";
const P1 = "0x100000001000";
const HEAD = `arena ${A} 0x400000\n`;
const SIGUSR1_BIT = "0x200";
const SIGSEGV_BIT = "0x400";

/** name → script (without the arena line). */
const CASES: Record<string, string> = {
  "sigaction returns the old action; unknown flags (SA_UNSUPPORTED) are dropped; SIGKILL/SIGSTOP and 0/65 are EINVAL": `
sigaction 10 1 0x400 0x3
sigaction 10 0 0x80000000 0x8000000000000000
sigaction 10 0
sigaction 9 1
sigaction 19 2
sigaction 0 1
sigaction 65 1
sigaction 9 1 0 0
`,
  "the oracle's own handler catches faults: MAPERR, ACCERR, a write to read-only memory": `
mmap ${A} 0x2000 0x1 0x32
load8 ${A}
store8 ${A} 1
mprotect ${P1} 0x1000 0x0
load32 ${P1}
munmap ${P1} 0x1000
load64 ${P1}
`,
  "SA_RESETHAND: the first fault is caught, the second kills": `
fork
  sigaction 11 2 0x80000000
  load8 ${A}
  sigaction 11 2 0x80000000
  load8 ${A}
  load8 ${A}
end
`,
  "SIG_IGN on a synchronous fault still kills; a blocked SIGSEGV still kills (force_sig)": `
fork
  sigaction 11 1
  load8 ${A}
end
fork
  sigprocmask 0 ${SIGSEGV_BIT}
  load8 ${A}
end
fork
  sigprocmask 0 ${SIGSEGV_BIT}
  sigprocmask 1 ${SIGSEGV_BIT}
  load8 ${A}
end
`,
  "kill to itself: a handler runs before kill returns; a blocked signal waits for the unblock; SIGTERM kills": `
sigaction 10 2
kill 10
sigprocmask 0 ${SIGUSR1_BIT}
kill 10
kill 10
sigprocmask 1 ${SIGUSR1_BIT}
sigaction 12 1
kill 12
kill 17
kill 65
kill 0
fork
  kill 15
end
fork
  sigaction 15 2 0x80000000
  kill 15
  kill 15
end
`,
  "sigprocmask: block, unblock, setmask; SIGKILL and SIGSTOP are never blocked; a bad how is EINVAL": `
sigprocmask 0 0x40300
sigprocmask 0 0x800
sigprocmask 1 0x200
sigprocmask 2 0x4000
sigprocmask 3 0x1
sigprocmask 2 0x0
`,
};

const FIXTURE = new URL("./__fixtures__/oracle-signals.json", import.meta.url);
interface Recorded {
  readonly kernel: string;
  readonly cases: Record<string, { readonly text: string; readonly transcript: readonly string[] }>;
}
const oracle = compileOracle();
const SKIP = oracle ? "" : ` [SKIPPED: ${oracleUnavailableReason}]`;

if (process.env.FAULTLINE_RECORD_SIGNALS && oracle) {
  const cases: Recorded["cases"] = {};
  for (const [name, body] of Object.entries(CASES)) {
    const text = HEAD + body.trimStart();
    cases[name] = { text, transcript: runTextOnLinux(text) };
  }
  writeFileSync(
    FIXTURE,
    `${JSON.stringify({ kernel: kernelRelease(), cases } satisfies Recorded, null, 2)}\n`,
  );
}
const recorded: Recorded | null = existsSync(FIXTURE) ? JSON.parse(readFileSync(FIXTURE, "utf8")) : null;

describe("handled signals: Faultline against Linux", () => {
  it("the recorded kernel transcripts cover every case, for the scripts as they are now", () => {
    expect(recorded, "record with FAULTLINE_RECORD_SIGNALS=1").not.toBeNull();
    for (const [name, body] of Object.entries(CASES))
      expect(recorded!.cases[name]?.text, name).toBe(HEAD + body.trimStart());
  });

  for (const [name, body] of Object.entries(CASES)) {
    const text = HEAD + body.trimStart();
    it(`${name}: Faultline prints the recorded kernel's transcript`, async () => {
      expect(await runSignalScript(text)).toEqual(recorded!.cases[name]!.transcript);
    });
    it.skipIf(!oracle)(`${name}: Faultline prints this machine's kernel's transcript${SKIP}`, async () => {
      expect(await runSignalScript(text)).toEqual(runTextOnLinux(text));
    });
  }
});
