// Limits and introspection against the live kernel (issue 12 §4): mincore, mlock2, mlockall,
// munlockall, getrlimit/setrlimit (prlimit64) with RLIMIT_MEMLOCK for a process without
// CAP_IPC_LOCK. Same harness as oracle-signals.test.ts; recorded in __fixtures__/oracle-limits.json
// (FAULTLINE_RECORD_LIMITS=1 re-records). RLIMIT_AS and RLIMIT_DATA are not compared live: the
// oracle's own binary, libc and stack count against them (packages/mm/src/limits.test.ts has them).
// Raising a hard limit is not compared either: it needs CAP_SYS_RESOURCE, which Faultline's processes
// have (root) and the recording host's root did not.
import { describe, expect, it } from "vitest";
import { compileOracle, oracleUnavailableReason, runTextOnLinux } from "../../mm/test/oracle/linux.ts";
import { runSignalScript } from "./oracle-signals";
import { expectRecordedCover, recordedTranscripts } from "./recorded-transcripts";

const A = 0x1000_0000_0000;
const h = (n: number) => `0x${n.toString(16)}`;
const at = (page: number) => h(A + page * 0x1000);
const HEAD = `arena ${h(A)} 0x400000\n`;

const CASES: Record<string, string> = {
  "mincore: written, read (zero page) and untouched pages; EINVAL unaligned; ENOMEM over a hole or past user space": `
mmap ${at(0)} 0x4000 0x3 0x32
store8 ${at(0)} 1
load8 ${at(2)}
mincore ${at(0)} 0x4000
mincore ${at(0)} 0x3001
mincore ${at(1) + 1} 0x1000
mincore ${at(0)} 0x5000
mincore ${at(0)} 0x0
mincore ${at(8)} 0x0
mprotect ${at(0)} 0x1000 0x0
mincore ${at(0)} 0x1000
munmap ${at(0)} 0x4000
mincore ${at(0)} 0x1000
`,
  "mincore of shared anonymous memory sees pages another process faulted in": `
mmap ${at(0)} 0x3000 0x3 0x31
fork
  store8 ${at(1)} 1
end
mincore ${at(0)} 0x3000
`,
  "mlock2: EINVAL for unknown flags, MLOCK_ONFAULT locks without populating, mlock after it populates": `
mmap ${at(0)} 0x4000 0x3 0x32
mlock2 ${at(0)} 0x4000 0x2
mlock2 ${at(0)} 0x2000 0x1
mincore ${at(0)} 0x4000
maps
store8 ${at(1)} 1
mincore ${at(0)} 0x4000
mlock ${at(0)} 0x2000
mincore ${at(0)} 0x4000
munlock ${at(0)} 0x4000
maps
`,
  "mlockall / munlockall: EINVAL flags; MCL_FUTURE locks and populates new mappings, MCL_ONFAULT does not; not inherited": `
mlockall 0x0
mlockall 0x4
mlockall 0x8
mlockall 0x2
mmap ${at(0)} 0x2000 0x3 0x32
mincore ${at(0)} 0x2000
fork
  mmap ${at(4)} 0x2000 0x3 0x32
  mincore ${at(4)} 0x2000
end
mlockall 0x6
mmap ${at(8)} 0x2000 0x3 0x32
mincore ${at(8)} 0x2000
maps
munlockall
mmap ${at(12)} 0x2000 0x3 0x32
mincore ${at(12)} 0x2000
maps
`,
  "mlockall(MCL_CURRENT) locks and populates what is mapped; munlockall unlocks": `
mmap ${at(0)} 0x3000 0x3 0x32
mmap ${at(4)} 0x1000 0x1 0x32
mlockall 0x1
mincore ${at(0)} 0x5000
maps
munlockall
maps
`,
  "rlimits: getrlimit/setrlimit, EINVAL for an unknown resource or cur above max; RLIMIT_MEMLOCK binds a process without CAP_IPC_LOCK": `
getrlimit 0x8
getrlimit 0x3
getrlimit 0x10
setrlimit 0x8 0x2000 0x1000
setrlimit 0x10 0x0 0x0
mmap ${at(0)} 0x4000 0x3 0x32
fork
  unprivileged
  setrlimit 0x8 0x2000 0x2000
  getrlimit 0x8
  mlock ${at(0)} 0x3000
  mlock ${at(0)} 0x2000
  mlock ${at(1)} 0x2000
  mlock2 ${at(2)} 0x1000 0x1
  mlockall 0x1
  mlockall 0x2
  mmap ${at(8)} 0x3000 0x3 0x32
  munlockall
  mmap ${at(8)} 0x3000 0x3 0x122
  setrlimit 0x8 0x0 0x0
  mlock ${at(0)} 0x1000
  mlockall 0x2
end
`,
};

