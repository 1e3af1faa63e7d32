// brk() and the [heap], mseal(2), and MAP_GROWSDOWN's stack guard gap against the live kernel (issue
// 12 §4). Same harness as oracle-limits.test.ts: each script runs on a Faultline process
// (oracle-signals.ts) and on Linux through oracle.c, whose heap is the script's alone (malloc uses mmap
// only) and whose start_brk is randomised, so heap addresses are written and printed relative to it
// ("H+0x1000"). Recorded in __fixtures__/oracle-heap-seal.json (FAULTLINE_RECORD_HEAP=1 re-records);
// the mseal rows need Linux 6.10 or later, and are compared live only there.
//
// RLIMIT_DATA is compared away from its edges: Linux adds the oracle's own data segment (968 bytes) to
// check_data_rlimit(), and may_expand_vm() counts its libc's data mappings; a Faultline process has
// neither, so the exact edges are left to packages/mm/src/brk.test.ts.
import { describe, expect, it } from "vitest";
import {
  compileOracle,
  kernelRelease,
  oracleUnavailableReason,
  runTextOnLinux,
} from "../../mm/test/oracle/linux.ts";
import { runSignalScript } from "./oracle-signals";
import { expectRecordedCover, recordedTranscripts } from "./recorded-transcripts";

const A = 0x1000_0000_0000;
const h = (n: number) => `0x${n.toString(16)}`;
const at = (page: number) => h(A + page * 0x1000);
const HEAD = `arena ${h(A)} 0x400000\n`;

/** Heap rows: every kernel with brk. */
const HEAP: Record<string, string> = {
  "brk: brk(0) and a break below start_brk answer the break; growth maps [heap] (rw-p, accounted), a break inside the last page moves without mapping, shrinking unmaps whole pages": `
brk 0x0
brk H+0x0
brk H-0x1000
brk H+0x1
maps
vmflags H+0x0
store8 H+0x0 0x5a
brk H+0x2800
maps
load8 H+0x0
load8 H+0x2000
brk H+0x2fff
brk H+0x1000
maps
load8 H+0x1000
load8 H+0x0
brk H+0x3000
load8 H+0x1000
maps
`,
  "brk keeps one free page below the next mapping and stack_guard_gap below a MAP_GROWSDOWN one; a refused brk answers the old break": `
brk H+0x1000
mmap H+0x10000 0x1000 0x3 0x100022
brk H+0xf000
brk H+0xf001
brk H+0x20000
maps
munmap H+0x10000 0x1000
brk H+0x1000
mmap H+0x200000 0x1000 0x3 0x100122
brk H+0x100000
brk H+0xff001
brk H+0xff000
maps
`,
  "brk shrinks over whatever was mapped into the heap; a heap unmapped by hand cannot shrink; maps names every VMA inside [start_brk, brk) [heap]": `
brk H+0x4000
mmap H+0x1000 0x1000 0x1 0x32
mprotect H+0x2000 0x1000 0x1
maps
brk H+0x800
maps
munmap H+0x0 0x1000
brk H+0x0
brk H+0x3000
maps
brk H+0x2000
maps
`,
  "brk under RLIMIT_DATA: a break past the limit is refused before anything else, even one inside the heap's last page; below it the heap shrinks, and grows up to a larger limit": `
brk H+0x3000
fork
  setrlimit 0x2 0x1000 0xffffffffffffffff
  brk H+0x2fff
  brk H+0x4000
  brk H+0x0
  brk H+0x1800
  setrlimit 0x2 0x1000000 0xffffffffffffffff
  brk H+0x800000
  brk H+0x1000001
  maps
end
`,
  "brk after mlockall(MCL_FUTURE): the new heap is locked and populated; fork: the child has the parent's heap and break": `
brk H+0x1000
store8 H+0x0 0x11
fork
  brk H+0x0
  load8 H+0x0
  mlockall 0x2
  brk H+0x3000
  mincore H+0x0 0x3000
  vmflags H+0x1000
  munlockall
  maps
end
brk H+0x0
maps
`,
};

