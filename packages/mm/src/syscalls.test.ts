// Every documented errno of the mmap family, one table per syscall (reference linux-mm.md §3, §7 and
// the man pages mmap.2, munmap/mremap.2, mprotect.2, madvise.2, msync.2, mlock.2).
//
// Two kinds of rows:
//  - script rows: anonymous memory inside the oracle's arena, written in the oracle's script language
//    (test/oracle/script.ts). They run on Faultline through runOnFaultline, and the same rows run on
//    the machine's real kernel through runOnLinux when a C compiler is available, so every expected
//    value here is the kernel's, not our reading of it.
//  - Mm rows: what the oracle cannot express (files, drivers, limits, msync, mlock). They run on a
//    fresh Mm with a fake struct file; their expectations follow the kernel source cited in the row.
import { PAGE_SIZE, PhysMemory } from "@faultline/phys";
import { describe, expect, it } from "vitest";
import { runOnFaultline } from "../test/oracle/faultline";
import { liveKernelMismatch, runOnLinux } from "../test/oracle/linux";
import {
  load,
  MADV_BAD,
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
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  madvise,
  mmap,
  mprotect,
  mremap,
  munmap,
  type Op,
  PRIVATE_ANON,
  PROT_EXEC,
  PROT_GROWSDOWN,
  PROT_GROWSUP,
  PROT_NONE,
  PROT_READ,
  PROT_SEM,
  PROT_WRITE,
  page,
  pages,
  SHARED_ANON,
  store,
  TASK_SIZE,
  USER_TOP,
} from "../test/oracle/script";
import { resultsByIndex } from "../test/oracle/transcript";
import {
  EACCES,
  EAGAIN,
  EBUSY,
  EFAULT,
  EINVAL,
  ENODEV,
  ENOMEM,
  EOPNOTSUPP,
  EOVERFLOW,
  MAP_PRIVATE,
  MAP_SYNC,
  MS_ASYNC,
  MS_INVALIDATE,
  MS_SYNC,
  VM_IO,
  VM_LOCKED,
  VM_MAYWRITE,
  VM_SHARED,
} from "./index";
import { Mm } from "./mm";
import { ramOnly } from "./phys-access";
import { mapsLine } from "./procfs";
import { AddressSpaceMapping, type MmFile, type Vma } from "./vma";

const RW = PROT_READ | PROT_WRITE;
const PF = PRIVATE_ANON | MAP_FIXED;
const SF = SHARED_ANON | MAP_FIXED;
const MOVE = MREMAP_MAYMOVE | MREMAP_FIXED;
const MADV_HUGEPAGE = 14;
const MADV_COLD = 20;
const MADV_PAGEOUT = 21;
const MADV_POPULATE_READ = 22;
const MADV_POPULATE_WRITE = 23;
const MADV_DONTNEED_LOCKED = 24;
const MAP_DROPPABLE = 0x08;
const hex = (n: bigint) => `0x${n.toString(16)}`;
/** Any successful address (the kernel randomizes where a non-fixed mapping lands). */
const ANY_ADDR = "<addr>";

// ------------------------------------------------------------------------------ script rows

interface ScriptRow {
  readonly name: string;
  /** Ops run first; their results are not checked (the call's result depends on them). */
  readonly setup: readonly Op[];
  readonly call: Op;
  /** Transcript result: "-EINVAL", "0", "0x…", "SIGSEGV SEGV_MAPERR 0x…", or ANY_ADDR. */
  readonly expect: string;
}

const row = (name: string, setup: readonly Op[], call: Op, expectText: string): ScriptRow => ({
  name,
  setup,
  call,
  expect: expectText,
});

function resultOf(lines: readonly string[], r: ScriptRow): string {
  const got = resultsByIndex(lines).get(String(r.setup.length));
  if (got === undefined) throw new Error(`no result for the call in:\n${lines.join("\n")}`);
  return got;
}

function matches(got: string, want: string): boolean {
  return want === ANY_ADDR ? /^0x[0-9a-f]+$/.test(got) : got === want;
}

/** One describe per syscall: each row on Faultline, then all rows on the live kernel. */
function scriptTable(title: string, rows: readonly ScriptRow[]): void {
  describe(`${title} (script rows)`, () => {
    it.each(rows.map((r) => [r.name, r] as const))("%s", (_name, r) => {
      // runOnFaultline checks mm and physical-memory invariants and frees everything at the end.
      const lines = runOnFaultline([...r.setup, r.call]);
      const got = resultOf(lines, r);
      expect(matches(got, r.expect), `${lines.join("\n")}\nexpected ${r.expect}`).toBe(true);
    });
    const live = liveKernelMismatch();
    it.skipIf(live !== null)(
      `every row's expectation is what the real kernel returns${live ? ` [SKIPPED: ${live}]` : ""}`,
      () => {
        const wrong: string[] = [];
        for (const r of rows) {
          const got = resultOf(runOnLinux([...r.setup, r.call]), r);
          if (!matches(got, r.expect)) wrong.push(`${r.name}: kernel ${got}, table ${r.expect}`);
        }
        expect(wrong).toEqual([]);
      },
    );
  });
}

// ------------------------------------------------------------------------------ Mm rows

interface FakeFileOptions {
  readonly readable?: boolean;
  readonly writable?: boolean;
  readonly unsignedOffset?: boolean;
  /** f_op->mmap; null for a device without one. Default: accept (vm_ops left as the core set them). */
  readonly mmap?: ((vma: Vma) => number) | null;
}

let nextIno = 7000;
/** A struct file on devtmpfs (00:05) with the given f_mode and mmap method. */
function fakeFile(o: FakeFileOptions = {}): MmFile {
  const mmapFn = o.mmap === null ? undefined : (o.mmap ?? (() => 0));
  return {
    path: "/dev/fake",
    devMajor: 0,
    devMinor: 5,
    ino: ++nextIno,
    mapping: new AddressSpaceMapping("fake"),
    readable: o.readable ?? true,
    writable: o.writable ?? true,
    unsignedOffset: o.unsignedOffset ?? false,
    mmap: mmapFn,
    get() {},
    put() {},
  };
}

/** A driver whose mmap is remap_pfn_range of the pfns the offset names (LDD3 simple_remap_mmap). */
function remapFile(): MmFile {
  return fakeFile({
    mmap: (vma) =>
      vma.vmMm.remapPfnRange(vma, vma.vmStart, 0xfe000 + vma.vmPgoff, vma.vmEnd - vma.vmStart) ? -EAGAIN : 0,
  });
}

interface Ctx {
  readonly mm: Mm;
  readonly mem: PhysMemory;
}

interface MmRow {
  readonly name: string;
  readonly options?: { maxMapCount?: number; mlockLimit?: number };
  /** Returns the syscall's result; may run any setup first. */
  readonly run: (c: Ctx) => number;
  /** A negative errno, 0, or "addr" for any successful address. */
  readonly expect: number | "addr";
  /** Optional check of state after the call. */
  readonly after?: (c: Ctx) => void;
}

const A = 0x1000_0000_0000;
const P = PAGE_SIZE;
const at = (n: number) => A + n * P;

