// Peer-suite memory-management tests, re-expressed as oracle scripts.
//
// Each case is named after the test it was ported from (LTP's testcases/kernel/syscalls, the kernel's
// tools/testing/selftests/mm, gVisor's test/syscalls/linux). The scripts are our own: they follow the
// original's steps and assertions, with these systematic adaptations (each case's doc says which apply):
//   - every address is fixed inside the oracle's arena (MAP_FIXED, or a free arena hint where the
//     original let the kernel choose: both sides then place the mapping at the same address);
//   - a file or memfd mapping whose file-ness is incidental to what is asserted becomes MAP_SHARED|
//     MAP_ANONYMOUS (shmem, like memfd and /dev/zero), a SysV segment likewise;
//   - sizes that do not fit the 4 MiB arena are scaled down (the property asserted does not depend on them);
//   - "fill the page with byte c" / "the page is all c" become a 64-bit store / load at the first and
//     last word of the page; "is mapped" becomes a load whose fault (SEGV_ACCERR on PROT_NONE, SEGV_MAPERR
//     when nothing is mapped) tells the two apart.
// Expectations are the original's assertions, written as the exact answer the kernel gives (where the
// original only asks for "fails" or "SIGSEGV", the errno / si_code is the one Linux 6.18 x86-64 gives).

import { anonLine, type Expectations, type OracleCase, unmetExpectations } from "./cases.ts";
import type { HostMmFeatures } from "./linux.ts";
import {
  fork,
  load,
  MADV_DOFORK,
  MADV_DONTFORK,
  MADV_DONTNEED,
  MADV_FREE,
  MADV_KEEPONFORK,
  MADV_NORMAL,
  MADV_RANDOM,
  MADV_REMOVE,
  MADV_SEQUENTIAL,
  MADV_WILLNEED,
  MADV_WIPEONFORK,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_GROWSDOWN,
  MAP_LOCKED,
  MAP_NORESERVE,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_STACK,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  madvise,
  maps,
  mlock,
  mmap,
  mprotect,
  mremap,
  munlock,
  munmap,
  type Op,
  PAGE_SIZE,
  PRIVATE_ANON,
  PROT_EXEC,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  page,
  pages,
  pkeyAlloc,
  pkeyFree,
  pkeyMprotect,
  pkeySet,
  rss,
  type Script,
  SHARED_ANON,
  store,
} from "./script.ts";
import { mapsAt } from "./transcript.ts";

export type PeerSuite = "ltp" | "selftests/mm" | "gvisor";

/** A divergence between Faultline and the live kernel that is known and explained (see the report). */
export interface KnownDivergence {
  /** Why: the kernel rule Faultline misses. */
  readonly reason: string;
  /** Transcript index (e.g. "7", "3.1") of the first line where Faultline's transcript differs. */
  readonly firstDiffAt: string;
  /**
   * The first (in transcript order) expectation index Faultline misses on every kind of host, or null
   * when the divergence shows in the transcript only.
   */
  readonly firstUnmet: string | null;
  /** Only on hosts with these features (default: every host); elsewhere the case must pass normally. */
  readonly onlyOn?: Partial<HostMmFeatures>;
}

/** The case's known divergence, if it applies on a host with these features. */
export function divergenceOn(c: PeerCase, host: HostMmFeatures): KnownDivergence | undefined {
  const d = c.knownDivergence;
  if (!d) return undefined;
  const only = d.onlyOn ?? {};
  if (only.pku !== undefined && only.pku !== host.pku) return undefined;
  if (only.zeroPage !== undefined && only.zeroPage !== host.zeroPage) return undefined;
  return d;
}

export interface PeerCase extends OracleCase {
  readonly suite: PeerSuite;
  /** Maps lines (without the two-space prefix) that must start with these texts, per maps op index. */
  readonly mapsPrefix?: Readonly<Record<string, readonly string[]>>;
  readonly knownDivergence?: KnownDivergence;
}

/** unmetExpectations, plus the `mapsPrefix` checks of a peer case. */
export function peerUnmet(c: PeerCase, transcript: readonly string[], host: HostMmFeatures): string[] {
  const out = unmetExpectations(c, transcript, host);
  for (const [index, prefixes] of Object.entries(c.mapsPrefix ?? {})) {
    const shown = mapsAt(transcript, index);
    for (const p of prefixes) {
      if (!shown.some((l) => l.startsWith(p)))
        out.push(`${c.name}: maps of op ${index} lacks a line "${p}…"`);
    }
  }
  return out;
}

