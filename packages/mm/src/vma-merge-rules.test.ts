// The merge and split rules of mm/vma.c one at a time, each case built so that breaking one rule
// changes what /proc/PID/maps prints or what a forked child reads (issue 16: the mutants of vma.ts
// that the other merge tests let through):
// - __split_vma(): both pieces keep their file offsets (vm_pgoff), ->may_split may refuse, ->open is
//   optional;
// - can_vma_merge_left/right(): adjacency, file offset continuity, same file, flags, pkey; VM_SPECIAL
//   never merges;
// - vma_merge_new_range(): prev, next or both expand over a new range (mmap, mremap's copy_vma,
//   vma_merge_extend), and prev and next must agree on their anon_vmas to become one;
// - vma_merge_existing_range(): a changed range at the start or end of a VMA, or the whole of it,
//   joins prev, next or both; a VMA with ->close is never deleted by a merge, but may shrink (2.6.10's
//   is_mergeable_vma() refused any prev or next with ->close instead);
// - mremap growing in place: vma_merge_extend() joins a compatible next (2.6.10's vma_adjust() did not);
// - the merged VMA keeps the anon_vma of whichever piece had one (dup_anon_vma): otherwise fork would
//   not copy its pages (vma_needs_copy) and the child would read zeros;
// - anon_vma_prepare(): a neighbour's anon_vma is shared only if the flags other than VM_READ/WRITE/
//   EXEC agree (anon_vma_compatible).
// Script cases run on Faultline everywhere and, with a C compiler and the modelled kernel series, on
// the machine's kernel too (expected values here are what Linux 6.18 printed). Driver cases (vm_ops,
// VM_PFNMAP, pkeys, two files) run on an Mm and follow mm/vma.c as cited.
import { PhysMemory } from "@faultline/phys";
import { describe, expect, it } from "vitest";
import { runOnFaultline } from "../test/oracle/faultline";
import { liveKernelMismatch, runOnLinux } from "../test/oracle/linux";
import {
  ARENA,
  fork,
  load,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  madvise,
  maps,
  memfd,
  mlock,
  mmap,
  mmapfd,
  mprotect,
  mremap,
  munlock,
  munmap,
  PRIVATE_ANON,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  page,
  pages,
  type Script,
  store,
} from "../test/oracle/script";
import { mapsAt, resultsByIndex } from "../test/oracle/transcript";
import { A, at, fakeFile, P, remapFile } from "../test/syscall-tables";
import {
  EFAULT,
  EINVAL,
  ENOMEM,
  type Era,
  MADV_GUARD_INSTALL,
  MADV_NORMAL,
  MADV_RANDOM,
  MAP_LOCKED,
  Mm,
  Mmu,
  VM_DONTCOPY,
  VM_DONTDUMP,
  VM_DONTEXPAND,
  VM_FAULT_SIGBUS,
  VM_IO,
  VM_LOCKED,
  VM_MIXEDMAP,
  VM_RESERVED,
  type Vma,
  type VmOperations,
  vmFlagsString,
} from "./index";
import { ramOnly } from "./phys-access";

const RW = PROT_READ | PROT_WRITE;
const PF = PRIVATE_ANON | MAP_FIXED;
const SHF = MAP_SHARED | MAP_FIXED;
const MOVE = MREMAP_MAYMOVE | MREMAP_FIXED;

/** A maps line as `<first page>-<end page> <perms> <offset in pages>`, pages counted from the arena. */
function brief(line: string): string {
  const [range, perms, off] = line.split(/\s+/) as [string, string, string];
  const [s, e] = range.split("-").map((h) => Number((BigInt(`0x${h}`) - ARENA.base) / 4096n));
  return `${s}-${e} ${perms} ${Number.parseInt(off, 16) / 4096}`;
}

interface Case {
  readonly name: string;
  readonly script: Script;
  /** The maps printed by the script's last op, in brief(). */
  readonly maps: readonly string[];
  /** The value the forked child's first op (a load) must read. */
  readonly childLoads?: string;
}