// Ported from LTP (testcases/kernel/syscalls) and gVisor (test/syscalls/linux), their steps and
// assertions as scripts (a NULL or unwritable vector is not expressible: the vector is a buffer here).
CASES[
  "ltp/mincore01: EINVAL for an unaligned start, ENOMEM for a length past user space and for unmapped memory"
] = `
mmap ${at(0)} 0x3000 0x3 0x32
mincore ${h(A + 0x10)} 0x1000
mincore ${at(0)} 0x800000000000
munmap ${at(1)} 0x1000
mincore ${at(0)} 0x3000
`;
CASES["ltp/mincore02: every page of a locked mapping is resident"] = `
mmap ${at(0)} 0x10000 0x3 0x32
mincore ${at(0)} 0x10000
mlock ${at(0)} 0x10000
mincore ${at(0)} 0x10000
munlock ${at(0)} 0x10000
`;
CASES["ltp/mlock201: mlock2 with an invalid flag is EINVAL; MLOCK_ONFAULT locks without populating"] = `
mmap ${at(0)} 0x3000 0x3 0x32
mlock2 ${at(0)} 0x3000 0xffffffff
mlock2 ${at(0)} 0x3000 0x1
mincore ${at(0)} 0x3000
load8 ${at(1)}
store8 ${at(2)} 1
mincore ${at(0)} 0x3000
maps
`;
CASES[
  "ltp/mlockall02: EINVAL for bad flags; ENOMEM above RLIMIT_MEMLOCK and EPERM with a zero limit, without CAP_IPC_LOCK"
] = `
mlockall 0x0
mlockall 0x9
mlockall 0x4
mmap ${at(0)} 0x4000 0x3 0x32
fork
  unprivileged
  setrlimit 0x8 0x1000 0x1000
  mlockall 0x1
  setrlimit 0x8 0x0 0x0
  mlockall 0x1
  mlockall 0x2
end
`;
CASES[
  "ltp/munlockall01 and gvisor/mlock MlockAll: munlockall after MCL_CURRENT|MCL_FUTURE unlocks everything and forgets the future"
] = `
mmap ${at(0)} 0x2000 0x3 0x32
mlockall 0x3
maps
munlockall
maps
mmap ${at(4)} 0x2000 0x3 0x32
mincore ${at(4)} 0x2000
`;

// The 64-bit values a syscall is given, read exactly: 2^64 - 1 (-1) is not page-aligned although the
// nearest double, 2^64, is; a length of 2^64 - 4095 rounds up (PAGE_ALIGN) to 0; and __get_unmapped_area()
// hands a MAP_FIXED address in the top 4095 back as an errno (IS_ERR_VALUE).
CASES[
  "64-bit arguments: alignment and PAGE_ALIGN of the exact value in msync, mincore, mseal, mprotect, madvise, mremap, mlock and mmap"
] = `
mmap ${at(0)} 0x4000 0x3 0x32
msync 0xffffffffffffffff 0x1000 0x4
msync 0xfffffffffffff001 0x0 0x4
msync ${at(0)} 0xffffffffffffffff 0x4
msync ${at(0)} 0xfffffffffffff001 0x1
msync 0xfffffffffffff000 0x1000 0x4
mincore 0xffffffffffffffff 0x1000
mincore 0xfffffffffffff001 0x0
mseal 0xffffffffffffffff 0x1000 0x0
mseal 0xfffffffffffff001 0x0 0x0
mseal ${at(0)} 0xfffffffffffff001 0x0
mprotect 0xffffffffffffffff 0x0 0x1
mprotect 0xfffffffffffff001 0x1000 0x1
madvise 0xfffffffffffff001 0x1000 0x4
madvise ${at(0)} 0xfffffffffffff001 0x4
madvise 0xfffffffffffff000 0x1000 0x0
mremap 0xffffffffffffffff 0x1000 0x2000 0x1
mremap ${at(8)} 0xffffffffffffffff 0x2000 0x1
mlock ${at(0) + 0xfff} 0xffffffffffffffff
vmflags ${at(0)}
munlock ${at(0)} 0xfffffffffffff001
mlock 0xfffffffffffff001 0x0
mmap 0xffffffffffffffff 0x1000 0x3 0x32
mmap 0xfffffffffffff001 0x1000 0x3 0x32
mmap 0xfffffffffffff000 0x1000 0x3 0x32
maps
`;

