// MAP_HUGETLB against the live kernel, on a host whose huge page pool is empty as every Faultline
// machine's is (packages/mm/src/hugetlb.ts): mmap's checks and reservation, the VMA's faults, splits,
// placement and flags, and what munmap, mprotect, mremap, madvise, mlock, mincore, msync, mseal and
// fork do with it. Same harness as oracle-limits.test.ts; recorded in __fixtures__/oracle-hugetlb.json
// (FAULTLINE_RECORD_HUGETLB=1 re-records, on such a host only). A hugetlb maps line carries the inode
// number of its file, which differs from run to run (and its device from host to host): both sides are
// compared with it normalized.
import { describe, expect, it } from "vitest";
import {
  compileOracle,
  hugetlbMismatch,
  liveKernelMismatch,
  oracleUnavailableReason,
  runTextOnLinux,
} from "../../mm/test/oracle/linux.ts";
import { normalizeTranscript } from "../../mm/test/oracle/transcript.ts";
import { runSignalScript } from "./oracle-signals";
import { expectRecordedCover, recordedTranscripts } from "./recorded-transcripts";

const A = 0x1000_0000_0000;
const H = 0x20_0000;
const h = (n: number) => `0x${n.toString(16)}`;
/** Huge page `n` of the arena, plus `byte`. */
const hp = (n: number, byte = 0) => h(A + n * H + byte);
const HEAD = `arena ${h(A)} 0x4000000\n`;

// MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB (0x40022) with MAP_FIXED (0x10), MAP_NORESERVE (0x4000),
// MAP_SHARED (0x1) instead of MAP_PRIVATE; MAP_HUGE_2MB is 0x54000000, MAP_HUGE_1GB 0x78000000.
const CASES: Record<string, string> = {
  "mmap: the reservation fails (ENOMEM) unless MAP_NORESERVE; EINVAL for a missing hstate, len 0, an unaligned MAP_FIXED; the VMA, its SIGBUS, its splits": `
mmap ${hp(0)} 0x1000 0x3 0x40022
mmap ${hp(0)} 0x1000 0x3 0x54040022
mmap ${hp(0)} 0x1000 0x3 0x78040022
mmap ${hp(0)} 0x1000 0x3 0x7c040022
mmap ${hp(0)} 0x1000 0x3 0x30040022
mmap ${hp(0)} 0x0 0x3 0x40022
mmap ${hp(0, 0x1000)} 0x1000 0x3 0x40032
mmap ${hp(0)} 0x1000 0x3 0x40032
mmap ${hp(0)} 0x1000 0x3 0x40021
mmap ${hp(0)} 0x1000 0x3 0x44032
maps
vmflags ${hp(0)}
load8 ${hp(0)}
load8 ${hp(0, 0x123)}
store8 ${hp(0, 0x1000)} 0x1
munmap ${hp(0)} 0x1000
mprotect ${hp(0)} 0x200000 0x1
munmap ${hp(0)} 0x200000
mmap ${hp(0)} 0x400000 0x3 0x44032
munmap ${hp(0)} 0x200000
mprotect ${hp(1)} 0x1000 0x1
mremap ${hp(1)} 0x200000 0x400000 0x1
madvise ${hp(1)} 0x1000 0x4
madvise ${hp(1)} 0x200000 0x4
mlock ${hp(1)} 0x1000
fork
  load8 ${hp(1)}
end
mmap ${hp(8)} 0x200000 0x3 0x44021
vmflags ${hp(8)}
maps
`,
  "a MAP_FIXED hugetlb mmap that fails (ENOMEM, or EINVAL for an offset) has already unmapped what it replaced; a hint is rounded up to a huge page": `
mmap ${hp(0)} 0x3000 0x3 0x32
store8 ${hp(0)} 0x5
mmap ${hp(0)} 0x1000 0x3 0x40032
load8 ${hp(0)}
maps
mmap ${hp(2)} 0x3000 0x3 0x32
mmap ${hp(2)} 0x1000 0x3 0x44032 0x1000
load8 ${hp(2, 0x1000)}
mmap ${hp(2)} 0x1000 0x3 0x44032 0x200000
maps
mmap ${hp(4, 0x1000)} 0x1000 0x3 0x44022
mmap ${hp(8)} 0x1000 0x3 0x32
mmap ${hp(8)} 0x1000 0x3 0x44032
maps
`,
  "mmap flags with MAP_HUGETLB: MAP_SHARED_VALIDATE takes the MAP_HUGE bits, not MAP_SYNC nor an unknown bit; mapping types, NOREPLACE, LOCKED, POPULATE, prot; bits above 31": `
mmap ${hp(0)} 0x1000 0x3 0x44033
mmap ${hp(0)} 0x1000 0x3 0x54044033
vmflags ${hp(0)}
mmap ${hp(1)} 0x1000 0x3 0x844033
mmap ${hp(1)} 0x1000 0x3 0xc4033
mmap ${hp(1)} 0x1000 0x3 0x200044033
mmap ${hp(1)} 0x1000 0x3 0x4044033
mmap ${hp(1)} 0x1000 0x3 0x44038
mmap ${hp(1)} 0x1000 0x3 0x44132
mmap ${hp(1)} 0x1000 0x3 0x40030
mmap ${hp(1)} 0x1000 0x3 0x4403f
mmap ${hp(1)} 0x1000 0x3 0x140022
mmap ${hp(1, 0x1000)} 0x1000 0x3 0x144022
mmap ${hp(0, 0x1000)} 0x1000 0x3 0x144022
mmap ${hp(0)} 0x1000 0x3 0x144022
mmap ${hp(2)} 0x1000 0x3 0x46032
vmflags ${hp(2)}
mmap ${hp(3)} 0x1000 0x3 0x4c032
vmflags ${hp(3)}
mmap ${hp(4)} 0x200001 0x3 0x54044032
mmap ${hp(4)} 0x1000 0x3 0x32
mmap ${hp(6)} 0x1000 0x7 0x44032
vmflags ${hp(6)}
mmap ${hp(7)} 0x1000 0x0 0x44032
load8 ${hp(7)}
mmap ${hp(8)} 0x1000 0x3 0x7fffffffffffffff
mmap ${hp(8)} 0x1000 0x3 0x100044032
mmap ${hp(9)} 0x1000 0x3 0x8000000000044032
maps
`,
  // Offsets near MAX_LFS_FILESIZE are packages/mm/src/hugetlb.test.ts's: a 64-bit argument beyond 2^52
  // reaches mm as a stand-in with its page offset only (internal/syscall.ts standIn), not its huge
  // page offset.
  "mmap lengths: ALIGN() wrapping to 0 is EINVAL, lengths no gap holds ENOMEM, the top 4095 of MAP_FIXED EINVAL": `
mmap ${hp(0)} 0xffffffffffe00001 0x3 0x44022
mmap ${hp(0)} 0xffffffffffffffff 0x3 0x44022
mmap ${hp(0)} 0xffffffffffe00000 0x3 0x44022
mmap ${hp(0)} 0x7fffffe00000 0x3 0x44022
mmap ${hp(0)} 0x800000000000 0x3 0x44022
mmap 0xffffffffffffffff 0x1000 0x3 0x44032
mmap 0xfffffffffffff001 0x1000 0x3 0x44032
mmap 0xffffffffffe00000 0x1000 0x3 0x44032
maps
`,
  "madvise on hugetlb, each advice on a page, the start of a huge page and a whole huge page": [
    `mmap ${hp(0)} 0x400000 0x3 0x44032`,
    ...[
      0, 1, 2, 3, 4, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 102, 103,
    ].flatMap((adv) => [
      `madvise ${hp(1)} 0x1000 ${h(adv)}`,
      `madvise ${hp(0)} 0x200000 ${h(adv)}`,
      `madvise ${hp(1, 0x1000)} 0x1000 ${h(adv)}`,
    ]),
    "maps",
    `vmflags ${hp(0)}`,
    `vmflags ${hp(1)}`,
    "",
  ].join("\n"),
  "shared hugetlb: MADV_REMOVE, mlock and mlock2 ENOMEM (the populate faults), mincore, msync, mseal, mlockall, PROT_NONE, a fork child's SIGBUS": `
mmap ${hp(0)} 0x400000 0x3 0x44031
madvise ${hp(0)} 0x1000 0x9
madvise ${hp(0, 0x1000)} 0x1000 0x9
madvise ${hp(0)} 0x400000 0x4
mlock ${hp(0)} 0x1000
mlock2 ${hp(0)} 0x1000 0x1
munlock ${hp(0)} 0x1000
mlock ${hp(0, 0x1000)} 0x1000
mincore ${hp(0)} 0x3000
mincore ${hp(0, 0x1000)} 0x2000
msync ${hp(0)} 0x1000 0x4
msync ${hp(0, 0x1000)} 0x1000 0x1
mseal ${hp(0, 0x1000)} 0x1000 0x0
vmflags ${hp(0)}
mlockall 0x1
vmflags ${hp(0)}
munlockall
mlockall 0x2
mmap ${hp(4)} 0x1000 0x3 0x44032
vmflags ${hp(4)}
munlockall
mprotect ${hp(0)} 0x200000 0x0
mlock ${hp(0)} 0x1000
mlock2 ${hp(1)} 0x1000 0x1
fork
  load8 ${hp(1)}
  store8 ${hp(1)} 0x1
end
maps
`,
  "mremap of hugetlb: huge page alignment of addr and new_addr (even without MREMAP_FIXED), no growth, no MREMAP_DONTUNMAP; shrink, moves of whole huge pages, a move over several VMAs": `
mmap ${hp(0)} 0x800000 0x3 0x44032
mremap ${hp(0, 0x1000)} 0x1000 0x1000 0x0
mremap ${hp(0)} 0x1000 0x1000 0x0
mremap ${hp(0)} 0x1000 0x1000 0x0 0x1000
mremap ${hp(0)} 0x1000 0x1000 0x0 0x200000
mremap ${hp(0)} 0x1000 0x2000 0x0
mremap ${hp(0)} 0x0 0x1000 0x1
mremap ${hp(0)} 0x200000 0x200000 0x3 ${hp(8, 0x1000)}
mremap ${hp(0)} 0x200000 0x200000 0x3 ${hp(8)}
maps
mremap ${hp(1)} 0x1000 0x1000 0x3 ${hp(10)}
maps
mremap ${hp(2)} 0x200000 0x200000 0x7 ${hp(12)}
mremap ${hp(2)} 0x200000 0x200000 0x5 ${hp(12)}
mremap ${hp(2)} 0x400000 0x1000 0x0
maps
mremap ${hp(2)} 0x200000 0x1000 0x3 ${hp(16)}
maps
mremap ${hp(8)} 0x800000 0x800000 0x3 ${hp(24)}
maps
`,
  // Offsets beyond 2^52 reach mm as stand-ins that keep their offset in a huge page
  // (internal/syscall.ts standIn): a 2 MiB-aligned one maps, a 4 KiB-aligned one is EINVAL.
  "hugetlb offsets beyond 2^52: huge page alignment read from the exact 64-bit value": `
mmap ${hp(0)} 0x200000 0x3 0x44032 0x20000000000000
mmap ${hp(2)} 0x200000 0x3 0x44032 0x20000000001000
mmap ${hp(4)} 0x200000 0x3 0x44032 0x40000000000000
mmap ${hp(6)} 0x200000 0x3 0x44032 0x20000000100000
vmflags ${hp(0)}
`,
  "mlock2(MLOCK_ONFAULT) of droppable memory faults it in: mlock never locks it, so it gets no VM_LOCKONFAULT": `
mmap ${hp(0)} 0x4000 0x3 0x38
mlock2 ${hp(0)} 0x4000 0x1
mincore ${hp(0)} 0x4000
vmflags ${hp(0)}
`,
};

