// LTP's memory-management syscall tests (linux-test-project/ltp, testcases/kernel/syscalls: mlock,
// mlock2, munlock, mlockall, msync, mincore, brk, mmap, mremap) ported into the differential runner, as
// oracle-peer-mlock.test.ts ported gVisor's. Each case follows one LTP test's steps, and its `expect`
// lists that test's assertions; each script runs on a Faultline process (oracle-signals.ts) and on Linux
// (oracle.c), both must meet the assertions and print the same transcript. Recorded in
// __fixtures__/oracle-peer-ltp.json (FAULTLINE_RECORD_PEER_LTP=1 re-records).
//
// The adaptations, case by case in each doc: /proc/self/status's VmLck and smaps' Rss / Locked are read
// as the VmFlags "lo" of the VMAs at the range's edges (which pages are locked) and mincore (which are
// resident); seteuid(nobody) is `unprivileged` (it drops CAP_IPC_LOCK), in a forked child wherever LTP
// goes back to root afterwards; a file is shared anonymous memory (a shmem object that a forked child
// sees as another opener of the file would), and read(2)/write(2) of it are a child's loads and stores;
// malloc() is the heap ("H+<n>", for small sizes) or a mapping in the arena with malloc's 16-byte
// chunk header (for large ones).
//
// Ported here: mlock01–05, mlock201–203, munlock01–02, mlockall01/03, msync01–03, mincore03–04,
// brk01–02, mmap03/08/14/19/21 (anonymous variants), mremap07 (without userfaultfd). Elsewhere:
// mincore01–02, mlockall02, munlockall01 and part of mlock201 in oracle-limits.test.ts; mmap04–18,
// munmap01/03, mremap01–06, mprotect01–05, madvise01–03/05/10/12 in packages/mm/test/oracle/peer-cases.ts.
// Not ported, and why:
//   msync04: reads /proc/self/pagemap and /proc/kpageflags for a file on a mounted device.
//   madvise06, madvise09, mmap22: memory cgroups and swap (reclaim under memory.max).
//   madvise07 (MADV_HWPOISON), madvise11 (MADV_SOFT_OFFLINE, threads): they poison or offline the
//   host's physical pages.
//   madvise08: a core dump (core_pattern, MADV_DONTDUMP).
//   mmap01, mmap02, mmap09, mmap16, mmap20: a regular file's size, permissions, truncation, a full file
//   system, and MAP_SHARED_VALIDATE's flag check, which anonymous mmap answers EINVAL before reaching.
//   mmap11: threads (glibc's stack munmap under max_map_count).
import { describe, expect, it } from "vitest";
import {
  compileOracle,
  hostFeatures,
  oracleUnavailableReason,
  runTextOnLinux,
} from "../../mm/test/oracle/linux.ts";
import { runSignalScript } from "./oracle-signals";
import { expectRecordedCover, recordedTranscripts } from "./recorded-transcripts";

const A = 0x1000_0000_0000;
const h = (n: number) => `0x${n.toString(16)}`;
const at = (page: number, off = 0) => h(A + page * 0x1000 + off);
/** 16 MiB: mlock01 / munlock01 lock 10 MiB. */
const HEAD = `arena ${h(A)} 0x1000000\n`;

const PROT_READ = 0x1;
const PROT_WRITE = 0x2;
const PROT_EXEC = 0x4;
const RW = PROT_READ | PROT_WRITE;
/** MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED. */
const PRIV = 0x32;
const SHARED = 0x31;
const MAP_LOCKED = 0x2000;
const MAP_GROWSDOWN = 0x100;
const MLOCK_ONFAULT = 0x1;
const MCL_CURRENT = 0x1;
const MCL_FUTURE = 0x2;
const MS_ASYNC = 0x1;
const MS_INVALIDATE = 0x2;
const MS_SYNC = 0x4;
const RLIMIT_MEMLOCK = 0x8;

/** A transcript entry (its op line, with any maps lines after it) must end with the string or match. */
type Matcher = string | RegExp;
/** VmFlags with / without "lo" (VM_LOCKED). */
const LOCKED = /= (.* )?lo( |$)/;
const NOT_LOCKED = /= (?!(.* )?lo( |$))/;
const ok = "= 0";
const err = (e: string) => `= -${e}`;
const mincore = (bits: string) => `= 0 ${bits}`;

/** One script line; with a matcher, the original's assertion about its result. */
type Step = string | readonly [string, Matcher];

interface Case {
  /** What the LTP test checks, and what this port changes. */
  readonly doc: string;
  readonly script: string;
  /** Transcript index ("3", "4.1") → what that entry must meet. */
  readonly expect: Readonly<Record<string, Matcher>>;
  /** Why this host's kernel cannot be compared live with this case, or null. */
  readonly liveSkip?: () => string | null;
}