function mmTable(title: string, rows: readonly MmRow[]): void {
  describe(`${title} (Mm rows)`, () => {
    it.each(rows.map((r) => [r.name, r] as const))("%s", (_name, r) => {
      const mem = PhysMemory.create({ ramBytes: 16 * 1024 * 1024 });
      const free = mem.nrFreePages;
      const mm = new Mm(ramOnly(mem), r.options ?? {});
      const c = { mm, mem };
      const got = r.run(c);
      if (r.expect === "addr") {
        expect(got).toBeGreaterThanOrEqual(0);
        expect(got % P).toBe(0);
      } else expect(got).toBe(r.expect);
      r.after?.(c);
      mm.checkInvariants();
      mem.checkInvariants();
      mm.exit();
      expect(mem.nrFreePages).toBe(free);
    });
  });
}

// ================================================================================== mmap

scriptTable("mmap", [
  row("unaligned offset → EINVAL", [], mmap(page(0), pages(1), RW, PF, 0x10n), "-EINVAL"),
  row("unaligned offset is checked before len 0", [], mmap(page(0), 0n, RW, PF, 0x10n), "-EINVAL"),
  row(
    "unaligned offset is checked before a wrapping len",
    [],
    mmap(page(0), 0xffff_ffff_ffff_f001n, RW, PF, 0x10n),
    "-EINVAL",
  ),
  row("len 0 → EINVAL", [], mmap(page(0), 0n, RW, PF), "-EINVAL"),
  row(
    "len 0 is checked before the mapping type",
    [],
    mmap(page(0), 0n, RW, MAP_ANONYMOUS | MAP_FIXED),
    "-EINVAL",
  ),
  row("PAGE_ALIGN(len) wraps → ENOMEM", [], mmap(page(0), 0xffff_ffff_ffff_f001n, RW, PF), "-ENOMEM"),
  row("len -1 → ENOMEM", [], mmap(page(0), 0xffff_ffff_ffff_ffffn, RW, PRIVATE_ANON), "-ENOMEM"),
  row("len > TASK_SIZE → ENOMEM", [], mmap(0n, 0x8000_0000_0000_0000n, RW, PRIVATE_ANON), "-ENOMEM"),
  // do_mmap's EOVERFLOW test is a 64-bit wrap of pgoff + pages, which offset >> 12 can never reach.
  row(
    "the largest aligned offset does not overflow pgoff",
    [],
    mmap(page(0), pages(2), RW, PF, 0xffff_ffff_ffff_f000n),
    hex(page(0)),
  ),
  row("MAP_FIXED at 2^47 → ENOMEM", [], mmap(USER_TOP, pages(1), RW, PF), "-ENOMEM"),
  row(
    "MAP_FIXED ending past TASK_SIZE → ENOMEM",
    [],
    mmap(TASK_SIZE - pages(1), pages(2), RW, PF),
    "-ENOMEM",
  ),
  row("MAP_FIXED with an unaligned addr → EINVAL", [], mmap(page(0, 0x10), pages(1), RW, PF), "-EINVAL"),
  row("an unaligned hint is rounded down", [], mmap(page(0, 0x10), pages(1), RW, PRIVATE_ANON), hex(page(0))),
  row("a free hint is used", [], mmap(page(3), pages(2), RW, PRIVATE_ANON), hex(page(3))),
  row(
    "an occupied hint is ignored",
    [mmap(page(3), pages(2), RW, PF)],
    mmap(page(3), pages(2), RW, PRIVATE_ANON),
    ANY_ADDR,
  ),
  row(
    "MAP_FIXED_NOREPLACE over the head → EEXIST",
    [mmap(page(1), pages(2), RW, PF)],
    mmap(page(0), pages(2), RW, PRIVATE_ANON | MAP_FIXED_NOREPLACE),
    "-EEXIST",
  ),
  row(
    "MAP_FIXED_NOREPLACE over the tail → EEXIST",
    [mmap(page(1), pages(2), RW, PF)],
    mmap(page(2), pages(2), RW, PRIVATE_ANON | MAP_FIXED_NOREPLACE),
    "-EEXIST",
  ),
  row(
    "MAP_FIXED_NOREPLACE inside → EEXIST",
    [mmap(page(1), pages(3), RW, PF)],
    mmap(page(2), pages(1), RW, PRIVATE_ANON | MAP_FIXED_NOREPLACE),
    "-EEXIST",
  ),
  row(
    "MAP_FIXED_NOREPLACE covering → EEXIST",
    [mmap(page(1), pages(1), RW, PF)],
    mmap(page(0), pages(3), RW, PRIVATE_ANON | MAP_FIXED_NOREPLACE),
    "-EEXIST",
  ),
  row(
    "MAP_FIXED_NOREPLACE on free space succeeds",
    [mmap(page(1), pages(1), RW, PF)],
    mmap(page(2), pages(1), RW, PRIVATE_ANON | MAP_FIXED_NOREPLACE),
    hex(page(2)),
  ),
  row(
    "MAP_FIXED_NOREPLACE with an unaligned addr → EINVAL",
    [],
    mmap(page(0, 8), pages(1), RW, PRIVATE_ANON | MAP_FIXED_NOREPLACE),
    "-EINVAL",
  ),
  row(
    "MAP_FIXED replaces: the old data is gone",
    [mmap(page(0), pages(1), RW, PF), store(8, page(0), 0x55n), mmap(page(0), pages(1), PROT_READ, PF)],
    load(8, page(0)),
    "0x0",
  ),
  row(
    "no SHARED/PRIVATE type → EINVAL",
    [],
    mmap(page(0), pages(1), RW, MAP_ANONYMOUS | MAP_FIXED),
    "-EINVAL",
  ),
  row("type 0x0f → EINVAL", [], mmap(page(0), pages(1), RW, 0x0f | MAP_ANONYMOUS | MAP_FIXED), "-EINVAL"),
  row("type 0x04 → EINVAL", [], mmap(page(0), pages(1), RW, 0x04 | MAP_ANONYMOUS | MAP_FIXED), "-EINVAL"),
  row(
    "MAP_DROPPABLE anonymous (v6.11+) succeeds",
    [],
    mmap(page(0), pages(1), RW, MAP_DROPPABLE | MAP_ANONYMOUS | MAP_FIXED),
    hex(page(0)),
  ),
  row(
    "MAP_SHARED_VALIDATE anonymous → EINVAL",
    [],
    mmap(page(0), pages(1), RW, MAP_SHARED_VALIDATE | MAP_ANONYMOUS | MAP_FIXED),
    "-EINVAL",
  ),
  row(
    "MAP_SHARED_VALIDATE anonymous with an unknown flag → EINVAL",
    [],
    mmap(page(0), pages(1), RW, MAP_SHARED_VALIDATE | MAP_ANONYMOUS | MAP_FIXED | 0x400000),
    "-EINVAL",
  ),
  row("MAP_SHARED ignores unknown flags", [], mmap(page(0), pages(1), RW, SF | 0x400000), hex(page(0))),
  row("MAP_PRIVATE ignores unknown flags", [], mmap(page(0), pages(1), RW, PF | 0x400000), hex(page(0))),
  row(
    "MAP_GROWSDOWN on shared anonymous → EINVAL",
    [],
    mmap(page(0), pages(1), RW, SF | MAP_GROWSDOWN),
    "-EINVAL",
  ),
  row(
    "MAP_GROWSDOWN on private anonymous succeeds",
    [],
    mmap(page(4), pages(1), RW, PF | MAP_GROWSDOWN),
    hex(page(4)),
  ),
  row("PROT_NONE succeeds", [], mmap(page(0), pages(1), PROT_NONE, PF), hex(page(0))),
  row(
    "PROT_NONE access → SIGSEGV SEGV_ACCERR",
    [mmap(page(0), pages(1), PROT_NONE, PF)],
    load(8, page(0)),
    `SIGSEGV SEGV_ACCERR ${hex(page(0))}`,
  ),
  row("unknown prot bits are ignored by mmap", [], mmap(page(0), pages(1), RW | 0x10, PF), hex(page(0))),
  row("PROT_SEM is accepted", [], mmap(page(0), pages(1), RW | PROT_SEM, PF), hex(page(0))),
  row("MAP_LOCKED succeeds (CAP_IPC_LOCK)", [], mmap(page(0), pages(2), RW, PF | MAP_LOCKED), hex(page(0))),
]);