// Ported from gVisor (test/syscalls/linux/brk.cc), its one test as a script.
HEAP["gvisor/brk: BrkTest.BrkSyscallReturnsOldBrkOnFailure (brk(-1) answers the old break)"] = `
brk 0x0
brk 0xffffffffffffffff
brk H+0x1000
brk 0xffffffffffffffff
`;

/** Sealing rows: Linux 6.10 and later. */
const SEAL: Record<string, string> = {
  "mseal: EINVAL for any flag, an unaligned start, a length that wraps; 0 for an empty range; ENOMEM for a range with a hole (nothing sealed); sealing twice is fine": `
mmap ${at(0)} 0x4000 0x3 0x32
mseal ${at(0)} 0x1000 0x1
mseal ${h(A + 0x10)} 0x1000 0x0
mseal ${at(0)} 0xfffffffffffff001 0x0
mseal ${at(0)} 0xffffffffffffe000 0x0
mseal ${at(0)} 0x0 0x0
mseal ${at(8)} 0x0 0x0
mseal ${at(8)} 0x1000 0x0
mseal ${at(2)} 0x3000 0x0
vmflags ${at(2)}
mseal ${at(1)} 0x1001 0x0
mseal ${at(1)} 0x1000 0x0
maps
vmflags ${at(0)}
vmflags ${at(1)}
vmflags ${at(3)}
`,
  "mseal: munmap, MAP_FIXED, mremap and mprotect of sealed memory are EPERM; what they did to unsealed VMAs before reaching it stays": `
mmap ${at(0)} 0x6000 0x3 0x32
store8 ${at(1)} 0x1
store8 ${at(2)} 0x2
mseal ${at(2)} 0x2000 0x0
munmap ${at(2)} 0x1000
munmap ${at(0)} 0x6000
munmap ${at(1)} 0x2000
maps
mmap ${at(3)} 0x1000 0x1 0x32
mmap ${at(3)} 0x1000 0x1 0x100022
mmap ${at(1)} 0x2000 0x1 0x32
mprotect ${at(2)} 0x1000 0x1
mprotect ${at(2)} 0x2000 0x3
mprotect ${at(0)} 0x4000 0x1
maps
mremap ${at(2)} 0x2000 0x3000 0x0
mremap ${at(2)} 0x2000 0x1000 0x0
mremap ${at(2)} 0x2000 0x2000 0x0
mremap ${at(2)} 0x1000 0x1000 0x3 ${at(10)}
mremap ${at(4)} 0x1000 0x1000 0x3 ${at(3)}
mremap ${at(5)} 0x1000 0x2000 0x0
load8 ${at(2)}
store8 ${at(3)} 0x3
mlock ${at(2)} 0x2000
munlock ${at(2)} 0x2000
maps
fork
  vmflags ${at(2)}
  munmap ${at(2)} 0x1000
  load8 ${at(2)}
end
`,
  "mseal: discarding madvise of sealed read-only anonymous memory is EPERM; other advice, writable memory and shared memory are allowed": `
mmap ${at(0)} 0x2000 0x1 0x32
mmap ${at(4)} 0x2000 0x1 0x21
mmap ${at(8)} 0x2000 0x3 0x32
store8 ${at(8)} 0x7
mseal ${at(0)} 0x2000 0x0
mseal ${at(4)} 0x2000 0x0
mseal ${at(8)} 0x2000 0x0
madvise ${at(0)} 0x1000 0x4
madvise ${at(0)} 0x1000 0x8
madvise ${at(0)} 0x1000 0xa
madvise ${at(0)} 0x1000 0x12
madvise ${at(0)} 0x1000 0x66
madvise ${at(0)} 0x1000 0x9
madvise ${at(0)} 0x1000 0x67
madvise ${at(0)} 0x1000 0x0
madvise ${at(0)} 0x1000 0x3
madvise ${at(0)} 0x1000 0xb
madvise ${at(4)} 0x1000 0x4
madvise ${at(8)} 0x1000 0x4
load8 ${at(8)}
madvise ${at(0)} 0x3000 0x4
vmflags ${at(0)}
vmflags ${at(4)}
`,
  "mseal merges with sealed neighbours and splits what it seals out of a VMA; a sealed heap cannot shrink, and new heap does not merge with it": `
mmap ${at(0)} 0x4000 0x3 0x32
mseal ${at(1)} 0x1000 0x0
mseal ${at(2)} 0x1000 0x0
maps
brk H+0x3000
mseal H+0x1000 0x2000 0x0
brk H+0x1000
brk H+0x2000
brk H+0x5000
maps
vmflags H+0x3000
brk H+0x3000
maps
`,
};

