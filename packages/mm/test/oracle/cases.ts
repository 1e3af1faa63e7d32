// Hand-written scripts for every documented errno / fault / maps case of the reference
// (/work/shared/reference/linux-mm.md §2–4, §7), with the results the reference predicts.
// `expect` maps a transcript index ("3", or "5.1" inside a fork) to the text after " = ";
// `maps` pins full maps text (without the two-space prefix) for a maps op index.
// `byHost` adds or replaces expectations where hosts differ (a PKU CPU, a kernel without the zero page).
// The full kernel transcripts are recorded in __fixtures__/linux-*.json (record-fixtures.ts).

import { FILE_CASES } from "./cases-files.ts";
import type { HostMmFeatures } from "./linux.ts";
import {
  fork,
  load,
  MADV_BAD,
  MADV_DOFORK,
  MADV_DONTFORK,
  MADV_DONTNEED,
  MADV_NORMAL,
  MADV_REMOVE,
  MADV_WIPEONFORK,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_GROWSDOWN,
  MAP_LOCKED,
  MAP_NORESERVE,
  MAP_SHARED_VALIDATE,
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
  PRIVATE_ANON,
  PROT_EXEC,
  PROT_GROWSDOWN,
  PROT_GROWSUP,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  page,
  pages,
  pkeyAlloc,
  pkeyFree,
  pkeyGet,
  pkeyMprotect,
  pkeySet,
  rss,
  type Script,
  SHARED_ANON,
  store,
  USER_TOP,
} from "./script.ts";
import { mapsAt, resultsByIndex } from "./transcript.ts";

export interface Expectations {
  readonly expect?: Readonly<Record<string, string>>;
  readonly maps?: Readonly<Record<string, readonly string[]>>;
}

export interface OracleCase {
  readonly name: string;
  readonly doc: string;
  readonly script: Script;
  readonly expect: Readonly<Record<string, string>>;
  readonly maps?: Readonly<Record<string, readonly string[]>>;
  /** Expectations that hold only on some hosts; they replace same-index entries of expect/maps. */
  readonly byHost?: {
    readonly pku?: Expectations;
    readonly noPku?: Expectations;
    readonly zeroPage?: Expectations;
    readonly noZeroPage?: Expectations;
  };
}

/** Where `transcript` misses the case's expectations on `host` (empty: all met). */
export function unmetExpectations(
  c: OracleCase,
  transcript: readonly string[],
  host: HostMmFeatures,
): string[] {
  const got = resultsByIndex(transcript);
  const want = expectationsOn(c, host);
  const out: string[] = [];
  for (const [index, result] of Object.entries(want.expect)) {
    if (got.get(index) !== result) out.push(`${c.name}: op ${index} = ${got.get(index)}, expected ${result}`);
  }
  for (const [index, lines] of Object.entries(want.maps)) {
    const shown = mapsAt(transcript, index);
    for (const line of lines) {
      if (!shown.includes(line)) out.push(`${c.name}: maps of op ${index} lacks "${line}"`);
    }
  }
  return out;
}

/** A case's expectations on a host with these features. */
export function expectationsOn(c: OracleCase, host: HostMmFeatures): Required<Expectations> {
  const parts = [
    { expect: c.expect, maps: c.maps },
    host.pku ? c.byHost?.pku : c.byHost?.noPku,
    host.zeroPage ? c.byHost?.zeroPage : c.byHost?.noZeroPage,
  ];
  let expect: Record<string, string> = {};
  let mapsAt: Record<string, readonly string[]> = {};
  for (const p of parts) {
    expect = { ...expect, ...p?.expect };
    mapsAt = { ...mapsAt, ...p?.maps };
  }
  return { expect, maps: mapsAt };
}

const RW = PROT_READ | PROT_WRITE;
const PF = PRIVATE_ANON | MAP_FIXED;
const SF = SHARED_ANON | MAP_FIXED;
const MOVE = MREMAP_MAYMOVE | MREMAP_FIXED;
const P0 = page(0);

/** Expected maps text of a private anonymous VMA. */
export function anonLine(startPage: number, endPage: number, perms: string): string {
  const h = (n: number) => page(n).toString(16);
  return `${h(startPage)}-${h(endPage)} ${perms} 00000000 00:00 0 `;
}