const FIXTURE = new URL("./__fixtures__/oracle-hugetlb.json", import.meta.url);
const oracle = compileOracle();
const RECORD = "FAULTLINE_RECORD_HUGETLB";
// Faultline's machine has an empty pool and only the 2 MiB hstate: a host that differs cannot judge it.
const hostMismatch = oracle ? (liveKernelMismatch() ?? hugetlbMismatch()) : oracleUnavailableReason;
if (process.env[RECORD] && hostMismatch) throw new Error(`${RECORD}: cannot record here: ${hostMismatch}`);
const SKIP = hostMismatch ? ` [SKIPPED: ${hostMismatch}]` : "";

const SCRIPTS = Object.fromEntries(Object.entries(CASES).map(([n, b]) => [n, HEAD + b.trimStart()]));
const recorded = recordedTranscripts(FIXTURE, RECORD, SCRIPTS);
/** The inode of a hugetlbfs (or memfd) file differs from run to run, its device from host to host. */
const norm = (t: readonly string[], dev = false) => normalizeTranscript(t, { inode: true, dev });

describe("MAP_HUGETLB with an empty huge page pool: Faultline against Linux", () => {
  it("the recorded kernel transcripts cover every case, for the scripts as they are now", () => {
    expectRecordedCover(recorded, RECORD, SCRIPTS);
  });

  for (const [name, text] of Object.entries(SCRIPTS)) {
    it(`${name}: Faultline prints the recorded kernel's transcript`, async () => {
      expect(norm(await runSignalScript(text))).toEqual(norm(recorded!.cases[name]!.transcript));
    });
    it.skipIf(hostMismatch !== null)(
      `${name}: Faultline prints this machine's kernel's transcript${SKIP}`,
      async () => {
        expect(norm(await runSignalScript(text), true)).toEqual(norm(runTextOnLinux(text), true));
      },
    );
  }
});