mmTable("mmap", [
  {
    name: "file: O_WRONLY + MAP_PRIVATE → EACCES (LTP mmap06)",
    run: ({ mm }) => mm.mmap(0, P, PROT_READ, MAP_PRIVATE, fakeFile({ readable: false }), 0),
    expect: -EACCES,
  },
  {
    name: "file: O_WRONLY + MAP_SHARED PROT_READ → EACCES",
    run: ({ mm }) => mm.mmap(0, P, PROT_READ, MAP_SHARED, fakeFile({ readable: false }), 0),
    expect: -EACCES,
  },
  {
    name: "file: O_WRONLY + MAP_SHARED PROT_WRITE → EACCES",
    run: ({ mm }) => mm.mmap(0, P, PROT_WRITE, MAP_SHARED, fakeFile({ readable: false }), 0),
    expect: -EACCES,
  },
  {
    name: "file: O_RDONLY + MAP_SHARED|PROT_WRITE → EACCES",
    run: ({ mm }) => mm.mmap(0, P, RW, MAP_SHARED, fakeFile({ writable: false }), 0),
    expect: -EACCES,
  },
  {
    name: "file: O_RDONLY + MAP_SHARED PROT_READ → OK, VM_MAYWRITE and VM_SHARED cleared, maps shows s",
    run: ({ mm }) => mm.mmap(A, P, PROT_READ, MAP_SHARED | MAP_FIXED, fakeFile({ writable: false }), 0),
    expect: A,
    after: ({ mm }) => {
      const v = mm.vmaLookup(A)!;
      expect(v.vmFlags & (VM_MAYWRITE | VM_SHARED)).toBe(0);
      expect(mapsLine(v).slice(26, 30)).toBe("r--s");
    },
  },
  {
    name: "file: O_RDONLY + MAP_PRIVATE PROT_WRITE → OK (COW)",
    run: ({ mm }) => mm.mmap(A, P, RW, MAP_PRIVATE | MAP_FIXED, fakeFile({ writable: false }), 0),
    expect: A,
  },
  {
    name: "file: f_op->mmap NULL → ENODEV",
    run: ({ mm }) => mm.mmap(0, P, PROT_READ, MAP_SHARED, fakeFile({ mmap: null }), 0),
    expect: -ENODEV,
  },
  {
    name: "file: bad type is EINVAL even without f_op->mmap",
    run: ({ mm }) => mm.mmap(0, P, PROT_READ, 0, fakeFile({ mmap: null }), 0),
    expect: -EINVAL,
  },
  {
    name: "file: driver ->mmap error is returned verbatim (simple: EAGAIN)",
    run: ({ mm }) => mm.mmap(0, P, PROT_READ, MAP_SHARED, fakeFile({ mmap: () => -EAGAIN }), 0),
    expect: -EAGAIN,
    after: ({ mm }) => expect(mm.mapCount).toBe(0),
  },
  {
    name: "file: a failing MAP_FIXED ->mmap leaves the old mapping in place",
    run: ({ mm }) => {
      mm.mmap(A, P, RW, PF, null, 0);
      return mm.mmap(A, P, PROT_READ, MAP_SHARED | MAP_FIXED, fakeFile({ mmap: () => -ENODEV }), 0);
    },
    expect: -ENODEV,
    after: ({ mm }) => expect(mm.vmaLookup(A)?.anonymous).toBe(true),
  },
  {
    name: "file: MAP_SHARED_VALIDATE with an unknown flag → EOPNOTSUPP",
    run: ({ mm }) => mm.mmap(0, P, PROT_READ, MAP_SHARED_VALIDATE | 0x400000, fakeFile(), 0),
    expect: -EOPNOTSUPP,
  },
  {
    name: "file: MAP_SHARED_VALIDATE|MAP_SYNC on a non-DAX file → EOPNOTSUPP",
    run: ({ mm }) => mm.mmap(0, P, PROT_READ, MAP_SHARED_VALIDATE | MAP_SYNC, fakeFile(), 0),
    expect: -EOPNOTSUPP,
  },
  {
    name: "file: MAP_SHARED ignores the unknown flag",
    run: ({ mm }) => mm.mmap(0, P, PROT_READ, MAP_SHARED | 0x400000, fakeFile(), 0),
    expect: "addr",
  },
  {
    name: "file: pgoff + pages overflows → EOVERFLOW",
    run: ({ mm }) => mm.mmap(0, 2 * P, PROT_READ, MAP_SHARED, fakeFile(), 2 ** 64 - P),
    expect: -EOVERFLOW,
  },
  {
    name: "file: MAP_GROWSDOWN on a file → EINVAL",
    run: ({ mm }) => mm.mmap(0, P, PROT_READ, MAP_PRIVATE | MAP_GROWSDOWN, fakeFile(), 0),
    expect: -EINVAL,
  },
  {
    name: "map_count at max_map_count → ENOMEM",
    options: { maxMapCount: 2 },
    run: ({ mm }) => {
      mm.mmap(at(0), P, PROT_READ, PF, null, 0);
      mm.mmap(at(2), P, PROT_READ, PF, null, 0);
      return mm.mmap(at(4), P, PROT_READ, PF, null, 0);
    },
    expect: -ENOMEM,
  },
  {
    name: "at max_map_count a mapping that merges still needs a free slot (mmap_region checks first)",
    options: { maxMapCount: 2 },
    run: ({ mm }) => {
      mm.mmap(at(0), P, PROT_READ, PF, null, 0);
      mm.mmap(at(2), P, PROT_READ, PF, null, 0);
      return mm.mmap(at(1), P, PROT_READ, PF, null, 0);
    },
    expect: -ENOMEM,
  },
  {
    name: "MAP_LOCKED over RLIMIT_MEMLOCK → EAGAIN",
    options: { mlockLimit: P },
    run: ({ mm }) => mm.mmap(0, 2 * P, RW, PRIVATE_ANON | MAP_LOCKED, null, 0),
    expect: -EAGAIN,
  },
  {
    name: "MAP_LOCKED within RLIMIT_MEMLOCK populates and counts locked_vm",
    options: { mlockLimit: 2 * P },
    run: ({ mm }) => mm.mmap(A, 2 * P, RW, PF | MAP_LOCKED, null, 0),
    expect: A,
    after: ({ mm }) => {
      expect(mm.lockedVm).toBe(2);
      expect(mm.rssAnon).toBe(2);
    },
  },
  {
    name: "MAP_LOCKED on a remap_pfn_range VMA is silently dropped",
    run: ({ mm }) => mm.mmap(A, P, RW, MAP_SHARED | MAP_FIXED | MAP_LOCKED, remapFile(), 0),
    expect: A,
    after: ({ mm }) => {
      expect(mm.vmaLookup(A)!.vmFlags & VM_LOCKED).toBe(0);
      expect(mm.lockedVm).toBe(0);
    },
  },
]);