const CASES: readonly Case[] = [
  // ---------------------------------------------------------------------------------- __split_vma
  {
    // The piece below keeps vm_pgoff; the pieces above start (addr - vm_start) >> PAGE_SHIFT later.
    name: "mprotect of a middle page: each piece keeps its file offset",
    script: [
      memfd(pages(4)),
      mmapfd(page(0), pages(3), RW, SHF, 0, pages(1)),
      mprotect(page(1), pages(1), PROT_READ),
      maps,
    ],
    maps: ["0-1 rw-s 1", "1-2 r--s 2", "2-3 rw-s 3"],
  },
  // ------------------------------------------------------------------ vma_merge_existing_range
  {
    // Changing the first page of a VMA to prev's flags: prev grows, the VMA shrinks from the
    // start and its vm_pgoff moves with it (__adjust_middle_start).
    name: "mprotect of a VMA's first page like prev: prev grows, the rest keeps its offset",
    script: [
      memfd(pages(4)),
      mmapfd(page(0), pages(4), RW, SHF, 0, 0n),
      mprotect(page(2), pages(2), PROT_READ),
      mprotect(page(2), pages(1), RW),
      maps,
    ],
    maps: ["0-3 rw-s 0", "3-4 r--s 3"],
  },
  {
    // Changing the last page of a VMA to next's flags: next grows down and takes that page's
    // offset (__adjust_next_start); the VMA keeps its head.
    name: "mprotect of a VMA's last page like next: next grows down to it",
    script: [
      memfd(pages(4)),
      mmapfd(page(0), pages(4), RW, SHF, 0, 0n),
      mprotect(page(0), pages(2), PROT_READ),
      mprotect(page(1), pages(1), RW),
      maps,
    ],
    maps: ["0-1 r--s 0", "1-4 rw-s 1"],
  },
  {
    // The whole middle VMA made like prev but not like next: prev takes it, next stays apart.
    name: "mprotect of a whole VMA like prev only: two VMAs, not one",
    script: [
      mmap(page(0), pages(3), RW, PF),
      mprotect(page(1), pages(2), PROT_READ),
      mprotect(page(2), pages(1), PROT_NONE),
      mprotect(page(1), pages(1), RW),
      maps,
    ],
    maps: ["0-2 rw-p 0", "2-3 ---p 0"],
  },
  {
    // can_vma_merge_left(): prev must end where the range starts, file offsets lining up is not enough.
    name: "mprotect like a prev across a hole does not merge",
    script: [
      memfd(pages(4)),
      mmapfd(page(0), pages(1), RW, SHF, 0, 0n),
      mmapfd(page(2), pages(1), PROT_READ, SHF, 0, pages(1)),
      mprotect(page(2), pages(1), RW),
      maps,
    ],
    maps: ["0-1 rw-s 0", "2-3 rw-s 1"],
  },
  {
    name: "mprotect like a next across a hole does not merge",
    script: [
      memfd(pages(4)),
      mmapfd(page(0), pages(1), PROT_READ, SHF, 0, 0n),
      mmapfd(page(2), pages(1), RW, SHF, 0, pages(1)),
      mprotect(page(0), pages(1), RW),
      maps,
    ],
    maps: ["0-1 rw-s 0", "2-3 rw-s 1"],
  },
  // ----------------------------------------------------------------------- vma_merge_new_range
  {
    // can_vma_merge_after(): prev->vm_pgoff + vma_pages(prev) == pgoff.
    name: "a new mapping after prev at a non-contiguous file offset stays apart",
    script: [
      memfd(pages(8)),
      mmapfd(page(0), pages(1), RW, SHF, 0, 0n),
      mmapfd(page(1), pages(1), RW, SHF, 0, pages(3)),
      maps,
    ],
    maps: ["0-1 rw-s 0", "1-2 rw-s 3"],
  },
  {
    // can_vma_merge_before(): next->vm_pgoff == pgoff + pglen.
    name: "a new mapping before next at a non-contiguous file offset stays apart",
    script: [
      memfd(pages(8)),
      mmapfd(page(1), pages(1), RW, SHF, 0, 0n),
      mmapfd(page(0), pages(1), RW, SHF, 0, pages(2)),
      maps,
    ],
    maps: ["0-1 rw-s 2", "1-2 rw-s 0"],
  },
  {
    // Next grows down over the new range and takes its offset.
    name: "a new mapping just below next at the offset before it: next grows down",
    script: [
      memfd(pages(8)),
      mmapfd(page(1), pages(1), RW, SHF, 0, pages(3)),
      mmapfd(page(0), pages(1), RW, SHF, 0, pages(2)),
      maps,
    ],
    maps: ["0-2 rw-s 2"],
  },
  {
    // is_mergeable_vma(): vma->vm_file != vmg->file (two memfds, offsets lining up).
    name: "mappings of two different files never merge",
    script: [
      memfd(pages(2)),
      memfd(pages(2)),
      mmapfd(page(0), pages(1), RW, SHF, 0, 0n),
      mmapfd(page(1), pages(1), RW, SHF, 1, pages(1)),
      maps,
    ],
    maps: ["0-1 rw-s 0", "1-2 rw-s 1"],
  },
  {
    // prev merges, next (other flags) does not: only prev grows.
    name: "a new mapping between a compatible prev and an incompatible next joins prev only",
    script: [
      mmap(page(0), pages(1), RW, PF),
      mmap(page(2), pages(1), PROT_READ, PF),
      mmap(page(1), pages(1), RW, PF),
      maps,
    ],
    maps: ["0-2 rw-p 0", "2-3 r--p 0"],
  },
  {
    // Both sides merge; only prev has an anon_vma (compatible): one VMA that keeps prev's.
    name: "a new mapping between a faulted prev and an unfaulted next: one VMA, prev's pages forked",
    script: [
      mmap(page(0), pages(1), RW, PF),
      store(8, page(0), 0x11n),
      mmap(page(2), pages(1), RW, PF),
      mmap(page(1), pages(1), RW, PF),
      fork([load(8, page(0))]),
      maps,
    ],
    maps: ["0-3 rw-p 0"],
    childLoads: "0x11",
  },
  {
    // Only next has one: prev takes next's anon_vma as next is deleted.
    name: "a new mapping between an unfaulted prev and a faulted next: one VMA, next's pages forked",
    script: [
      mmap(page(0), pages(1), RW, PF),
      mmap(page(2), pages(1), RW, PF),
      store(8, page(2), 0x22n),
      mmap(page(1), pages(1), RW, PF),
      fork([load(8, page(2))]),
      maps,
    ],
    maps: ["0-3 rw-p 0"],
    childLoads: "0x22",
  },
  {
    name: "a new mapping after a faulted prev: prev grows and keeps its anon_vma",
    script: [
      mmap(page(0), pages(1), RW, PF),
      store(8, page(0), 0x12n),
      mmap(page(1), pages(1), RW, PF),
      fork([load(8, page(0))]),
      maps,
    ],
    maps: ["0-2 rw-p 0"],
    childLoads: "0x12",
  },
  {
    name: "a new mapping below a faulted next: next grows down and keeps its anon_vma",
    script: [
      mmap(page(1), pages(1), RW, PF),
      store(8, page(1), 0x21n),
      mmap(page(0), pages(1), RW, PF),
      fork([load(8, page(1))]),
      maps,
    ],
    maps: ["0-2 rw-p 0"],
    childLoads: "0x21",
  },
  {
    // copy_vma() → vma_expand(): the unfaulted prev takes the moved VMA's anon_vma (dup_anon_vma
    // from copied_from). The faulted page keeps its pgoff (page 11), so it lines up with page 10.
    name: "mremap of a faulted page just after an unfaulted one: prev takes its anon_vma",
    script: [
      mmap(page(11), pages(1), RW, PF),
      store(8, page(11), 0x33n),
      mremap(page(11), pages(1), pages(1), MOVE, page(20)),
      mmap(page(10), pages(1), RW, PF),
      mremap(page(20), pages(1), pages(1), MOVE, page(11)),
      fork([load(8, page(11))]),
      maps,
    ],
    maps: ["10-12 rw-p 0"],
    childLoads: "0x33",
  },
  {
    name: "mremap of a faulted page just below an unfaulted one: next takes its anon_vma",
    script: [
      mmap(page(11), pages(1), RW, PF),
      store(8, page(11), 0x44n),
      mremap(page(11), pages(1), pages(1), MOVE, page(20)),
      mmap(page(12), pages(1), RW, PF),
      mremap(page(20), pages(1), pages(1), MOVE, page(11)),
      fork([load(8, page(11))]),
      maps,
    ],
    maps: ["11-13 rw-p 0"],
    childLoads: "0x44",
  },
  {
    // vma_merge_extend(): mremap growing in place into the hole before next joins next too.
    name: "mremap growing a VMA up to a compatible next merges the three",
    script: [
      mmap(page(0), pages(1), RW, PF),
      mmap(page(2), pages(1), RW, PF),
      mremap(page(0), pages(1), pages(2), 0),
      maps,
    ],
    maps: ["0-3 rw-p 0"],
  },
  // ------------------------------------------- vma_merge_existing_range: whose anon_vma survives
  {
    name: "mprotect joining a faulted prev, the VMA and next: prev's anon_vma stays",
    script: [
      mmap(page(0), pages(1), RW, PF),
      store(8, page(0), 0x55n),
      mmap(page(1), pages(1), PROT_READ, PF),
      mmap(page(2), pages(1), RW, PF),
      mprotect(page(1), pages(1), RW),
      fork([load(8, page(0))]),
      maps,
    ],
    maps: ["0-3 rw-p 0"],
    childLoads: "0x55",
  },
  {
    name: "mprotect joining prev, a faulted VMA and next: prev takes the VMA's anon_vma",
    script: [
      mmap(page(0), pages(1), RW, PF),
      mmap(page(1), pages(1), PROT_WRITE, PF),
      store(8, page(1), 0x66n),
      mmap(page(2), pages(1), RW, PF),
      mprotect(page(1), pages(1), RW),
      fork([load(8, page(1))]),
      maps,
    ],
    maps: ["0-3 rw-p 0"],
    childLoads: "0x66",
  },
  {
    name: "mprotect joining prev, the VMA and a faulted next: prev takes next's anon_vma",
    script: [
      mmap(page(0), pages(1), RW, PF),
      mmap(page(1), pages(1), PROT_READ, PF),
      mmap(page(2), pages(1), RW, PF),
      store(8, page(2), 0x77n),
      mprotect(page(1), pages(1), RW),
      fork([load(8, page(2))]),
      maps,
    ],
    maps: ["0-3 rw-p 0"],
    childLoads: "0x77",
  },
  {
    name: "mprotect of a faulted VMA like an unfaulted prev: prev takes its anon_vma",
    script: [
      mmap(page(0), pages(1), RW, PF),
      mmap(page(1), pages(1), PROT_WRITE, PF),
      store(8, page(1), 0x88n),
      mprotect(page(1), pages(1), RW),
      fork([load(8, page(1))]),
      maps,
    ],
    maps: ["0-2 rw-p 0"],
    childLoads: "0x88",
  },
  {
    name: "mprotect of an unfaulted VMA like a faulted prev: prev keeps its anon_vma",
    script: [
      mmap(page(0), pages(1), RW, PF),
      store(8, page(0), 0x99n),
      mmap(page(1), pages(1), PROT_READ, PF),
      mprotect(page(1), pages(1), RW),
      fork([load(8, page(0))]),
      maps,
    ],
    maps: ["0-2 rw-p 0"],
    childLoads: "0x99",
  },
  {
    name: "mprotect of a faulted VMA like an unfaulted next: next takes its anon_vma",
    script: [
      mmap(page(1), pages(1), RW, PF),
      mmap(page(0), pages(1), PROT_WRITE, PF),
      store(8, page(0), 0xaan),
      mprotect(page(0), pages(1), RW),
      fork([load(8, page(0))]),
      maps,
    ],
    maps: ["0-2 rw-p 0"],
    childLoads: "0xaa",
  },
  {
    name: "mprotect of an unfaulted VMA like a faulted next: next keeps its anon_vma",
    script: [
      mmap(page(1), pages(1), RW, PF),
      store(8, page(1), 0xbbn),
      mmap(page(0), pages(1), PROT_READ, PF),
      mprotect(page(0), pages(1), RW),
      fork([load(8, page(1))]),
      maps,
    ],
    maps: ["0-2 rw-p 0"],
    childLoads: "0xbb",
  },
  // ------------------------------------------------------------------------ anon_vma_prepare
  {
    // anon_vma_compatible(): prev is VM_LOCKED, the new VMA is not, so its first fault makes a new
    // anon_vma; once munlock makes the flags equal, the two anon_vmas still keep them apart.
    name: "a fault next to an mlocked VMA does not share its anon_vma",
    script: [
      mmap(page(0), pages(1), RW, PF),
      mlock(page(0), pages(1)),
      store(8, page(0), 1n),
      mmap(page(1), pages(1), RW, PF),
      store(8, page(1), 2n),
      munlock(page(0), pages(1)),
      maps,
    ],
    maps: ["0-1 rw-p 0", "1-2 rw-p 0"],
  },
  {
    // do_cow_fault() prepares the anon_vma before it asks ->fault (vmf_anon_prepare()): a write past
    // the end of a private file mapping is a SIGBUS yet leaves the VMA an anon_vma. Page 0's mlock
    // write-faults it (SIGBUS: its populate fails) and gets anon_vma A; page 1's store gets another,
    // since page 0 is VM_LOCKED; once mlock makes the flags equal, the two pieces stay apart. (2.6.10
    // asked ->nopage first: era.ts cowFaultPreparesAnonVmaFirst.) Found by a live-kernel hunt.
    name: "a write fault past EOF that ends in SIGBUS still gives the VMA its anon_vma",
    script: [
      memfd(0n),
      mmapfd(page(0), pages(2), RW, MAP_PRIVATE | MAP_FIXED, 0, 0n),
      mlock(page(0), pages(1)),
      store(8, page(1), 1n),
      mlock(page(1), pages(1)),
      maps,
    ],
    maps: ["0-1 rw-p 0", "1-2 rw-p 1"],
  },
  {
    // anon_vma_compatible() also wants the same vm_file: anonymous pages 0 and 2 fault next to a
    // private mapping of a memfd whose offset lines up with both, yet each gets an anon_vma of its
    // own, so once the file is gone and page 1 is anonymous memory again, pages 0 and 2 (different
    // anon_vmas) cannot both take it: it joins prev only.
    name: "a fault next to a faulted private file mapping does not share its anon_vma",
    script: [
      memfd(page(1) + pages(1)),
      mmap(page(0), pages(1), RW, PF),
      mmapfd(page(1), pages(1), RW, MAP_PRIVATE | MAP_FIXED, 0, page(1)),
      store(8, page(1), 5n), // the file mapping's COW page: its anon_vma
      mmap(page(2), pages(1), RW, PF),
      store(8, page(0), 1n),
      store(8, page(2), 2n),
      munmap(page(1), pages(1)),
      mmap(page(1), pages(1), RW, PF),
      maps,
    ],
    maps: ["0-2 rw-p 0", "2-3 rw-p 0"],
  },
  {
    // anon_vma_compatible() also wants the file offsets to line up: page 18 holds a page moved from
    // page 20 (vm_pgoff 20, anon_vma A, which page 21 keeps too), so page 19's first fault may not
    // take A. Page 20, mapped again, then joins page 19 but not page 21 (another anon_vma).
    name: "a fault next to a moved page whose offset does not line up does not share its anon_vma",
    script: [
      mmap(page(20), pages(2), RW, PF),
      store(8, page(20), 1n),
      store(8, page(21), 2n),
      mremap(page(20), pages(1), pages(1), MOVE, page(18)),
      mmap(page(19), pages(1), RW, PF),
      store(8, page(19), 3n),
      mmap(page(20), pages(1), RW, PF),
      maps,
    ],
    maps: ["18-19 rw-p 0", "19-21 rw-p 0", "21-22 rw-p 0"],
  },
  {
    // anon_vma_prepare() keeps an anon_vma the VMA already has (MADV_GUARD_INSTALL calls it on a
    // faulted VMA): page 1 shares page 0's anon_vma from its first fault, and still does after the
    // guard install, when page 0 (mlocked then) could not have lent it again.
    name: "MADV_GUARD_INSTALL on a faulted VMA keeps its anon_vma",
    script: [
      mmap(page(0), pages(1), RW, PF),
      store(8, page(0), 1n),
      mmap(page(1), pages(1), PROT_WRITE, PF),
      store(8, page(1), 2n), // reuses page 0's anon_vma
      mlock(page(0), pages(1)),
      madvise(page(1), pages(1), MADV_GUARD_INSTALL),
      munlock(page(0), pages(1)),
      mprotect(page(1), pages(1), RW),
      maps,
    ],
    maps: ["0-2 rw-p 0"],
  },
];