// Values a double cannot hold (2^53 + 1 and beyond) reach the kernel exactly as bigints; the syscall
// entry hands mm a stand-in with the same page offset, sign and order (internal/syscall.ts standIn),
// and prot keeps its low 32 bits: each answer is the one Linux gives the exact value.
CASES[
  "64-bit arguments beyond 2^53: the page offset of a huge offset, address or length and the low bits of prot are kept"
] = `
mmap ${at(0)} 0x4000 0x3 0x32
mmap ${at(16)} 0x1000 0x3 0x32 0x20000000000001
mmap ${at(16)} 0x1000 0x3 0x32 0x20000000001000
mmap ${at(17)} 0x1000 0x20000000000001 0x32
mmap ${at(32)} 0x20000000000001 0x3 0x32
mprotect 0x20000000000001 0x1000 0x1
mprotect 0x8000000000000801 0x1000 0x1
mprotect 0x20000000001000 0x1000 0x1
madvise 0x20000000000001 0x1000 0x4
mincore 0x20000000000001 0x1000
msync 0x4000000000000801 0x1000 0x4
mseal 0x20000000000001 0x1000 0x0
mremap 0x20000000000001 0x1000 0x2000 0x1
mremap ${at(0)} 0x1000 0x20000000000001 0x1
mlock 0x20000000000001 0x1000
brk 0x20000000000001
setrlimit 0x8 0x20000000000001 0x20000000000000
maps
`;

// vrm_overlaps() (check_mremap_params()) adds old_len to addr in an unsigned long: an old_len near 2^64
// wraps below addr, so the ranges overlap nothing and mremap_to() unmaps new_addr before the call fails
// (EFAULT when that took addr's VMA, else EINVAL from shrink_vma()'s do_vmi_munmap()). A new range that
// does reach past the wrapped end still overlaps: EINVAL, nothing unmapped.
CASES[
  "mremap(MREMAP_FIXED) with an old_len that wraps past 2^64: no overlap, new_addr is unmapped before it fails"
] = `
mmap ${at(0)} 0x4000 0x3 0x32
mremap ${at(2)} 0xfffffffffffff000 0x1000 0x3 ${at(2)}
maps
mmap ${at(8)} 0x8000 0x1 0x32
mremap ${at(9)} 0xfffffffffffff000 0x4000 0x3 ${at(6)}
mremap ${at(9)} 0xfffffffffffff000 0x2000 0x3 ${at(12)}
maps
`;

// prot and flags are unsigned longs: arch_validate_prot() and check_mremap_params() see a bit above 31
// (or bit 63) as unknown, -EINVAL; mmap ignores unknown prot bits, madvise, msync and mlock2 take an int.
CASES[
  "unsigned long prot and flags: a bit above 31 is unknown to mprotect, mremap and mseal, ignored by mmap's prot"
] = `
mmap ${at(0)} 0x4000 0x3 0x32
mprotect ${at(0)} 0x1000 0x100000001
mprotect ${at(0)} 0x1000 0x8000000000000001
mprotect ${at(0)} 0x0 0x100000001
mremap ${at(0)} 0x1000 0x2000 0x100000001
mremap ${at(0)} 0x1000 0x1000 0x8000000000000000
mseal ${at(0)} 0x1000 0x100000000
mmap ${at(16)} 0x1000 0x100000001 0x32
madvise ${at(0)} 0x1000 0x100000004
msync ${at(0)} 0x1000 0x100000004
mlock2 ${at(0)} 0x1000 0x100000001
maps
`;

// GUP for writing touches what is mapped (follow_page_pte() with FOLL_TOUCH | FOLL_WRITE): a shmem page
// mapped clean is marked dirty by MADV_POPULATE_WRITE, so MADV_PAGEOUT keeps it (mincore 1) and drops
// its clean neighbour; a lazy-free page so touched keeps its data.
CASES[
  "mincore after MADV_POPULATE_WRITE and MADV_PAGEOUT: the populate dirtied a clean shared page, which stays"
] = `
mmap ${at(0)} 0x2000 0x3 0x31
load8 ${at(0)}
load8 ${at(1)}
madvise ${at(0)} 0x1000 0x17
madvise ${at(0)} 0x2000 0x15
mincore ${at(0)} 0x2000
mmap ${at(16)} 0x1000 0x3 0x32
store8 ${at(16)} 0x22
madvise ${at(16)} 0x1000 0x8
madvise ${at(16)} 0x1000 0x17
madvise ${at(16)} 0x1000 0x15
load8 ${at(16)}
`;