// ================================================================================== munmap

scriptTable("munmap", [
  row("unaligned addr → EINVAL", [mmap(page(0), pages(2), RW, PF)], munmap(page(0, 1), pages(1)), "-EINVAL"),
  row("len 0 → EINVAL", [mmap(page(0), pages(2), RW, PF)], munmap(page(0), 0n), "-EINVAL"),
  row("addr above TASK_SIZE → EINVAL", [], munmap(USER_TOP, pages(1)), "-EINVAL"),
  row("len > TASK_SIZE - addr → EINVAL", [], munmap(TASK_SIZE - pages(1), pages(2)), "-EINVAL"),
  row("len -1 → EINVAL", [], munmap(page(0), 0xffff_ffff_ffff_ffffn), "-EINVAL"),
  row("nothing mapped → 0", [], munmap(page(0), pages(4)), "0"),
  row(
    "holes are fine",
    [mmap(page(0), pages(1), RW, PF), mmap(page(3), pages(1), RW, PF)],
    munmap(page(0), pages(4)),
    "0",
  ),
  row("partial unmap splits → 0", [mmap(page(0), pages(3), RW, PF)], munmap(page(1), pages(1)), "0"),
  row(
    "an unaligned len unmaps the whole last page",
    [mmap(page(0), pages(2), RW, PF), munmap(page(0), 1n)],
    load(8, page(0, 0xfff)),
    `SIGSEGV SEGV_MAPERR ${hex(page(0, 0xfff))}`,
  ),
  row(
    "the rest of a split mapping keeps its data",
    [mmap(page(0), pages(3), RW, PF), store(32, page(2, 8), 0xdeadbeefn), munmap(page(1), pages(1))],
    load(32, page(2, 8)),
    "0xdeadbeef",
  ),
]);

mmTable("munmap", [
  {
    name: "a split strictly inside one VMA at max_map_count → ENOMEM (LTP munmap04)",
    options: { maxMapCount: 1 },
    run: ({ mm }) => {
      mm.mmap(A, 3 * P, RW, PF, null, 0);
      return mm.munmap(at(1), P);
    },
    expect: -ENOMEM,
    after: ({ mm }) => expect(mm.vmaLookup(at(1))).not.toBeNull(),
  },
  {
    name: "trimming the end at max_map_count needs no new VMA → 0",
    options: { maxMapCount: 1 },
    run: ({ mm }) => {
      mm.mmap(A, 3 * P, RW, PF, null, 0);
      return mm.munmap(at(2), P);
    },
    expect: 0,
  },
  {
    name: "a ->may_split refusal fails a partial unmap with its errno",
    run: ({ mm }) => {
      const f = fakeFile({
        mmap: (vma) => {
          vma.vmOps = { maySplit: () => -EINVAL };
          return 0;
        },
      });
      mm.mmap(A, 2 * P, PROT_READ, MAP_SHARED | MAP_FIXED, f, 0);
      return mm.munmap(at(1), P);
    },
    expect: -EINVAL,
  },
]);

// ================================================================================== mremap

scriptTable("mremap", [
  row(
    "unknown flag → EINVAL",
    [mmap(page(0), pages(1), RW, PF)],
    mremap(page(0), pages(1), pages(1), 8),
    "-EINVAL",
  ),
  row(
    "unaligned old_address → EINVAL",
    [mmap(page(0), pages(1), RW, PF)],
    mremap(page(0, 1), pages(1), pages(1), 0),
    "-EINVAL",
  ),
  row(
    "PAGE_ALIGN(new_len) == 0 → EINVAL",
    [mmap(page(0), pages(1), RW, PF)],
    mremap(page(0), pages(1), 0n, 0),
    "-EINVAL",
  ),
  row(
    "FIXED without MAYMOVE → EINVAL",
    [mmap(page(0), pages(1), RW, PF)],
    mremap(page(0), pages(1), pages(1), MREMAP_FIXED, page(8)),
    "-EINVAL",
  ),
  row(
    "DONTUNMAP without MAYMOVE → EINVAL",
    [mmap(page(0), pages(1), RW, PF)],
    mremap(page(0), pages(1), pages(1), MREMAP_DONTUNMAP, page(8)),
    "-EINVAL",
  ),
  row(
    "FIXED with an unaligned new_address → EINVAL",
    [mmap(page(0), pages(1), RW, PF)],
    mremap(page(0), pages(1), pages(1), MOVE, page(8, 4)),
    "-EINVAL",
  ),
  row(
    "DONTUNMAP with old_len ≠ new_len → EINVAL",
    [mmap(page(0), pages(2), RW, PF)],
    mremap(page(0), pages(1), pages(2), MREMAP_MAYMOVE | MREMAP_DONTUNMAP),
    "-EINVAL",
  ),
  row(
    "no VMA at old_address → EFAULT (LTP mremap03)",
    [],
    mremap(page(0), pages(1), pages(2), MREMAP_MAYMOVE),
    "-EFAULT",
  ),
  row(
    "FIXED onto an overlapping range → EINVAL (LTP mremap05)",
    [mmap(page(0), pages(4), RW, PF)],
    mremap(page(0), pages(2), pages(2), MOVE, page(1)),
    "-EINVAL",
  ),
  row(
    "FIXED new range above TASK_SIZE → EINVAL",
    [mmap(page(0), pages(1), RW, PF)],
    mremap(page(0), pages(1), pages(1), MOVE, USER_TOP),
    "-EINVAL",
  ),
  row(
    "old_len 0 on a private mapping → EINVAL",
    [mmap(page(0), pages(1), RW, PF)],
    mremap(page(0), 0n, pages(1), MREMAP_MAYMOVE),
    "-EINVAL",
  ),
  row(
    "old_len 0 on a shared mapping duplicates it",
    [
      mmap(page(0), pages(1), RW, SF),
      store(32, page(0), 0x1234n),
      mremap(page(0), 0n, pages(1), MOVE, page(8)),
    ],
    load(32, page(8)),
    "0x1234",
  ),
  row(
    "old range past the VMA end → EFAULT",
    [mmap(page(0), pages(2), RW, PF)],
    mremap(page(0), pages(3), pages(4), MREMAP_MAYMOVE),
    "-EFAULT",
  ),
  row(
    "old range over two VMAs, resized → EFAULT",
    [mmap(page(0), pages(1), RW, PF), mmap(page(1), pages(1), PROT_READ, PF)],
    mremap(page(0), pages(2), pages(3), MREMAP_MAYMOVE),
    "-EFAULT",
  ),
  row(
    "pure FIXED move over two VMAs (v6.17+) succeeds",
    [mmap(page(0), pages(1), RW, PF), mmap(page(1), pages(1), PROT_READ, PF)],
    mremap(page(0), pages(2), pages(2), MOVE, page(8)),
    hex(page(8)),
  ),
  row(
    "grow blocked without MAYMOVE → ENOMEM (LTP mremap04)",
    [mmap(page(0), pages(1), RW, PF), mmap(page(1), pages(1), PROT_READ, PF)],
    mremap(page(0), pages(1), pages(2), 0),
    "-ENOMEM",
  ),
  row(
    "grow in place → old address",
    [mmap(page(0), pages(1), RW, PF)],
    mremap(page(0), pages(1), pages(3), 0),
    hex(page(0)),
  ),
  row(
    "grow of a range not ending at vm_end, without MAYMOVE → ENOMEM",
    [mmap(page(0), pages(3), RW, PF)],
    mremap(page(0), pages(1), pages(2), 0),
    "-ENOMEM",
  ),
  row(
    "grow blocked with MAYMOVE moves",
    [mmap(page(0), pages(1), RW, PF), mmap(page(1), pages(1), PROT_READ, PF)],
    mremap(page(0), pages(1), pages(2), MREMAP_MAYMOVE),
    ANY_ADDR,
  ),
  row(
    "shrink with MAYMOVE stays in place",
    [mmap(page(0), pages(3), RW, PF)],
    mremap(page(0), pages(3), pages(1), MREMAP_MAYMOVE),
    hex(page(0)),
  ),
  row(
    "shrink unmaps the tail",
    [mmap(page(0), pages(3), RW, PF), mremap(page(0), pages(3), pages(1), 0)],
    load(8, page(1)),
    `SIGSEGV SEGV_MAPERR ${hex(page(1))}`,
  ),
  row(
    "same size without FIXED is a no-op",
    [mmap(page(0), pages(2), RW, PF)],
    mremap(page(0), pages(2), pages(2), MREMAP_MAYMOVE),
    hex(page(0)),
  ),
  row(
    "FIXED move keeps the data",
    [
      mmap(page(0), pages(2), RW, PF),
      store(64, page(1, 8), 0x1122334455667788n),
      mremap(page(0), pages(2), pages(2), MOVE, page(10)),
    ],
    load(64, page(11, 8)),
    "0x1122334455667788",
  ),
  row(
    "FIXED move replaces the destination",
    [mmap(page(0), pages(1), RW, PF), mmap(page(10), pages(1), PROT_READ, PF)],
    mremap(page(0), pages(1), pages(1), MOVE, page(10)),
    hex(page(10)),
  ),
  row(
    "FIXED move unmaps the source",
    [mmap(page(0), pages(1), RW, PF), mremap(page(0), pages(1), pages(1), MOVE, page(10))],
    load(8, page(0)),
    `SIGSEGV SEGV_MAPERR ${hex(page(0))}`,
  ),
  row(
    "DONTUNMAP: private source reads zero",
    [
      mmap(page(0), pages(1), RW, PF),
      store(8, page(0), 0x77n),
      mremap(page(0), pages(1), pages(1), MOVE | MREMAP_DONTUNMAP, page(10)),
    ],
    load(8, page(0)),
    "0x0",
  ),
  row(
    "DONTUNMAP: shared source keeps its data",
    [
      mmap(page(0), pages(1), RW, SF),
      store(8, page(0), 0x77n),
      mremap(page(0), pages(1), pages(1), MOVE | MREMAP_DONTUNMAP, page(10)),
    ],
    load(8, page(0)),
    "0x77",
  ),
  row(
    "FIXED|DONTUNMAP of a VMA's last page onto the page right after it succeeds",
    [mmap(page(13), pages(2), PROT_NONE, PF)],
    mremap(page(14), pages(1), pages(1), MOVE | MREMAP_DONTUNMAP, page(15)),
    hex(page(15)),
  ),
  row(
    "growing shared anonymous memory past its object: new pages → SIGBUS",
    [mmap(page(0), pages(1), RW, SF), mremap(page(0), pages(1), pages(2), 0)],
    load(8, page(1)),
    `SIGBUS BUS_ADRERR ${hex(page(1))}`,
  ),
]);