const MM_CASES: readonly OracleCase[] = [
  // ----------------------------------------------------------------------------- mmap
  {
    name: "mmap-einval",
    doc: "mmap argument errors: len 0, unaligned MAP_FIXED addr, unaligned offset, no SHARED/PRIVATE type, GROWSDOWN on shared",
    script: [
      mmap(P0, 0n, RW, PF),
      mmap(page(0, 0x10), pages(1), RW, PF),
      mmap(P0, pages(1), RW, PF, 0x10n),
      mmap(P0, pages(1), RW, MAP_ANONYMOUS | MAP_FIXED),
      mmap(P0, pages(1), RW, SF | MAP_GROWSDOWN),
      maps,
    ],
    expect: { "0": "-EINVAL", "1": "-EINVAL", "2": "-EINVAL", "3": "-EINVAL", "4": "-EINVAL", "5": "0" },
  },
  {
    name: "mmap-enomem",
    doc: "PAGE_ALIGN(len) wraps → ENOMEM; MAP_FIXED above TASK_SIZE → ENOMEM; len > TASK_SIZE → ENOMEM",
    script: [
      mmap(P0, 0xffff_ffff_ffff_f001n, RW, PF),
      mmap(USER_TOP, pages(1), RW, PF),
      mmap(P0, 0x8000_0000_0000_0000n, RW, PF),
    ],
    expect: { "0": "-ENOMEM", "1": "-ENOMEM", "2": "-ENOMEM" },
  },
  {
    name: "mmap-shared-validate",
    doc: "MAP_SHARED_VALIDATE is not accepted for anonymous memory at all (EINVAL, not the file-only EOPNOTSUPP); MAP_SHARED ignores unknown flags",
    script: [
      mmap(P0, pages(1), RW, MAP_SHARED_VALIDATE | MAP_ANONYMOUS | MAP_FIXED | 0x400000),
      mmap(P0, pages(1), RW, SF | 0x400000),
      mmap(page(2), pages(1), RW, MAP_SHARED_VALIDATE | MAP_ANONYMOUS | MAP_FIXED),
      maps,
    ],
    expect: { "0": "-EINVAL", "1": `0x${P0.toString(16)}`, "2": "-EINVAL", "3": "1" },
  },
  {
    name: "mmap-fixed-noreplace",
    doc: "MAP_FIXED_NOREPLACE: EEXIST for any overlap, success on free space; MAP_FIXED replaces",
    script: [
      mmap(page(1), pages(2), RW, PF),
      mmap(page(0), pages(2), RW, PRIVATE_ANON | MAP_FIXED_NOREPLACE),
      mmap(page(2), pages(2), RW, PRIVATE_ANON | MAP_FIXED_NOREPLACE),
      mmap(page(1), pages(2), RW, PRIVATE_ANON | MAP_FIXED_NOREPLACE),
      mmap(page(1, 0), pages(1), RW, PRIVATE_ANON | MAP_FIXED_NOREPLACE),
      mmap(page(3), pages(1), RW, PRIVATE_ANON | MAP_FIXED_NOREPLACE),
      store(8, page(1), 0x55n),
      mmap(page(1), pages(1), PROT_READ, PF),
      load(8, page(1)),
      maps,
    ],
    expect: {
      "1": "-EEXIST",
      "2": "-EEXIST",
      "3": "-EEXIST",
      "4": "-EEXIST",
      "5": `0x${page(3).toString(16)}`,
      "6": "0",
      "7": `0x${page(1).toString(16)}`,
      "8": "0x0",
      "9": "2",
    },
    maps: { "9": [anonLine(1, 2, "r--p"), anonLine(2, 4, "rw-p")] },
  },
  {
    name: "mmap-merge-adjacent",
    doc: "adjacent private anon mmaps with equal prot merge into one line; shared anon ones never merge",
    script: [
      mmap(page(0), pages(1), RW, PF),
      mmap(page(1), pages(1), RW, PF),
      mmap(page(4), pages(1), RW, SF),
      mmap(page(5), pages(1), RW, SF),
      maps,
    ],
    expect: { "4": "3" },
    maps: { "4": [anonLine(0, 2, "rw-p")] },
  },
  {
    name: "mmap-perms",
    doc: "maps perms for prot × type (LTP mmap04): ---p r--s -w-p rw-s r-xp; MAP_LOCKED/NORESERVE split the VMA",
    script: [
      mmap(page(0), pages(1), PROT_NONE, PF),
      mmap(page(2), pages(1), PROT_READ, SF),
      mmap(page(4), pages(1), PROT_WRITE, PF),
      mmap(page(6), pages(1), RW, SF),
      mmap(page(8), pages(1), PROT_READ | PROT_EXEC, PF),
      mmap(page(10), pages(1), RW, PF),
      mmap(page(11), pages(1), RW, PF | MAP_LOCKED),
      mmap(page(12), pages(1), RW, PF | MAP_NORESERVE),
      maps,
    ],
    expect: { "8": "8" },
  },
  // ----------------------------------------------------------------------------- munmap
  {
    name: "munmap",
    doc: "munmap: unaligned / len 0 / above TASK_SIZE → EINVAL; hole → 0; partial unmap splits; access → MAPERR",
    script: [
      mmap(P0, pages(3), RW, PF),
      munmap(page(0, 0x10), pages(1)),
      munmap(P0, 0n),
      munmap(USER_TOP, pages(1)),
      munmap(page(8), pages(2)),
      munmap(page(1), pages(1)),
      maps,
      load(32, page(1)),
      munmap(page(2), 1n),
      maps,
    ],
    expect: {
      "1": "-EINVAL",
      "2": "-EINVAL",
      "3": "-EINVAL",
      "4": "0",
      "5": "0",
      "6": "2",
      "7": `SIGSEGV SEGV_MAPERR 0x${page(1).toString(16)}`,
      "8": "0",
      "9": "1",
    },
    maps: { "6": [anonLine(0, 1, "rw-p"), anonLine(2, 3, "rw-p")] },
  },
  // ----------------------------------------------------------------------------- mremap
  {
    name: "mremap-einval",
    doc: "mremap: unknown flag, unaligned old, new_len 0, FIXED without MAYMOVE, unaligned new, DONTUNMAP size change, overlap → EINVAL",
    script: [
      mmap(P0, pages(2), RW, PF),
      mremap(P0, pages(1), pages(1), 0x8),
      mremap(page(0, 0x10), pages(1), pages(2), 0),
      mremap(P0, pages(1), 0n, 0),
      mremap(P0, pages(1), pages(1), MREMAP_FIXED, page(8)),
      mremap(P0, pages(1), pages(1), MOVE, page(8, 0x10)),
      mremap(P0, pages(1), pages(2), MOVE | MREMAP_DONTUNMAP, page(8)),
      mremap(P0, pages(2), pages(2), MOVE, page(1)),
      mremap(P0, 0n, pages(1), MOVE, page(8)),
      mremap(P0, pages(1), pages(1), MREMAP_DONTUNMAP, page(8)),
    ],
    expect: {
      "1": "-EINVAL",
      "2": "-EINVAL",
      "3": "-EINVAL",
      "4": "-EINVAL",
      "5": "-EINVAL",
      "6": "-EINVAL",
      "7": "-EINVAL",
      "8": "-EINVAL",
      "9": "-EINVAL",
    },
  },
  {
    name: "mremap-efault-enomem",
    doc: "mremap: no VMA at old → EFAULT; old range past the VMA end → EFAULT; blocked grow without MAYMOVE → ENOMEM",
    script: [
      mremap(page(4), pages(1), pages(2), 0),
      mmap(P0, pages(1), RW, PF),
      mmap(page(1), pages(1), PROT_READ, PF),
      mremap(P0, pages(2), pages(3), 0),
      mremap(P0, pages(1), pages(2), 0),
      maps,
    ],
    expect: { "0": "-EFAULT", "3": "-EFAULT", "4": "-ENOMEM", "5": "2" },
  },
  {
    name: "mremap-grow-shrink-in-place",
    doc: "grow in place merges with a compatible next VMA (one line); shrink returns old addr even with MAYMOVE, tail unmapped",
    script: [
      mmap(P0, pages(1), RW, PF),
      mmap(page(3), pages(1), RW, PF),
      store(64, P0, 0x1122334455667788n),
      mremap(P0, pages(1), pages(3), 0),
      maps,
      load(64, P0),
      load(8, page(2)),
      mremap(P0, pages(4), pages(2), MREMAP_MAYMOVE),
      load(8, page(2)),
      maps,
      mremap(P0, pages(2), pages(2), 0),
    ],
    expect: {
      "3": `0x${P0.toString(16)}`,
      "4": "1",
      "5": "0x1122334455667788",
      "6": "0x0",
      "7": `0x${P0.toString(16)}`,
      "8": `SIGSEGV SEGV_MAPERR 0x${page(2).toString(16)}`,
      "9": "1",
      "10": `0x${P0.toString(16)}`,
    },
    maps: { "4": [anonLine(0, 4, "rw-p")], "9": [anonLine(0, 2, "rw-p")] },
  },
  {
    name: "mremap-move",
    doc: "MAYMOVE|FIXED moves data, replaces the destination, old range unmapped; resize while moving",
    script: [
      mmap(P0, pages(2), RW, PF),
      store(32, page(1, 8), 0xcafef00dn),
      mmap(page(8), pages(4), PROT_READ, PF),
      mremap(P0, pages(2), pages(3), MOVE, page(8)),
      load(32, page(9, 8)),
      load(8, page(1)),
      maps,
    ],
    expect: {
      "3": `0x${page(8).toString(16)}`,
      "4": "0xcafef00d",
      "5": `SIGSEGV SEGV_MAPERR 0x${page(1).toString(16)}`,
      "6": "2",
    },
    maps: { "6": [anonLine(8, 11, "rw-p"), anonLine(11, 12, "r--p")] },
  },
  {
    name: "mremap-dontunmap",
    doc: "DONTUNMAP: private source reads zero afterwards, shared source keeps showing the data",
    script: [
      mmap(P0, pages(1), RW, PF),
      store(32, P0, 0xabcdn),
      mremap(P0, pages(1), pages(1), MOVE | MREMAP_DONTUNMAP, page(4)),
      load(32, P0),
      load(32, page(4)),
      mmap(page(8), pages(1), RW, SF),
      store(32, page(8), 0x1234n),
      mremap(page(8), pages(1), pages(1), MOVE | MREMAP_DONTUNMAP, page(12)),
      load(32, page(8)),
      load(32, page(12)),
      maps,
    ],
    expect: { "2": `0x${page(4).toString(16)}`, "3": "0x0", "4": "0xabcd", "8": "0x1234", "9": "0x1234" },
  },
  {
    name: "mremap-oldlen-zero",
    doc: "old_len 0: EINVAL on a private mapping, duplicates a shared one (writes visible through both)",
    script: [
      mmap(P0, pages(1), RW, PF),
      mremap(P0, 0n, pages(1), MOVE, page(4)),
      mmap(page(8), pages(2), RW, SF),
      mremap(page(8), 0n, pages(2), MOVE, page(12)),
      store(16, page(13), 0xbeefn),
      load(16, page(9)),
      maps,
    ],
    expect: { "1": "-EINVAL", "3": `0x${page(12).toString(16)}`, "5": "0xbeef", "6": "3" },
  },
  {
    name: "mremap-shared-grow-sigbus",
    doc: "growing MAP_SHARED|MAP_ANONYMOUS past its shmem object size: new pages → SIGBUS BUS_ADRERR",
    script: [
      mmap(P0, pages(1), RW, SF),
      mremap(P0, pages(1), pages(3), 0),
      load(8, page(0)),
      load(8, page(1)),
      store(8, page(2, 5), 1n),
      maps,
    ],
    expect: {
      "1": `0x${P0.toString(16)}`,
      "2": "0x0",
      "3": `SIGBUS BUS_ADRERR 0x${page(1).toString(16)}`,
      "4": `SIGBUS BUS_ADRERR 0x${page(2, 5).toString(16)}`,
      "5": "1",
    },
  },
  // ----------------------------------------------------------------------------- mprotect
  {
    name: "mprotect-errors",
    doc: "mprotect: unaligned → EINVAL; len 0 → 0 even unmapped; unknown prot bit / GROWSDOWN|GROWSUP → EINVAL; unmapped → ENOMEM; wrap → ENOMEM",
    script: [
      mmap(P0, pages(1), RW, PF),
      mprotect(page(0, 0x10), pages(1), PROT_READ),
      mprotect(page(6), 0n, PROT_READ),
      mprotect(P0, pages(1), 0x10),
      mprotect(P0, pages(1), PROT_READ | PROT_GROWSDOWN | PROT_GROWSUP),
      mprotect(page(6), pages(1), PROT_READ),
      mprotect(P0, 0xffff_ffff_ffff_0000n, PROT_READ),
      maps,
    ],
    expect: { "1": "-EINVAL", "2": "0", "3": "-EINVAL", "4": "-EINVAL", "5": "-ENOMEM", "6": "-ENOMEM" },
    maps: { "7": [anonLine(0, 1, "rw-p")] },
  },
  {
    name: "mprotect-hole",
    doc: "mprotect over a hole → ENOMEM, VMAs before the hole already changed (no rollback)",
    script: [
      mmap(P0, pages(1), RW, PF),
      mmap(page(2), pages(1), RW, PF),
      mprotect(P0, pages(3), PROT_READ),
      maps,
    ],
    expect: { "2": "-ENOMEM", "3": "2" },
    maps: { "3": [anonLine(0, 1, "r--p"), anonLine(2, 3, "rw-p")] },
  },
  {
    name: "mprotect-split-merge",
    doc: "mprotect of the middle page: 1 → 3 → 1 maps lines; also with a faulted page in the middle",
    script: [
      mmap(P0, pages(3), RW, PF),
      maps,
      mprotect(page(1), pages(1), PROT_READ),
      maps,
      mprotect(page(1), pages(1), RW),
      maps,
      store(8, page(1), 9n),
      mprotect(page(1), pages(1), PROT_NONE),
      maps,
      mprotect(page(1), pages(1), RW),
      maps,
      load(8, page(1)),
    ],
    expect: { "1": "1", "3": "3", "5": "1", "8": "3", "10": "1", "11": "0x9" },
    maps: {
      "1": [anonLine(0, 3, "rw-p")],
      "3": [anonLine(0, 1, "rw-p"), anonLine(1, 2, "r--p"), anonLine(2, 3, "rw-p")],
      "5": [anonLine(0, 3, "rw-p")],
      "8": [anonLine(0, 1, "rw-p"), anonLine(1, 2, "---p"), anonLine(2, 3, "rw-p")],
      "10": [anonLine(0, 3, "rw-p")],
    },
  },
  // ----------------------------------------------------------------------------- madvise
  {
    name: "madvise-errors",
    doc: "madvise: bad advice → EINVAL; unaligned → EINVAL; unmapped part → ENOMEM; REMOVE on private → EINVAL; WIPEONFORK on shared → EINVAL",
    script: [
      mmap(P0, pages(1), RW, PF),
      mmap(page(4), pages(1), RW, SF),
      madvise(P0, pages(1), MADV_BAD),
      madvise(page(0, 0x10), pages(1), MADV_DONTNEED),
      madvise(P0, pages(2), MADV_DONTNEED),
      madvise(P0, pages(1), MADV_REMOVE),
      madvise(page(4), pages(1), MADV_WIPEONFORK),
      madvise(P0, pages(1), MADV_NORMAL),
      madvise(P0, 0n, MADV_DONTNEED),
    ],
    expect: {
      "2": "-EINVAL",
      "3": "-EINVAL",
      "4": "-ENOMEM",
      "5": "-EINVAL",
      "6": "-EINVAL",
      "7": "0",
      "8": "0",
    },
  },
  {
    name: "madvise-dontneed",
    doc: "DONTNEED: private anon reads zero again, shared anon keeps its data; REMOVE on shared punches a hole",
    script: [
      mmap(P0, pages(1), RW, PF),
      mmap(page(4), pages(1), RW, SF),
      store(32, P0, 0x11n),
      store(32, page(4), 0x22n),
      madvise(P0, pages(1), MADV_DONTNEED),
      madvise(page(4), pages(1), MADV_DONTNEED),
      load(32, P0),
      load(32, page(4)),
      madvise(page(4), pages(1), MADV_REMOVE),
      load(32, page(4)),
    ],
    expect: { "4": "0", "5": "0", "6": "0x0", "7": "0x22", "8": "0", "9": "0x0" },
  },
  {
    name: "madvise-dontfork",
    doc: "DONTFORK on the middle page splits the VMA (3 identical-looking lines), DOFORK re-merges; MAP_LOCKED + DONTNEED",
    script: [
      mmap(P0, pages(3), RW, PF),
      madvise(page(1), pages(1), MADV_DONTFORK),
      maps,
      madvise(page(1), pages(1), MADV_DOFORK),
      maps,
      mmap(page(8), pages(1), RW, PF | MAP_LOCKED),
      madvise(page(8), pages(1), MADV_DONTNEED),
    ],
    expect: { "1": "0", "2": "3", "3": "0", "4": "1", "6": "-EINVAL" },
    maps: {
      "2": [anonLine(0, 1, "rw-p"), anonLine(1, 2, "rw-p"), anonLine(2, 3, "rw-p")],
      "4": [anonLine(0, 3, "rw-p")],
    },
  },
  // ----------------------------------------------------------------------------- faults
  {
    name: "faults",
    doc: "PROT_NONE load → ACCERR; unmapped → MAPERR; write to PROT_READ → ACCERR; write-only pages are readable; exec-only pages too, unless the CPU has PKU (execute-only key: SEGV_PKUERR)",
    script: [
      mmap(page(0), pages(1), PROT_NONE, PF),
      load(8, page(0, 3)),
      load(64, page(1)),
      mmap(page(2), pages(1), PROT_READ, PF),
      store(16, page(2, 2), 7n),
      load(16, page(2, 2)),
      mmap(page(4), pages(1), PROT_WRITE, PF),
      store(16, page(4), 7n),
      load(16, page(4)),
      mmap(page(6), pages(1), PROT_EXEC, PF),
      load(8, page(6)),
      mprotect(page(2), pages(1), RW),
      store(16, page(2, 2), 7n),
      load(16, page(2, 2)),
    ],
    expect: {
      "1": `SIGSEGV SEGV_ACCERR 0x${page(0, 3).toString(16)}`,
      "2": `SIGSEGV SEGV_MAPERR 0x${page(1).toString(16)}`,
      "4": `SIGSEGV SEGV_ACCERR 0x${page(2, 2).toString(16)}`,
      "5": "0x0",
      "7": "0",
      "8": "0x7",
      "12": "0",
      "13": "0x7",
    },
    byHost: {
      noPku: { expect: { "10": "0x0" } },
      pku: { expect: { "10": `SIGSEGV SEGV_PKUERR 0x${page(6).toString(16)}` } },
    },
  },
  {
    name: "store-load-widths",
    doc: "little-endian stores and loads of every width, overlapping",
    script: [
      mmap(P0, pages(1), RW, PF),
      store(64, P0, 0x0102030405060708n),
      load(8, P0),
      load(16, page(0, 2)),
      load(32, page(0, 4)),
      store(8, page(0, 7), 0xffn),
      load(64, P0),
    ],
    expect: { "2": "0x8", "3": "0x506", "4": "0x1020304", "5": "0", "6": "0xff02030405060708" },
  },
  // ----------------------------------------------------------------------------- fork
  {
    name: "fork",
    doc: "fork: child sees parent data; child's private writes are COW; shared writes are visible to the parent; DONTFORK absent in child, WIPEONFORK zeroed",
    script: [
      mmap(page(0), pages(1), RW, PF),
      mmap(page(2), pages(1), RW, SF),
      mmap(page(4), pages(1), RW, PF),
      mmap(page(6), pages(1), RW, PF),
      store(8, page(0), 1n),
      store(8, page(4), 4n),
      store(8, page(6), 6n),
      madvise(page(4), pages(1), MADV_DONTFORK),
      madvise(page(6), pages(1), MADV_WIPEONFORK),
      fork([
        load(8, page(0)),
        store(8, page(0), 2n),
        store(8, page(2), 3n),
        load(8, page(4)),
        load(8, page(6)),
        maps,
      ]),
      load(8, page(0)),
      load(8, page(2)),
    ],
    expect: {
      "9.0": "0x1",
      "9.1": "0",
      "9.2": "0",
      "9.3": `SIGSEGV SEGV_MAPERR 0x${page(4).toString(16)}`,
      "9.4": "0x0",
      "9.5": "3",
      "9": "exit 0",
      "10": "0x1",
      "11": "0x3",
    },
  },
  {
    name: "anon-vma-reuse",
    doc: "a new VMA's first write reuses the anon_vma of an adjacent compatible VMA only if that VMA's anon_vma chain is a single entry (reusable_anon_vma): in the parent the pieces merge again after mprotect; in a child, whose forked VMA chains to the parent's anon_vma too, they stay apart",
    script: [
      mmap(P0, pages(2), RW, PF),
      store(8, P0, 1n),
      fork([
        mmap(page(2), pages(1), RW | PROT_EXEC, PF),
        store(8, page(2), 2n),
        mprotect(page(2), pages(1), RW),
        maps,
      ]),
      mmap(page(2), pages(1), RW | PROT_EXEC, PF),
      store(8, page(2), 3n),
      mprotect(page(2), pages(1), RW),
      maps,
    ],
    expect: { "2.0": `0x${page(2).toString(16)}`, "2.2": "0", "2.3": "2", "2": "exit 0", "5": "0", "6": "1" },
    maps: {
      "2.3": [anonLine(0, 2, "rw-p"), anonLine(2, 3, "rw-p")],
      "6": [anonLine(0, 3, "rw-p")],
    },
  },
  {
    name: "anon-vma-merge-three",
    doc: "filling the hole between two written anonymous VMAs with distinct anon_vmas merges it with the left one only (vma_merge_new_range: prev and next may both go only if their anon_vmas agree); a hole next to an unwritten VMA closes",
    script: [
      mmap(P0, pages(1), RW, PF),
      store(8, P0, 1n),
      mmap(page(2), pages(1), RW, PF),
      store(8, page(2), 2n),
      mmap(page(1), pages(1), RW, PF),
      maps,
      mmap(page(4), pages(1), RW, PF),
      mmap(page(3), pages(1), RW, PF),
      maps,
      load(8, page(2)),
    ],
    expect: { "5": "2", "8": "2", "9": "0x2" },
    maps: {
      "5": [anonLine(0, 2, "rw-p"), anonLine(2, 3, "rw-p")],
      "8": [anonLine(0, 2, "rw-p"), anonLine(2, 5, "rw-p")],
    },
  },
  // ----------------------------------------------------------------------------- hosts differ
  {
    name: "zero-page",
    doc: "an anonymous read fault maps the zero page (no Rss, no anon_vma), unless the kernel forbids it: then a private page, which keeps a later neighbour from merging",
    script: [
      mmap(page(0), pages(2), RW, PF),
      load(8, page(0)),
      rss,
      store(8, page(1), 1n),
      rss,
      mmap(page(3), pages(1), RW, PF),
      load(8, page(3)),
      mmap(page(2), pages(1), RW, PF),
      maps,
    ],
    expect: { "1": "0x0", "3": "0", "6": "0x0" },
    byHost: {
      zeroPage: {
        expect: { "2": "rss 0 anon 0", "4": "rss 4 anon 4" },
        maps: { "8": [anonLine(0, 4, "rw-p")] },
      },
      noZeroPage: {
        expect: { "2": "rss 4 anon 4", "4": "rss 8 anon 8" },
        maps: { "8": [anonLine(0, 3, "rw-p"), anonLine(3, 4, "rw-p")] },
      },
    },
  },
  {
    name: "pkeys",
    doc: "pkey_alloc/pkey_mprotect/pkey_free and the thread's PKRU (pkeys(7)): keys split VMAs, PKEY_DISABLE_WRITE allows reads, a denied access is SEGV_PKUERR, a signal handler resets PKRU, key 0 may be freed, fork inherits PKRU; without PKU: -EINVAL, then -ENOSPC (6.18's mm_pkey_alloc), glibc's pkey_get/pkey_set -ENOSYS",
    script: [
      mmap(page(0), pages(2), RW, PF),
      store(32, page(0), 0x11n),
      pkeyAlloc(0, 0),
      pkeyAlloc(0, 2),
      pkeyAlloc(0, 4),
      pkeyAlloc(1, 0),
      pkeyMprotect(page(0), pages(1), RW, 1),
      pkeyMprotect(page(1), pages(1), RW, 2),
      maps,
      load(32, page(0)),
      load(32, page(1)),
      store(32, page(1), 5n),
      load(32, page(0)),
      pkeySet(1, 0),
      pkeyGet(1),
      pkeyGet(2),
      load(32, page(0)),
      pkeyGet(16),
      pkeySet(1, 4),
      pkeyMprotect(page(0), pages(1), RW, -1),
      pkeyMprotect(page(0), pages(1), RW, 5),
      pkeyFree(2),
      pkeyFree(2),
      pkeyAlloc(0, 0),
      pkeyFree(0),
      pkeyAlloc(0, 0),
      maps,
      fork([pkeyGet(1), load(32, page(0))]),
    ],
    expect: {
      "1": "0",
      "4": "-EINVAL",
      "5": "-EINVAL",
      "9": "0x11",
      "10": "0x0",
      "16": "0x11",
      "19": "0",
      "20": "-EINVAL",
      "22": "-EINVAL",
      "27.1": "0x11",
      "27": "exit 0",
    },
    byHost: {
      noPku: {
        expect: {
          "2": "-EINVAL",
          "3": "-ENOSPC",
          "6": "-EINVAL",
          "7": "-EINVAL",
          "11": "0",
          "12": "0x11",
          "13": "-ENOSYS",
          "14": "-ENOSYS",
          "15": "-ENOSYS",
          "17": "-ENOSYS",
          "18": "-ENOSYS",
          "21": "-EINVAL",
          "23": "-ENOSPC",
          "24": "-EINVAL",
          "25": "-ENOSPC",
          "27.0": "-ENOSYS",
        },
        maps: { "8": [anonLine(0, 2, "rw-p")], "26": [anonLine(0, 2, "rw-p")] },
      },
      pku: {
        expect: {
          "2": "0x1",
          "3": "0x2",
          "6": "0",
          "7": "0",
          "11": `SIGSEGV SEGV_PKUERR 0x${page(1).toString(16)}`,
          "12": `SIGSEGV SEGV_PKUERR 0x${page(0).toString(16)}`,
          "13": "0",
          "14": "0x0",
          "15": "0x1",
          "17": "-EINVAL",
          "18": "-EINVAL",
          "21": "0",
          "23": "0x2",
          "24": "0",
          "25": "0x0",
          "27.0": "0x0",
        },
        maps: {
          "8": [anonLine(0, 1, "rw-p"), anonLine(1, 2, "rw-p")],
          "26": [anonLine(0, 1, "rw-p"), anonLine(1, 2, "rw-p")],
        },
      },
    },
  },
  {
    name: "exec-only",
    doc: "PROT_EXEC alone: with PKU the mapping gets the mm's execute-only key (allocated once, not the user's to name or free), reads and writes fault SEGV_PKUERR, mprotect to another prot goes back to key 0, fork keeps it",
    script: [
      mmap(page(0), pages(1), PROT_EXEC, PF),
      load(8, page(0)),
      store(8, page(0), 1n),
      pkeyAlloc(0, 0),
      pkeyMprotect(page(0), pages(1), PROT_EXEC, 1),
      pkeyFree(1),
      mmap(page(1), pages(1), PROT_EXEC, PF),
      maps,
      mprotect(page(1), pages(1), PROT_READ | PROT_EXEC),
      load(8, page(1)),
      maps,
      mprotect(page(1), pages(1), PROT_EXEC),
      load(8, page(1)),
      maps,
      fork([load(8, page(0))]),
      mprotect(page(0), pages(2), PROT_NONE),
      load(8, page(0)),
    ],
    expect: {
      "4": "-EINVAL",
      "5": "-EINVAL",
      "8": "0",
      "9": "0x0",
      "11": "0",
      "14": "exit 0",
      "15": "0",
      "16": `SIGSEGV SEGV_ACCERR 0x${page(0).toString(16)}`,
    },
    maps: {
      "7": [anonLine(0, 2, "--xp")],
      "10": [anonLine(0, 1, "--xp"), anonLine(1, 2, "r-xp")],
      "13": [anonLine(0, 2, "--xp")],
    },
    byHost: {
      noPku: {
        expect: {
          "1": "0x0",
          "2": `SIGSEGV SEGV_ACCERR 0x${page(0).toString(16)}`,
          "3": "-EINVAL",
          "12": "0x0",
          "14.0": "0x0",
        },
      },
      pku: {
        expect: {
          "1": `SIGSEGV SEGV_PKUERR 0x${page(0).toString(16)}`,
          "2": `SIGSEGV SEGV_PKUERR 0x${page(0).toString(16)}`,
          "3": "0x2",
          "12": `SIGSEGV SEGV_PKUERR 0x${page(1).toString(16)}`,
          "14.0": `SIGSEGV SEGV_PKUERR 0x${page(0).toString(16)}`,
        },
      },
    },
  },
  // ----------------------------------------------------------------------------- mlock
  {
    name: "mlock-populate",
    doc: "mlock locks, then populates without ignoring errors (__mm_populate(start, len, 0)): memory GUP may not read (PROT_NONE; an execute-only key with PKU) fails with -ENOMEM, the range staying locked, and the walk stops there",
    script: [
      mmap(P0, pages(1), RW, PF),
      mmap(page(1), pages(1), PROT_NONE, PF),
      mmap(page(2), pages(1), RW, PF),
      mlock(P0, pages(3)),
      rss,
      munlock(P0, pages(3)),
      mmap(page(4), pages(1), PROT_EXEC, PF),
      mlock(page(4), pages(1)),
      maps,
    ],
    expect: { "3": "-ENOMEM", "4": "rss 4 anon 4", "5": "0" },
    byHost: {
      noPku: { expect: { "7": "0" } },
      pku: { expect: { "7": "-ENOMEM" } },
    },
  },
];

/** Every hand-written case: the mm ones above, then the shmem-file ones (cases-files.ts). */
export const CASES: readonly OracleCase[] = [...MM_CASES, ...FILE_CASES];