/** A case from its steps: indices follow oracle.c's (a fork's children are "<fork>.<n>"). */
function ltp(doc: string, ...steps: readonly Step[]): Case {
  const lines: string[] = [];
  const expectAt: Record<string, Matcher> = {};
  const stack: { prefix: string; next: number; fork?: { idx: string; m?: Matcher } }[] = [
    { prefix: "", next: 0 },
  ];
  for (const s of steps) {
    const [text, m] = typeof s === "string" ? [s, undefined] : s;
    const top = stack.at(-1)!;
    const indent = "  ".repeat(stack.length - 1);
    lines.push(indent.slice(text === "end" ? 2 : 0) + text);
    if (text === "end") {
      const done = stack.pop()!;
      if (done.fork?.m !== undefined) expectAt[done.fork.idx] = done.fork.m;
      continue;
    }
    const idx = `${top.prefix}${top.next++}`;
    if (text === "fork") {
      stack.push({ prefix: `${idx}.`, next: 0, fork: m === undefined ? { idx } : { idx, m } });
      continue;
    }
    if (m !== undefined) expectAt[idx] = m;
  }
  if (stack.length !== 1) throw new Error(`unbalanced fork/end: ${doc}`);
  return { doc, script: `${lines.join("\n")}\n`, expect: expectAt };
}

/** The transcript's entries by index: an op line with the maps lines that follow it. */
function entries(transcript: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  let last = "";
  for (const l of transcript) {
    if (l.startsWith("  ") && last) out.set(last, `${out.get(last)}\n${l}`);
    else {
      last = l.slice(0, l.indexOf(" "));
      out.set(last, l);
    }
  }
  return out;
}

/** The original's assertions that a transcript does not meet. */
function unmet(c: Case, transcript: readonly string[]): string[] {
  const byIndex = entries(transcript);
  const out: string[] = [];
  for (const [idx, m] of Object.entries(c.expect)) {
    const e = byIndex.get(idx);
    const met = e !== undefined && (typeof m === "string" ? e.endsWith(m) : m.test(e));
    if (!met) out.push(`${idx} …${String(m)}: got ${e ?? "nothing"}`);
  }
  return out;
}

/** malloc()'s pointer into a chunk it mapped at `page` (16 bytes past the chunk header). */
const chunk = (page: number) => at(page, 0x10);

/** brk01: 33 rounds of break + (2 pages − 1), the same break, the break back; each lands exactly. */
function brk01(): Case {
  const inc = 0x1fff;
  const steps: Step[] = [["brk 0x0", "= H+0x0"]];
  let cur = 0;
  for (let i = 0; i < 33; i++) {
    const next = i % 3 === 0 ? cur + inc : i % 3 === 1 ? cur : cur - inc;
    const rel = `H+${h(next)}`;
    steps.push([`brk ${rel}`, `= ${rel}`]);
    if (i % 3 === 0) steps.push([`store8 ${rel} 0x0`, ok]);
    cur = next;
  }
  return ltp(
    "brk(2) to the break plus (2 pages − 1), to the same break and back down, 33 times: brk answers the break asked for each time, and the byte at a grown break is writable (the syscall variant; glibc's brk()/sbrk() variant makes the same calls)",
    ...steps,
  );
}

/** mmap21's sampled pages: every 50th and the last. */
const MMAP21_PAGES = [...[...Array(20).keys()].map((k) => k * 50), 999];

/** mlock201's tcases: pages faulted in first, pages locked (+ offset bytes), flag; locked and present after. */
const MLOCK201: readonly (readonly [number, number, number, number, number, number])[] = [
  [0, 1, 0, 1, 1, 0],
  [0, 8, 0, 8, 8, 0],
  [0, 2, 1, 3, 3, 0],
  [0, 2, -1, 2, 2, 0],
  [0, 1, 0, 1, 0, MLOCK_ONFAULT],
  [4, 8, 0, 8, 4, MLOCK_ONFAULT],
  [1, 4, 1, 5, 1, MLOCK_ONFAULT],
  [4, 4, -1, 4, 4, MLOCK_ONFAULT],
];

function mlock201(n: number): Case {
  const [populate, lockPages, offset, locked, present, flag] = MLOCK201[n]!;
  const steps: Step[] = [[`mmap ${at(0)} 0x8000 ${PROT_WRITE} ${SHARED}`, `= ${at(0)}`]];
  for (let i = 0; i < populate; i++) steps.push([`store8 ${at(i)} 0x0`, ok]);
  steps.push([`mlock2 ${at(0)} ${h(lockPages * 0x1000 + offset)} ${h(flag)}`, ok]);
  steps.push([`vmflags ${at(0)}`, LOCKED], [`vmflags ${at(locked - 1)}`, LOCKED]);
  if (locked < 8) steps.push([`vmflags ${at(locked)}`, NOT_LOCKED]);
  const bits = "1".repeat(present) + "0".repeat(8 - present);
  steps.push([`mincore ${at(0)} 0x8000`, mincore(bits)]);
  steps.push([`munlock ${at(0)} ${h(lockPages * 0x1000 + offset)}`, ok]);
  return ltp(
    `tcase ${n + 1}: ${populate} of 8 pages of a PROT_WRITE shared anonymous mapping faulted in, mlock2(${lockPages} pages ${offset < 0 ? "− 1 byte" : offset > 0 ? "+ 1 byte" : ""}${flag ? ", MLOCK_ONFAULT" : ", 0"}) locks ${locked} whole pages (VmLck's growth: the VmFlags on both sides of the locked range) and leaves ${present} present (mincore)`,
    ...steps,
  );
}