/** Transcript order of index labels ("2" < "6.0" < "6.1" < "10"). */
export function compareLabels(a: string, b: string): number {
  const x = a.split(".").map(Number);
  const y = b.split(".").map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? -1) - (y[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

/** The op indices named by peerUnmet's messages, in transcript order. */
export function unmetIndices(messages: readonly string[]): string[] {
  const set = new Set<string>();
  for (const m of messages) {
    const r = /: (?:op|maps of op) (\S+?)(?: =| lacks)/.exec(m);
    if (r) set.add(r[1]!);
  }
  return [...set].sort(compareLabels);
}

// ------------------------------------------------------------------------------ builder

const hex = (v: bigint): string => `0x${v.toString(16)}`;
const mapErr = (a: bigint) => `SIGSEGV SEGV_MAPERR ${hex(a)}`;
const accErr = (a: bigint) => `SIGSEGV SEGV_ACCERR ${hex(a)}`;
const pkuErr = (a: bigint) => `SIGSEGV SEGV_PKUERR ${hex(a)}`;
const busErr = (a: bigint) => `SIGBUS BUS_ADRERR ${hex(a)}`;
/** A 64-bit word made of one repeated byte. */
const rep = (byte: number): bigint => 0x0101_0101_0101_0101n * BigInt(byte);
const LAST_WORD = Number(PAGE_SIZE) - 8;

type Want =
  | string
  | {
      readonly pku?: string;
      readonly noPku?: string;
      readonly zeroPage?: string;
      readonly noZeroPage?: string;
    };

/** Collects ops and their expected results, numbering them as the transcript does. */
export class B {
  readonly ops: Op[] = [];
  readonly expect: Record<string, string> = {};
  readonly maps: Record<string, string[]> = {};
  readonly mapsPrefix: Record<string, string[]> = {};
  readonly pku: Record<string, string> = {};
  readonly noPku: Record<string, string> = {};
  readonly zeroPage: Record<string, string> = {};
  readonly noZeroPage: Record<string, string> = {};
  constructor(private readonly prefix = "") {}

  /** Index label the next op gets. */
  next(): string {
    return `${this.prefix}${this.ops.length}`;
  }

  do(op: Op, want?: Want): this {
    const at = this.next();
    this.ops.push(op);
    if (typeof want === "string") this.expect[at] = want;
    else if (want) {
      if (want.pku !== undefined) this.pku[at] = want.pku;
      if (want.noPku !== undefined) this.noPku[at] = want.noPku;
      if (want.zeroPage !== undefined) this.zeroPage[at] = want.zeroPage;
      if (want.noZeroPage !== undefined) this.noZeroPage[at] = want.noZeroPage;
    }
    return this;
  }

  /** mmap expected to succeed at its (fixed or hinted) address. */
  map(addr: bigint, len: bigint, prot: number, flags: number): this {
    return this.do(mmap(addr, len, prot, flags), hex(addr));
  }

  /** A maps op; `count` lines expected, private-anon `lines` shown, `prefixes` shown as line starts. */
  showMaps(count?: number, lines: string[] = [], prefixes: string[] = []): this {
    const at = this.next();
    this.do(maps, count === undefined ? undefined : String(count));
    if (lines.length) this.maps[at] = lines;
    if (prefixes.length) this.mapsPrefix[at] = prefixes;
    return this;
  }

  /** "Fill page `addr` with `byte`": its first and last words. */
  fill(addr: bigint, byte: number): this {
    return this.do(store(64, addr, rep(byte)), "0").do(store(64, addr + BigInt(LAST_WORD), rep(byte)), "0");
  }

  /** "Page `addr` is all `byte`": its first and last words. */
  check(addr: bigint, byte: number): this {
    return this.do(load(64, addr), hex(rep(byte))).do(load(64, addr + BigInt(LAST_WORD)), hex(rep(byte)));
  }

  /** A read and a write that must both fault with `fault(addr)`. */
  noAccess(addr: bigint, fault: (a: bigint) => string = mapErr): this {
    return this.do(load(8, addr), fault(addr)).do(store(8, addr, 0x78n), fault(addr));
  }

  /** A read and a write ('x') that must both succeed (try_read_write_buf). */
  readWrite(addr: bigint): this {
    return this.do(load(8, addr)).do(store(8, addr, 0x78n), "0");
  }

  /** A child process running `build`; it must exit normally. */
  fork(build: (c: B) => void, want = "exit 0"): this {
    const at = this.next();
    const c = new B(`${at}.`);
    build(c);
    this.ops.push(fork(c.ops));
    this.expect[at] = want;
    Object.assign(this.expect, c.expect);
    Object.assign(this.maps, c.maps);
    Object.assign(this.mapsPrefix, c.mapsPrefix);
    Object.assign(this.pku, c.pku);
    Object.assign(this.noPku, c.noPku);
    Object.assign(this.zeroPage, c.zeroPage);
    Object.assign(this.noZeroPage, c.noZeroPage);
    return this;
  }
}

export function peer(
  suite: PeerSuite,
  name: string,
  doc: string,
  build: (b: B) => void,
  knownDivergence?: KnownDivergence,
): PeerCase {
  const b = new B();
  build(b);
  const byHost: {
    pku?: Expectations;
    noPku?: Expectations;
    zeroPage?: Expectations;
    noZeroPage?: Expectations;
  } = {};
  if (Object.keys(b.pku).length) byHost.pku = { expect: b.pku };
  if (Object.keys(b.noPku).length) byHost.noPku = { expect: b.noPku };
  if (Object.keys(b.zeroPage).length) byHost.zeroPage = { expect: b.zeroPage };
  if (Object.keys(b.noZeroPage).length) byHost.noZeroPage = { expect: b.noZeroPage };
  return {
    suite,
    name,
    doc,
    script: b.ops as Script,
    expect: b.expect,
    ...(Object.keys(b.maps).length ? { maps: b.maps } : {}),
    ...(Object.keys(b.mapsPrefix).length ? { mapsPrefix: b.mapsPrefix } : {}),
    ...(Object.keys(byHost).length ? { byHost } : {}),
    ...(knownDivergence ? { knownDivergence } : {}),
  };
}

const P = page;
const N = pages;
const RW = PROT_READ | PROT_WRITE;
const RWX = RW | PROT_EXEC;
const PF = PRIVATE_ANON | MAP_FIXED;
const SF = SHARED_ANON | MAP_FIXED;
const MOVE = MREMAP_MAYMOVE | MREMAP_FIXED;
const range = (a: bigint, b: bigint) => `${a.toString(16)}-${b.toString(16)} `;
/** Start of the maps line of [P(s), P(e)) with `perms`. */
const linePrefix = (s: number, e: number, perms: string) => `${range(P(s), P(e))}${perms} `;

// ============================================================================== LTP

const MADV_MERGEABLE = 12;
const MADV_UNMERGEABLE = 13;
const MADV_HUGEPAGE = 14;
const MADV_NOHUGEPAGE = 15;
const MADV_DONTDUMP = 16;
const MADV_DODUMP = 17;
const MADV_COLD = 20;
const MADV_PAGEOUT = 21;
const MADV_POPULATE_READ = 22;
const MADV_POPULATE_WRITE = 23;
const MADV_GUARD_INSTALL = 102;
const MADV_GUARD_REMOVE = 103;

const LTP_MMAP04: readonly (readonly [number, number, string])[] = [
  [PROT_NONE, MAP_PRIVATE, "---p"],
  [PROT_NONE, MAP_SHARED, "---s"],
  [PROT_READ, MAP_PRIVATE, "r--p"],
  [PROT_READ, MAP_SHARED, "r--s"],
  [PROT_WRITE, MAP_PRIVATE, "-w-p"],
  [PROT_WRITE, MAP_SHARED, "-w-s"],
  [RW, MAP_PRIVATE, "rw-p"],
  [RW, MAP_SHARED, "rw-s"],
  [PROT_READ | PROT_EXEC, MAP_PRIVATE, "r-xp"],
  [PROT_READ | PROT_EXEC, MAP_SHARED, "r-xs"],
  [PROT_WRITE | PROT_EXEC, MAP_PRIVATE, "-wxp"],
  [PROT_WRITE | PROT_EXEC, MAP_SHARED, "-wxs"],
  [RWX, MAP_PRIVATE, "rwxp"],
  [RWX, MAP_SHARED, "rwxs"],
];

const LTP: PeerCase[] = [
  peer(
    "ltp",
    "ltp/mmap04",
    "maps perms match prot × type for all 14 combinations; each mapping is placed over the 2nd page of a PROT_NONE mapping of the other type so it cannot merge",
    (b) => {
      const prefixes: string[] = [];
      LTP_MMAP04.forEach(([prot, type, perms], i) => {
        const other = type === MAP_PRIVATE ? MAP_SHARED : MAP_PRIVATE;
        b.map(P(4 * i), N(2), PROT_NONE, other | MAP_ANONYMOUS | MAP_FIXED);
        b.map(P(4 * i + 1), N(1), prot, type | MAP_ANONYMOUS | MAP_FIXED);
        prefixes.push(linePrefix(4 * i + 1, 4 * i + 2, perms));
      });
      b.showMaps(undefined, [], prefixes);
    },
  ),
  peer(
    "ltp",
    "ltp/mmap05",
    "a PROT_NONE shared mapping (shared anon for the file) can be mapped, but reading it raises SIGSEGV",
    (b) => {
      b.map(P(0), N(1), PROT_NONE, SF);
      b.do(load(8, P(0)), accErr(P(0)));
    },
  ),
  peer(
    "ltp",
    "ltp/mmap06",
    "mmap fails with EINVAL for length 0 and for flags with neither MAP_PRIVATE nor MAP_SHARED (anonymous; the EACCES cases need a file descriptor)",
    (b) => {
      b.do(mmap(P(0), 0n, RW, SF), "-EINVAL");
      b.do(mmap(P(0), 1024n, RW, MAP_ANONYMOUS | MAP_FIXED), "-EINVAL");
      b.showMaps(0);
    },
  ),
  peer(
    "ltp",
    "ltp/mmap10",
    "anonymous variant, scaled to the arena (SIZE 1 MiB): a 2·SIZE−page private mapping touched at SIZE, three forked children each munmap the middle, the parent munmaps everything",
    (b) => {
      const S = 256;
      b.map(P(0), N(2 * S - 1), RW, PF);
      b.do(store(8, P(S), 0n), "0");
      for (let i = 0; i < 3; i++) b.fork((c) => c.do(munmap(P(S + 1), N(S - 2)), "0").showMaps(1));
      b.do(munmap(P(0), N(2 * S - 1)), "0");
      b.showMaps(0);
    },
  ),
  peer(
    "ltp",
    "ltp/mmap12",
    "MAP_POPULATE: every page is present right after mmap (rss of the arena instead of /proc/self/pagemap) and reads zero (private anonymous instead of a file)",
    (b) => {
      b.map(P(0), N(256), RW, PF | MAP_POPULATE);
      b.do(rss, "rss 1024 anon 1024");
      b.do(load(64, P(0)), "0x0").do(load(64, P(255, LAST_WORD)), "0x0");
    },
  ),
  peer(
    "ltp",
    "ltp/mmap15",
    "a page cannot be mapped MAP_FIXED at the top of the address space (-page_size): ENOMEM (LTP accepts ENOMEM or EINVAL; x86-64 answers ENOMEM)",
    (b) => {
      b.do(mmap(0xffff_ffff_ffff_f000n, N(1), PROT_READ, SF), "-ENOMEM");
    },
  ),
  peer(
    "ltp",
    "ltp/mmap17",
    "MAP_FIXED_NOREPLACE at an existing mapping fails with EEXIST (anonymous mappings for the two files)",
    (b) => {
      b.map(P(0), N(1), PROT_WRITE, PF);
      b.do(mmap(P(0), 22n, PROT_WRITE, PRIVATE_ANON | MAP_FIXED_NOREPLACE), "-EEXIST");
      b.showMaps(1, [anonLine(0, 1, "-w-p")]);
    },
  ),
  peer(
    "ltp",
    "ltp/mmap18: grows into unmapped region",
    "a MAP_GROWSDOWN mapping grows down when the page below it is touched (no thread stack: the access itself; x86 has not required the stack pointer near the fault since 4.20); stack_guard_gap (256 pages) free below",
    (b) => {
      b.map(P(700), N(2), RW, PF | MAP_GROWSDOWN);
      b.do(store(8, P(699), 1n), "0");
      b.do(store(8, P(690), 2n), "0");
      b.do(load(8, P(699)), "0x1");
      b.showMaps(1, [anonLine(690, 702, "rw-p")]);
    },
  ),
  peer(
    "ltp",
    "ltp/mmap18: blocked by a mapping in the guard gap",
    "a page mapped in the space the MAP_GROWSDOWN mapping would grow into (closer than stack_guard_gap) makes the access below the mapping fault with SIGSEGV",
    (b) => {
      b.map(P(700), N(2), RW, PF | MAP_GROWSDOWN);
      b.map(P(600), N(1), RW, PF);
      b.do(store(8, P(699), 1n), mapErr(P(699)));
      b.showMaps(2, [anonLine(600, 601, "rw-p"), anonLine(700, 702, "rw-p")]);
    },
  ),
  peer(
    "ltp",
    "ltp/munmap01",
    "after munmap of a whole shared mapping (shared anon for the file), and after munmap of its last 2 of 3 pages, a write from a child faults (SIGSEGV)",
    (b) => {
      b.map(P(0), N(3), RW, SF);
      b.do(munmap(P(0), N(3)), "0");
      b.fork((c) => c.do(store(8, P(0), 50n), mapErr(P(0))));
      b.map(P(8), N(3), RW, SF);
      b.do(munmap(P(9), N(2)), "0");
      b.fork((c) => c.do(store(8, P(9), 50n), mapErr(P(9))));
      b.showMaps(1);
    },
  ),
  peer(
    "ltp",
    "ltp/munmap03",
    "munmap fails with EINVAL for an address outside the address space (RLIMIT_DATA's infinity, i.e. ~0), for length 0 and for an unaligned address",
    (b) => {
      b.map(P(0), N(2), RW, PF);
      b.do(munmap(0xffff_ffff_ffff_ffffn, N(2)), "-EINVAL");
      b.do(munmap(P(0), 0n), "-EINVAL");
      b.do(munmap(P(0, 8), N(2)), "-EINVAL");
      b.showMaps(1, [anonLine(0, 2, "rw-p")]);
    },
  ),
  peer(
    "ltp",
    "ltp/mremap01",
    "expanding a mapping with MREMAP_MAYMOVE succeeds and the whole new size is writable (private anonymous instead of a file; 4 → 8 pages, free space after it so it grows in place)",
    (b) => {
      b.map(P(0), N(4), PROT_WRITE, PF);
      b.do(mremap(P(0), N(4), N(8), MREMAP_MAYMOVE), hex(P(0)));
      for (let i = 0; i < 8; i++) b.do(store(8, P(i, 4095), BigInt(i)), "0");
      b.showMaps(1, [anonLine(0, 8, "-w-p")]);
    },
  ),
  peer("ltp", "ltp/mremap02", "mremap of a non-page-aligned old address fails with EINVAL", (b) => {
    b.map(P(0), N(1), RW, PF);
    b.do(mremap(P(0, 4095), N(1), N(2), MREMAP_MAYMOVE), "-EINVAL");
  }),
  peer("ltp", "ltp/mremap03", "mremap of an address that is not mapped fails with EFAULT", (b) => {
    b.do(mremap(P(0), N(16), N(32), MREMAP_MAYMOVE), "-EFAULT");
  }),
  peer(
    "ltp",
    "ltp/mremap04",
    "expanding the first page of a 2-page shared mapping (shared anon for the SysV segment) without MREMAP_MAYMOVE fails with ENOMEM: the page after it is in use",
    (b) => {
      b.map(P(0), N(2), RW, SF);
      b.do(mremap(P(0), N(1), N(2), 0), "-ENOMEM");
    },
  ),
  peer(
    "ltp",
    "ltp/mremap05",
    "MREMAP_FIXED without MAYMOVE → EINVAL; unaligned new address → EINVAL; old/new overlap → EINVAL; a move to a free address carries the data; a move over an existing mapping replaces it",
    (b) => {
      b.map(P(0), N(1), RW, PF);
      b.do(mremap(P(0), N(1), N(1), MREMAP_FIXED, P(10)), "-EINVAL");
      b.do(mremap(P(0), N(1), N(1), MOVE, P(10, 1)), "-EINVAL");
      b.map(P(20), N(2), RW, PF);
      b.do(mremap(P(20), N(2), N(1), MOVE, P(20)), "-EINVAL");
      b.do(store(8, P(0), 1n), "0");
      b.do(mremap(P(0), N(1), N(1), MOVE, P(10)), hex(P(10)));
      b.do(load(8, P(10)), "0x1");
      b.map(P(30), N(1), RW, PF);
      b.map(P(32), N(1), RW, PF);
      b.do(store(8, P(30), 1n), "0").do(store(8, P(32), 2n), "0");
      b.do(mremap(P(30), N(1), N(1), MOVE, P(32)), hex(P(32)));
      b.do(load(8, P(32)), "0x1");
      b.do(load(8, P(30)), mapErr(P(30)));
    },
  ),
  ...(
    [
      [0, "all pages with compatible mapping"],
      [3, "third MMAP_GRANULARITY's mapping incompatible"],
      [1, "first MMAP_GRANULARITY's mapping incompatible"],
    ] as const
  ).map(([incompatible, desc]) =>
    peer(
      "ltp",
      `ltp/mremap06: ${desc}`,
      "a page moved out of a shared mapping (shared anon for the file) to the end and back again is merged with the right vm_pgoff: every page still shows its own data (regression test for 7e7757876f25)",
      (b) => {
        b.map(P(0), N(4), RW, SF);
        for (let i = 0; i < 4; i++) b.do(store(8, P(i), BigInt(0x30 + i)), "0");
        b.do(mremap(P(1), N(1), N(1), MOVE, P(3)), hex(P(3)));
        if (incompatible) b.do(mprotect(P(incompatible - 1), N(1), PROT_READ), "0");
        b.do(mremap(P(3), N(1), N(1), MOVE, P(1)), hex(P(1)));
        for (let i = 0; i < 3; i++) b.do(load(8, P(i)), hex(BigInt(0x30 + i)));
      },
    ),
  ),
  peer(
    "ltp",
    "ltp/mprotect01",
    "mprotect of memory that is not mapped → ENOMEM (an unmapped arena page instead of address 0, which is outside the arena); of an unaligned address → EINVAL (the EACCES case needs a read-only file descriptor)",
    (b) => {
      b.do(mprotect(P(0), N(1) + 1n, PROT_READ), "-ENOMEM");
      b.map(P(4), N(1), RW, PF);
      b.do(mprotect(P(4, 1), 1024n, PROT_READ), "-EINVAL");
    },
  ),
  peer(
    "ltp",
    "ltp/mprotect02",
    "a write to a PROT_READ shared mapping (shared anon for the file) faults in a child; after mprotect(PROT_WRITE) a child's write succeeds",
    (b) => {
      b.map(P(0), N(1), PROT_READ, SF);
      b.fork((c) => c.do(store(8, P(0), 0x61n), accErr(P(0))));
      b.do(mprotect(P(0), 27n, PROT_WRITE), "0");
      b.fork((c) => c.do(store(8, P(0), 0x61n), "0"));
      b.showMaps(undefined, [], [linePrefix(0, 1, "-w-s")]);
    },
  ),
  peer(
    "ltp",
    "ltp/mprotect03",
    "after mprotect(PROT_READ) of a read-write shared mapping (shared anon for the file), a child's write raises SIGSEGV",
    (b) => {
      b.map(P(0), N(1), RW, SF);
      b.do(mprotect(P(0), 26n, PROT_READ), "0");
      b.fork((c) => c.do(store(8, P(0), 0x61n), accErr(P(0))));
    },
  ),
  peer(
    "ltp",
    "ltp/mprotect04",
    "mprotect(PROT_NONE) succeeds and a later write raises SIGSEGV (the PROT_EXEC half executes code: not expressible)",
    (b) => {
      b.map(P(0), N(1), RW, PF);
      b.do(mprotect(P(0), N(1), PROT_NONE), "0");
      b.do(store(8, P(0), 1n), accErr(P(0)));
    },
  ),
  peer(
    "ltp",
    "ltp/mprotect05",
    "split and re-merge by mprotect on a 5-page shared mapping (shared anon for the file): EXEC on page 1, WRITE on page 3, then READ on pages 1-4 all succeed and give one VMA again (bugzilla 217061)",
    (b) => {
      b.map(P(0), N(5), PROT_READ, SF);
      b.do(mprotect(P(1), N(1), PROT_EXEC), "0");
      b.do(mprotect(P(3), N(1), PROT_WRITE), "0");
      b.showMaps(5);
      b.do(mprotect(P(1), N(4), PROT_READ), "0");
      b.showMaps(1, [], [linePrefix(0, 5, "r--s")]);
    },
  ),
  peer(
    "ltp",
    "ltp/madvise01",
    "every advice value LTP lists succeeds (returns 0; EINVAL only where the kernel lacks the feature) on a shared mapping (shared anon for the tmpfs file) and a private anonymous one; MADV_HWPOISON is left out (it would poison the host's pages)",
    (b) => {
      b.map(P(0), N(10), RW, SF);
      b.map(P(20), N(10), RW, PF);
      for (const adv of [
        MADV_NORMAL,
        MADV_RANDOM,
        MADV_SEQUENTIAL,
        MADV_WILLNEED,
        MADV_DONTNEED,
        MADV_REMOVE,
      ])
        b.do(madvise(P(0), N(10), adv), "0");
      b.do(madvise(P(0), N(10), MADV_DONTFORK), "0");
      b.do(madvise(P(0), N(10), MADV_DOFORK), "0");
      b.do(madvise(P(0), N(10), MADV_MERGEABLE)); // EINVAL without CONFIG_KSM (LTP: TCONF)
      b.do(madvise(P(0), N(10), MADV_UNMERGEABLE));
      b.do(madvise(P(20), N(10), MADV_HUGEPAGE)); // EINVAL without THP (LTP: TCONF)
      b.do(madvise(P(20), N(10), MADV_NOHUGEPAGE));
      b.do(madvise(P(0), N(10), MADV_DONTDUMP), "0");
      b.do(madvise(P(0), N(10), MADV_DODUMP), "0");
      for (const adv of [MADV_FREE, MADV_WIPEONFORK, MADV_KEEPONFORK, MADV_COLD, MADV_PAGEOUT])
        b.do(madvise(P(20), N(10), adv), "0");
    },
  ),
  peer(
    "ltp",
    "ltp/madvise02",
    "madvise errors: unaligned → EINVAL; bad advice → EINVAL; REMOVE / DONTNEED on a locked mapping → EINVAL; a range with an unmapped page → ENOMEM (NORMAL, WILLNEED); FREE / WIPEONFORK on a shared mapping → EINVAL (shared anon, MAP_LOCKED, for LTP's mlocked shared file; the private-file and KSM rows need a file or depend on CONFIG_KSM)",
    (b) => {
      b.map(P(0), N(16), PROT_READ, SF | MAP_LOCKED);
      b.map(P(20), N(16), PROT_READ, SF);
      b.do(munmap(P(35), N(1)), "0");
      b.map(P(40), N(1), PROT_READ, SF);
      b.do(madvise(P(0, 100), N(16), MADV_NORMAL), "-EINVAL");
      b.do(madvise(P(0), N(16), 1212), "-EINVAL");
      b.do(madvise(P(0), N(16), MADV_REMOVE), "-EINVAL");
      b.do(madvise(P(0), N(16), MADV_DONTNEED), "-EINVAL");
      b.do(madvise(P(20), N(16), MADV_NORMAL), "-ENOMEM");
      b.do(madvise(P(20), N(16), MADV_WILLNEED), "-ENOMEM");
      b.do(madvise(P(0), N(16), MADV_FREE), "-EINVAL");
      b.do(madvise(P(0), N(16), MADV_WIPEONFORK), "-EINVAL");
      b.do(madvise(P(40), N(1), MADV_WIPEONFORK), "-EINVAL");
    },
  ),
  peer(
    "ltp",
    "ltp/madvise03",
    "MADV_DONTNEED on a private anonymous mapping gives zero-fill-on-demand pages",
    (b) => {
      b.map(P(0), N(2), RW, PF);
      b.fill(P(0), 1).fill(P(1), 1);
      b.do(madvise(P(0), N(2), MADV_DONTNEED), "0");
      b.check(P(0), 0).check(P(1), 0);
    },
  ),
  peer(
    "ltp",
    "ltp/madvise05",
    "MADV_WILLNEED on a populated mapping made PROT_NONE succeeds (regression test for ee53664bda16; 1 MiB instead of 32)",
    (b) => {
      b.map(P(0), N(256), PROT_READ, PF | MAP_POPULATE);
      b.do(mprotect(P(0), N(256), PROT_NONE), "0");
      b.do(madvise(P(0), N(256), MADV_WILLNEED), "0");
      b.do(munmap(P(0), N(256)), "0");
    },
  ),
  ...(
    [
      [4, MADV_NORMAL, MADV_WIPEONFORK, 0, false, "MADV_WIPEONFORK zeroes memory in child"],
      [0, MADV_NORMAL, MADV_WIPEONFORK, 3, false, "MADV_WIPEONFORK with zero length does nothing"],
      [4, MADV_NORMAL, MADV_WIPEONFORK, 0, true, "MADV_WIPEONFORK zeroes memory in grand-child"],
      [4, MADV_WIPEONFORK, MADV_KEEPONFORK, 3, false, "MADV_KEEPONFORK will undo MADV_WIPEONFORK"],
    ] as const
  ).map(([len, adv1, adv2, want, grandChild, desc]) =>
    peer(
      "ltp",
      `ltp/madvise10: ${desc}`,
      "a 4-page private anonymous mapping holding a pattern, two madvise calls, then the (grand)child compares the memory with the pattern or with zeroes (one byte 3 per page stands for the pattern)",
      (b) => {
        b.map(P(0), N(4), RW, PF);
        for (let i = 0; i < 4; i++) b.do(store(8, P(i, 5), 3n), "0");
        b.do(madvise(P(0), N(len), adv1), "0");
        b.do(madvise(P(0), N(len), adv2), "0");
        const compare = (c: B) => {
          for (let i = 0; i < 4; i++) c.do(load(8, P(i, 5)), hex(BigInt(want)));
        };
        b.fork((c) => (grandChild ? c.fork(compare) : compare(c)));
      },
    ),
  ),
  peer(
    "ltp",
    "ltp/madvise12",
    "MADV_GUARD_INSTALL makes a child's writes fault (SIGSEGV); MADV_GUARD_REMOVE leaves the old contents, and a child can write again",
    (b) => {
      b.map(P(0), N(2), RW, PF);
      b.fill(P(0), 0).fill(P(1), 0);
      b.do(madvise(P(0), N(2), MADV_GUARD_INSTALL), "0");
      b.fork((c) => c.do(store(8, P(0), 0x61n), mapErr(P(0))));
      b.do(madvise(P(0), N(2), MADV_GUARD_REMOVE), "0");
      b.check(P(0), 0).check(P(1), 0);
      b.fork((c) => c.fill(P(0), 0x62).fill(P(1), 0x62));
    },
  ),
];

/** LTP pkey01: one access right over the anonymous, non-hugetlb mmap_params rows, in LTP's order. */
function ltpPkey01(right: "PKEY_DISABLE_ACCESS" | "PKEY_DISABLE_WRITE"): PeerCase {
  const rights = right === "PKEY_DISABLE_ACCESS" ? 1 : 2;
  const params: readonly (readonly [number, number])[] = [
    [PROT_READ, PRIVATE_ANON],
    [PROT_READ, SHARED_ANON],
    [PROT_WRITE, PRIVATE_ANON],
    [PROT_WRITE, SHARED_ANON],
    [PROT_EXEC, PRIVATE_ANON],
    [PROT_EXEC, SHARED_ANON],
    [RW, PRIVATE_ANON],
    [RW, SHARED_ANON],
    [RWX, PRIVATE_ANON],
    [RWX, SHARED_ANON],
  ];
  return peer(
    "ltp",
    `ltp/pkey01: ${right}`,
    `for each anonymous (private, shared) × prot row: pkey_alloc(0, ${right}), pkey_mprotect the buffer, a child's ${rights === 1 ? "read" : "write"} must raise SIGSEGV, then pkey_mprotect(…, 0) makes the buffer usable again (the PROT_EXEC rows' execution checks are not expressible; the key is 2 once a PROT_EXEC mapping took the execute-only key). Without PKU LTP skips: the transcript must still match`,
    (b) => {
      let execOnlyTaken = false;
      params.forEach(([prot, flags], i) => {
        const a = P(4 * i);
        b.map(a, N(1), prot, flags | MAP_FIXED);
        if (prot === PROT_EXEC) execOnlyTaken = true;
        const key = execOnlyTaken ? 2 : 1;
        b.do(pkeyAlloc(0, rights), { pku: hex(BigInt(key)) });
        b.do(pkeyMprotect(a, N(1), prot, key), { pku: "0", noPku: "-EINVAL" });
        b.fork((c) => {
          if (rights === 1) c.do(load(8, a), { pku: pkuErr(a) });
          else c.do(store(8, a, 0x61n), { pku: pkuErr(a) });
        });
        b.do(pkeyMprotect(a, N(1), prot, 0), { pku: "0" });
        if (prot === PROT_READ) b.do(load(8, a), "0x0");
        else if (prot === PROT_WRITE || prot === RW) b.do(store(8, a, 0x61n), "0");
        b.do(munmap(a, N(1)), "0");
        b.do(pkeyFree(key), { pku: "0", noPku: "-EINVAL" });
      });
    },
  );
}
LTP.push(ltpPkey01("PKEY_DISABLE_ACCESS"), ltpPkey01("PKEY_DISABLE_WRITE"));

// ============================================================================== gVisor

/** gVisor's MMapTest (mmap.cc): anonymous-memory tests; its NULL / 0x30000000 addresses become arena ones. */
const GVISOR_MMAP: PeerCase[] = [
  peer(
    "gvisor",
    "gvisor/mmap: MMapTest.MapAnything",
    "an anonymous PROT_NONE page can be mapped (a free arena hint instead of NULL)",
    (b) => b.map(P(4), N(1), PROT_NONE, PRIVATE_ANON),
  ),
  peer(
    "gvisor",
    "gvisor/mmap: MMapTest.SmallMap",
    "a length below a page is allowed (and covers one page)",
    (b) => b.map(P(4), 128n, PROT_NONE, PRIVATE_ANON).showMaps(1, [anonLine(4, 5, "---p")]),
  ),
  peer(
    "gvisor",
    "gvisor/mmap: MMapTest.HintAddress",
    "a hint address does not break anything (a free hint is taken as is)",
    (b) => b.map(P(48), N(1), PROT_NONE, PRIVATE_ANON),
  ),
  peer("gvisor", "gvisor/mmap: MMapTest.MapFixed", "MAP_FIXED gives exactly the requested address", (b) =>
    b.map(P(48), N(1), PROT_NONE, PF),
  ),
  peer(
    "gvisor",
    "gvisor/mmap: MMapTest.MapFixed64",
    "a MAP_FIXED address above 4 GiB is honoured (the arena is at 16 TiB)",
    (b) => b.map(P(768), N(1), PROT_NONE, PF),
  ),
  peer(
    "gvisor",
    "gvisor/mmap: MMapTest.MapFixedNoReplaceEmpty",
    "MAP_FIXED_NOREPLACE gives exactly the requested address when the range is free",
    (b) => b.map(P(48), N(1), PROT_NONE, PRIVATE_ANON | MAP_FIXED_NOREPLACE),
  ),
  peer(
    "gvisor",
    "gvisor/mmap: MMapTest.MapFixedNoReplaceExisting",
    "MAP_FIXED_NOREPLACE over a mapping fails with EEXIST, neither relocating nor clobbering: the sentinel stays",
    (b) => {
      b.map(P(48), N(1), RW, PF);
      b.do(store(32, P(48), 0xdeadbeefn), "0");
      b.do(mmap(P(48), N(1), PROT_NONE, PRIVATE_ANON | MAP_FIXED_NOREPLACE), "-EEXIST");
      b.do(load(32, P(48)), "0xdeadbeef");
    },
  ),
  peer(
    "gvisor",
    "gvisor/mmap: MMapTest.MapFixedNoReplacePartialOverlap",
    "MAP_FIXED_NOREPLACE fails with EEXIST when the range only partly overlaps a mapping",
    (b) => {
      b.map(P(49), N(1), PROT_NONE, PF);
      b.do(mmap(P(48), N(2), PROT_NONE, PRIVATE_ANON | MAP_FIXED_NOREPLACE), "-EEXIST");
    },
  ),
  peer(
    "gvisor",
    "gvisor/mmap: MMapTest.MapFixedNoReplaceWithMapFixed",
    "MAP_FIXED_NOREPLACE wins over MAP_FIXED: EEXIST, the existing mapping is not clobbered",
    (b) => {
      b.map(P(48), N(1), PROT_NONE, PF);
      b.do(mmap(P(48), N(1), PROT_NONE, PF | MAP_FIXED_NOREPLACE), "-EEXIST");
    },
  ),
  peer(
    "gvisor",
    "gvisor/mmap: MMapTest.MapFixedNoReplaceAlignment",
    "MAP_FIXED_NOREPLACE requires a page-aligned address: EINVAL",
    (b) => b.do(mmap(P(48, 1), N(1), PROT_NONE, PRIVATE_ANON | MAP_FIXED_NOREPLACE), "-EINVAL"),
  ),
  peer("gvisor", "gvisor/mmap: MMapTest.MapStack", "MAP_STACK is allowed (arena hint)", (b) =>
    b.map(P(4), N(1), PROT_NONE, PRIVATE_ANON | MAP_STACK),
  ),
  peer(
    "gvisor",
    "gvisor/mmap: MMapTest.MapLocked",
    "MAP_LOCKED is allowed, even PROT_NONE (arena hint)",
    (b) => b.map(P(4), N(1), PROT_NONE, PRIVATE_ANON | MAP_LOCKED),
  ),
  peer(
    "gvisor",
    "gvisor/mmap: MMapTest.NotPrivateOrShared",
    "MAP_PRIVATE or MAP_SHARED must be passed: EINVAL",
    (b) => b.do(mmap(P(4), N(1), PROT_NONE, MAP_ANONYMOUS), "-EINVAL"),
  ),
  peer(
    "gvisor",
    "gvisor/mmap: MMapTest.PrivateAndShared",
    "MAP_PRIVATE|MAP_SHARED (= MAP_SHARED_VALIDATE) on anonymous memory: EINVAL",
    (b) => b.do(mmap(P(4), N(1), PROT_NONE, MAP_PRIVATE | MAP_SHARED | MAP_ANONYMOUS), "-EINVAL"),
  ),
  peer(
    "gvisor",
    "gvisor/mmap: MMapTest.FixedAlignment",
    "a MAP_FIXED address must be page aligned: EINVAL",
    (b) => b.do(mmap(P(48, 1), N(1), PROT_NONE, PF), "-EINVAL"),
  ),
  peer(
    "gvisor",
    "gvisor/mmap: MMapTest.NonFixedAlignment",
    "a non-MAP_FIXED hint need not be page aligned (gVisor asserts success; Linux rounds the free hint down to its page)",
    (b) => {
      b.do(mmap(P(48, 1), N(1), PROT_NONE, PRIVATE_ANON), hex(P(48)));
    },
  ),
  peer("gvisor", "gvisor/mmap: MMapTest.InvalidLength", "length 0: EINVAL", (b) =>
    b.do(mmap(P(4), 0n, PROT_NONE, PRIVATE_ANON), "-EINVAL"),
  ),
  peer(
    "gvisor",
    "gvisor/mmap: MMapTest.ProtWrite",
    "a read-write mapping is writable and the data is there",
    (b) => b.map(P(4), N(1), RW, PRIVATE_ANON).fill(P(4), 42).check(P(4), 42),
  ),
  peer(
    "gvisor",
    "gvisor/mmap: MMapTest.ProtWriteOnly",
    "a write-only mapping is writable and readable",
    (b) => b.map(P(4), N(1), PROT_WRITE, PRIVATE_ANON).fill(P(4), 42).check(P(4), 42),
  ),
  peer(
    "gvisor",
    "gvisor/mmap: MMapTest.ProtWriteOnlyReadable",
    "a write-only mapping is readable when the first fault is a read",
    (b) => b.map(P(4), N(1), PROT_WRITE, PRIVATE_ANON).do(load(64, P(4)), "0x0"),
  ),
  peer(
    "gvisor",
    "gvisor/mmap: MMapTest.ProtectProtWrite",
    "PROT_NONE mprotect'ed to read-write is writable",
    (b) => {
      b.map(P(4), N(1), PROT_NONE, PRIVATE_ANON);
      b.do(mprotect(P(4), N(1), RW), "0");
      b.fill(P(4), 42).check(P(4), 42);
    },
  ),
  peer("gvisor", "gvisor/mmap: MMapTest.ProtNoneDeath", "reading PROT_NONE memory raises SIGSEGV", (b) =>
    b.map(P(4), N(1), PROT_NONE, PRIVATE_ANON).do(load(32, P(4)), accErr(P(4))),
  ),
  peer("gvisor", "gvisor/mmap: MMapTest.ReadOnlyDeath", "writing PROT_READ memory raises SIGSEGV", (b) =>
    b.map(P(4), N(1), PROT_READ, PRIVATE_ANON).do(store(32, P(4), 42n), accErr(P(4))),
  ),
  peer(
    "gvisor",
    "gvisor/mmap: MMapTest.MprotectReadOnlyDeath",
    "a faulted-in writable page mprotect'ed read-only is no longer writable",
    (b) => {
      b.map(P(4), N(1), RW, PRIVATE_ANON);
      b.do(store(32, P(4), 42n), "0");
      b.do(mprotect(P(4), N(1), PROT_READ), "0");
      b.do(store(32, P(4), 0n), accErr(P(4)));
    },
  ),
  peer(
    "gvisor",
    "gvisor/mmap: MMapTest.MprotectNotPageAligned",
    "mprotect of an unaligned address: EINVAL",
    (b) => b.map(P(4), N(1), RW, PRIVATE_ANON).do(mprotect(P(4, 1), N(1) - 1n, PROT_READ), "-EINVAL"),
  ),
  peer(
    "gvisor",
    "gvisor/mmap: MMapTest.MprotectProtNone",
    "a present page mprotect'ed PROT_NONE faults with si_code SEGV_ACCERR (in a forked process)",
    (b) =>
      b.fork((c) => {
        c.map(P(4), N(1), RW, PRIVATE_ANON);
        c.do(store(8, P(4), 1n), "0");
        c.do(mprotect(P(4), N(1), PROT_NONE), "0");
        c.do(load(8, P(4)), accErr(P(4)));
      }),
  ),
  peer("gvisor", "gvisor/mmap: MMapTest.MprotectHugeLength", "mprotect with length (size_t)-1: ENOMEM", (b) =>
    b.map(P(4), N(1), RW, PRIVATE_ANON).do(mprotect(P(4), 0xffff_ffff_ffff_ffffn, PROT_READ), "-ENOMEM"),
  ),
  peer(
    "gvisor",
    "gvisor/mmap: MMapTest.SettingProtNoneDoesntFreeMemory",
    "PROT_NONE and back keeps the written data",
    (b) => {
      b.map(P(4), N(1), RW, PRIVATE_ANON).fill(P(4), 42);
      b.do(mprotect(P(4), N(1), PROT_NONE), "0");
      b.do(mprotect(P(4), N(1), RW), "0");
      b.check(P(4), 42);
    },
  ),
  peer(
    "gvisor",
    "gvisor/mmap: MMapTest.HugeLength",
    "length -page_size+1 (rounds beyond the address space): ENOMEM",
    (b) => b.do(mmap(0n, 0xffff_ffff_ffff_f001n, PROT_NONE, PRIVATE_ANON), "-ENOMEM"),
  ),
  peer(
    "gvisor",
    "gvisor/mmap: MMapTest.NoReserve",
    "every page of a MAP_NORESERVE mapping reads zero and can be written (256 KiB instead of 10 MiB)",
    (b) => {
      b.map(P(64), N(64), RW, PRIVATE_ANON | MAP_NORESERVE);
      for (let j = 0; j < 64; j++) b.do(load(8, P(64 + j)), "0x0").do(store(8, P(64 + j), BigInt(j)), "0");
    },
  ),
];

/** gVisor's MremapParamTest (mremap.cc), instantiated for MAP_PRIVATE and MAP_SHARED. */
function gvisorMremapParam(type: number): PeerCase[] {
  const flags = type | MAP_ANONYMOUS;
  const param = type === MAP_PRIVATE ? "MAP_PRIVATE" : "MAP_SHARED";
  const name = (t: string) => `gvisor/mremap: MremapParamTest.${t}/${param}`;
  const isMapped = (b: B, a: bigint) => b.do(load(8, a), accErr(a)); // PROT_NONE memory: ACCERR if mapped
  const notMapped = (b: B, a: bigint) => b.do(load(8, a), mapErr(a));
  const m = (b: B, at: number, n: number, prot = PROT_NONE) => b.map(P(at), N(n), prot, flags | MAP_FIXED);
  const cases: [string, string, (b: B) => void][] = [
    [
      "Noop",
      "same-size mremap without flags returns the address and leaves it mapped",
      (b) => {
        m(b, 8, 1);
        b.do(mremap(P(8), N(1), N(1), 0), hex(P(8)));
        isMapped(b, P(8));
      },
    ],
    [
      "InPlace_ShrinkingWholeVMA",
      "shrinking a 2-page mapping to 1 page in place unmaps the tail",
      (b) => {
        m(b, 8, 2);
        b.do(mremap(P(8), N(2), N(1), 0), hex(P(8)));
        isMapped(b, P(8));
        notMapped(b, P(9));
      },
    ],
    [
      "InPlace_ShrinkingPartialVMA",
      "shrinking the first 2 pages of a 3-page mapping to 1 page unmaps only the second",
      (b) => {
        m(b, 8, 3);
        b.do(mremap(P(8), N(2), N(1), 0), hex(P(8)));
        isMapped(b, P(8));
        notMapped(b, P(9));
        isMapped(b, P(10));
      },
    ],
    [
      "InPlace_ShrinkingAcrossVMAs",
      "an in-place shrink whose old and new sizes span two VMAs (first page made PROT_NONE) succeeds",
      (b) => {
        m(b, 8, 3, PROT_READ);
        b.do(mprotect(P(8), N(1), PROT_NONE), "0");
        b.do(mremap(P(8), N(3), N(2), 0), hex(P(8)));
        isMapped(b, P(8));
        b.do(load(8, P(9)), "0x0");
        notMapped(b, P(10));
      },
    ],
    [
      "InPlace_ExpansionSuccess",
      "after unmapping the second page, the first page grows back into it in place",
      (b) => {
        m(b, 8, 2);
        b.do(munmap(P(9), N(1)), "0");
        b.do(mremap(P(8), N(1), N(2), 0), hex(P(8)));
        isMapped(b, P(8));
        isMapped(b, P(9));
      },
    ],
    [
      "InPlace_ExpansionFailure",
      "growing the first page to 3 over a 1-page hole fails with ENOMEM (the third page is still mapped) and changes nothing",
      (b) => {
        m(b, 8, 3);
        b.do(munmap(P(9), N(1)), "0");
        b.do(mremap(P(8), N(1), N(3), 0), "-ENOMEM");
        isMapped(b, P(8));
        notMapped(b, P(9));
        isMapped(b, P(10));
      },
    ],
    [
      "Fixed_SourceAndDestinationCannotOverlap",
      "MREMAP_FIXED onto the source itself: EINVAL, the source stays",
      (b) => {
        m(b, 8, 1);
        b.do(mremap(P(8), N(1), N(1), MOVE, P(8)), "-EINVAL");
        isMapped(b, P(8));
      },
    ],
    [
      "Fixed_SameSize",
      "a same-size fixed move into a hole unmaps the source and maps the destination",
      (b) => {
        m(b, 8, 1);
        m(b, 16, 1);
        b.do(munmap(P(16), N(1)), "0");
        b.do(mremap(P(8), N(1), N(1), MOVE, P(16)), hex(P(16)));
        notMapped(b, P(8));
        isMapped(b, P(16));
      },
    ],
    [
      "Fixed_SameSize_Unmapping",
      "a same-size fixed move over an existing mapping replaces it",
      (b) => {
        m(b, 8, 1);
        m(b, 16, 1);
        b.do(mremap(P(8), N(1), N(1), MOVE, P(16)), hex(P(16)));
        notMapped(b, P(8));
        isMapped(b, P(16));
      },
    ],
    [
      "Fixed_ShrinkingWholeVMA",
      "a fixed move that shrinks 2 pages to 1 maps only one destination page and unmaps the whole source",
      (b) => {
        m(b, 8, 2);
        m(b, 16, 2);
        b.do(munmap(P(16), N(2)), "0");
        b.do(mremap(P(8), N(2), N(1), MOVE, P(16)), hex(P(16)));
        notMapped(b, P(8));
        notMapped(b, P(9));
        isMapped(b, P(16));
        notMapped(b, P(17));
      },
    ],
    [
      "Fixed_ShrinkingPartialVMA",
      "a fixed move of the first 2 of 3 pages shrunk to 1: source pages 0-1 unmapped, page 2 kept, 1 destination page",
      (b) => {
        m(b, 8, 3);
        m(b, 16, 2);
        b.do(munmap(P(16), N(2)), "0");
        b.do(mremap(P(8), N(2), N(1), MOVE, P(16)), hex(P(16)));
        notMapped(b, P(8));
        notMapped(b, P(9));
        isMapped(b, P(10));
        isMapped(b, P(16));
        notMapped(b, P(17));
      },
    ],
    [
      "Fixed_ShrinkingAcrossVMAs",
      "a fixed move whose new size spans two VMAs fails with EFAULT and the source stays mapped. gVisor also asserts that the failed call already unmapped the source tail [old+new_size, old+old_size) and the destination: true of Linux before 6.17, not of 6.18, where mm/mremap.c do_mremap() runs check_prep_vma() (the old vma_to_resize EFAULT check) before mremap_to() unmaps the destination and the source tail; those 3 assertions are dropped (the transcript comparison still covers the pages)",
      (b) => {
        m(b, 8, 3, PROT_READ);
        b.do(mprotect(P(8), N(1), PROT_NONE), "0");
        m(b, 16, 2);
        b.do(mremap(P(8), N(3), N(2), MOVE, P(16)), "-EFAULT");
        isMapped(b, P(8));
        b.do(load(8, P(9)), "0x0");
        b.do(load(8, P(10)));
        b.do(load(8, P(16)));
        b.do(load(8, P(17)));
      },
    ],
    [
      "Fixed_Expansion",
      "a fixed move that grows 1 page to 2 maps both destination pages and unmaps the source",
      (b) => {
        m(b, 8, 1);
        m(b, 16, 2);
        b.do(munmap(P(16), N(2)), "0");
        b.do(mremap(P(8), N(1), N(2), MOVE, P(16)), hex(P(16)));
        notMapped(b, P(8));
        isMapped(b, P(16));
        isMapped(b, P(17));
      },
    ],
  ];
  return cases.map(([t, doc, build]) => peer("gvisor", name(t), `${doc} (${param})`, build));
}

const GVISOR_MREMAP: PeerCase[] = [
  ...gvisorMremapParam(MAP_PRIVATE),
  ...gvisorMremapParam(MAP_SHARED),
  peer(
    "gvisor",
    "gvisor/mremap: MremapTest.InPlace_Copy",
    "old_size 0 without MREMAP_MAYMOVE on a shared mapping: ENOMEM",
    (b) => b.map(P(8), N(1), PROT_NONE, SF).do(mremap(P(8), 0n, N(1), 0), "-ENOMEM"),
  ),
  peer(
    "gvisor",
    "gvisor/mremap: MremapTest.MustMove_Copy",
    "old_size 0 with MREMAP_FIXED duplicates a shared mapping onto a private one; both stay mapped",
    (b) => {
      b.map(P(8), N(1), PROT_NONE, SF);
      b.map(P(16), N(1), PROT_NONE, PF);
      b.do(mremap(P(8), 0n, N(1), MOVE, P(16)), hex(P(16)));
      b.do(load(8, P(8)), accErr(P(8)));
      b.do(load(8, P(16)), accErr(P(16)));
    },
  ),
  peer(
    "gvisor",
    "gvisor/mremap: MremapDeathTest.SharedAnon",
    "a 2-page shared anonymous mapping shrunk to 1 page then moved forward and grown to 3 pages keeps both pages' data ('a', 'b'); the third page is beyond the shmem object: SIGBUS",
    (b) => {
      b.map(P(8), N(4), PROT_NONE, PF);
      b.map(P(8), N(2), RW, SF);
      b.fill(P(8), 0x61).fill(P(9), 0x62);
      b.do(mremap(P(8), N(2), N(1), 0, P(8)), hex(P(8)));
      b.do(mremap(P(8), N(1), N(3), MOVE, P(9)), hex(P(9)));
      b.check(P(9), 0x61).check(P(10), 0x62);
      b.do(load(8, P(11)), busErr(P(11)));
    },
  ),
];

const GVISOR_OTHER: PeerCase[] = [
  peer(
    "gvisor",
    "gvisor/madvise: MadviseDontneedTest.ZerosPrivateAnonPage",
    "MADV_DONTNEED zeroes a private anonymous page",
    (b) => {
      b.map(P(4), N(1), RW, PF).check(P(4), 0).fill(P(4), 1).check(P(4), 1);
      b.do(madvise(P(4), N(1), MADV_DONTNEED), "0");
      b.check(P(4), 0);
    },
  ),
  peer(
    "gvisor",
    "gvisor/madvise: MadviseDontneedTest.ZerosCOWAnonPageInCallerOnly",
    "MADV_DONTNEED in a forked child zeroes its copy only; the parent keeps the data",
    (b) => {
      b.map(P(4), N(1), RW, PF).check(P(4), 0).fill(P(4), 2).check(P(4), 2);
      b.fork((c) =>
        c
          .check(P(4), 2)
          .do(madvise(P(4), N(1), MADV_DONTNEED), "0")
          .check(P(4), 0),
      );
      b.check(P(4), 2);
    },
  ),
  peer(
    "gvisor",
    "gvisor/madvise: MadviseDontneedTest.DoesNotModifySharedAnonPage",
    "MADV_DONTNEED leaves a shared anonymous page's data",
    (b) => {
      b.map(P(4), N(1), RW, SF).check(P(4), 0).fill(P(4), 3).check(P(4), 3);
      b.do(madvise(P(4), N(1), MADV_DONTNEED), "0");
      b.check(P(4), 3);
    },
  ),
  peer(
    "gvisor",
    "gvisor/madvise: MadviseDontneedTest.IgnoresPermissions",
    "MADV_DONTNEED on PROT_NONE memory succeeds",
    (b) => b.map(P(4), N(1), PROT_NONE, PF).do(madvise(P(4), N(1), MADV_DONTNEED), "0"),
  ),
  ...(
    [
      ["OneHugePageWhole", 1, 0, 4],
      ["OneHugePagePartial", 1, 1, 3],
      ["TwoHugePagesPartialStart", 2, 2, 4],
      ["TwoHugePagesPartialEnd", 2, 4, 6],
      ["TwoHugePagesPartialStartAndEnd", 2, 2, 6],
    ] as const
  ).map(([t, huge, from, to]) =>
    peer(
      "gvisor",
      `gvisor/madvise: MadviseDontneedHugePageSubrangeTest.${t}`,
      `MADV_DONTNEED of [${from}/4, ${to}/4) of ${huge} 2 MiB-aligned huge page(s) filled with 9 zeroes exactly that range (a 2 MiB-aligned private anonymous mapping instead of posix_memalign; every page's first and last word checked; a transparent huge page, where the host makes one, is split)`,
      (b) => {
        const n = huge * 512;
        const q = 128;
        b.map(P(0), N(n), RW, PF);
        for (let i = 0; i < n; i++) b.fill(P(i), 9);
        b.do(madvise(P(from * q), N((to - from) * q), MADV_DONTNEED), "0");
        for (let i = 0; i < n; i++) b.check(P(i), i >= from * q && i < to * q ? 0 : 9);
      },
    ),
  ),
  peer(
    "gvisor",
    "gvisor/madvise: MadviseDontforkTest.AddressLength",
    "MADV_DONTFORK: unaligned address → EINVAL; length 0 → 0; a length that wraps when rounded up → EINVAL; an unaligned length is rounded up",
    (b) => {
      b.map(P(4), N(1), PROT_NONE, PF);
      b.do(madvise(P(4, 1), N(1), MADV_DONTFORK), "-EINVAL");
      b.do(madvise(P(4), 0n, MADV_DONTFORK), "0");
      b.do(madvise(0n, 0xffff_ffff_ffff_ffffn - 2048n, MADV_DONTFORK), "-EINVAL");
      b.do(madvise(P(4), 1n, MADV_DONTFORK), "0");
      b.do(madvise(P(4), N(1), MADV_DONTFORK), "0");
    },
  ),
  peer(
    "gvisor",
    "gvisor/madvise: MadviseDontforkTest.DontforkShared",
    "MADV_DONTFORK on the second page of a 2-page shared mapping (shared anon for the file): the child sees the first page, changes it for the parent too, and has no second page",
    (b) => {
      b.map(P(4), N(2), RW, SF).fill(P(4), 2).fill(P(5), 2);
      b.do(madvise(P(5), N(1), MADV_DONTFORK), "0");
      b.fork((c) => {
        c.check(P(4), 2).fill(P(4), 1).check(P(4), 1);
        c.do(load(8, P(5)), mapErr(P(5)));
      });
      b.check(P(4), 1).check(P(5), 2);
    },
  ),
  peer(
    "gvisor",
    "gvisor/madvise: MadviseDontforkTest.DontforkAnonPrivate",
    "MADV_DONTFORK on the middle of 3 private pages: the child has pages 1 and 3 (its writes stay private) but not page 2; the parent keeps 1, 2, 3",
    (b) => {
      b.map(P(4), N(3), RW, PF);
      b.do(madvise(P(5), N(1), MADV_DONTFORK), "0");
      b.check(P(4), 0).fill(P(4), 1).check(P(5), 0).fill(P(5), 2).check(P(6), 0).fill(P(6), 3);
      b.fork((c) => {
        c.check(P(4), 1).fill(P(4), 11).check(P(4), 11);
        c.do(load(8, P(5)), mapErr(P(5)));
        c.check(P(6), 3).fill(P(6), 13).check(P(6), 13);
      });
      b.check(P(4), 1).check(P(5), 2).check(P(6), 3);
    },
  ),
  peer("gvisor", "gvisor/munmap: MunmapTest.HappyCase", "munmap of a mapped page succeeds", (b) =>
    b.map(P(4), N(1), RW, PRIVATE_ANON).do(munmap(P(4), N(1)), "0"),
  ),
  peer("gvisor", "gvisor/munmap: MunmapTest.ZeroLength", "munmap with length 0: EINVAL", (b) =>
    b.map(P(4), N(1), RW, PRIVATE_ANON).do(munmap(P(4), 0n), "-EINVAL"),
  ),
  peer(
    "gvisor",
    "gvisor/munmap: MunmapTest.LastPageRoundUp",
    "munmap up to and including the last page of the address space (length -page_size+1): EINVAL",
    (b) => b.map(P(4), N(1), RW, PRIVATE_ANON).do(munmap(P(4), 0xffff_ffff_ffff_f001n), "-EINVAL"),
  ),
  peer(
    "gvisor",
    "gvisor/fork: ForkTest.SharedMapping",
    "a write to a shared mapping on one side of fork is seen by the other (the child writes and the parent reads, as script forks run the child first)",
    (b) => {
      b.map(P(4), N(1), RW, SF);
      b.map(P(5), N(1), RW, PF);
      b.fork((c) => c.do(load(8, P(4)), "0x0").do(store(8, P(4), 1n), "0"));
      b.do(load(8, P(4)), "0x1");
    },
  ),
  peer(
    "gvisor",
    "gvisor/fork: ForkTest.PrivateMapping",
    "a write to a private mapping on one side of fork is not seen by the other (the child writes, the parent reads)",
    (b) => {
      b.map(P(4), N(1), RW, SF);
      b.map(P(5), N(1), RW, PF);
      b.fork((c) => c.do(load(8, P(5)), "0x0").do(store(8, P(5), 1n), "0"));
      b.do(load(8, P(5)), "0x0");
    },
  ),
  peer("gvisor", "gvisor/fork: ForkTest.Mmap", "a forked child can mmap (arena hint instead of NULL)", (b) =>
    b.fork((c) => c.map(P(8), N(1), PROT_READ, PRIVATE_ANON)),
  ),
  peer(
    "gvisor",
    "gvisor/fork: ForkTest.PrivateMemory",
    "a child and a grandchild incrementing a private counter never change their parent's copy",
    (b) => {
      b.map(P(4), N(1), RW, PF);
      b.fork((c) => {
        c.do(store(32, P(4), 1n), "0");
        c.fork((g) => g.do(store(32, P(4), 2n), "0").do(load(32, P(4)), "0x2"));
        c.do(load(32, P(4)), "0x1");
      });
      b.do(load(32, P(4)), "0x0");
    },
  ),
  peer(
    "gvisor",
    "gvisor/mlock: MlockTest.MadviseDontneed",
    "MADV_DONTNEED on locked memory: EINVAL (MAP_LOCKED instead of mlock(), which the runner lacks)",
    (b) => b.map(P(4), N(1), RW, PF | MAP_LOCKED).do(madvise(P(4), N(1), MADV_DONTNEED), "-EINVAL"),
  ),
];

const GVISOR: PeerCase[] = [...GVISOR_MMAP, ...GVISOR_MREMAP, ...GVISOR_OTHER];

// ============================================================================== kernel selftests/mm

const SELFTESTS_BASIC: PeerCase[] = [
  peer(
    "selftests/mm",
    "selftests/mm/map_fixed_noreplace",
    "MAP_FIXED_NOREPLACE around a 3-page mapping at base+1: 5 pages at base (free) ok; the same 5 pages again, a page inside, overlapping its end, overlapping its start → EEXIST; adjacent below and above → ok; munmap of all 5 pages ok",
    (b) => {
      const NR = PRIVATE_ANON | MAP_FIXED_NOREPLACE;
      b.map(P(0), N(5), PROT_NONE, NR);
      b.do(munmap(P(0), N(5)), "0");
      b.map(P(1), N(3), PROT_NONE, NR);
      b.do(mmap(P(0), N(5), PROT_NONE, NR), "-EEXIST");
      b.do(mmap(P(2), N(1), PROT_NONE, NR), "-EEXIST");
      b.do(mmap(P(3), N(2), PROT_NONE, NR), "-EEXIST");
      b.do(mmap(P(0), N(2), PROT_NONE, NR), "-EEXIST");
      b.map(P(0), N(1), PROT_NONE, NR);
      b.map(P(4), N(1), PROT_NONE, NR);
      b.do(munmap(P(0), N(5)), "0");
      b.showMaps(0);
    },
  ),
  peer(
    "selftests/mm",
    "selftests/mm/mremap_dontunmap: mremap_dontunmap_simple",
    "MREMAP_DONTUNMAP moves the pages of a 5-page private mapping ('a') to the destination and leaves the source mapped but empty (destination fixed in the arena instead of kernel-chosen)",
    (b) => {
      b.map(P(0), N(5), RW, PF);
      for (let i = 0; i < 5; i++) b.fill(P(i), 0x61);
      b.do(mremap(P(0), N(5), N(5), MOVE | MREMAP_DONTUNMAP, P(10)), hex(P(10)));
      for (let i = 0; i < 5; i++) b.check(P(10 + i), 0x61);
      for (let i = 0; i < 5; i++) b.check(P(i), 0);
    },
  ),
  peer(
    "selftests/mm",
    "selftests/mm/mremap_dontunmap: mremap_dontunmap_simple_shmem",
    "MREMAP_DONTUNMAP of a shared mapping (shared anon for the memfd): the destination has the data and, being shmem, the source still shows it too (destination fixed in the arena)",
    (b) => {
      b.map(P(0), N(5), RW, SF);
      for (let i = 0; i < 5; i++) b.fill(P(i), 0x61);
      b.do(mremap(P(0), N(5), N(5), MOVE | MREMAP_DONTUNMAP, P(10)), hex(P(10)));
      for (let i = 0; i < 5; i++) b.check(P(10 + i), 0x61);
      for (let i = 0; i < 5; i++) b.check(P(i), 0x61);
    },
  ),
  peer(
    "selftests/mm",
    "selftests/mm/mremap_dontunmap: mremap_dontunmap_simple_fixed",
    "MREMAP_DONTUNMAP|MREMAP_FIXED onto an existing mapping ('X') replaces it with the source pages ('a'); the source is left empty",
    (b) => {
      b.map(P(10), N(5), RW, PF);
      for (let i = 0; i < 5; i++) b.fill(P(10 + i), 0x58);
      b.map(P(0), N(5), RW, PF);
      for (let i = 0; i < 5; i++) b.fill(P(i), 0x61);
      b.do(mremap(P(0), N(5), N(5), MOVE | MREMAP_DONTUNMAP, P(10)), hex(P(10)));
      for (let i = 0; i < 5; i++) b.check(P(10 + i), 0x61);
      for (let i = 0; i < 5; i++) b.check(P(i), 0);
    },
  ),
  peer(
    "selftests/mm",
    "selftests/mm/mremap_dontunmap: mremap_dontunmap_partial_mapping",
    "MREMAP_DONTUNMAP of the last 5 of 10 pages: the first 5 keep 'a', the last 5 read zero, the destination has 5 pages of 'a' (destination fixed in the arena)",
    (b) => {
      b.map(P(0), N(10), RW, PF);
      for (let i = 0; i < 10; i++) b.fill(P(i), 0x61);
      b.do(mremap(P(5), N(5), N(5), MOVE | MREMAP_DONTUNMAP, P(20)), hex(P(20)));
      for (let i = 0; i < 5; i++) b.check(P(i), 0x61);
      for (let i = 5; i < 10; i++) b.check(P(i), 0);
      for (let i = 0; i < 5; i++) b.check(P(20 + i), 0x61);
    },
  ),
  peer(
    "selftests/mm",
    "selftests/mm/mremap_dontunmap: mremap_dontunmap_partial_mapping_overwrite",
    "MREMAP_DONTUNMAP of 5 pages ('a') over the first half of a 10-page mapping ('X'): source empty, destination 'a' then 'X'",
    (b) => {
      b.map(P(0), N(5), RW, PF);
      for (let i = 0; i < 5; i++) b.fill(P(i), 0x61);
      b.map(P(10), N(10), RW, PF);
      for (let i = 0; i < 10; i++) b.fill(P(10 + i), 0x58);
      b.do(mremap(P(0), N(5), N(5), MOVE | MREMAP_DONTUNMAP, P(10)), hex(P(10)));
      for (let i = 0; i < 5; i++) b.check(P(i), 0);
      for (let i = 0; i < 5; i++) b.check(P(10 + i), 0x61);
      for (let i = 5; i < 10; i++) b.check(P(10 + i), 0x58);
    },
  ),
];

/** A distinct 64-bit pattern for page `i` of a mremap_test source region (the original uses rand()). */
const pat = (i: number): bigint => 0x5a00_0000_0000_0000n + BigInt(i) * 0x1_0001n;
const putPat = (b: B, at: number, n: number, from = 0) => {
  for (let i = 0; i < n; i++) {
    b.do(store(64, P(at + i), pat(from + i)), "0").do(store(64, P(at + i, LAST_WORD), pat(from + i)), "0");
  }
};
const checkPat = (b: B, at: number, n: number, from = 0) => {
  for (let i = 0; i < n; i++) {
    b.do(load(64, P(at + i)), hex(pat(from + i))).do(load(64, P(at + i, LAST_WORD)), hex(pat(from + i)));
  }
};

const SELFTESTS_MREMAP: PeerCase[] = [
  peer(
    "selftests/mm",
    "selftests/mm/mremap_test: mremap - Source and Destination Regions Overlapping",
    "a MREMAP_FIXED move of a page onto itself (destination one page back from the end of the source region) fails",
    (b) => {
      b.map(P(16), N(1), RW, SF);
      b.do(mremap(P(16), N(1), N(1), MOVE, P(16)), "-EINVAL");
    },
  ),
  peer(
    "selftests/mm",
    "selftests/mm/mremap_test: mremap - Destination Address Misaligned (1KB-aligned)",
    "a MREMAP_FIXED move to a 1 KiB-aligned destination fails with EINVAL",
    (b) => {
      b.map(P(16), N(1), RW, SF);
      b.do(mremap(P(16), N(1), N(1), MOVE, P(17, 1024)), "-EINVAL");
    },
  ),
  peer(
    "selftests/mm",
    "selftests/mm/mremap_test: mremap - Source Address Misaligned (1KB-aligned)",
    "a source region at a 1 KiB-aligned address cannot be mapped (MAP_FIXED_NOREPLACE → EINVAL), so the test's remap fails",
    (b) => {
      b.do(mmap(P(16, 1024), N(1), RW, SHARED_ANON | MAP_FIXED_NOREPLACE), "-EINVAL");
    },
  ),
  peer(
    "selftests/mm",
    "selftests/mm/mremap_test: 8KB mremap - Source PTE-aligned, Destination PTE-aligned",
    "an 8 KiB shared region moved one page past its end keeps its byte pattern",
    (b) => {
      b.map(P(17), N(2), RW, SHARED_ANON | MAP_FIXED_NOREPLACE);
      putPat(b, 17, 2);
      b.do(mremap(P(17), N(2), N(2), MOVE, P(20)), hex(P(20)));
      checkPat(b, 20, 2);
      b.do(munmap(P(20), N(2)), "0");
      b.do(munmap(P(17), N(2)), "0");
    },
  ),
  ...(
    [
      ["4MB mremap - Source PMD-aligned, Destination PMD-aligned", 0, 512, 512],
      ["2MB mremap - Source 1MB-aligned, Destination 1MB-aligned", 256, 768, 256],
    ] as const
  ).map(([t, src, dst, n]) =>
    peer(
      "selftests/mm",
      `selftests/mm/mremap_test: ${t}`,
      `a populated shared region moved with MREMAP_FIXED between the same alignments keeps its byte pattern (scaled to fit the 4 MiB arena: ${n / 256} MiB moved from arena+${src / 256} MiB to arena+${dst / 256} MiB; one word per page)`,
      (b) => {
        b.map(P(src), N(n), RW, SHARED_ANON | MAP_FIXED_NOREPLACE);
        for (let i = 0; i < n; i++) b.do(store(64, P(src + i, 8 * (i % 512)), pat(i)), "0");
        b.do(mremap(P(src), N(n), N(n), MOVE, P(dst)), hex(P(dst)));
        for (let i = 0; i < n; i++) b.do(load(64, P(dst + i, 8 * (i % 512))), hex(pat(i)));
        b.do(load(8, P(src)), mapErr(P(src)));
      },
    ),
  ),
  peer(
    "selftests/mm",
    "selftests/mm/mremap_test: mremap expand merge",
    "unmap the middle of 3 pages, then grow the first page in place into the hole: one VMA covers all 3 pages",
    (b) => {
      b.map(P(8), N(3), RW, PF);
      b.do(munmap(P(9), N(1)), "0");
      b.do(mremap(P(8), N(1), N(2), 0), hex(P(8)));
      b.showMaps(1, [anonLine(8, 11, "rw-p")]);
    },
  ),
  peer(
    "selftests/mm",
    "selftests/mm/mremap_test: mremap expand merge offset",
    "unmap the last of 3 pages, then grow the second page in place by one: one VMA covers all 3 pages again",
    (b) => {
      b.map(P(8), N(3), RW, PF);
      b.do(munmap(P(10), N(1)), "0");
      b.do(mremap(P(9), N(1), N(2), 0), hex(P(9)));
      b.showMaps(1, [anonLine(8, 11, "rw-p")]);
    },
  ),
  peer(
    "selftests/mm",
    "selftests/mm/mremap_test: mremap mremap move within range",
    "in a 2 MiB-aligned block |DDDDddddSSSSssss|, moving the second MiB of the source (s) onto the second MiB of the destination (d) leaves the first MiB of the source (S) intact (a 4 MiB mapping covering the arena instead of 20 MiB; one word per page)",
    (b) => {
      b.map(P(0), N(1024), RW, PF);
      for (let i = 0; i < 512; i++) b.do(store(64, P(512 + i), pat(i)), "0");
      b.do(mremap(P(768), N(256), N(256), MOVE, P(256)), hex(P(256)));
      for (let i = 0; i < 256; i++) b.do(load(64, P(512 + i)), hex(pat(i)));
      for (let i = 0; i < 256; i++) b.do(load(64, P(256 + i)), hex(pat(256 + i)));
    },
  ),
  ...([true, false] as const).map((inplace) =>
    peer(
      "selftests/mm",
      `selftests/mm/mremap_test: mremap shrink multiple vmas${inplace ? " [inplace]" : ""}`,
      `a 10-page mapping with every other page unmapped (6 VMAs and gaps) shrunk to its first page ${inplace ? "in place" : "while moving it (MREMAP_FIXED)"} succeeds`,
      (b) => {
        b.map(P(0), N(10), RW, PF);
        b.map(P(20), N(10), RW, PF);
        b.do(munmap(P(20), N(10)), "0");
        for (let i = 1; i < 10; i += 2) b.do(munmap(P(i), N(1)), "0");
        if (inplace) b.do(mremap(P(0), N(10), N(1), 0), hex(P(0)));
        else b.do(mremap(P(0), N(10), N(1), MOVE, P(20)), hex(P(20)));
        b.showMaps(1, [inplace ? anonLine(0, 1, "rw-p") : anonLine(20, 21, "rw-p")]);
      },
    ),
  ),
  ...([false, true] as const).map((dontUnmap) =>
    peer(
      "selftests/mm",
      `selftests/mm/mremap_test: mremap move multiple vmas${dontUnmap ? " [dontunnmap]" : ""}`,
      `an 11-page range of 6 VMAs with gaps (pages 0,2,4-5,8,10) moved whole with MREMAP_FIXED${dontUnmap ? "|MREMAP_DONTUNMAP" : ""} (6.17+ moves every VMA), then next to itself, then back over a PROT_NONE mapping: the pattern follows every time`,
      (b) => {
        const flags = MOVE | (dontUnmap ? MREMAP_DONTUNMAP : 0);
        const at = 0;
        const tgt = 32;
        const size = 11;
        const live = [0, 2, 4, 5, 8, 10];
        b.map(P(at), N(size), RW, PF);
        for (const i of [1, 3, 7, 9]) b.do(munmap(P(at + i), N(1)), "0");
        for (const i of live) b.do(store(64, P(at + i), pat(i)), "0");
        const check = (base: number) => {
          for (const i of live) b.do(load(64, P(base + i)), hex(pat(i)));
        };
        b.do(mremap(P(at), N(size), N(size), flags, P(tgt)), hex(P(tgt)));
        check(tgt);
        b.do(mremap(P(tgt), N(size), N(size), flags, P(tgt + size)), hex(P(tgt + size)));
        check(tgt + size);
        b.map(P(tgt), N(size), PROT_NONE, PF);
        b.do(mremap(P(tgt + size), N(size), N(size), flags, P(tgt)), hex(P(tgt)));
        check(tgt);
      },
    ),
  ),
  ...([false, true] as const).map((dontUnmap) =>
    peer(
      "selftests/mm",
      `selftests/mm/mremap_test: mremap move multiple vmas split${dontUnmap ? " [dontunnmap]" : ""}`,
      `pages 2-8 of a 10-page mapping with a hole at page 5 moved to a free target with MREMAP_FIXED${dontUnmap ? "|MREMAP_DONTUNMAP" : ""}: pages 2-4 and 6-8 arrive with their patterns, with the hole at target page 3`,
      (b) => {
        const flags = MOVE | (dontUnmap ? MREMAP_DONTUNMAP : 0);
        b.map(P(0), N(10), RW, PF);
        b.map(P(32), N(10), RW, PF);
        b.do(munmap(P(32), N(10)), "0");
        b.do(munmap(P(5), N(1)), "0");
        for (let i = 0; i < 10; i++) if (i !== 5) b.do(store(64, P(i), pat(i)), "0");
        b.do(mremap(P(2), N(7), N(7), flags, P(32)), hex(P(32)));
        for (let i = 0; i < 7; i++) if (i !== 3) b.do(load(64, P(32 + i)), hex(pat(i + 2)));
      },
    ),
  ),
];

/**
 * selftests/mm/merge.c: a 30-page PROT_NONE carve-out at page C, mappings placed over it, and the
 * merge checked with PROCMAP_QUERY (here: the maps line of the VMA must span exactly the range).
 * "Further away" offsets of 1000 / 2000 pages become 300 / 600 to stay inside the arena.
 * Not ported: ksm_merge (PR_SET_MEMORY_MERGE makes VMAs VM_MERGEABLE: KSM, which neither the oracle nor
 * Faultline has) and handle_uprobe_upon_merged_vma (a perf uprobe on a real file).
 */
const C = 100;
const FAR1 = 300;
const FAR2 = 600;
function merge(name: string, doc: string, build: (b: B) => void, kd?: KnownDivergence): PeerCase {
  return peer(
    "selftests/mm",
    `selftests/mm/merge: ${name}`,
    doc,
    (b) => {
      b.map(P(C), N(30), PROT_NONE, PF);
      build(b);
    },
    kd,
  );
}
/** The VMA at carve-out page `s` spans [s, e) of the carve-out. */
const vmaIs = (b: B, s: number, e: number, perms = "rw-p") =>
  b.showMaps(undefined, [anonLine(C + s, C + e, perms)]);
const cv = (n: number, byte = 0) => P(C + n, byte);
const NORES = PF | MAP_NORESERVE;

const SELFTESTS_MERGE: PeerCase[] = [
  merge(
    "mprotect_unfaulted_left",
    "10 unfaulted RW pages; first 5 made RO; page 5 faulted (anon_vma); last 5 made RO → one RO VMA of 10 pages",
    (b) => {
      b.map(cv(1), N(10), RW, NORES);
      b.do(mprotect(cv(1), N(5), PROT_READ), "0");
      b.do(store(8, cv(6), 0x78n), "0");
      b.do(mprotect(cv(6), N(5), PROT_READ), "0");
      vmaIs(b, 1, 11, "r--p");
    },
  ),
  merge(
    "mprotect_unfaulted_right",
    "10 unfaulted RW pages; last 5 made RO; page 0 faulted; first 5 made RO → one RO VMA of 10 pages",
    (b) => {
      b.map(cv(1), N(10), RW, NORES);
      b.do(mprotect(cv(6), N(5), PROT_READ), "0");
      b.do(store(8, cv(1), 0x78n), "0");
      b.do(mprotect(cv(1), N(5), PROT_READ), "0");
      vmaIs(b, 1, 11, "r--p");
    },
  ),
  merge(
    "mprotect_unfaulted_both",
    "9 unfaulted RW pages; first and last 3 made RO; middle faulted; middle made RO → one RO VMA of 9 pages",
    (b) => {
      b.map(cv(2), N(9), RW, NORES);
      b.do(mprotect(cv(2), N(3), PROT_READ), "0");
      b.do(mprotect(cv(8), N(3), PROT_READ), "0");
      b.do(store(8, cv(5), 0x78n), "0");
      b.do(mprotect(cv(5), N(3), PROT_READ), "0");
      vmaIs(b, 2, 11, "r--p");
    },
  ),
  merge(
    "mprotect_faulted_left_unfaulted_right",
    "9 RW pages; last 3 RO; page 0 faulted; first 3 RO; middle RO → one RO VMA of 9 pages",
    (b) => {
      b.map(cv(2), N(9), RW, NORES);
      b.do(mprotect(cv(8), N(3), PROT_READ), "0");
      b.do(store(8, cv(2), 0x78n), "0");
      b.do(mprotect(cv(2), N(3), PROT_READ), "0");
      b.do(mprotect(cv(5), N(3), PROT_READ), "0");
      vmaIs(b, 2, 11, "r--p");
    },
  ),
  merge(
    "mprotect_unfaulted_left_faulted_right",
    "9 RW pages; first 3 RO; page 3 faulted; last 3 RO; middle RO → one RO VMA of 9 pages",
    (b) => {
      b.map(cv(2), N(9), RW, NORES);
      b.do(mprotect(cv(2), N(3), PROT_READ), "0");
      b.do(store(8, cv(5), 0x78n), "0");
      b.do(mprotect(cv(8), N(3), PROT_READ), "0");
      b.do(mprotect(cv(5), N(3), PROT_READ), "0");
      vmaIs(b, 2, 11, "r--p");
    },
  ),
  merge(
    "forked_target_vma",
    "a faulted 5-page VMA inherited by fork is not merged in the child with a new adjacent VMA, even after the child un-COWs every page",
    (b) => {
      b.map(cv(1), N(5), RW, PF);
      b.do(store(8, cv(1), 0x78n), "0");
      b.fork((c) => {
        for (let i = 0; i < 5; i++) c.do(store(8, cv(1 + i), 0x78n), "0");
        c.map(cv(6), N(5), RW, PF);
        c.showMaps(undefined, [anonLine(C + 1, C + 6, "rw-p"), anonLine(C + 6, C + 11, "rw-p")]);
      });
    },
  ),
  merge(
    "forked_source_vma",
    "a forked faulted VMA made RWX next to an unfaulted RWX VMA does not merge into it (the child's check)",
    (b) => {
      b.map(cv(1), N(5), RW, NORES);
      b.do(store(8, cv(1), 0x78n), "0");
      b.fork((c) => {
        for (let i = 0; i < 5; i++) c.do(store(8, cv(1 + i), 0x78n), "0");
        c.map(cv(6), N(5), RWX, NORES);
        c.showMaps(undefined, [anonLine(C + 6, C + 11, "rwxp")]);
        c.do(mprotect(cv(1), N(5), RWX), "0");
        c.showMaps(undefined, [anonLine(C + 1, C + 6, "rwxp"), anonLine(C + 6, C + 11, "rwxp")]);
      });
    },
  ),
  merge(
    "mremap_unfaulted_to_faulted",
    "an unfaulted VMA moved (MREMAP_FIXED) right after a faulted one merges with it",
    (b) => {
      b.map(cv(1), N(5), RW, PF);
      b.map(cv(7), N(5), RW, PF);
      b.do(mremap(cv(7), N(5), N(5), MOVE, cv(7 + FAR1)), hex(cv(7 + FAR1)));
      b.do(store(8, cv(1), 0x78n), "0");
      b.do(mremap(cv(7 + FAR1), N(5), N(5), MOVE, cv(6)), hex(cv(6)));
      vmaIs(b, 1, 11);
    },
  ),
  merge(
    "mremap_unfaulted_behind_faulted",
    "an unfaulted VMA moved right before a faulted one merges with it",
    (b) => {
      b.map(cv(6), N(5), RW, PF);
      b.map(cv(14), N(5), RW, PF);
      b.do(mremap(cv(14), N(5), N(5), MOVE, cv(14 + FAR1)), hex(cv(14 + FAR1)));
      b.do(store(8, cv(6), 0x78n), "0");
      b.do(mremap(cv(14 + FAR1), N(5), N(5), MOVE, cv(1)), hex(cv(1)));
      vmaIs(b, 1, 11);
    },
  ),
  merge(
    "mremap_unfaulted_between_faulted",
    "an unfaulted VMA moved between two faulted VMAs with different anon_vmas merges with the first only",
    (b) => {
      b.map(cv(1), N(5), RW, PF);
      b.map(cv(7), N(5), RW, PF);
      b.map(cv(14), N(5), RW, PF);
      b.do(mremap(cv(14), N(5), N(5), MOVE, cv(14 + FAR2)), hex(cv(14 + FAR2)));
      b.do(mremap(cv(7), N(5), N(5), MOVE, cv(7 + FAR1)), hex(cv(7 + FAR1)));
      b.do(store(8, cv(1), 0x78n), "0");
      b.do(store(8, cv(14 + FAR2), 0x78n), "0");
      b.do(mremap(cv(14 + FAR2), N(5), N(5), MOVE, cv(11)), hex(cv(11)));
      b.do(mremap(cv(7 + FAR1), N(5), N(5), MOVE, cv(6)), hex(cv(6)));
      b.showMaps(undefined, [anonLine(C + 1, C + 11, "rw-p"), anonLine(C + 11, C + 16, "rw-p")]);
    },
  ),
  merge(
    "mremap_unfaulted_between_faulted_unfaulted",
    "an unfaulted VMA moved between a faulted and an unfaulted VMA merges all three",
    (b) => {
      b.map(cv(1), N(5), RW, PF);
      b.map(cv(7), N(5), RW, PF);
      b.map(cv(14), N(5), RW, PF);
      b.do(mremap(cv(14), N(5), N(5), MOVE, cv(14 + FAR2)), hex(cv(14 + FAR2)));
      b.do(mremap(cv(7), N(5), N(5), MOVE, cv(7 + FAR1)), hex(cv(7 + FAR1)));
      b.do(store(8, cv(1), 0x78n), "0");
      b.do(mremap(cv(14 + FAR2), N(5), N(5), MOVE, cv(11)), hex(cv(11)));
      b.do(mremap(cv(7 + FAR1), N(5), N(5), MOVE, cv(6)), hex(cv(6)));
      vmaIs(b, 1, 16);
    },
  ),
  merge(
    "mremap_unfaulted_between_correctly_placed_faulted",
    "two halves of one faulted VMA (same anon_vma, pgoff in place) with an unfaulted VMA moved into the hole between them merge into one",
    (b) => {
      b.map(cv(1), N(15), RW, PF);
      b.do(store(8, cv(1), 0x78n), "0");
      b.do(munmap(cv(6), N(5)), "0");
      b.map(cv(20), N(5), RW, PF);
      b.do(mremap(cv(20), N(5), N(5), MOVE, cv(6)), hex(cv(6)));
      vmaIs(b, 1, 16);
    },
  ),
  merge(
    "mremap_correct_placed_faulted",
    "thirds of one faulted VMA moved away and back in various orders merge again whenever they return to their own place",
    (b) => {
      b.map(cv(1), N(15), RW, PF);
      b.do(store(8, cv(1), 0x78n), "0");
      const mv = (from: number, to: number) => b.do(mremap(cv(from), N(5), N(5), MOVE, cv(to)), hex(cv(to)));
      mv(11, 11 + FAR2); // ptr3 away
      mv(6, 6 + FAR1); // ptr2 away
      mv(6 + FAR1, 6); // ptr2 back
      vmaIs(b, 1, 11);
      mv(1, 1 + FAR1); // ptr away
      mv(1 + FAR1, 1); // ptr back
      vmaIs(b, 1, 11);
      mv(1, 1 + FAR1); // ptr away again
      mv(11 + FAR2, 11); // ptr3 back next to ptr2
      vmaIs(b, 6, 16);
      mv(1 + FAR1, 1); // ptr back
      vmaIs(b, 1, 16);
      mv(6, 6 + FAR1); // ptr2 away
      mv(6 + FAR1, 6); // and back
      vmaIs(b, 1, 16);
      mv(11, 11 + FAR1); // ptr3 away
      mv(11 + FAR1, 11); // and back
      vmaIs(b, 1, 16);
    },
  ),
  merge(
    "mremap_faulted_to_unfaulted_prev",
    "a faulted VMA moved with MREMAP_DONTUNMAP right after an unfaulted one merges with it",
    (b) => {
      b.map(cv(4), N(3), RW, PF);
      b.do(store(8, cv(4), 0x78n), "0");
      b.do(mremap(cv(4), N(3), N(3), MOVE, cv(20)), hex(cv(20)));
      b.map(cv(1), N(3), RW, PF);
      b.do(mremap(cv(20), N(3), N(3), MOVE | MREMAP_DONTUNMAP, cv(4)), hex(cv(4)));
      vmaIs(b, 1, 7);
    },
  ),
  merge(
    "mremap_faulted_to_unfaulted_next",
    "a faulted VMA moved with MREMAP_DONTUNMAP right before an unfaulted one merges with it",
    (b) => {
      b.map(cv(1), N(3), RW, PF);
      b.do(store(8, cv(1), 0x78n), "0");
      b.do(mremap(cv(1), N(3), N(3), MOVE, cv(20)), hex(cv(20)));
      b.map(cv(4), N(3), RW, PF);
      b.do(mremap(cv(20), N(3), N(3), MOVE | MREMAP_DONTUNMAP, cv(1)), hex(cv(1)));
      vmaIs(b, 1, 7);
    },
  ),
  merge(
    "mremap_faulted_to_unfaulted_prev_unfaulted_next",
    "a faulted VMA moved with MREMAP_DONTUNMAP between two unfaulted ones merges all three",
    (b) => {
      b.map(cv(4), N(3), RW, PF);
      b.do(store(8, cv(4), 0x78n), "0");
      b.do(mremap(cv(4), N(3), N(3), MOVE, cv(20)), hex(cv(20)));
      b.map(cv(1), N(3), RW, PF);
      b.map(cv(7), N(3), RW, PF);
      b.do(mremap(cv(20), N(3), N(3), MOVE | MREMAP_DONTUNMAP, cv(4)), hex(cv(4)));
      vmaIs(b, 1, 10);
    },
  ),
  merge(
    "mremap_faulted_to_unfaulted_prev_faulted_next",
    "the first half of a faulted VMA moved away and back with MREMAP_DONTUNMAP, with an unfaulted VMA before it, merges all three",
    (b) => {
      b.map(cv(4), N(6), RW, PF);
      b.do(store(8, cv(4), 0x78n), "0");
      b.do(mremap(cv(4), N(3), N(3), MOVE, cv(20)), hex(cv(20)));
      b.map(cv(1), N(3), RW, PF);
      b.do(mremap(cv(20), N(3), N(3), MOVE | MREMAP_DONTUNMAP, cv(4)), hex(cv(4)));
      vmaIs(b, 1, 10);
    },
  ),
  // merge_with_fork (forked variant): the four MREMAP_DONTUNMAP tests above are its unforked variant;
  // forked, the parent forks once the faulted VMA exists and the child does the rest, and a VMA the
  // child inherited with an anon_vma (vma_is_fork_child) must not lend it to an unfaulted neighbour.
  merge(
    "merge_with_fork.forked.mremap_faulted_to_unfaulted_prev",
    "a faulted VMA inherited by fork, moved away and back with MREMAP_DONTUNMAP right after an unfaulted one, does not merge with it in the child",
    (b) => {
      b.map(cv(4), N(3), RW, PF);
      b.do(store(8, cv(4), 0x78n), "0");
      b.fork((c) => {
        c.do(mremap(cv(4), N(3), N(3), MOVE, cv(20)), hex(cv(20)));
        c.map(cv(1), N(3), RW, PF);
        c.do(mremap(cv(20), N(3), N(3), MOVE | MREMAP_DONTUNMAP, cv(4)), hex(cv(4)));
        c.showMaps(undefined, [anonLine(C + 1, C + 4, "rw-p"), anonLine(C + 4, C + 7, "rw-p")]);
      });
    },
  ),
  merge(
    "merge_with_fork.forked.mremap_faulted_to_unfaulted_next",
    "a faulted VMA inherited by fork, moved with MREMAP_DONTUNMAP right before an unfaulted one, does not merge with it in the child",
    (b) => {
      b.map(cv(1), N(3), RW, PF);
      b.do(store(8, cv(1), 0x78n), "0");
      b.fork((c) => {
        c.do(mremap(cv(1), N(3), N(3), MOVE, cv(20)), hex(cv(20)));
        c.map(cv(4), N(3), RW, PF);
        c.do(mremap(cv(20), N(3), N(3), MOVE | MREMAP_DONTUNMAP, cv(1)), hex(cv(1)));
        c.showMaps(undefined, [anonLine(C + 1, C + 4, "rw-p"), anonLine(C + 4, C + 7, "rw-p")]);
      });
    },
  ),
  merge(
    "merge_with_fork.forked.mremap_faulted_to_unfaulted_prev_unfaulted_next",
    "a faulted VMA inherited by fork, moved with MREMAP_DONTUNMAP between two unfaulted ones, merges with neither in the child",
    (b) => {
      b.map(cv(4), N(3), RW, PF);
      b.do(store(8, cv(4), 0x78n), "0");
      b.fork((c) => {
        c.do(mremap(cv(4), N(3), N(3), MOVE, cv(20)), hex(cv(20)));
        c.map(cv(1), N(3), RW, PF);
        c.map(cv(7), N(3), RW, PF);
        c.do(mremap(cv(20), N(3), N(3), MOVE | MREMAP_DONTUNMAP, cv(4)), hex(cv(4)));
        c.showMaps(undefined, [anonLine(C + 1, C + 4, "rw-p"), anonLine(C + 4, C + 7, "rw-p")]);
      });
    },
  ),
  merge(
    "merge_with_fork.forked.mremap_faulted_to_unfaulted_prev_faulted_next",
    "in the child, the first half of an inherited faulted VMA moved away and back with MREMAP_DONTUNMAP merges with its other half (same anon_vma) but not with the unfaulted VMA before it",
    (b) => {
      b.map(cv(4), N(6), RW, PF);
      b.do(store(8, cv(4), 0x78n), "0");
      b.fork((c) => {
        c.do(mremap(cv(4), N(3), N(3), MOVE, cv(20)), hex(cv(20)));
        c.map(cv(1), N(3), RW, PF);
        c.do(mremap(cv(20), N(3), N(3), MOVE | MREMAP_DONTUNMAP, cv(4)), hex(cv(4)));
        c.showMaps(undefined, [anonLine(C + 1, C + 4, "rw-p"), anonLine(C + 4, C + 10, "rw-p")]);
      });
    },
  ),
];

const SELFTESTS_GUARD: PeerCase[] = [
  peer(
    "selftests/mm",
    "selftests/mm/guard-regions: guard_regions.basic (anon)",
    "guard pages at the first and last page of 10 fault on read and write, the rest stay usable; removing them makes the pages usable; a 3-page guard over faulted pages; removing guards never drops existing contents ('x')",
    (b) => {
      b.map(P(0), N(10), RW, PRIVATE_ANON);
      b.readWrite(P(0));
      b.do(madvise(P(0), N(1), MADV_GUARD_INSTALL), "0");
      b.noAccess(P(0));
      for (let i = 1; i < 10; i++) b.readWrite(P(i));
      b.do(madvise(P(9), N(1), MADV_GUARD_INSTALL), "0");
      b.noAccess(P(0)).noAccess(P(9));
      b.do(madvise(P(0), N(1), MADV_GUARD_REMOVE), "0");
      b.readWrite(P(0));
      b.do(madvise(P(9), N(1), MADV_GUARD_REMOVE), "0");
      b.readWrite(P(9));
      b.do(madvise(P(0), N(3), MADV_GUARD_INSTALL), "0");
      for (let i = 0; i < 3; i++) b.noAccess(P(i));
      for (let i = 3; i < 10; i++) b.readWrite(P(i));
      b.do(madvise(P(0), N(10), MADV_GUARD_REMOVE), "0");
      for (let i = 0; i < 10; i++) b.readWrite(P(i));
      b.do(madvise(P(0), N(10), MADV_GUARD_REMOVE), "0");
      for (let i = 0; i < 10; i++) b.do(load(8, P(i)), "0x78");
      b.do(munmap(P(0), N(10)), "0");
    },
  ),
  peer(
    "selftests/mm",
    "selftests/mm/guard-regions: guard_regions.multi_vma (anon)",
    "guards over a 100-page range holding 3 VMAs and 2 gaps: ENOMEM (gaps) yet every VMA page is guarded; removal likewise; with incompatible RWX VMAs filling the gaps the whole range is guarded and unguarded with success",
    (b) => {
      b.map(P(0), N(100), PROT_NONE, PF);
      b.map(P(0), N(10), RW, PF);
      b.map(P(50), N(5), RW, PF);
      b.map(P(80), N(20), RW, PF);
      b.do(munmap(P(10), N(40)), "0");
      b.do(munmap(P(55), N(25)), "0");
      const vmaPages = [
        ...Array(10).keys(),
        ...[50, 51, 52, 53, 54],
        ...Array.from({ length: 20 }, (_, i) => 80 + i),
      ];
      b.do(madvise(P(0), N(100), MADV_GUARD_INSTALL), "-ENOMEM");
      for (const i of vmaPages) b.noAccess(P(i));
      b.do(madvise(P(0), N(100), MADV_GUARD_REMOVE), "-ENOMEM");
      for (const i of vmaPages) b.readWrite(P(i));
      b.map(P(10), N(40), RWX, PF);
      b.map(P(55), N(25), RWX, PF);
      b.do(madvise(P(0), N(100), MADV_GUARD_INSTALL), "0");
      for (let i = 0; i < 100; i++) b.noAccess(P(i));
      b.do(madvise(P(0), N(100), MADV_GUARD_REMOVE), "0");
      for (let i = 0; i < 100; i++) b.readWrite(P(i));
    },
  ),
];

/**
 * A test of selftests/mm/guard-regions.c, on anonymous memory (the shmem variant is in
 * peer-cases-files.ts). Not ported: process_madvise (no process_madvise op: pidfd, iovec batches),
 * uffd (userfaultfd), collapse (THP), pagemap and pagemap_scan (/proc/self/pagemap bits); the
 * file-only tests are skipped on anonymous memory by the original too.
 */
const guard = (name: string, doc: string, build: (b: B) => void): PeerCase =>
  peer("selftests/mm", `selftests/mm/guard-regions: guard_regions.${name} (anon)`, doc, build);
const GI = (b: B, at: number, n: number, want = "0") => b.do(madvise(P(at), N(n), MADV_GUARD_INSTALL), want);
const GR = (b: B, at: number, n: number, want = "0") => b.do(madvise(P(at), N(n), MADV_GUARD_REMOVE), want);
/** try_read_buf fails. */
const noRead = (b: B, at: number) => b.do(load(8, P(at)), mapErr(P(at)));

SELFTESTS_GUARD.push(
  guard("munmap", "unmapping guarded pages and mapping over them leaves no guard markers behind", (b) => {
    b.map(P(0), N(10), RW, PRIVATE_ANON);
    GI(b, 0, 1);
    GI(b, 9, 1);
    b.noAccess(P(0)).noAccess(P(9));
    b.do(munmap(P(0), N(1)), "0").do(munmap(P(9), N(1)), "0");
    b.map(P(0), N(1), RW, PF).map(P(9), N(1), RW, PF);
    b.readWrite(P(0)).readWrite(P(9));
    b.do(munmap(P(0), N(10)), "0");
  }),
  guard(
    "mprotect",
    "mprotect has no bearing on guard markers; guarding again is fine; removal makes the range readable",
    (b) => {
      b.map(P(0), N(10), RW, PRIVATE_ANON);
      GI(b, 5, 2);
      b.noAccess(P(5)).noAccess(P(6));
      b.do(mprotect(P(5), N(2), PROT_READ), "0");
      noRead(b, 5);
      noRead(b, 6);
      GI(b, 5, 2);
      noRead(b, 5);
      noRead(b, 6);
      GR(b, 0, 10);
      for (let i = 0; i < 10; i++) b.do(load(8, P(i)), "0x0");
    },
  ),
  guard(
    "split_merge",
    "guards survive VMA splits (munmap, mprotect) and merges; unmapped-and-remapped pages are unguarded",
    (b) => {
      b.map(P(0), N(10), RW, PRIVATE_ANON);
      GI(b, 0, 10);
      for (let i = 0; i < 10; i++) b.noAccess(P(i));
      for (const i of [2, 5, 8]) b.do(munmap(P(i), N(1)), "0");
      for (const i of [0, 1, 3, 4, 6, 7, 9]) b.noAccess(P(i));
      for (const i of [2, 5, 8]) b.map(P(i), N(1), RW, PF);
      for (let i = 0; i < 10; i++) {
        if (i === 2 || i === 5 || i === 8) b.readWrite(P(i));
        else b.noAccess(P(i));
      }
      GI(b, 0, 10);
      for (let i = 0; i < 10; i++) b.noAccess(P(i));
      b.do(mprotect(P(0), N(3), PROT_READ), "0").do(mprotect(P(7), N(3), PROT_READ), "0");
      for (let i = 0; i < 10; i++) noRead(b, i);
      b.do(mprotect(P(0), N(3), RW), "0").do(mprotect(P(7), N(3), RW), "0");
      for (let i = 0; i < 10; i++) b.noAccess(P(i));
      b.do(mprotect(P(0), N(3), PROT_READ), "0").do(mprotect(P(7), N(3), PROT_READ), "0");
      GR(b, 0, 10);
      for (let i = 0; i < 10; i++) b.do(load(8, P(i)));
      b.do(mprotect(P(0), N(3), RW), "0").do(mprotect(P(7), N(3), RW), "0");
      for (let i = 0; i < 10; i++) b.readWrite(P(i));
    },
  ),
  guard(
    "dontneed",
    "MADV_DONTNEED does not remove guard markers; the other pages read zero and stay writable",
    (b) => {
      b.map(P(0), N(10), RW, PRIVATE_ANON);
      for (let i = 0; i < 10; i++) b.do(store(8, P(i), 0x79n), "0");
      for (let i = 0; i < 10; i += 2) GI(b, i, 1);
      b.do(madvise(P(0), N(10), MADV_DONTNEED), "0");
      for (let i = 0; i < 10; i++) {
        if (i % 2 === 0) b.noAccess(P(i));
        else b.do(load(8, P(i)), "0x0").do(store(8, P(i), 0x78n), "0");
      }
    },
  ),
  guard("mremap_move", "moving a mapping keeps its guard markers where they were in it", (b) => {
    b.map(P(0), N(5), RW, PRIVATE_ANON);
    GI(b, 0, 1);
    GI(b, 4, 1);
    b.noAccess(P(0)).noAccess(P(4));
    b.map(P(20), N(5), PROT_NONE, PRIVATE_ANON);
    b.do(mremap(P(0), N(5), N(5), MOVE, P(20)), hex(P(20)));
    b.noAccess(P(20)).noAccess(P(24));
  }),
  guard(
    "mremap_expand",
    "growing in place, then moving and growing, keeps the guard markers at their original offsets",
    (b) => {
      b.map(P(0), N(10), RW, PRIVATE_ANON);
      b.do(munmap(P(5), N(5)), "0");
      GI(b, 0, 1);
      GI(b, 4, 1);
      b.noAccess(P(0)).noAccess(P(4));
      b.do(mremap(P(0), N(5), N(10), 0), hex(P(0)));
      b.noAccess(P(0)).noAccess(P(4));
      b.map(P(20), N(20), PROT_NONE, PRIVATE_ANON);
      b.do(mremap(P(0), N(10), N(20), MOVE, P(20)), hex(P(20)));
      b.noAccess(P(20)).noAccess(P(24));
    },
  ),
  guard(
    "mremap_shrink",
    "shrinking drops the markers shrunk over (the first stays); growing back does not restore them",
    (b) => {
      b.map(P(0), N(5), RW, PRIVATE_ANON);
      GI(b, 0, 1);
      GI(b, 4, 1);
      b.noAccess(P(0)).noAccess(P(4));
      b.do(mremap(P(0), N(5), N(3), MREMAP_MAYMOVE), hex(P(0)));
      b.noAccess(P(0));
      for (let i = 1; i < 3; i++) b.readWrite(P(i));
      b.do(mremap(P(0), N(3), N(5), 0), hex(P(0)));
      b.noAccess(P(0));
      for (let i = 1; i < 5; i++) b.readWrite(P(i));
    },
  ),
  guard(
    "fork",
    "a child inherits guard markers (VMA without VM_WIPEONFORK); its MADV_GUARD_REMOVE leaves the parent's",
    (b) => {
      b.map(P(0), N(10), RW, PRIVATE_ANON);
      GI(b, 0, 5);
      const check = (x: B) => {
        for (let i = 0; i < 10; i++) {
          if (i >= 5) x.readWrite(P(i));
          else x.noAccess(P(i));
        }
      };
      b.fork((c) => {
        check(c);
        GR(c, 0, 10);
      });
      check(b);
    },
  ),
  guard(
    "fork_cow",
    "a forked child sees the populated pattern; guarding and unguarding its whole range clears its page tables (it then reads zero), the parent keeps the pattern",
    (b) => {
      b.map(P(0), N(10), RW, PRIVATE_ANON);
      for (let i = 0; i < 10; i++) b.fill(P(i), 0x61 + i);
      b.fork((c) => {
        for (let i = 0; i < 10; i++) c.check(P(i), 0x61 + i);
        GI(c, 0, 10);
        GR(c, 0, 10);
        for (let i = 0; i < 10; i++) c.check(P(i), 0);
      });
      for (let i = 0; i < 10; i++) b.check(P(i), 0x61 + i);
    },
  ),
  guard(
    "fork_wipeonfork",
    "a MADV_WIPEONFORK range's guard markers are wiped in the child; the parent keeps them",
    (b) => {
      b.map(P(0), N(10), RW, PRIVATE_ANON);
      b.do(madvise(P(0), N(10), MADV_WIPEONFORK), "0");
      GI(b, 0, 5);
      b.fork((c) => {
        for (let i = 0; i < 10; i++) c.readWrite(P(i));
      });
      for (let i = 0; i < 10; i++) {
        if (i >= 5) b.readWrite(P(i));
        else b.noAccess(P(i));
      }
    },
  ),
  guard("lazyfree", "MADV_FREE leaves the guard markers in place", (b) => {
    b.map(P(0), N(10), RW, PRIVATE_ANON);
    GI(b, 0, 10);
    for (let i = 0; i < 10; i++) b.noAccess(P(i));
    b.do(madvise(P(0), N(10), MADV_FREE), "0");
    for (let i = 0; i < 10; i++) b.noAccess(P(i));
  }),
  guard("populate", "MADV_POPULATE_READ and MADV_POPULATE_WRITE over guard markers fail with EFAULT", (b) => {
    b.map(P(0), N(10), RW, PRIVATE_ANON);
    GI(b, 0, 10);
    b.do(madvise(P(0), N(10), MADV_POPULATE_READ), "-EFAULT");
    b.do(madvise(P(0), N(10), MADV_POPULATE_WRITE), "-EFAULT");
  }),
  guard(
    "mlock",
    "guards cannot be installed over mlocked pages (EINVAL); after munlock they can; mlocking the unguarded rest is fine and removing guards from an mlocked range is allowed",
    (b) => {
      b.map(P(0), N(10), RW, PRIVATE_ANON);
      for (let i = 0; i < 10; i++) b.do(store(8, P(i), 0x79n), "0");
      b.do(mlock(P(0), N(10)), "0");
      GI(b, 0, 10, "-EINVAL");
      b.do(munlock(P(0), N(10)), "0");
      GI(b, 0, 5);
      for (let i = 0; i < 10; i++) {
        if (i < 5) b.noAccess(P(i));
        else b.readWrite(P(i)).do(load(8, P(i)), "0x78");
      }
      b.do(mlock(P(5), N(5)), "0");
      GR(b, 0, 10);
      for (let i = 0; i < 10; i++) b.readWrite(P(i));
    },
  ),
  guard(
    "anon_zeropage",
    "guards in a read-only private mapping (zero page reads): every other page guarded, then all removed, the range reads zero",
    (b) => {
      b.map(P(0), N(10), PROT_READ, PRIVATE_ANON);
      for (let i = 0; i < 10; i += 2) GI(b, i, 1);
      for (let i = 0; i < 10; i++) {
        if (i % 2 === 0) noRead(b, i);
        else b.do(load(8, P(i)), "0x0");
      }
      GR(b, 0, 10);
      for (let i = 0; i < 10; i++) b.do(load(8, P(i)), "0x0");
      for (let i = 0; i < 10; i++) b.check(P(i), 0);
    },
  ),
  guard("cold_pageout", "MADV_COLD and MADV_PAGEOUT leave the guard markers in place", (b) => {
    b.map(P(0), N(10), RW, PRIVATE_ANON);
    GI(b, 0, 10);
    for (let i = 0; i < 10; i++) b.noAccess(P(i));
    b.do(madvise(P(0), N(10), MADV_COLD), "0");
    for (let i = 0; i < 10; i++) b.noAccess(P(i));
    b.do(madvise(P(0), N(10), MADV_PAGEOUT), "0");
    for (let i = 0; i < 10; i++) b.noAccess(P(i));
  }),
);

/**
 * selftests/mm/protection_keys.c: each test gets a page mapped read-write (malloc_pkey's anonymous
 * mmap) and protected with a freshly allocated key (pkey_alloc(0, 0) → 1 on a PKU host), then runs;
 * pkey_access_deny / pkey_write_deny are pkey_set(key, PKEY_DISABLE_ACCESS / PKEY_DISABLE_WRITE).
 * Without PKU the harness skips; the transcripts must still match.
 */
function pkeyTest(name: string, doc: string, body: (b: B, a: bigint) => void): PeerCase {
  return peer("selftests/mm", `selftests/mm/protection_keys: ${name}`, doc, (b) => {
    const a = P(0);
    b.map(a, N(1), RW, PF);
    b.do(pkeyAlloc(0, 0), { pku: "0x1" });
    b.do(pkeyMprotect(a, N(1), RW, 1), { pku: "0" });
    body(b, a);
  });
}
const PKEY_DISABLE_ACCESS = 1;
const PKEY_DISABLE_WRITE = 2;

const SELFTESTS_PKEYS: PeerCase[] = [
  pkeyTest("test_read_of_write_disabled_region", "with the key write-disabled, a read succeeds", (b, a) => {
    b.do(pkeySet(1, PKEY_DISABLE_WRITE), { pku: "0" });
    b.do(load(32, a), "0x0");
  }),
  pkeyTest("test_read_of_access_disabled_region", "with the key access-disabled, a read faults", (b, a) => {
    b.do(pkeySet(1, PKEY_DISABLE_ACCESS), { pku: "0" });
    b.do(load(32, a), { pku: pkuErr(a), noPku: "0x0" });
  }),
  pkeyTest(
    "test_read_of_access_disabled_region_with_page_already_mapped",
    "a read, then access-disable: the next read faults though the page is present",
    (b, a) => {
      b.do(load(32, a), "0x0");
      b.do(pkeySet(1, PKEY_DISABLE_ACCESS), { pku: "0" });
      b.do(load(32, a), { pku: pkuErr(a) });
    },
  ),
  pkeyTest(
    "test_write_of_write_disabled_region_with_page_already_mapped",
    "a write, then write-disable: the next write faults",
    (b, a) => {
      b.do(store(32, a, 1n), "0");
      b.do(pkeySet(1, PKEY_DISABLE_WRITE), { pku: "0" });
      b.do(store(32, a, 2n), { pku: pkuErr(a) });
    },
  ),
  pkeyTest("test_write_of_write_disabled_region", "with the key write-disabled, a write faults", (b, a) => {
    b.do(pkeySet(1, PKEY_DISABLE_WRITE), { pku: "0" });
    b.do(store(32, a, 2n), { pku: pkuErr(a) });
  }),
  pkeyTest("test_write_of_access_disabled_region", "with the key access-disabled, a write faults", (b, a) => {
    b.do(pkeySet(1, PKEY_DISABLE_ACCESS), { pku: "0" });
    b.do(store(32, a, 2n), { pku: pkuErr(a) });
  }),
  pkeyTest(
    "test_write_of_access_disabled_region_with_page_already_mapped",
    "a write, then access-disable: the next write faults",
    (b, a) => {
      b.do(store(32, a, 1n), "0");
      b.do(pkeySet(1, PKEY_DISABLE_ACCESS), { pku: "0" });
      b.do(store(32, a, 2n), { pku: pkuErr(a) });
    },
  ),
  pkeyTest(
    "test_pkey_syscalls_on_non_allocated_pkey",
    "for every key 1..15 other than the test's: pkey_free twice and pkey_mprotect with it all fail",
    (b, a) => {
      for (let k = 2; k < 16; k++) {
        b.do(pkeyFree(k), "-EINVAL").do(pkeyFree(k), "-EINVAL");
        b.do(pkeyMprotect(a, N(1), PROT_READ, k), "-EINVAL");
      }
    },
  ),
  pkeyTest("test_pkey_syscalls_bad_args", "pkey_mprotect with key NR_PKEYS+99 fails", (b, a) => {
    b.do(pkeyMprotect(a, N(1), PROT_READ, 16 + 99), "-EINVAL");
  }),
  pkeyTest(
    "test_pkey_alloc_exhaust",
    "allocating 48 times gives the 14 free keys (2..15) and then ENOSPC, state preserved across fork (the loop continues in a child after 32 tries); every allocated key can be freed",
    (b) => {
      const loop = (x: B, from: number, to: number) => {
        for (let i = from; i < to; i++) {
          const key = i + 2;
          x.do(pkeyAlloc(0, 0), { pku: key <= 15 ? hex(BigInt(key)) : "-ENOSPC" });
        }
      };
      loop(b, 0, 32);
      b.fork((c) => {
        loop(c, 32, 48);
        for (let k = 2; k <= 15; k++) c.do(pkeyFree(k), { pku: "0" });
      });
    },
  ),
  pkeyTest(
    "test_pkey_alloc_free_attach_pkey0",
    "allocating every key never gives key 0; after freeing them all, key 0 can be attached with every prot",
    (b, a) => {
      for (let k = 2; k <= 16; k++) b.do(pkeyAlloc(0, 0), { pku: k <= 15 ? hex(BigInt(k)) : "-ENOSPC" });
      for (let k = 2; k <= 15; k++) b.do(pkeyFree(k), { pku: "0" });
      for (const prot of [PROT_READ, PROT_WRITE, PROT_EXEC, RW, RWX])
        b.do(pkeyMprotect(a, N(1), prot, 0), { pku: "0" });
    },
  ),
  pkeyTest(
    "test_mprotect_with_pkey_0",
    "pkey_mprotect with the default key 0, then back to the test's key",
    (b, a) => {
      b.do(pkeyMprotect(a, N(1), RW, 0), { pku: "0" });
      b.do(pkeyMprotect(a, N(1), RW, 1), { pku: "0" });
    },
  ),
  pkeyTest(
    "test_implicit_mprotect_exec_only_memory",
    "plain mprotect(PROT_EXEC) gives the page the execute-only key: a read faults; PROT_NONE then PROT_READ|PROT_EXEC drops the key and reading works again (the instruction fetches are not expressible)",
    (b, a) => {
      b.do(load(32, a), "0x0");
      b.do(mprotect(a, N(1), PROT_EXEC), "0");
      b.do(load(32, a), { pku: pkuErr(a), noPku: "0x0" });
      b.do(mprotect(a, N(1), PROT_NONE), "0");
      b.do(mprotect(a, N(1), PROT_READ | PROT_EXEC), "0");
      b.do(load(32, a), "0x0");
    },
  ),
];

const SELFTESTS_POPULATE: PeerCase[] = [
  peer(
    "selftests/mm",
    "selftests/mm/madv_populate: test_prot_read",
    "on 2 MiB of PROT_READ private memory, MADV_POPULATE_READ succeeds and MADV_POPULATE_WRITE fails with EINVAL",
    (b) => {
      b.map(P(0), N(512), PROT_READ, PF);
      b.do(madvise(P(0), N(512), MADV_POPULATE_READ), "0");
      b.do(madvise(P(0), N(512), MADV_POPULATE_WRITE), "-EINVAL");
    },
  ),
  peer(
    "selftests/mm",
    "selftests/mm/madv_populate: test_prot_write",
    "on 2 MiB of PROT_WRITE private memory, MADV_POPULATE_READ fails with EINVAL and MADV_POPULATE_WRITE succeeds",
    (b) => {
      b.map(P(0), N(512), PROT_WRITE, PF);
      b.do(madvise(P(0), N(512), MADV_POPULATE_READ), "-EINVAL");
      b.do(madvise(P(0), N(512), MADV_POPULATE_WRITE), "0");
    },
  ),
  peer(
    "selftests/mm",
    "selftests/mm/madv_populate: test_holes",
    "with page 1 unmapped, both populate advices fail with ENOMEM for a hole in the middle, at the end and at the beginning",
    (b) => {
      b.map(P(0), N(512), RW, PF);
      b.do(munmap(P(1), N(1)), "0");
      for (const [a, n] of [
        [0, 512],
        [0, 2],
        [1, 1],
      ] as const) {
        b.do(madvise(P(a), N(n), MADV_POPULATE_READ), "-ENOMEM");
        b.do(madvise(P(a), N(n), MADV_POPULATE_WRITE), "-ENOMEM");
      }
    },
  ),
  peer(
    "selftests/mm",
    "selftests/mm/madv_populate: test_populate_read",
    "2 MiB private memory starts unpopulated, MADV_POPULATE_READ succeeds and populates it (Rss of the arena instead of pagemap: with the zero page the read-populated range has no Rss)",
    (b) => {
      b.map(P(0), N(512), RW, PF);
      b.do(rss, "rss 0 anon 0");
      b.do(madvise(P(0), N(512), MADV_POPULATE_READ), "0");
      b.do(rss, { zeroPage: "rss 0 anon 0", noZeroPage: "rss 2048 anon 2048" });
    },
  ),
  peer(
    "selftests/mm",
    "selftests/mm/madv_populate: test_populate_write",
    "2 MiB private memory starts unpopulated, MADV_POPULATE_WRITE succeeds and populates it (Rss of the arena instead of pagemap)",
    (b) => {
      b.map(P(0), N(512), RW, PF);
      b.do(rss, "rss 0 anon 0");
      b.do(madvise(P(0), N(512), MADV_POPULATE_WRITE), "0");
      b.do(rss, "rss 2048 anon 2048");
    },
  ),
];

const SELFTESTS_COW: PeerCase[] = [false, true].map((mprotectFirst) =>
  peer(
    "selftests/mm",
    `selftests/mm/cow: Basic COW after fork()${mprotectFirst ? " with mprotect() optimization" : ""} (base page)`,
    `a populated private anonymous page modified (0xff) after fork${mprotectFirst ? ", after mprotect(PROT_READ) then mprotect(PROT_READ|PROT_WRITE) (which may map it writable directly)" : ""}: no leak to the other process. Roles swapped (the child modifies, the parent compares afterwards) as script forks run the child to completion first`,
    (b) => {
      b.map(P(0), N(1), RW, PF).fill(P(0), 1);
      b.fork((c) => {
        if (mprotectFirst) c.do(mprotect(P(0), N(1), PROT_READ), "0").do(mprotect(P(0), N(1), RW), "0");
        c.fill(P(0), 0xff).check(P(0), 0xff);
      });
      b.check(P(0), 1);
    },
  ),
);

/*
 * selftests/mm/cow.c, the rest: only its base-page runs are expressible. Not ported: the swapped-out
 * base page runs (need swap and /proc/self/pagemap to confirm MADV_PAGEOUT swapped the page; without
 * swap the original skips them), the vmsplice() tests (pipe pins), the io_uring fixed-buffer and
 * R/O GUP pin tests (io_uring, gup_test), and every THP, huge-zeropage and hugetlb run. The non-anon
 * "Basic COW" with memfd is in peer-cases-files.ts; with tmpfile it would be the memfd script again.
 */
SELFTESTS_COW.push(
  peer(
    "selftests/mm",
    "selftests/mm/cow: Basic COW (shared zeropage)",
    "a private writable and a private read-only anonymous page both read (the shared zero page where the host maps it); writing 0xff to the first leaves the other reading zero",
    (b) => {
      b.map(P(0), N(1), RW, PF).map(P(2), N(1), PROT_READ, PF);
      b.do(load(8, P(0)), "0x0").do(load(8, P(2)), "0x0");
      b.fill(P(0), 0xff);
      b.check(P(2), 0);
    },
  ),
);

const SELFTESTS: PeerCase[] = [
  ...SELFTESTS_BASIC,
  ...SELFTESTS_POPULATE,
  ...SELFTESTS_MREMAP,
  ...SELFTESTS_MERGE,
  ...SELFTESTS_GUARD,
  ...SELFTESTS_PKEYS,
  ...SELFTESTS_COW,
];

export const PEER_CASES: readonly PeerCase[] = [...LTP, ...SELFTESTS, ...GVISOR];
