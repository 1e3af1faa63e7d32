// Handled signals against the live kernel (issue 12 §1): each script runs through oracle.c on this
// machine's kernel and on a Faultline process, and the transcripts must be the same. The kernel's
// transcripts are also recorded (__fixtures__/oracle-signals.json) so machines without a C compiler
// still compare Faultline with Linux; re-record with FAULTLINE_RECORD_SIGNALS=1.
import { describe, expect, it } from "vitest";
import {
  compileOracle,
  hostFeatures,
  oracleUnavailableReason,
  runTextOnLinux,
} from "../../mm/test/oracle/linux.ts";
import { runSignalScript } from "./oracle-signals";
import { expectRecordedCover, recordedTranscripts } from "./recorded-transcripts";

const A = "0x100000000000";
const P1 = "0x100000001000";
const HEAD = `arena ${A} 0x400000\n`;
const SIGUSR1_BIT = "0x200";
const SIGSEGV_BIT = "0x400";

const ALL_SIGNALS_BODY = `sigaction 1 2 0x80000000
kill 1
sigaction 2 2 0x80000000
kill 2
sigaction 3 2 0x80000000
kill 3
sigaction 4 2 0x80000000
kill 4
sigaction 5 2 0x80000000
kill 5
sigaction 6 2 0x80000000
kill 6
sigaction 8 2 0x80000000
kill 8
sigaction 10 2 0x80000000
kill 10
sigaction 12 2 0x80000000
kill 12
sigaction 13 2 0x80000000
kill 13
sigaction 14 2 0x80000000
kill 14
sigaction 15 2 0x80000000
kill 15
sigaction 16 2 0x80000000
kill 16
sigaction 17 2 0x80000000
kill 17
sigaction 18 2 0x80000000
kill 18
sigaction 20 2 0x80000000
kill 20
sigaction 21 2 0x80000000
kill 21
sigaction 22 2 0x80000000
kill 22
sigaction 23 2 0x80000000
kill 23
sigaction 24 2 0x80000000
kill 24
sigaction 25 2 0x80000000
kill 25
sigaction 26 2 0x80000000
kill 26
sigaction 27 2 0x80000000
kill 27
sigaction 28 2 0x80000000
kill 28
sigaction 29 2 0x80000000
kill 29
sigaction 30 2 0x80000000
kill 30
sigaction 31 2 0x80000000
kill 31
sigaction 32 2 0x80000000
kill 32
sigaction 33 2 0x80000000
kill 33
sigaction 34 2 0x80000000
kill 34
sigaction 40 2 0x80000000
kill 40
sigaction 50 2 0x80000000
kill 50
sigaction 63 2 0x80000000
kill 63
sigaction 64 2 0x80000000
kill 64`;

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

// Ported from LTP (testcases/kernel/syscalls) and gVisor (test/syscalls/linux): each original's steps and
// assertions as a script (the original's own handler becomes the oracle's; SIGSEGV and SIGBUS are left
// out of kill loops, since the oracle's handler dies of an asynchronous fault signal).
CASES["ltp/rt_sigaction01: a SA_RESETHAND handler for every catchable signal runs when the signal is sent"] =
  `
${ALL_SIGNALS_BODY}
`;
CASES[
  "ltp/kill03: kill with an invalid signal (2000) is EINVAL; ltp/kill11-style default actions in children"
] = `
kill 2000
fork
  kill 3
end
fork
  kill 6
end
fork
  sigaction 1 1
  kill 1
  sigaction 1 0
  kill 1
end
`;
CASES[
  "gvisor/sigaction: the old action round-trips (handler, flags, mask); SIGKILL and SIGSTOP refuse any new one"
] = `
sigaction 10 2 0x10000000 0x5
sigaction 10 2 0x40000000 0x0
sigaction 10 0
sigaction 9 0
sigaction 19 0
sigaction 9 2 0x0 0x0
sigaction 19 1
`;
CASES["ltp/rt_sigprocmask01: a blocked real-time signal waits; unblocking delivers it"] = `
sigaction 34 2
sigprocmask 0 0x200000000
kill 34
kill 34
sigprocmask 1 0x200000000
sigprocmask 2 0x0
`;

const FIXTURE = new URL("./__fixtures__/oracle-signals.json", import.meta.url);
const oracle = compileOracle();
const SKIP = oracle ? "" : ` [SKIPPED: ${oracleUnavailableReason}]`;

const RECORD = "FAULTLINE_RECORD_SIGNALS";
const SCRIPTS = Object.fromEntries(Object.entries(CASES).map(([n, b]) => [n, HEAD + b.trimStart()]));
const recorded = recordedTranscripts(FIXTURE, RECORD, SCRIPTS);

describe("handled signals: Faultline against Linux", () => {
  it("the recorded kernel transcripts cover every case, for the scripts as they are now", () => {
    expectRecordedCover(recorded, RECORD, SCRIPTS);
  });

  for (const [name, body] of Object.entries(CASES)) {
    const text = HEAD + body.trimStart();
    it(`${name}: Faultline prints the recorded kernel's transcript`, async () => {
      expect(await runSignalScript(text)).toEqual(recorded!.cases[name]!.transcript);
    });
    it.skipIf(!oracle)(`${name}: Faultline prints this machine's kernel's transcript${SKIP}`, async () => {
      // Configured like this host (some kernels here have no zero page).
      expect(await runSignalScript(text, { zeroPage: hostFeatures().zeroPage })).toEqual(
        runTextOnLinux(text),
      );
    });
  }
});