function check(c: Case, lines: readonly string[]): void {
  const text = `${c.name}\n${lines.join("\n")}`;
  expect(mapsAt(lines, c.script.length - 1).map(brief), text).toEqual(c.maps);
  if (c.childLoads !== undefined) {
    const at = c.script.findIndex((op) => op.kind === "fork");
    expect(resultsByIndex(lines).get(`${at}.0`), text).toBe(c.childLoads);
  }
}

describe("VMA merge and split rules (scripts)", () => {
  it.each(CASES.map((c) => [c.name, c] as const))("%s (Faultline)", (_name, c) => {
    check(c, runOnFaultline(c.script));
  });

  const live = liveKernelMismatch();
  it.skipIf(live !== null)(
    `every case's maps are what the real kernel prints${live ? ` [SKIPPED: ${live}]` : ""}`,
    () => {
      for (const c of CASES) check(c, runOnLinux(c.script));
    },
  );
});

// ------------------------------------------------------------------------------ driver cases

function boot(options: { pku?: boolean; era?: Era } = {}): Mm {
  return new Mm(ramOnly(PhysMemory.create({ ramBytes: 8 * 1024 * 1024 })), options);
}

/** The VMAs as `<first page>-<end page> pgoff <pgoff>`, pages counted from A. */
function layout(mm: Mm): string[] {
  return [...mm.vmas].map((v) => `${(v.vmStart - A) / P}-${(v.vmEnd - A) / P} pgoff ${v.vmPgoff}`);
}