const CASES: Record<string, Case> = {
  "ltp/mlock01: mlock of 1 byte, 1 KiB, 1 MiB and 10 MiB of malloc()ed memory succeeds": ltp(
    "mlock(malloc(len), len) returns 0 for each length. malloc: the 1-byte and 1 KiB chunks come from a 132 KiB heap (16 bytes in, so the 1-byte lock is of an unaligned address), the 1 MiB and 10 MiB ones from a mapping of their own (malloc's mmap threshold) at the arena, 16 bytes in; free() is munmap for those. The lock is also read back (VmFlags lo)",
    ["brk H+0x21000", "= H+0x21000"],
    ["mlock H+0x10 0x1", ok],
    ["vmflags H+0x0", LOCKED],
    ["mlock H+0x20 0x400", ok],
    [`mmap ${at(0)} 0x101000 ${RW} ${PRIV}`, `= ${at(0)}`],
    [`mlock ${chunk(0)} 0x100000`, ok],
    [`vmflags ${at(0x100)}`, LOCKED],
    [`munmap ${at(0)} 0x101000`, ok],
    [`mmap ${at(0)} 0xa01000 ${RW} ${PRIV}`, `= ${at(0)}`],
    [`mlock ${chunk(0)} 0xa00000`, ok],
    [`vmflags ${at(0xa00)}`, LOCKED],
    [`munmap ${at(0)} 0xa01000`, ok],
  ),
  "ltp/munlock01: munlock of 1 byte, 1 KiB, 1 MiB and 10 MiB of mlocked malloc()ed memory succeeds": ltp(
    "mlock then munlock(malloc(len), len) for each length: munlock returns 0 (and the VmFlags lose lo). malloc as in mlock01",
    ["brk H+0x21000", "= H+0x21000"],
    ["mlock H+0x10 0x1", ok],
    ["munlock H+0x10 0x1", ok],
    ["vmflags H+0x0", NOT_LOCKED],
    ["mlock H+0x20 0x400", ok],
    ["munlock H+0x20 0x400", ok],
    ["vmflags H+0x0", NOT_LOCKED],
    [`mmap ${at(0)} 0x101000 ${RW} ${PRIV}`, `= ${at(0)}`],
    [`mlock ${chunk(0)} 0x100000`, ok],
    [`munlock ${chunk(0)} 0x100000`, ok],
    [`vmflags ${at(0x100)}`, NOT_LOCKED],
    [`munmap ${at(0)} 0x101000`, ok],
    [`mmap ${at(0)} 0xa01000 ${RW} ${PRIV}`, `= ${at(0)}`],
    [`mlock ${chunk(0)} 0xa00000`, ok],
    [`munlock ${chunk(0)} 0xa00000`, ok],
    [`vmflags ${at(0xa00)}`, NOT_LOCKED],
    [`munmap ${at(0)} 0xa01000`, ok],
  ),
  "ltp/mlock02: ENOMEM for unmapped memory and above RLIMIT_MEMLOCK, EPERM with a zero limit, without CAP_IPC_LOCK":
    ltp(
      "mlock of a page just unmapped is ENOMEM; with RLIMIT_MEMLOCK one byte short of a page and no CAP_IPC_LOCK (seteuid(nobody): a child `unprivileged`) mlock of a PROT_READ page is ENOMEM; with the limit 0 it is EPERM",
      [`mmap ${at(0)} 0x1000 ${PROT_READ} ${PRIV}`, `= ${at(0)}`],
      [`munmap ${at(0)} 0x1000`, ok],
      [`mlock ${at(0)} 0x1000`, err("ENOMEM")],
      ["fork", "= exit 0"],
      [`setrlimit ${RLIMIT_MEMLOCK} 0xfff 0xfff`, ok],
      [`mmap ${at(0)} 0x1000 ${PROT_READ} ${PRIV}`, `= ${at(0)}`],
      ["unprivileged", ok],
      [`mlock ${at(0)} 0x1000`, err("ENOMEM")],
      "end",
      ["fork", "= exit 0"],
      [`setrlimit ${RLIMIT_MEMLOCK} 0x0 0x0`, ok],
      [`mmap ${at(0)} 0x1000 ${PROT_READ} ${PRIV}`, `= ${at(0)}`],
      ["unprivileged", ok],
      [`mlock ${at(0)} 0x1000`, err("EPERM")],
      "end",
    ),
  "ltp/mlock03: mlock and munlock of a stack, again and again, do not shrink it": ltp(
    "LTP mlocks and munlocks every line of /proc/self/maps and checks that [stack] keeps its size (RHEL5 bug 643426). Here the stack is a 16-page MAP_GROWSDOWN mapping in the arena, next to an ordinary one, locked and unlocked three times: every call succeeds and maps shows the same two VMAs after",
    [`mmap ${at(64)} 0x10000 ${RW} ${PRIV | MAP_GROWSDOWN}`, `= ${at(64)}`],
    [`mmap ${at(96)} 0x2000 ${RW} ${PRIV}`, `= ${at(96)}`],
    [`store8 ${at(79)} 0x1`, ok],
    [
      "maps",
      `= 2\n  ${at(64).slice(2)}-${at(80).slice(2)} rw-p 00000000 00:00 0 \n  ${at(96).slice(2)}-${at(98).slice(2)} rw-p 00000000 00:00 0 `,
    ],
    [`mlock ${at(64)} 0x10000`, ok],
    [`munlock ${at(64)} 0x10000`, ok],
    [`mlock ${at(96)} 0x2000`, ok],
    [`munlock ${at(96)} 0x2000`, ok],
    [`mlock ${at(64)} 0x10000`, ok],
    [`munlock ${at(64)} 0x10000`, ok],
    [`mlock ${at(96)} 0x2000`, ok],
    [`munlock ${at(96)} 0x2000`, ok],
    [`mlock ${at(64)} 0x10000`, ok],
    [`munlock ${at(64)} 0x10000`, ok],
    [
      "maps",
      `= 2\n  ${at(64).slice(2)}-${at(80).slice(2)} rw-p 00000000 00:00 0 \n  ${at(96).slice(2)}-${at(98).slice(2)} rw-p 00000000 00:00 0 `,
    ],
    [`load8 ${at(79)}`, "= 0x1"],
  ),
  "ltp/mlock04: mlock of a PROT_WRITE-only shared mapping succeeds": ltp(
    "the reproducer of fdf4c587a793 (mlock refused memory without PROT_READ): mlock of 10 pages mapped PROT_WRITE, MAP_SHARED returns 0 (shared anonymous memory for the 40 KiB file), munlock and munmap succeed; the pages are resident after the lock",
    [`mmap ${at(0)} 0xa000 ${PROT_WRITE} ${SHARED}`, `= ${at(0)}`],
    [`mlock ${at(0)} 0xa000`, ok],
    [`mincore ${at(0)} 0xa000`, mincore("1111111111")],
    [`munlock ${at(0)} 0xa000`, ok],
    [`munmap ${at(0)} 0xa000`, ok],
  ),
  "ltp/mlock05: mlock populates: all of a 1 MiB mapping is resident and locked": ltp(
    "mlock of a 1 MiB PROT_WRITE private anonymous mapping: smaps' Rss and Locked of the mapping both 1 MiB, read here as mincore (all 256 pages resident) and the VmFlags (lo) of its first and last page",
    [`mmap ${at(0)} 0x100000 ${PROT_WRITE} ${PRIV}`, `= ${at(0)}`],
    [`mlock ${at(0)} 0x100000`, ok],
    [`mincore ${at(0)} 0x100000`, mincore("1".repeat(256))],
    [`vmflags ${at(0)}`, LOCKED],
    [`vmflags ${at(255)}`, LOCKED],
    [`munlock ${at(0)} 0x100000`, ok],
    [`munmap ${at(0)} 0x100000`, ok],
  ),
  ...Object.fromEntries(
    MLOCK201.map((_, n) => [
      `ltp/mlock201: tcase ${n + 1} (VmLck counts whole pages; MLOCK_ONFAULT populates nothing)`,
      mlock201(n),
    ]),
  ),
  "ltp/mlock202: EINVAL for an unknown flag, ENOMEM above RLIMIT_MEMLOCK, EPERM with a zero limit, ENOMEM for unmapped memory":
    ltp(
      "mlock2(addr, page, -1) is EINVAL; without CAP_IPC_LOCK (a child `unprivileged` for seteuid(nobody)) and RLIMIT_MEMLOCK a byte short of a page it is ENOMEM, with the limit 0 EPERM; mlock2 of a page in the middle of an unmapped 8-page hole is ENOMEM",
      [`mmap ${at(0)} 0x1000 ${PROT_WRITE} ${PRIV}`, `= ${at(0)}`],
      [`mmap ${at(16)} 0x8000 ${PROT_READ} ${PRIV}`, `= ${at(16)}`],
      [`munmap ${at(16)} 0x8000`, ok],
      [`mlock2 ${at(0)} 0x1000 0xffffffffffffffff`, err("EINVAL")],
      ["fork", "= exit 0"],
      [`setrlimit ${RLIMIT_MEMLOCK} 0xfff 0xfff`, ok],
      ["unprivileged", ok],
      [`mlock2 ${at(0)} 0x1000 0x0`, err("ENOMEM")],
      "end",
      ["fork", "= exit 0"],
      [`setrlimit ${RLIMIT_MEMLOCK} 0x0 0x0`, ok],
      ["unprivileged", ok],
      [`mlock2 ${at(0)} 0x1000 0x0`, err("EPERM")],
      "end",
      [`mlock2 ${at(20)} 0x1000 0x0`, err("ENOMEM")],
    ),
  "ltp/mlock203: mlock2(0) over memory mlock2(MLOCK_ONFAULT) locked counts it once": ltp(
    "b155b4fde5bd: locking again what MLOCK_ONFAULT locked must not add to locked_vm (VmLck) a second time. Without /proc/self/status the count is read through RLIMIT_MEMLOCK: a child without CAP_IPC_LOCK and a two-page limit locks page 0 with MLOCK_ONFAULT, again with mlock2(0), then page 1, which fits only if page 0 counted once; page 2 then no longer fits (ENOMEM), so the limit binds",
    [`mmap ${at(0)} 0x3000 ${PROT_WRITE} ${PRIV}`, `= ${at(0)}`],
    ["fork", "= exit 0"],
    ["unprivileged", ok],
    [`setrlimit ${RLIMIT_MEMLOCK} 0x2000 0x2000`, ok],
    [`mlock2 ${at(0)} 0x1000 ${h(MLOCK_ONFAULT)}`, ok],
    [`mincore ${at(0)} 0x3000`, mincore("000")],
    [`mlock2 ${at(0)} 0x1000 0x0`, ok],
    [`mincore ${at(0)} 0x3000`, mincore("100")],
    [`mlock2 ${at(1)} 0x1000 0x0`, ok],
    [`mlock2 ${at(2)} 0x1000 0x0`, err("ENOMEM")],
    [`munlock ${at(0)} 0x1000`, ok],
    "end",
  ),
  "ltp/munlock02: munlock of a range with an unmapped part is ENOMEM": ltp(
    "8 pages written (memset) and mlocked, pages 2–5 unmapped: munlock(page 2, 8 pages) is ENOMEM",
    [`mmap ${at(0)} 0x8000 ${RW} ${PRIV}`, `= ${at(0)}`],
    ...[...Array(8).keys()].map((i): Step => [`store8 ${at(i)} 0x20`, ok]),
    [`mlock ${at(0)} 0x8000`, ok],
    [`munmap ${at(2)} 0x4000`, ok],
    [`munlock ${at(2)} 0x8000`, err("ENOMEM")],
  ),
  "ltp/mlockall01: mlockall(MCL_CURRENT), (MCL_FUTURE) and (MCL_CURRENT | MCL_FUTURE) succeed": ltp(
    "each of the three calls returns 0 (as root). In a child, so the script's process stays unlocked; the locks are read back: MCL_CURRENT locks what is mapped, MCL_FUTURE alone leaves it locked and locks a new mapping",
    [`mmap ${at(0)} 0x1000 ${RW} ${PRIV}`, `= ${at(0)}`],
    ["fork", "= exit 0"],
    [`mlockall ${h(MCL_CURRENT)}`, ok],
    [`vmflags ${at(0)}`, LOCKED],
    [`mlockall ${h(MCL_FUTURE)}`, ok],
    [`vmflags ${at(0)}`, LOCKED],
    [`mmap ${at(2)} 0x1000 ${RW} ${PRIV}`, `= ${at(2)}`],
    [`vmflags ${at(2)}`, LOCKED],
    [`mlockall ${h(MCL_CURRENT | MCL_FUTURE)}`, ok],
    ["munlockall", ok],
    [`vmflags ${at(2)}`, NOT_LOCKED],
    "end",
  ),
  "ltp/mlockall03: ENOMEM above RLIMIT_MEMLOCK, EPERM with a zero limit, EINVAL for ~(MCL_CURRENT | MCL_FUTURE)":
    ltp(
      "without CAP_IPC_LOCK (a child `unprivileged`) and RLIMIT_MEMLOCK 7 bytes soft, 10 hard, mlockall(MCL_CURRENT) is ENOMEM; with both limits 0 it is EPERM; flags ~(MCL_CURRENT | MCL_FUTURE) are EINVAL. The process maps four pages first (on Linux the oracle's own binary is there anyway) so that MCL_CURRENT has something to count",
      [`mmap ${at(0)} 0x4000 ${RW} ${PRIV}`, `= ${at(0)}`],
      ["fork", "= exit 0"],
      ["unprivileged", ok],
      [`setrlimit ${RLIMIT_MEMLOCK} 0x7 0xa`, ok],
      [`mlockall ${h(MCL_CURRENT)}`, err("ENOMEM")],
      "end",
      ["fork", "= exit 0"],
      [`setrlimit ${RLIMIT_MEMLOCK} 0x0 0x0`, ok],
      ["unprivileged", ok],
      [`mlockall ${h(MCL_CURRENT)}`, err("EPERM")],
      "end",
      ["mlockall 0xfffffffffffffffc", err("EINVAL")],
    ),
  "ltp/msync01: msync(MS_ASYNC) of a written shared page succeeds; the data is there for another reader": ltp(
    "256 bytes of 1 written at offset 100 of a shared page (shared anonymous memory for the file), msync(MS_ASYNC) returns 0, and the bytes read back from the object (a child's loads for read(2) at offset 100) are all 1, their neighbours 0",
    [`mmap ${at(0)} 0x1000 ${RW} ${SHARED}`, `= ${at(0)}`],
    ...[...Array(32).keys()].map((i): Step => [`store64 ${at(0, 100 + 8 * i)} 0x101010101010101`, ok]),
    [`msync ${at(0)} 0x1000 ${h(MS_ASYNC)}`, ok],
    ["fork", "= exit 0"],
    [`load8 ${at(0, 99)}`, "= 0x0"],
    [`load64 ${at(0, 100)}`, "= 0x101010101010101"],
    [`load64 ${at(0, 228)}`, "= 0x101010101010101"],
    [`load64 ${at(0, 348)}`, "= 0x101010101010101"],
    [`load8 ${at(0, 356)}`, "= 0x0"],
    "end",
  ),
  "ltp/msync02: msync(MS_INVALIDATE) of a shared mapping succeeds and it shows the object's data": ltp(
    '"Testing" written to the object at offset 100 by another opener (a child\'s store into the shared anonymous page, for write(2) to the file), then msync(MS_INVALIDATE) of the mapping returns 0 and the mapping reads "Testing" at offset 100',
    [`mmap ${at(0)} 0x1000 ${RW} ${SHARED}`, `= ${at(0)}`],
    ["fork", "= exit 0"],
    [`store64 ${at(0, 100)} 0x676e6974736554`, ok],
    "end",
    [`msync ${at(0)} 0x1000 ${h(MS_INVALIDATE)}`, ok],
    [`load64 ${at(0, 100)}`, "= 0x676e6974736554"],
  ),
  "ltp/msync03: EBUSY for MS_INVALIDATE of locked memory; EINVAL for bad flags and unaligned addresses; ENOMEM for unmapped memory":
    ltp(
      "a MAP_SHARED | MAP_LOCKED page (shared anonymous for the file): MS_INVALIDATE → EBUSY; MS_ASYNC | MS_SYNC → EINVAL; flags -1 → EINVAL; page + 1 byte → EINVAL; RLIMIT_DATA's hard limit (RLIM_INFINITY, ~0: not page-aligned as a 64-bit value) as the address → EINVAL; sbrk(0) + 4 pages (H+0x4000: the break is start_brk) → ENOMEM",
      [`mmap ${at(0)} 0x1000 ${RW} ${SHARED | MAP_LOCKED}`, `= ${at(0)}`],
      [`msync ${at(0)} 0x1000 ${h(MS_INVALIDATE)}`, err("EBUSY")],
      [`msync ${at(0)} 0x1000 ${h(MS_ASYNC | MS_SYNC)}`, err("EINVAL")],
      [`msync ${at(0)} 0x1000 0xffffffffffffffff`, err("EINVAL")],
      [`msync ${at(0, 1)} 0x1000 ${h(MS_SYNC)}`, err("EINVAL")],
      ["getrlimit 0x2", "= 0xffffffffffffffff 0xffffffffffffffff"],
      [`msync 0xffffffffffffffff 0x1000 ${h(MS_SYNC)}`, err("EINVAL")],
      ["brk 0x0", "= H+0x0"],
      [`msync H+0x4000 0x1000 ${h(MS_SYNC)}`, err("ENOMEM")],
    ),
  "ltp/mincore03: untouched anonymous pages are not resident, mlocked ones are": ltp(
    "3 private anonymous pages: mincore reports none resident; a fresh 3 pages mlocked: all resident",
    [`mmap ${at(0)} 0x3000 ${RW} ${PRIV}`, `= ${at(0)}`],
    [`mincore ${at(0)} 0x3000`, mincore("000")],
    [`munmap ${at(0)} 0x3000`, ok],
    [`mmap ${at(0)} 0x3000 ${RW} ${PRIV}`, `= ${at(0)}`],
    [`mlock ${at(0)} 0x3000`, ok],
    [`mincore ${at(0)} 0x3000`, mincore("111")],
    [`munlock ${at(0)} 0x3000`, ok],
    [`munmap ${at(0)} 0x3000`, ok],
  ),
  "ltp/mincore04: pages a child mlocked are resident in the parent's mapping": ltp(
    "3 pages of an object not in memory mapped by the parent; a child mlocks them; the parent's mincore reports all 3 resident. Shared anonymous memory for the private file mapping (the page cache is what mincore reports for a file; for anonymous memory only shared pages are one object), and the parent asks after the child is gone (a checkpoint while it holds the lock in LTP): the pages stay in the object",
    [`mmap ${at(0)} 0x3000 ${RW} ${SHARED}`, `= ${at(0)}`],
    [`mincore ${at(0)} 0x3000`, mincore("000")],
    ["fork", "= exit 0"],
    [`mlock ${at(0)} 0x3000`, ok],
    "end",
    [`mincore ${at(0)} 0x3000`, mincore("111")],
  ),
  "ltp/brk01: brk up by 2 pages − 1 byte, to the same break, and back, 33 times": brk01(),
  "ltp/brk02: brk down over two heap VMAs (one mprotected) unmaps both": ltp(
    "the heap grown a page, then a second page; the second made PROT_READ (a VMA of its own), a third page added (a third VMA); brk back to the start answers the start: the three VMAs are unmapped",
    ["brk 0x0", "= H+0x0"],
    ["brk H+0x1000", "= H+0x1000"],
    ["brk H+0x2000", "= H+0x2000"],
    [`mprotect H+0x1000 0x1000 ${PROT_READ}`, ok],
    ["brk H+0x3000", "= H+0x3000"],
    ["maps", /^\d+ maps = 3\n/],
    ["brk H+0x0", "= H+0x0"],
    ["maps", "= 0"],
  ),
  "ltp/mmap03: a PROT_EXEC shared mapping can be made; a child reading it exits normally or gets SIGSEGV": {
    ...ltp(
      "mmap(PROT_EXEC, MAP_SHARED) succeeds (shared anonymous for the read-only file); LTP's child then passes whether it exits normally or dies of SIGSEGV (x86 reads PROT_EXEC memory; mips faults). The child reads the mapping here (LTP's child reads the file, not the mapping)",
      [`mmap ${at(0)} 0x1000 ${PROT_EXEC} ${SHARED}`, `= ${at(0)}`],
      ["fork", /= (exit 0|killed SIGSEGV)$/],
      [`load8 ${at(0)}`, /= (0x0|SIGSEGV .*)$/],
      "end",
      [`munmap ${at(0)} 0x1000`, ok],
    ),
    // With PKU, a PROT_EXEC-only mapping takes the execute-only key and the read faults; the runner's
    // Faultline machine has no PKU (the recorded host has none either).
    liveSkip: () => (hostFeatures().pku ? "this host has PKU: PROT_EXEC memory is execute-only" : null),
  },
  "ltp/mmap08: mmap of a file with an invalid descriptor is EBADF": ltp(
    "mmap(NULL, page, PROT_WRITE, MAP_SHARED) of a closed descriptor is EBADF: the runner's descriptor is -1, never a file, so flags without MAP_ANONYMOUS ask for a file mapping of an invalid descriptor; nothing is mapped",
    [`mmap ${at(0)} 0x1000 ${PROT_WRITE} 0x1`, err("EBADF")],
    [`mmap ${at(0)} 0x1000 ${PROT_WRITE} 0x11`, err("EBADF")],
    ["maps", "= 0"],
  ),
  "ltp/mmap14: MAP_LOCKED maps 1 MiB locked": ltp(
    "mmap(1 MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_LOCKED | MAP_ANONYMOUS) succeeds and VmLck grows by 1 MiB: read here as one 1 MiB VMA with VmFlags lo, all of it resident (MAP_LOCKED populates)",
    [`mmap ${at(0)} 0x100000 ${RW} ${PRIV | MAP_LOCKED}`, `= ${at(0)}`],
    ["maps", `= 1\n  ${at(0).slice(2)}-${at(256).slice(2)} rw-p 00000000 00:00 0 `],
    [`vmflags ${at(0)}`, LOCKED],
    [`mincore ${at(0)} 0x100000`, mincore("1".repeat(256))],
    [`munmap ${at(0)} 0x100000`, ok],
  ),
  "ltp/mmap19: mappings swapped between two addresses show the right data (no stale TLB entry)": ltp(
    'two PROT_READ private mappings hold "testing 123" and "my test mem"; unmapped and mapped again at each other\'s address, each must show its own data. Without files the data cannot come back from a file: the mappings are written, read, then moved to each other\'s address with mremap (through a third address), and read again; a fresh mapping where one was shows zeroes, not the old contents',
    [`mmap ${at(0)} 0x1000 ${RW} ${PRIV}`, `= ${at(0)}`],
    [`mmap ${at(4)} 0x1000 ${RW} ${PRIV}`, `= ${at(4)}`],
    [`store64 ${at(0)} 0x20676e6974736574`, ok],
    [`store64 ${at(4)} 0x207473657420796d`, ok],
    [`mprotect ${at(0)} 0x1000 ${PROT_READ}`, ok],
    [`mprotect ${at(4)} 0x1000 ${PROT_READ}`, ok],
    [`load64 ${at(0)}`, "= 0x20676e6974736574"],
    [`load64 ${at(4)}`, "= 0x207473657420796d"],
    [`mremap ${at(0)} 0x1000 0x1000 0x3 ${at(8)}`, `= ${at(8)}`],
    [`mremap ${at(4)} 0x1000 0x1000 0x3 ${at(0)}`, `= ${at(0)}`],
    [`mremap ${at(8)} 0x1000 0x1000 0x3 ${at(4)}`, `= ${at(4)}`],
    [`load64 ${at(0)}`, "= 0x207473657420796d"],
    [`load64 ${at(4)}`, "= 0x20676e6974736574"],
    [`munmap ${at(0)} 0x1000`, ok],
    [`mmap ${at(0)} 0x1000 ${PROT_READ} ${PRIV}`, `= ${at(0)}`],
    [`load64 ${at(0)}`, "= 0x0"],
  ),
  "ltp/mmap21: a child's writes through a PROT_WRITE shared mapping of 1000 pages reach the object": ltp(
    "a 1000-page object mapped PROT_WRITE, MAP_SHARED (shared anonymous for the file); a child writes (char)i at byte i; the parent msyncs (MS_SYNC) and reads the object back (its own mapping for read(2); x86 reads PROT_WRITE memory). Sampled: the first and last byte of every 50th page and of the last page",
    [`mmap ${at(0)} ${h(1000 * 0x1000)} ${PROT_WRITE} ${SHARED}`, `= ${at(0)}`],
    ["fork", "= exit 0"],
    ...MMAP21_PAGES.flatMap((p): Step[] => [
      [`store8 ${at(p)} ${h((p * 0x1000) & 0xff)}`, ok],
      [`store8 ${at(p, 0xfff)} ${h((p * 0x1000 + 0xfff) & 0xff)}`, ok],
    ]),
    "end",
    [`msync ${at(0)} ${h(1000 * 0x1000)} ${h(MS_SYNC)}`, ok],
    ...MMAP21_PAGES.flatMap((p): Step[] => [
      [`load8 ${at(p)}`, `= ${h((p * 0x1000) & 0xff)}`],
      [`load8 ${at(p, 0xfff)}`, `= ${h((p * 0x1000 + 0xfff) & 0xff)}`],
    ]),
  ),
  "ltp/mremap07: mremap(MREMAP_DONTUNMAP) moves the data and leaves the old range mapped and empty": ltp(
    '"ABCD" in a private page moved with MREMAP_MAYMOVE | MREMAP_DONTUNMAP: the new page holds "ABCD", and a touch of the old page faults (LTP\'s userfaultfd handler, a thread, then copies "EFGH" in: not expressible; without userfaultfd the fault maps a zero page). MREMAP_FIXED to an arena address, as the runner\'s mremap may not pick one',
    [`mmap ${at(0)} 0x1000 ${RW} ${PRIV}`, `= ${at(0)}`],
    [`store32 ${at(0)} 0x44434241`, ok],
    [`mremap ${at(0)} 0x1000 0x1000 0x7 ${at(4)}`, `= ${at(4)}`],
    [`load32 ${at(4)}`, "= 0x44434241"],
    [`store32 ${at(4)} 0x48474645`, ok],
    [`load32 ${at(0)}`, "= 0x0"],
    [
      "maps",
      `= 2\n  ${at(0).slice(2)}-${at(1).slice(2)} rw-p 00000000 00:00 0 \n  ${at(4).slice(2)}-${at(5).slice(2)} rw-p 00000000 00:00 0 `,
    ],
  ),
};