/** A 2-page remap_pfn_range VMA at A (shared RW unless `flags` says otherwise). */
function mapRemap(mm: Mm, flags = MAP_SHARED | MAP_FIXED, prot = RW, len = 2 * P): number {
  return mm.mmap(A, len, prot, flags, remapFile(), 0);
}

mmTable("mremap", [
  {
    name: "FIXED without room for the worst-case splits → ENOMEM",
    options: { maxMapCount: 4 },
    run: ({ mm }) => {
      mm.mmap(at(0), P, RW, PF, null, 0);
      return mm.mremap(at(0), P, P, MOVE, at(8));
    },
    expect: -ENOMEM,
  },
  {
    name: "growing a VM_PFNMAP (remap_pfn_range) VMA → EFAULT",
    run: ({ mm }) => {
      mapRemap(mm);
      return mm.mremap(A, 2 * P, 3 * P, MREMAP_MAYMOVE);
    },
    expect: -EFAULT,
  },
  {
    name: "shrinking a VM_PFNMAP VMA is fine",
    run: ({ mm }) => {
      mapRemap(mm);
      return mm.mremap(A, 2 * P, P, 0);
    },
    expect: A,
  },
  {
    name: "a same-size FIXED move of a VM_PFNMAP VMA is fine",
    run: ({ mm }) => {
      mapRemap(mm);
      return mm.mremap(A, 2 * P, 2 * P, MOVE, at(16));
    },
    expect: at(16),
  },
  {
    name: "DONTUNMAP on a VM_PFNMAP VMA → EINVAL",
    run: ({ mm }) => {
      mapRemap(mm);
      return mm.mremap(A, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
    },
    expect: -EINVAL,
  },
  {
    name: "growing a locked VMA past RLIMIT_MEMLOCK → EAGAIN",
    options: { mlockLimit: 2 * P },
    run: ({ mm }) => {
      mm.mmap(A, 2 * P, RW, PF | MAP_LOCKED, null, 0);
      return mm.mremap(A, 2 * P, 3 * P, MREMAP_MAYMOVE);
    },
    expect: -EAGAIN,
  },
  {
    // resize_is_valid() only rejects a 64-bit wrap of pgoff + pages, impossible with pgoff < 2^52.
    // (A file with FMODE_UNSIGNED_OFFSET, like /dev/mem, may be mapped that high at all.)
    name: "grow near the top pgoff is no overflow: grows in place",
    run: ({ mm }) => {
      mm.mmap(A, P, PROT_READ, MAP_SHARED | MAP_FIXED, fakeFile({ unsignedOffset: true }), 2 ** 64 - 2 * P);
      return mm.mremap(A, P, 3 * P, MREMAP_MAYMOVE);
    },
    expect: A,
  },
  {
    name: "a ->mremap error reverts the move",
    run: ({ mm }) => {
      const f = fakeFile({
        mmap: (vma) => {
          vma.vmOps = { mremap: () => -EBUSY, fault: () => 2 };
          return 0;
        },
      });
      mm.mmap(A, P, PROT_READ, MAP_SHARED | MAP_FIXED, f, 0);
      return mm.mremap(A, P, P, MOVE, at(16));
    },
    expect: -EBUSY,
    after: ({ mm }) => {
      expect(mm.vmaLookup(A)).not.toBeNull();
      expect(mm.vmaLookup(at(16))).toBeNull();
    },
  },
]);

// ================================================================================== mprotect

scriptTable("mprotect", [
  row(
    "PROT_GROWSDOWN|PROT_GROWSUP → EINVAL",
    [mmap(page(0), pages(1), RW, PF)],
    mprotect(page(0), pages(1), PROT_READ | PROT_GROWSDOWN | PROT_GROWSUP),
    "-EINVAL",
  ),
  row(
    "unaligned start → EINVAL (LTP mprotect01)",
    [mmap(page(0), pages(1), RW, PF)],
    mprotect(page(0, 1), pages(1), PROT_READ),
    "-EINVAL",
  ),
  row("len 0 → 0 even unmapped", [], mprotect(page(0), 0n, PROT_READ), "0"),
  row("len 0 → 0 even with a bad prot", [], mprotect(page(0), 0n, 0x10), "0"),
  row(
    "len wraps → ENOMEM",
    [mmap(page(0), pages(1), RW, PF)],
    mprotect(page(0), 0xffff_ffff_ffff_f000n, PROT_READ),
    "-ENOMEM",
  ),
  row(
    "unknown prot bit → EINVAL",
    [mmap(page(0), pages(1), RW, PF)],
    mprotect(page(0), pages(1), 0x10),
    "-EINVAL",
  ),
  row(
    "PROT_SEM is accepted",
    [mmap(page(0), pages(1), RW, PF)],
    mprotect(page(0), pages(1), PROT_READ | PROT_SEM),
    "0",
  ),
  row(
    "PROT_EXEC is accepted",
    [mmap(page(0), pages(1), RW, PF)],
    mprotect(page(0), pages(1), PROT_READ | PROT_EXEC),
    "0",
  ),
  row("unmapped → ENOMEM", [], mprotect(page(0), pages(1), PROT_READ), "-ENOMEM"),
  row(
    "start in a hole before a VMA → ENOMEM",
    [mmap(page(1), pages(1), RW, PF)],
    mprotect(page(0), pages(2), PROT_READ),
    "-ENOMEM",
  ),
  row(
    "a hole in the middle → ENOMEM",
    [mmap(page(0), pages(1), RW, PF), mmap(page(2), pages(1), RW, PF)],
    mprotect(page(0), pages(3), PROT_READ),
    "-ENOMEM",
  ),
  row(
    "a hole in the middle: VMAs before it were already changed",
    [
      mmap(page(0), pages(1), RW, PF),
      mmap(page(2), pages(1), RW, PF),
      mprotect(page(0), pages(3), PROT_READ),
    ],
    store(8, page(0), 1n),
    `SIGSEGV SEGV_ACCERR ${hex(page(0))}`,
  ),
  row(
    "a hole in the middle: VMAs after it are unchanged",
    [
      mmap(page(0), pages(1), RW, PF),
      mmap(page(2), pages(1), RW, PF),
      mprotect(page(0), pages(3), PROT_READ),
    ],
    store(8, page(2), 1n),
    "0",
  ),
  row(
    "PROT_GROWSDOWN on a VMA without VM_GROWSDOWN → EINVAL",
    [mmap(page(0), pages(2), RW, PF)],
    mprotect(page(1), pages(1), PROT_READ | PROT_GROWSDOWN),
    "-EINVAL",
  ),
  row(
    "PROT_GROWSDOWN extends the change down to vm_start",
    [
      mmap(page(0), pages(3), RW, PF | MAP_GROWSDOWN),
      mprotect(page(2), pages(1), PROT_READ | PROT_GROWSDOWN),
    ],
    store(8, page(0), 1n),
    `SIGSEGV SEGV_ACCERR ${hex(page(0))}`,
  ),
  row(
    "PROT_GROWSUP on x86 → EINVAL",
    [mmap(page(0), pages(2), RW, PF)],
    mprotect(page(1), pages(1), PROT_READ | PROT_GROWSUP),
    "-EINVAL",
  ),
  row(
    "PROT_READ then write → SIGSEGV SEGV_ACCERR (LTP mprotect02)",
    [mmap(page(0), pages(1), RW, PF), store(8, page(0), 1n), mprotect(page(0), pages(1), PROT_READ)],
    store(8, page(0), 2n),
    `SIGSEGV SEGV_ACCERR ${hex(page(0))}`,
  ),
  row(
    "PROT_WRITE again → the write succeeds",
    [mmap(page(0), pages(1), PROT_READ, PF), mprotect(page(0), pages(1), RW)],
    store(8, page(0), 2n),
    "0",
  ),
  row(
    "shared RW → PROT_READ, write → SIGSEGV (LTP mprotect03)",
    [mmap(page(0), pages(1), RW, SF), store(8, page(0), 1n), mprotect(page(0), pages(1), PROT_READ)],
    store(8, page(0), 2n),
    `SIGSEGV SEGV_ACCERR ${hex(page(0))}`,
  ),
  row(
    "PROT_NONE → SIGSEGV (LTP mprotect04)",
    [mmap(page(0), pages(1), RW, PF), store(8, page(0), 1n), mprotect(page(0), pages(1), PROT_NONE)],
    load(8, page(0)),
    `SIGSEGV SEGV_ACCERR ${hex(page(0))}`,
  ),
  row(
    "PROT_NONE and back keeps the data",
    [
      mmap(page(0), pages(1), RW, PF),
      store(8, page(0), 9n),
      mprotect(page(0), pages(1), PROT_NONE),
      mprotect(page(0), pages(1), PROT_READ),
    ],
    load(8, page(0)),
    "0x9",
  ),
]);

mmTable("mprotect", [
  {
    name: "PROT_WRITE on MAP_SHARED of an O_RDONLY file → EACCES (LTP mprotect01)",
    run: ({ mm }) => {
      mm.mmap(A, P, PROT_READ, MAP_SHARED | MAP_FIXED, fakeFile({ writable: false }), 0);
      return mm.mprotect(A, P, RW);
    },
    expect: -EACCES,
  },
  {
    name: "PROT_WRITE on MAP_PRIVATE of an O_RDONLY file is fine",
    run: ({ mm }) => {
      mm.mmap(A, P, PROT_READ, MAP_PRIVATE | MAP_FIXED, fakeFile({ writable: false }), 0);
      return mm.mprotect(A, P, RW);
    },
    expect: 0,
  },
  {
    name: "a ->may_split refusal fails a partial mprotect with its errno",
    run: ({ mm }) => {
      const f = fakeFile({
        mmap: (vma) => {
          vma.vmOps = { maySplit: () => -EINVAL };
          return 0;
        },
      });
      mm.mmap(A, 2 * P, RW, MAP_SHARED | MAP_FIXED, f, 0);
      return mm.mprotect(A, P, PROT_READ);
    },
    expect: -EINVAL,
  },
]);

// ================================================================================== madvise

scriptTable("madvise", [
  row(
    "unknown advice → EINVAL",
    [mmap(page(0), pages(1), RW, PF)],
    madvise(page(0), pages(1), MADV_BAD),
    "-EINVAL",
  ),
  row("unknown advice with len 0 → EINVAL", [], madvise(page(0), 0n, MADV_BAD), "-EINVAL"),
  row(
    "unaligned start → EINVAL",
    [mmap(page(0), pages(1), RW, PF)],
    madvise(page(0, 1), pages(1), MADV_NORMAL),
    "-EINVAL",
  ),
  row("len 0 → 0 even unmapped", [], madvise(page(0), 0n, MADV_DONTNEED), "0"),
  row(
    "len wraps → EINVAL",
    [mmap(page(0), pages(1), RW, PF)],
    madvise(page(0), 0xffff_ffff_ffff_ffffn, MADV_NORMAL),
    "-EINVAL",
  ),
  row("unmapped → ENOMEM", [], madvise(page(0), pages(1), MADV_NORMAL), "-ENOMEM"),
  row(
    "partly unmapped → ENOMEM",
    [mmap(page(0), pages(1), RW, PF)],
    madvise(page(0), pages(2), MADV_DONTNEED),
    "-ENOMEM",
  ),
  row(
    "partly unmapped: the mapped part is still advised",
    [mmap(page(1), pages(1), RW, PF), store(8, page(1), 5n), madvise(page(0), pages(2), MADV_DONTNEED)],
    load(8, page(1)),
    "0x0",
  ),
  row(
    "MADV_NORMAL/RANDOM/SEQUENTIAL/WILLNEED → 0",
    [mmap(page(0), pages(1), RW, PF)],
    madvise(page(0), pages(1), MADV_RANDOM),
    "0",
  ),
  row(
    "MADV_SEQUENTIAL → 0",
    [mmap(page(0), pages(1), RW, PF)],
    madvise(page(0), pages(1), MADV_SEQUENTIAL),
    "0",
  ),
  row("MADV_WILLNEED → 0", [mmap(page(0), pages(1), RW, PF)], madvise(page(0), pages(1), MADV_WILLNEED), "0"),
  row(
    "DONTNEED zero-fills private anonymous memory",
    [mmap(page(0), pages(1), RW, PF), store(8, page(0), 5n), madvise(page(0), pages(1), MADV_DONTNEED)],
    load(8, page(0)),
    "0x0",
  ),
  row(
    "DONTNEED keeps shared anonymous data",
    [mmap(page(0), pages(1), RW, SF), store(8, page(0), 5n), madvise(page(0), pages(1), MADV_DONTNEED)],
    load(8, page(0)),
    "0x5",
  ),
  row(
    "DONTNEED on VM_LOCKED → EINVAL",
    [mmap(page(0), pages(1), RW, PF | MAP_LOCKED)],
    madvise(page(0), pages(1), MADV_DONTNEED),
    "-EINVAL",
  ),
  row(
    "DONTNEED_LOCKED on VM_LOCKED → 0",
    [mmap(page(0), pages(1), RW, PF | MAP_LOCKED)],
    madvise(page(0), pages(1), MADV_DONTNEED_LOCKED),
    "0",
  ),
  row(
    "FREE on private anonymous → 0",
    [mmap(page(0), pages(1), RW, PF)],
    madvise(page(0), pages(1), MADV_FREE),
    "0",
  ),
  row(
    "FREE on shared anonymous → EINVAL",
    [mmap(page(0), pages(1), RW, SF)],
    madvise(page(0), pages(1), MADV_FREE),
    "-EINVAL",
  ),
  row(
    "REMOVE on private → EINVAL",
    [mmap(page(0), pages(1), RW, PF)],
    madvise(page(0), pages(1), MADV_REMOVE),
    "-EINVAL",
  ),
  row(
    "REMOVE on shared anonymous → 0",
    [mmap(page(0), pages(1), RW, SF)],
    madvise(page(0), pages(1), MADV_REMOVE),
    "0",
  ),
  // madvise_remove() asks vma_is_shared_maywrite(): VM_MAYWRITE, not VM_WRITE.
  row(
    "REMOVE on shared PROT_READ (VM_MAYWRITE) → 0",
    [mmap(page(0), pages(1), PROT_READ, SF)],
    madvise(page(0), pages(1), MADV_REMOVE),
    "0",
  ),
  row(
    "WIPEONFORK on private anonymous → 0",
    [mmap(page(0), pages(1), RW, PF)],
    madvise(page(0), pages(1), MADV_WIPEONFORK),
    "0",
  ),
  row(
    "WIPEONFORK on shared → EINVAL",
    [mmap(page(0), pages(1), RW, SF)],
    madvise(page(0), pages(1), MADV_WIPEONFORK),
    "-EINVAL",
  ),
  row("KEEPONFORK → 0", [mmap(page(0), pages(1), RW, PF)], madvise(page(0), pages(1), MADV_KEEPONFORK), "0"),
  row("DONTFORK → 0", [mmap(page(0), pages(1), RW, PF)], madvise(page(0), pages(1), MADV_DONTFORK), "0"),
  row("DOFORK → 0", [mmap(page(0), pages(1), RW, PF)], madvise(page(0), pages(1), MADV_DOFORK), "0"),
  row("HUGEPAGE → 0", [mmap(page(0), pages(1), RW, PF)], madvise(page(0), pages(1), MADV_HUGEPAGE), "0"),
  row("COLD → 0", [mmap(page(0), pages(1), RW, PF)], madvise(page(0), pages(1), MADV_COLD), "0"),
  row("PAGEOUT → 0", [mmap(page(0), pages(1), RW, PF)], madvise(page(0), pages(1), MADV_PAGEOUT), "0"),
  row(
    "COLD on VM_LOCKED → EINVAL",
    [mmap(page(0), pages(1), RW, PF | MAP_LOCKED)],
    madvise(page(0), pages(1), MADV_COLD),
    "-EINVAL",
  ),
  row(
    "POPULATE_READ → 0",
    [mmap(page(0), pages(1), RW, PF)],
    madvise(page(0), pages(1), MADV_POPULATE_READ),
    "0",
  ),
  row(
    "POPULATE_WRITE → 0",
    [mmap(page(0), pages(1), RW, PF)],
    madvise(page(0), pages(1), MADV_POPULATE_WRITE),
    "0",
  ),
  row(
    "POPULATE_WRITE on a read-only mapping → EINVAL (incompatible permissions)",
    [mmap(page(0), pages(1), PROT_READ, PF)],
    madvise(page(0), pages(1), MADV_POPULATE_WRITE),
    "-EINVAL",
  ),
  row(
    "POPULATE_READ on PROT_NONE → EINVAL",
    [mmap(page(0), pages(1), PROT_NONE, PF)],
    madvise(page(0), pages(1), MADV_POPULATE_READ),
    "-EINVAL",
  ),
  row(
    "POPULATE_READ hitting SIGBUS → EFAULT",
    [mmap(page(0), pages(1), RW, SF), mremap(page(0), pages(1), pages(2), 0)],
    madvise(page(0), pages(2), MADV_POPULATE_READ),
    "-EFAULT",
  ),
  row(
    "POPULATE_READ over a hole → ENOMEM",
    [mmap(page(0), pages(1), RW, PF)],
    madvise(page(0), pages(2), MADV_POPULATE_READ),
    "-ENOMEM",
  ),
]);

mmTable("madvise", [
  ...(
    [
      ["DONTNEED", MADV_DONTNEED],
      ["DONTNEED_LOCKED", MADV_DONTNEED_LOCKED],
      ["FREE", MADV_FREE],
      ["WIPEONFORK", MADV_WIPEONFORK],
      ["COLD", MADV_COLD],
      ["PAGEOUT", MADV_PAGEOUT],
      ["POPULATE_READ", MADV_POPULATE_READ],
      ["POPULATE_WRITE", MADV_POPULATE_WRITE],
    ] as const
  ).map(
    ([name, advice]): MmRow => ({
      name: `${name} on VM_PFNMAP → EINVAL (selftests pfnmap.c)`,
      run: ({ mm }) => {
        mapRemap(mm);
        return mm.madvise(A, 2 * P, advice);
      },
      expect: -EINVAL,
    }),
  ),
  {
    name: "DOFORK on VM_IO → EINVAL",
    run: ({ mm }) => {
      mapRemap(mm);
      return mm.madvise(A, 2 * P, MADV_DOFORK);
    },
    expect: -EINVAL,
    after: ({ mm }) => expect(mm.vmaLookup(A)!.vmFlags & VM_IO).toBe(VM_IO),
  },
  {
    name: "FREE on a private file mapping → EINVAL",
    run: ({ mm }) => {
      mm.mmap(A, P, RW, MAP_PRIVATE | MAP_FIXED, fakeFile(), 0);
      return mm.madvise(A, P, MADV_FREE);
    },
    expect: -EINVAL,
  },
]);

// ================================================================================== msync

mmTable("msync", [
  {
    name: "unknown flag → EINVAL",
    run: ({ mm }) => mm.msync(mapAnon(mm), P, 8),
    expect: -EINVAL,
  },
  {
    name: "unaligned addr → EINVAL",
    run: ({ mm }) => mm.msync(mapAnon(mm) + 1, P, MS_SYNC),
    expect: -EINVAL,
  },
  {
    name: "MS_ASYNC|MS_SYNC → EINVAL",
    run: ({ mm }) => mm.msync(mapAnon(mm), P, MS_ASYNC | MS_SYNC),
    expect: -EINVAL,
  },
  { name: "len 0 → 0 even unmapped", run: ({ mm }) => mm.msync(A, 0, MS_SYNC), expect: 0 },
  { name: "unmapped → ENOMEM", run: ({ mm }) => mm.msync(A, P, MS_SYNC), expect: -ENOMEM },
  { name: "unmapped with MS_ASYNC → ENOMEM", run: ({ mm }) => mm.msync(A, P, MS_ASYNC), expect: -ENOMEM },
  { name: "len wraps → ENOMEM", run: ({ mm }) => mm.msync(mapAnon(mm), -P, MS_SYNC), expect: -ENOMEM },
  { name: "mapped, MS_SYNC → 0", run: ({ mm }) => mm.msync(mapAnon(mm), P, MS_SYNC), expect: 0 },
  { name: "mapped, flags 0 → 0", run: ({ mm }) => mm.msync(mapAnon(mm), P, 0), expect: 0 },
  { name: "mapped, MS_INVALIDATE → 0", run: ({ mm }) => mm.msync(mapAnon(mm), P, MS_INVALIDATE), expect: 0 },
  {
    name: "a hole after the start, MS_SYNC → ENOMEM",
    run: ({ mm }) => {
      mapAnon(mm);
      mm.mmap(at(2), P, RW, PF, null, 0);
      return mm.msync(A, 3 * P, MS_SYNC);
    },
    expect: -ENOMEM,
  },
  {
    name: "a hole at the start → ENOMEM",
    run: ({ mm }) => {
      mm.mmap(at(1), P, RW, PF, null, 0);
      return mm.msync(A, 2 * P, MS_SYNC);
    },
    expect: -ENOMEM,
  },
  {
    name: "MS_INVALIDATE on VM_LOCKED → EBUSY",
    run: ({ mm }) => {
      mm.mmap(A, P, RW, PF | MAP_LOCKED, null, 0);
      return mm.msync(A, P, MS_INVALIDATE);
    },
    expect: -EBUSY,
  },
  {
    name: "MS_SYNC on VM_LOCKED → 0",
    run: ({ mm }) => {
      mm.mmap(A, P, RW, PF | MAP_LOCKED, null, 0);
      return mm.msync(A, P, MS_SYNC);
    },
    expect: 0,
  },
]);

function mapAnon(mm: Mm, len = P): number {
  return mm.mmap(A, len, RW, PF, null, 0);
}

// ================================================================================== mlock

mmTable("mlock", [
  { name: "unmapped → ENOMEM", run: ({ mm }) => mm.mlock(A, P), expect: -ENOMEM },
  { name: "len 0 → 0 even unmapped", run: ({ mm }) => mm.mlock(A, 0), expect: 0 },
  {
    name: "a hole → ENOMEM",
    run: ({ mm }) => {
      mapAnon(mm);
      mm.mmap(at(2), P, RW, PF, null, 0);
      return mm.mlock(A, 3 * P);
    },
    expect: -ENOMEM,
  },
  {
    name: "addr + len wraps → EINVAL",
    run: ({ mm }) => mm.mlock(mapAnon(mm), -2 * P),
    expect: -EINVAL,
  },
  {
    name: "more than RLIMIT_MEMLOCK → ENOMEM",
    options: { mlockLimit: P },
    run: ({ mm }) => mm.mlock(mapAnon(mm, 2 * P), 2 * P),
    expect: -ENOMEM,
  },
  {
    name: "locks, populates and counts locked_vm",
    run: ({ mm }) => mm.mlock(mapAnon(mm, 2 * P), 2 * P),
    expect: 0,
    after: ({ mm }) => {
      expect(mm.lockedVm).toBe(2);
      expect(mm.rssAnon).toBe(2);
      expect(mm.vmaLookup(A)!.vmFlags & VM_LOCKED).toBe(VM_LOCKED);
    },
  },
  {
    name: "an unaligned start is rounded down, the length up",
    run: ({ mm }) => mm.mlock(mapAnon(mm, 2 * P) + 10, P),
    expect: 0,
    after: ({ mm }) => expect(mm.lockedVm).toBe(2),
  },
  {
    name: "VM_PFNMAP memory is silently not locked, not counted",
    run: ({ mm }) => {
      mapRemap(mm);
      return mm.mlock(A, 2 * P);
    },
    expect: 0,
    after: ({ mm }) => {
      expect(mm.lockedVm).toBe(0);
      expect(mm.vmaLookup(A)!.vmFlags & VM_LOCKED).toBe(0);
    },
  },
  {
    name: "locking twice counts once",
    options: { mlockLimit: 2 * P },
    run: ({ mm }) => {
      mm.mlock(mapAnon(mm, 2 * P), 2 * P);
      return mm.mlock(A, 2 * P);
    },
    expect: 0,
    after: ({ mm }) => expect(mm.lockedVm).toBe(2),
  },
  { name: "munlock unmapped → ENOMEM", run: ({ mm }) => mm.munlock(A, P), expect: -ENOMEM },
  {
    name: "munlock uncounts",
    run: ({ mm }) => {
      mm.mlock(mapAnon(mm, 2 * P), 2 * P);
      return mm.munlock(A, P);
    },
    expect: 0,
    after: ({ mm }) => expect(mm.lockedVm).toBe(1),
  },
]);

describe("mmap file range (file_mmap_ok)", () => {
  it("a character device ends at MAX_LFS_FILESIZE: an offset past it is -EOVERFLOW", () => {
    const mem = PhysMemory.create({ ramBytes: 8 * 1024 * 1024 });
    const mm = new Mm(ramOnly(mem));
    expect(mm.mmap(A, P, PROT_READ, MAP_SHARED | MAP_FIXED, fakeFile(), 2 ** 63)).toBe(-EOVERFLOW);
    expect(
      mm.mmap(A, P, PROT_READ, MAP_SHARED | MAP_FIXED, fakeFile({ unsignedOffset: true }), 2 ** 63),
    ).toBe(A);
    mm.exit();
  });
});