/** The VMAs as `<first page>-<end page>` (anonymous vm_pgoff is the address, and says nothing here). */
const ranges = (mm: Mm): string[] => layout(mm).map((l) => l.split(" ")[0]!);

/** A driver file whose ->mmap installs `ops` (the same object for every mapping). */
function driver(ops: VmOperations) {
  return fakeFile({
    mmap: (vma) => {
      vma.vmOps = ops;
      return 0;
    },
  });
}

const show = (v: Vma) => `${(v.vmStart - A) / P}-${(v.vmEnd - A) / P}`;

describe("VMA merge and split rules (drivers)", () => {
  it("->may_split returning 0 lets mprotect split, and the new pieces are ->open'ed", () => {
    const mm = boot();
    const log: string[] = [];
    const ops: VmOperations = { maySplit: () => 0, open: (v) => void log.push(`open ${show(v)}`) };
    expect(mm.mmap(A, 3 * P, RW, SHF, driver(ops), 0)).toBe(A);
    expect(mm.mprotect(at(1), P, PROT_READ)).toBe(0);
    expect(layout(mm)).toEqual(["0-1 pgoff 0", "1-2 pgoff 1", "2-3 pgoff 2"]);
    expect(log).toEqual(["open 0-1", "open 2-3"]);
    mm.checkInvariants();
    mm.exit();
  });

  it("->may_split refusing the first split fails mprotect with its error and changes nothing", () => {
    const mm = boot();
    const ops: VmOperations = { maySplit: (_v, addr) => (addr === at(1) ? -EINVAL : 0) };
    expect(mm.mmap(A, 3 * P, RW, SHF, driver(ops), 0)).toBe(A);
    expect(mm.mprotect(at(1), P, PROT_READ)).toBe(-EINVAL);
    expect(layout(mm)).toEqual(["0-3 pgoff 0"]);
    expect(mm.vmaLookup(A)!.vmFlags & PROT_WRITE).toBeTruthy();
    mm.checkInvariants();
    mm.exit();
  });

  it("vm_ops with ->close and no ->open: splits work; a merge may shrink such a VMA, never delete it", () => {
    // vma_merge_existing_range(): "If we need to remove middle in its entirety but are unable to
    // do so" (can_merge_remove_vma: ->close) the merge is abandoned; shrinking is fine.
    const mm = boot();
    const log: string[] = [];
    const ops: VmOperations = { close: (v) => void log.push(`close ${show(v)}`) };
    expect(mm.mmap(A, 4 * P, RW, SHF, driver(ops), 0)).toBe(A);
    expect(mm.mprotect(at(2), 2 * P, PROT_READ)).toBe(0);
    expect(layout(mm)).toEqual(["0-2 pgoff 0", "2-4 pgoff 2"]);
    // The whole of 2-4 like prev: it would be deleted, so no merge.
    expect(mm.mprotect(at(2), 2 * P, RW)).toBe(0);
    expect(layout(mm)).toEqual(["0-2 pgoff 0", "2-4 pgoff 2"]);
    // 2-4 read-only again, then the whole of 0-2 like next: 0-2 would be deleted, so no merge either.
    expect(mm.mprotect(at(2), 2 * P, PROT_READ)).toBe(0);
    expect(mm.mprotect(A, 2 * P, PROT_READ)).toBe(0);
    expect(layout(mm)).toEqual(["0-2 pgoff 0", "2-4 pgoff 2"]);
    // The first page of 2-4 like prev: 2-4 shrinks, prev grows.
    expect(mm.mprotect(A, 2 * P, RW)).toBe(0);
    expect(mm.mprotect(at(2), P, RW)).toBe(0);
    expect(layout(mm)).toEqual(["0-3 pgoff 0", "3-4 pgoff 3"]);
    // The last page of 0-3 like next: 0-3 shrinks, next grows down.
    expect(mm.mprotect(at(2), P, PROT_READ)).toBe(0);
    expect(layout(mm)).toEqual(["0-2 pgoff 0", "2-4 pgoff 2"]);
    expect(log).toEqual([]);
    mm.checkInvariants();
    mm.exit();
    expect(log).toEqual(["close 0-2", "close 2-4"]);
  });

  it("VM_PFNMAP pieces never merge back (VM_SPECIAL)", () => {
    const mm = boot();
    expect(mm.mmap(A, 3 * P, RW, SHF, remapFile(), 0)).toBe(A);
    expect(mm.mprotect(at(1), P, PROT_READ)).toBe(0);
    expect(mm.mprotect(at(1), P, RW)).toBe(0);
    expect(layout(mm)).toEqual(["0-1 pgoff 0", "1-2 pgoff 1", "2-3 pgoff 2"]);
    mm.checkInvariants();
    mm.exit();
  });

  it("two files with the same (no) vm_ops and lined-up offsets stay two VMAs", () => {
    const mm = boot();
    expect(mm.mmap(A, P, RW, SHF, fakeFile(), 0)).toBe(A);
    expect(mm.mmap(at(1), P, RW, SHF, fakeFile(), P)).toBe(at(1));
    expect(layout(mm)).toEqual(["0-1 pgoff 0", "1-2 pgoff 1"]);
    mm.checkInvariants();
    mm.exit();
  });

  it("pkey_mprotect to prev's protection with another key does not merge (the key is part of vm_flags)", () => {
    const mm = boot({ pku: true });
    const key = mm.pkeyAlloc(0, 0);
    expect(key).toBeGreaterThan(0);
    expect(mm.mmap(A, P, RW, PF, null, 0)).toBe(A);
    expect(mm.mmap(at(1), P, PROT_READ, PF, null, 0)).toBe(at(1));
    expect(mm.pkeyMprotect(at(1), P, RW, key)).toBe(0);
    expect([...mm.vmas].map((v) => `${show(v)} key ${v.vmPkey}`)).toEqual(["0-1 key 0", `1-2 key ${key}`]);
    mm.checkInvariants();
    mm.exit();
  });
  it.each([
    ["modern", true],
    ["2.6.10", false],
  ] as const)(
    "a private write fault whose ->fault says SIGBUS leaves the VMA an anon_vma (%s: %s)",
    (era, has) => {
      // era.ts cowFaultPreparesAnonVmaFirst: do_cow_fault() prepares it before ->fault; 2.6.10's
      // do_no_page() asked ->nopage first and prepared it only for a page it got.
      const mm = boot({ era });
      const f = fakeFile({
        mmap: (vma) => {
          vma.vmOps = { fault: () => VM_FAULT_SIGBUS };
          return 0;
        },
      });
      expect(mm.mmap(A, P, RW, MAP_PRIVATE | MAP_FIXED, f, 0)).toBe(A);
      expect(() => Mmu.forMm(mm).store8(A, 1)).toThrow(/SIGBUS/);
      expect(mm.vmaLookup(A)!.anonVma !== null).toBe(has);
      mm.checkInvariants();
      mm.exit();
    },
  );

  describe("when mmap() of a file merges: before ->mmap today, after it in 2.6.10 (era.ts fileMergeBeforeMmap)", () => {
    it.each([
      ["modern", ["mmap 0-2 pgoff 0"]],
      ["2.6.10", ["mmap 0-2 pgoff 0", "mmap 2-4 pgoff 2"]],
    ] as const)("a mapping just after one of the same file: ->mmap runs (%s): %j", (era, calls) => {
      // Today __mmap_region() expands prev with vma_merge_new_range() and never calls ->mmap; 2.6.10's
      // do_mmap_pgoff() merged a file only after ->mmap had run on a new VMA (then freed it).
      const mm = boot({ era });
      const log: string[] = [];
      const f = fakeFile({
        mmap: (vma) => {
          log.push(`mmap ${show(vma)} pgoff ${vma.vmPgoff}`);
          vma.vmOps = {};
          return 0;
        },
      });
      expect(mm.mmap(A, 2 * P, RW, SHF, f, 0)).toBe(A);
      expect(mm.mmap(at(2), 2 * P, RW, SHF, f, 2 * P)).toBe(at(2));
      expect(layout(mm)).toEqual(["0-4 pgoff 0"]);
      expect(log).toEqual(calls);
      mm.checkInvariants();
      mm.exit();
    });

    it("2.6.10: the merge after ->mmap compares the vm_pgoff ->mmap left, not the pgoff mmap() was given", () => {
      // do_mmap_pgoff() read vm_pgoff back from the VMA after ->mmap (2.6.10-rc1 on; 2.6.11's mm/mmap.c):
      // a driver that moves it decides whether the new range is linear with prev.
      const mm = boot({ era: "2.6.10" });
      const f = fakeFile({
        mmap: (vma) => {
          if (vma.vmPgoff === 2) vma.vmPgoff = 7; // asked for linear with prev, moved off it
          if (vma.vmPgoff === 20) vma.vmPgoff = 9; // asked for elsewhere, moved to follow prev
          vma.vmOps = {};
          return 0;
        },
      });
      expect(mm.mmap(A, 2 * P, RW, SHF, f, 0)).toBe(A);
      expect(mm.mmap(at(2), 2 * P, RW, SHF, f, 2 * P)).toBe(at(2));
      expect(layout(mm)).toEqual(["0-2 pgoff 0", "2-4 pgoff 7"]);
      expect(mm.mmap(at(4), 2 * P, RW, SHF, f, 20 * P)).toBe(at(4));
      expect(layout(mm)).toEqual(["0-2 pgoff 0", "2-6 pgoff 7"]);
      mm.checkInvariants();
      mm.exit();
    });

    it.each([
      ["modern", ["0-1 pgoff 0", "1-2 pgoff 1"]],
      ["2.6.10", ["0-2 pgoff 0"]],
    ] as const)("->mmap adding a flag (VM_DONTDUMP) to each mapping (%s): %j", (era, vmas) => {
      // Today the merge before ->mmap fails on the flags (prev has VM_DONTDUMP, the range not yet) and
      // nothing is tried after it (6.16 removed retry_merge); 2.6.10 merged with the flags ->mmap left.
      // The vm_ops objects are never compared (is_mergeable_vma): prev keeps its own.
      const mm = boot({ era });
      const made: VmOperations[] = [];
      const f = fakeFile({
        mmap: (vma) => {
          const ops: VmOperations = {};
          made.push(ops);
          vma.vmOps = ops;
          vma.vmFlags |= VM_DONTDUMP;
          return 0;
        },
      });
      expect(mm.mmap(A, P, RW, SHF, f, 0)).toBe(A);
      expect(mm.mmap(at(1), P, RW, SHF, f, P)).toBe(at(1));
      expect(made.length).toBe(2);
      expect(layout(mm)).toEqual(vmas);
      expect(mm.vmaLookup(A)!.vmOps).toBe(made[0]);
      mm.checkInvariants();
      mm.exit();
    });

    it.each([
      ["modern", ["0-4 pgoff 0"], ["mmap 0-2"]],
      ["2.6.10", ["0-4 pgoff 0"], ["mmap 0-2", "mmap 2-4"]],
    ] as const)(
      "the new VMA's own ->close does not stop the merge after ->mmap (%s): %j",
      (era, vmas, calls) => {
        // ->mmap gives ->close from file page 2 on. 2.6.10's vma_merge() after ->mmap asked prev only
        // (is_mergeable_vma), so the new VMA merged and was freed without its ->close; today the range
        // merges before ->mmap, which never runs.
        const mm = boot({ era });
        const log: string[] = [];
        const closeOps: VmOperations = { close: (v) => void log.push(`close ${show(v)}`) };
        const f = fakeFile({
          mmap: (vma) => {
            log.push(`mmap ${show(vma)}`);
            vma.vmOps = vma.vmPgoff >= 2 ? closeOps : {};
            return 0;
          },
        });
        expect(mm.mmap(A, 2 * P, RW, SHF, f, 0)).toBe(A);
        expect(mm.mmap(at(2), 2 * P, RW, SHF, f, 2 * P)).toBe(at(2));
        expect(layout(mm)).toEqual(vmas);
        mm.checkInvariants();
        mm.exit();
        expect(log).toEqual(calls);
      },
    );
  });

  it.each([
    ["modern", ["0-3"]],
    ["2.6.10", ["0-2", "2-3"]],
  ] as const)("mremap growing a VMA in place up to a compatible next VMA (%s): %j", (era, vmas) => {
    // Today expand_vma_in_place() → vma_merge_extend() joins next; 2.6.10's do_mremap() only moved
    // vm_end with vma_adjust(), so /proc/PID/maps shows two VMAs where they meet.
    const mm = boot({ era });
    expect(mm.mmap(A, P, RW, PF, null, 0)).toBe(A);
    expect(mm.mmap(at(2), P, RW, PF, null, 0)).toBe(at(2));
    expect(mm.mremap(A, P, 2 * P, 0)).toBe(A);
    expect([...mm.vmas].map(show)).toEqual(vmas);
    mm.checkInvariants();
    mm.exit();
  });

  describe("a neighbour whose vm_ops has ->close (era.ts closeBlocksOnlyRemoval)", () => {
    /** A driver file whose ->mmap installs ops with ->close; closes and ->mmap calls go to `log`. */
    function closing(log: string[]) {
      const ops: VmOperations = { close: (v) => void log.push(`close ${show(v)}`) };
      return fakeFile({
        mmap: (vma) => {
          log.push(`mmap ${show(vma)}`);
          vma.vmOps = ops;
          return 0;
        },
      });
    }

    it.each([
      ["modern", ["0-4 pgoff 0"], ["mmap 0-2", "close 0-4"]],
      ["2.6.10", ["0-2 pgoff 0", "2-4 pgoff 2"], ["mmap 0-2", "mmap 2-4", "close 0-2", "close 2-4"]],
    ] as const)("a new mapping just after one (%s): %j", (era, vmas, calls) => {
      // Today prev only grows (vma_merge_new_range asks can_merge_remove_vma of nothing), before
      // ->mmap; 2.6.10's is_mergeable_vma() refuses prev for its ->close, before and after ->mmap.
      const mm = boot({ era });
      const log: string[] = [];
      const f = closing(log);
      expect(mm.mmap(A, 2 * P, RW, SHF, f, 0)).toBe(A);
      expect(mm.mmap(at(2), 2 * P, RW, SHF, f, 2 * P)).toBe(at(2));
      expect(layout(mm)).toEqual(vmas);
      mm.checkInvariants();
      mm.exit();
      expect(log).toEqual(calls);
    });

    it.each([
      ["modern", ["0-3 pgoff 0", "3-4 pgoff 3"]],
      ["2.6.10", ["0-2 pgoff 0", "2-3 pgoff 2", "3-4 pgoff 3"]],
    ] as const)("mprotect of the first page of next like prev (%s): %j", (era, vmas) => {
      // Today prev grows over the page and next shrinks (nothing is deleted); 2.6.10's vma_merge()
      // finds prev unmergeable, so mprotect_fixup() splits the page off instead.
      const mm = boot({ era });
      const log: string[] = [];
      expect(mm.mmap(A, 4 * P, RW, SHF, closing(log), 0)).toBe(A);
      expect(mm.mprotect(at(2), 2 * P, PROT_READ)).toBe(0);
      expect(mm.mprotect(at(2), P, RW)).toBe(0);
      expect(layout(mm)).toEqual(vmas);
      mm.checkInvariants();
      mm.exit();
      expect(log.filter((l) => l.startsWith("close")).length).toBe(vmas.length);
    });

    it.each([
      ["modern", ["0-2 pgoff 0", "2-4 pgoff 2"], ["close 2-4"]],
      ["2.6.10", ["0-4 pgoff 0"], []],
    ] as const)("mprotect of a whole VMA with ->close like a prev without (%s): %j", (era, vmas, closes) => {
      // The same file, but ->mmap gives ->close only from file page 2 on. Today the merge would delete
      // the VMA with ->close, so it is abandoned; 2.6.10's vma_merge() asked prev only, and prev
      // absorbed the VMA, which was freed without its ->close.
      const mm = boot({ era });
      const log: string[] = [];
      const closeOps: VmOperations = { close: (v) => void log.push(`close ${show(v)}`) };
      const f = fakeFile({
        mmap: (vma) => {
          vma.vmOps = vma.vmPgoff >= 2 ? closeOps : {};
          return 0;
        },
      });
      expect(mm.mmap(A, 2 * P, RW, SHF, f, 0)).toBe(A);
      expect(mm.mmap(at(2), 2 * P, PROT_READ, SHF, f, 2 * P)).toBe(at(2));
      expect(mm.mprotect(at(2), 2 * P, RW)).toBe(0);
      expect(layout(mm)).toEqual(vmas);
      mm.checkInvariants();
      mm.exit();
      expect(log).toEqual(closes);
    });

    it.each([
      ["modern", ["0-2 pgoff 0", "2-4 pgoff 2"], "page 2", ["close 0-2"]],
      ["2.6.10", ["0-4 pgoff 0"], "page 0", ["close 0-4"]],
    ] as const)(
      "mprotect of a whole VMA with ->close like a next without (%s): %j",
      (era, vmas, data, closes) => {
        // ->mmap gives ->close below file page 2 and records the page it mapped first in vm_private_data.
        // Today the merge would delete the changed VMA (->close), so it is abandoned; 2.6.10's vma_merge()
        // case 8 kept the changed VMA and grew it over next (vma_adjust), so its ->close and private data
        // cover both (era.ts mergeRightKeepsNext).
        const mm = boot({ era });
        const log: string[] = [];
        const closeOps: VmOperations = { close: (v) => void log.push(`close ${show(v)}`) };
        const f = fakeFile({
          mmap: (vma) => {
            vma.vmOps = vma.vmPgoff < 2 ? closeOps : {};
            vma.vmPrivateData = `page ${vma.vmPgoff}`;
            return 0;
          },
        });
        expect(mm.mmap(A, 2 * P, RW, SHF, f, 0)).toBe(A);
        expect(mm.mmap(at(2), 2 * P, PROT_READ, SHF, f, 2 * P)).toBe(at(2));
        expect(mm.mprotect(A, 2 * P, PROT_READ)).toBe(0);
        expect(layout(mm)).toEqual(vmas);
        expect(mm.vmaLookup(at(3))!.vmPrivateData).toBe(data);
        expect(mm.vmaLookup(at(3))!.vmFlags & RW).toBe(PROT_READ);
        mm.checkInvariants();
        mm.exit();
        expect(log).toEqual(closes);
      },
    );

    it.each(["modern", "2.6.10"] as const)(
      "mremap growing one up to a compatible next with ->close leaves two VMAs (%s)",
      (era) => {
        // Today vma_merge_new_range() may not delete next (->close), so only prev grows; 2.6.10's
        // vma_adjust() never merged.
        const mm = boot({ era });
        const log: string[] = [];
        const f = closing(log);
        expect(mm.mmap(A, P, RW, SHF, f, 0)).toBe(A);
        expect(mm.mmap(at(2), P, RW, SHF, f, 2 * P)).toBe(at(2));
        expect(mm.mremap(A, P, 2 * P, 0)).toBe(A);
        expect(layout(mm)).toEqual(["0-2 pgoff 0", "2-3 pgoff 2"]);
        mm.checkInvariants();
        mm.exit();
        expect(log.slice(-2)).toEqual(["close 0-2", "close 2-3"]);
      },
    );
  });

  for (const [name, flag] of [
    ["VM_IO", VM_IO],
    ["VM_MIXEDMAP", VM_MIXEDMAP],
  ] as const) {
    const special = () =>
      fakeFile({
        mmap: (vma) => {
          vma.vmFlags |= flag;
          return 0;
        },
      });
    it(`mremap growing a ${name} VMA in place is -ENOMEM today, even with MREMAP_MAYMOVE (expand_vma_in_place)`, () => {
      const mm = boot();
      expect(mm.mmap(A, 2 * P, RW, SHF, special(), 0)).toBe(A);
      expect(mm.mremap(A, 2 * P, 3 * P, 0)).toBe(-ENOMEM);
      expect(mm.mremap(A, 2 * P, 3 * P, MREMAP_MAYMOVE)).toBe(-ENOMEM);
      expect(layout(mm)).toEqual(["0-2 pgoff 0"]);
      // With no room in place, MREMAP_MAYMOVE moves it (move_vma has no VM_SPECIAL rule).
      expect(mm.mmap(at(2), P, RW, PF, null, 0)).toBe(at(2));
      const moved = mm.mremap(A, 2 * P, 3 * P, MREMAP_MAYMOVE);
      expect(moved).toBeGreaterThan(0);
      expect(mm.vmaLookup(moved)!.vmEnd - moved).toBe(3 * P);
      expect(mm.vmaLookup(moved)!.vmFlags & flag).toBe(flag);
      mm.checkInvariants();
      mm.exit();
    });
    it(`mremap grows a ${name} VMA in place in 2.6.10 (vma_adjust)`, () => {
      const mm = boot({ era: "2.6.10" });
      expect(mm.mmap(A, 2 * P, RW, SHF, special(), 0)).toBe(A);
      expect(mm.mremap(A, 2 * P, 3 * P, 0)).toBe(A);
      expect(layout(mm)).toEqual(["0-3 pgoff 0"]);
      mm.checkInvariants();
      mm.exit();
    });
  }

  describe("VM_SPECIAL and VM_RESERVED as each era had them (era.ts vmSpecial, reservedFlags, mlockNeverLocks)", () => {
    /** A driver file whose ->mmap ORs `flags` into each VMA and installs ops without ->close. */
    const setting = (flags: number) =>
      fakeFile({
        mmap: (vma) => {
          vma.vmFlags |= flags;
          vma.vmOps = {};
          return 0;
        },
      });

    it.each([
      ["modern", ["0-3 pgoff 0"]],
      ["2.6.10", ["0-1 pgoff 0", "1-2 pgoff 1", "2-3 pgoff 2"]],
    ] as const)("VM_DONTCOPY pieces merge back today, never in 2.6.10 (%s): %j", (era, vmas) => {
      // 2.6.10's vma_merge() refused vm_flags with VM_DONTCOPY (its VM_SPECIAL); v2.6.16 took it out.
      const mm = boot({ era });
      expect(mm.mmap(A, 3 * P, RW, SHF, setting(VM_DONTCOPY), 0)).toBe(A);
      expect(mm.mprotect(at(1), P, PROT_READ)).toBe(0);
      expect(mm.mprotect(at(1), P, RW)).toBe(0);
      expect(layout(mm)).toEqual(vmas);
      mm.checkInvariants();
      mm.exit();
    });

    it.each([
      ["modern", VM_DONTEXPAND | VM_DONTDUMP, -EFAULT],
      ["2.6.10", VM_RESERVED, at(2)],
    ] as const)(
      "a driver's VM_RESERVED (LDD3 simple_nopage_mmap) never merges, and grows with mremap only in 2.6.10 (%s)",
      (era, flags, grown) => {
        // 2.6.10 kept VM_RESERVED: in VM_SPECIAL, but do_mremap() refused growth for VM_DONTEXPAND only.
        // Today it is what v3.7 wrote in its place, VM_DONTEXPAND | VM_DONTDUMP, and cannot grow.
        const mm = boot({ era });
        expect(mm.mmap(A, 3 * P, RW, SHF, setting(VM_RESERVED), 0)).toBe(A);
        const vma = mm.vmaLookup(A)!;
        expect(vma.vmFlags & (VM_RESERVED | VM_DONTEXPAND | VM_DONTDUMP)).toBe(flags);
        // VmFlags has no mnemonic for VM_RESERVED (bit 12 is VM_UFFD_WP's "uw" in Linux).
        expect(vmFlagsString(vma.vmFlags).trim()).toBe(
          era === "modern" ? "rd wr sh mr mw me ms de dd sd" : "rd wr sh mr mw me ms sd",
        );
        expect(mm.mprotect(at(1), P, PROT_READ)).toBe(0);
        expect(mm.mprotect(at(1), P, RW)).toBe(0);
        expect(layout(mm)).toEqual(["0-1 pgoff 0", "1-2 pgoff 1", "2-3 pgoff 2"]);
        expect(mm.mremap(at(2), P, 2 * P, 0)).toBe(grown);
        expect(layout(mm).at(-1)).toBe(grown === at(2) ? "2-4 pgoff 2" : "2-3 pgoff 2");
        mm.checkInvariants();
        mm.exit();
      },
    );

    it.each([
      ["modern", 0, 0],
      ["2.6.10", VM_LOCKED, 4],
    ] as const)(
      "mlock and MAP_LOCKED lock a remap_pfn_range VMA only in 2.6.10 (%s)",
      (era, locked, lockedVm) => {
        // Today mlock_fixup() and __mmap_complete() leave VM_SPECIAL memory unlocked and uncounted; 2.6.10's
        // mlock_fixup() and do_mmap_pgoff() locked and counted every VMA.
        const mm = boot({ era });
        expect(mm.mmap(A, 2 * P, RW, SHF, remapFile(), 0)).toBe(A);
        expect(mm.vmaLookup(A)!.vmFlags & (VM_IO | VM_RESERVED)).toBe(
          era === "modern" ? VM_IO : VM_IO | VM_RESERVED,
        );
        expect(mm.mlock(A, 2 * P)).toBe(0);
        expect(mm.mmap(at(3), 2 * P, RW, SHF | MAP_LOCKED, remapFile(), 0)).toBe(at(3));
        expect([A, at(3)].map((a) => mm.vmaLookup(a)!.vmFlags & VM_LOCKED)).toEqual([locked, locked]);
        expect(mm.lockedVm).toBe(lockedVm);
        expect(mm.munlock(A, 2 * P)).toBe(0);
        expect(mm.lockedVm).toBe(lockedVm / 2);
        mm.checkInvariants();
        mm.exit();
      },
    );

    it.each([
      ["modern", ["0-3"]],
      ["2.6.10", ["0-1", "1-2", "2-3"]],
    ] as const)("munlock, munlockall and madvise merge the pieces back only today (%s): %j", (era, vmas) => {
      // 2.6.10's mlock_fixup() and madvise_behavior() only split (era.ts lockAdviceMerges); mprotect merged.
      for (const undo of [
        (mm: Mm) => mm.mlock(at(1), P) || mm.munlock(at(1), P),
        (mm: Mm) => mm.mlock(at(1), P) || mm.munlockall(),
        (mm: Mm) => mm.madvise(at(1), P, MADV_RANDOM) || mm.madvise(at(1), P, MADV_NORMAL),
      ]) {
        const mm = boot({ era });
        expect(mm.mmap(A, 3 * P, RW, PF, null, 0)).toBe(A);
        expect(undo(mm)).toBe(0);
        expect(ranges(mm)).toEqual(vmas);
        expect(mm.lockedVm).toBe(0);
        mm.checkInvariants();
        mm.exit();
      }
    });

    it.each([
      ["modern", ["0-3"], ["0-2", "2-3"]],
      ["2.6.10", ["0-1", "1-2", "2-3"], ["0-1", "1-2", "2-3"]],
    ] as const)(
      "MADV_NORMAL splits unchanged memory and mlock does not merge into a locked prev, in 2.6.10 (%s)",
      (era, normal, locked) => {
        // 2.6.10's madvise_behavior() split before looking at the flags; its mlock_fixup() skipped a VMA
        // whose flags stayed, but never merged a changed one.
        const mm = boot({ era });
        expect(mm.mmap(A, 3 * P, RW, PF, null, 0)).toBe(A);
        expect(mm.madvise(at(1), P, MADV_NORMAL)).toBe(0);
        expect(ranges(mm)).toEqual(normal);
        mm.exit();
        const m2 = boot({ era });
        expect(m2.mmap(A, 3 * P, RW, PF, null, 0)).toBe(A);
        expect(m2.mlock(A, P)).toBe(0);
        expect(m2.mlock(at(1), P)).toBe(0);
        expect(ranges(m2)).toEqual(locked);
        expect(m2.lockedVm).toBe(2);
        m2.checkInvariants();
        m2.exit();
      },
    );

    it("mprotect still merges in 2.6.10 (mprotect_fixup called vma_merge)", () => {
      const mm = boot({ era: "2.6.10" });
      expect(mm.mmap(A, 3 * P, RW, PF, null, 0)).toBe(A);
      expect(mm.mprotect(at(1), P, PROT_READ)).toBe(0);
      expect(mm.mprotect(at(1), P, RW)).toBe(0);
      expect(ranges(mm)).toEqual(["0-3"]);
      mm.exit();
    });
  });
});