// mremap(MREMAP_DONTUNMAP) of locked memory charges the new VMA to locked_vm (vrm_stat_account()) and
// gives nothing back for the old one, which only loses VM_LOCKED (dontunmap_complete()): the charge
// stays after munlock, munlockall and munmap.
CASES["RLIMIT_MEMLOCK after mremap(MREMAP_DONTUNMAP) of locked memory: the locked pages count twice"] = `
unprivileged
setrlimit 0x8 0x4000 0x4000
mmap ${at(0)} 0x2000 0x3 0x32
mmap ${at(16)} 0x1000 0x3 0x32
mlock ${at(0)} 0x2000
mremap ${at(0)} 0x2000 0x2000 0x7 ${at(32)}
mlock ${at(16)} 0x1000
munlock ${at(32)} 0x2000
mlock ${at(16)} 0x1000
munlockall
setrlimit 0x8 0x2000 0x2000
mmap ${at(48)} 0x1000 0x3 0x2032
munmap ${at(0)} 0x2000
mmap ${at(48)} 0x1000 0x3 0x2032
`;

// mremap_to(): MREMAP_DONTUNMAP keeps the old range, so the address space grows by all of it, which
// may_expand_vm() checks against RLIMIT_DATA for private writable memory (the oracle's own data, a few
// pages of libc, counts too: the sizes leave it room either way).
CASES[
  "RLIMIT_DATA bounds mremap(MREMAP_DONTUNMAP): 13 MiB moved under a 24 MiB limit is ENOMEM, 6 MiB is not"
] = `
arena ${h(A)} 0x8000000
setrlimit 0x2 0x1800000 0x1800000
mmap ${at(0)} 0xd00000 0x3 0x32
mremap ${at(0)} 0xd00000 0xd00000 0x7 ${at(0x4000)}
maps
munmap ${at(0)} 0xd00000
mmap ${at(0)} 0x600000 0x3 0x32
mremap ${at(0)} 0x600000 0x600000 0x7 ${at(0x4000)}
maps
`;

// __mmap_setup(): may_expand_vm(pglen - nr_pages) while total_vm and data_vm still count what MAP_FIXED
// replaces: a 28 MiB data mapping over an 8 MiB data one needs 28 MiB of RLIMIT_DATA, over an 8 MiB
// read-only one only 20 (every replaced page is freed from both counts, data or not). The last mmap
// leaves data_vm above the limit, where oracle.c's own malloc would fail: nothing follows it.
CASES["RLIMIT_DATA and MAP_FIXED over a mapping: what it replaces is freed once, data or not"] = `
arena ${h(A)} 0x8000000
setrlimit 0x2 0x1800000 0x1800000
mmap ${at(0)} 0x800000 0x3 0x32
mmap ${at(0)} 0x1c00000 0x3 0x32
mmap ${at(0)} 0x1000000 0x3 0x32
maps
munmap ${at(0)} 0x1000000
mmap ${at(0)} 0x800000 0x1 0x32
mmap ${at(0)} 0x1c00000 0x3 0x32
`;

// VmFlags of anonymous memory: MAP_SYNC is VM_SYNC ("sf", calc_vm_flag_bits()), which keeps a private
// mapping from merging with a neighbour without it; MAP_DROPPABLE shows "dp", before mseal's "sl".
CASES["VmFlags: sf for MAP_SYNC on anonymous memory (no merge without it), dp for MAP_DROPPABLE, then sl"] = `
mmap ${at(0)} 0x1000 0x3 0x80032
vmflags ${at(0)}
mmap ${at(1)} 0x1000 0x3 0x32
maps
mmap ${at(4)} 0x1000 0x3 0x80031
vmflags ${at(4)}
mmap ${at(8)} 0x1000 0x3 0x28
vmflags ${at(8)}
mseal ${at(8)} 0x1000 0x0
vmflags ${at(8)}
`;

// VM_MAYBE_GUARD ("gu", sticky): MADV_GUARD_INSTALL marks the whole VMA without splitting it and only
// an anonymous one gets an anon_vma; the mark survives GUARD_REMOVE, mlock/munlock splits and merges,
// a merge into an unmarked neighbour (mprotect, and mremap's copy_vma) and mremap; fork copies a marked VMA's page tables (the child's
// guard page faults). Linux 6.19 (and the 6.18.44 host that recorded this, by a backport).
const GUARD_CASE =
  "VmFlags gu: MADV_GUARD_INSTALL marks the whole VMA (VM_MAYBE_GUARD), sticky through splits, merges, mremap and fork";