/** MAP_GROWSDOWN rows. */
const STACK: Record<string, string> = {
  "MAP_GROWSDOWN: a touch below grows the mapping while stack_guard_gap stays free of accessible mappings; a PROT_NONE mapping in the gap is no obstacle": `
mmap ${at(600)} 0x1000 0x3 0x132
load8 ${at(599)}
maps
mmap ${at(350)} 0x1000 0x3 0x32
load8 ${at(598)}
load8 ${at(599)}
mprotect ${at(350)} 0x1000 0x0
load8 ${at(598)}
mprotect ${at(350)} 0x1000 0x1
load8 ${at(596)}
munmap ${at(350)} 0x1000
mmap ${at(339)} 0x1000 0x3 0x32
load8 ${at(596)}
load8 ${at(595)}
maps
`,
  "MAP_GROWSDOWN: a touch far below the mapping grows it all the way down; MAP_FIXED may map inside the gap; two stacks keep no gap between them": `
mmap ${at(900)} 0x1000 0x3 0x132
store8 ${at(700)} 0x1
maps
mmap ${at(690)} 0x1000 0x3 0x32
load8 ${at(699)}
munmap ${at(690)} 0x1000
mmap ${at(500)} 0x1000 0x3 0x132
load8 ${at(501)}
load8 ${at(699)}
maps
`,
};

const CASES: Record<string, string> = { ...HEAP, ...SEAL, ...STACK };

const FIXTURE = new URL("./__fixtures__/oracle-heap-seal.json", import.meta.url);
const oracle = compileOracle();
/** mseal came with 6.10 (the recording host runs 6.18). */
const [major = 0, minor = 0] = kernelRelease().split(/[.-]/).map(Number);
const hostHasMseal = major > 6 || (major === 6 && minor >= 10);
const skipReason = (name: string): string =>
  !oracle
    ? ` [SKIPPED: ${oracleUnavailableReason}]`
    : name in SEAL && !hostHasMseal
      ? ` [SKIPPED: this kernel (${kernelRelease()}) predates mseal (6.10)]`
      : "";

const RECORD = "FAULTLINE_RECORD_HEAP";
const SCRIPTS = Object.fromEntries(Object.entries(CASES).map(([n, b]) => [n, HEAD + b.trimStart()]));
const recorded = recordedTranscripts(FIXTURE, RECORD, SCRIPTS);

describe("brk, mseal and the stack guard gap: Faultline against Linux", () => {
  it("the recorded kernel transcripts cover every case, for the scripts as they are now", () => {
    expectRecordedCover(recorded, RECORD, SCRIPTS);
  });

  for (const [name, body] of Object.entries(CASES)) {
    const text = HEAD + body.trimStart();
    it(`${name}: Faultline prints the recorded kernel's transcript`, async () => {
      expect(await runSignalScript(text)).toEqual(recorded!.cases[name]!.transcript);
    });
    const skip = skipReason(name);
    it.skipIf(skip !== "")(
      `${name}: Faultline prints this machine's kernel's transcript${skip}`,
      async () => {
        expect(await runSignalScript(text)).toEqual(runTextOnLinux(text));
      },
    );
  }
});