const FIXTURE = new URL("./__fixtures__/oracle-peer-ltp.json", import.meta.url);
const oracle = compileOracle();
const SKIP = oracle ? "" : ` [SKIPPED: ${oracleUnavailableReason}]`;

const RECORD = "FAULTLINE_RECORD_PEER_LTP";
const SCRIPTS = Object.fromEntries(Object.entries(CASES).map(([n, c]) => [n, HEAD + c.script]));
const recorded = recordedTranscripts(FIXTURE, RECORD, SCRIPTS);

describe("LTP's mm syscall tests, ported: Faultline against Linux", () => {
  it("every case lists assertions, and its doc says what it checks", () => {
    for (const [name, c] of Object.entries(CASES)) {
      expect(name, name).toMatch(/^ltp\/[a-z0-9]+: /);
      expect(c.doc.length, name).toBeGreaterThan(20);
      expect(Object.keys(c.expect).length, name).toBeGreaterThan(0);
    }
  });

  it("the recorded kernel transcripts cover every case, for the scripts as they are now, and meet the originals' assertions", () => {
    expectRecordedCover(recorded, RECORD, SCRIPTS);
    for (const [name, c] of Object.entries(CASES)) {
      expect(unmet(c, recorded!.cases[name]!.transcript), name).toEqual([]);
    }
  });

  for (const [name, c] of Object.entries(CASES)) {
    const text = HEAD + c.script;
    it(`${name}: Faultline meets the original's assertions and prints the recorded kernel's transcript`, async () => {
      const t = await runSignalScript(text);
      expect(unmet(c, t)).toEqual([]);
      expect(t).toEqual(recorded!.cases[name]!.transcript);
    });
    const skip = oracle ? (c.liveSkip?.() ?? null) : null;
    const why = skip ? ` [SKIPPED: ${skip}]` : SKIP;
    it.skipIf(!oracle || skip !== null)(
      `${name}: this machine's kernel meets them and prints the same${why}`,
      async () => {
        const linux = runTextOnLinux(text);
        expect(unmet(c, linux)).toEqual([]);
        expect(await runSignalScript(text)).toEqual(linux);
      },
    );
  }
});