CASES[GUARD_CASE] = `
mmap ${at(0)} 0x4000 0x3 0x32
madvise ${at(1)} 0x1000 0x66
vmflags ${at(0)}
maps
madvise ${at(1)} 0x1000 0x67
vmflags ${at(0)}
mlock ${at(0)} 0x1000
vmflags ${at(0)}
maps
munlock ${at(0)} 0x1000
maps
vmflags ${at(0)}
mmap ${at(4)} 0x1000 0x3 0x32
maps
vmflags ${at(4)}
mmap ${at(16)} 0x3000 0x3 0x31
madvise ${at(17)} 0x1000 0x66
vmflags ${at(16)}
mprotect ${at(17)} 0x1000 0x1
vmflags ${at(17)}
mprotect ${at(17)} 0x1000 0x3
fork
  mprotect ${at(17)} 0x1000 0x1
  mprotect ${at(17)} 0x1000 0x3
  vmflags ${at(16)}
  load8 ${at(17)}
end
munmap ${at(16)} 0x3000
mmap ${at(32)} 0x1000 0x3 0x32
mmap ${at(33)} 0x1000 0x3 0x32
madvise ${at(33)} 0x1000 0x66
mremap ${at(33)} 0x1000 0x1000 0x3 ${at(48)}
vmflags ${at(48)}
vmflags ${at(32)}
mmap ${at(64)} 0x1000 0x3 0x32
mmap ${at(65)} 0x1000 0x1 0x32
madvise ${at(65)} 0x1000 0x66
mprotect ${at(65)} 0x1000 0x3
maps
vmflags ${at(64)}
mmap ${at(80)} 0x1000 0x3 0x32
mmap ${at(81)} 0x1000 0x1 0x32
madvise ${at(81)} 0x1000 0x66
mremap ${at(81)} 0x1000 0x1000 0x3 ${at(96)}
mprotect ${at(96)} 0x1000 0x3
mremap ${at(96)} 0x1000 0x1000 0x3 ${at(81)}
maps
vmflags ${at(80)}
`;

const FIXTURE = new URL("./__fixtures__/oracle-limits.json", import.meta.url);
const oracle = compileOracle();
const SKIP = oracle ? "" : ` [SKIPPED: ${oracleUnavailableReason}]`;
/** Cases only a kernel with a feature can judge live: why this one cannot, or null. */
const HOST_SKIP: Record<string, () => string | null> = {
  [GUARD_CASE]: () =>
    runTextOnLinux(`${HEAD}mmap ${at(0)} 0x1000 0x3 0x32\nmadvise ${at(0)} 0x1000 0x66\nvmflags ${at(0)}\n`)
      .at(-1)
      ?.includes(" gu")
      ? null
      : "this kernel has no VM_MAYBE_GUARD (6.19; the recording 6.18.44 host had it by a backport)",
};

const RECORD = "FAULTLINE_RECORD_LIMITS";
// A case that needs a larger arena starts with its own arena line.
const script = (body: string) => (body.trimStart().startsWith("arena ") ? "" : HEAD) + body.trimStart();
const SCRIPTS = Object.fromEntries(Object.entries(CASES).map(([n, b]) => [n, script(b)]));
const recorded = recordedTranscripts(FIXTURE, RECORD, SCRIPTS);

describe("limits and introspection: Faultline against Linux", () => {
  it("the recorded kernel transcripts cover every case, for the scripts as they are now", () => {
    expectRecordedCover(recorded, RECORD, SCRIPTS);
  });

  for (const [name, body] of Object.entries(CASES)) {
    const text = script(body);
    it(`${name}: Faultline prints the recorded kernel's transcript`, async () => {
      expect(await runSignalScript(text)).toEqual(recorded!.cases[name]!.transcript);
    });
    const hostSkip = oracle ? (HOST_SKIP[name]?.() ?? null) : null;
    const why = hostSkip ? ` [SKIPPED: ${hostSkip}]` : SKIP;
    it.skipIf(!oracle || hostSkip !== null)(
      `${name}: Faultline prints this machine's kernel's transcript${why}`,
      async () => {
        expect(await runSignalScript(text)).toEqual(runTextOnLinux(text));
      },
    );
  }
});
