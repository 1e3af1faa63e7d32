// Every documented errno of mprotect(2) and pkey_mprotect(2), as a table (reference linux-mm.md §3, §7 and
// the man pages). Script rows also run on the live kernel; Mm rows follow the kernel source each cites
// (test/syscall-tables.ts explains both kinds).
import { expect } from "vitest";
import {
  load,
  MAP_FIXED,
  MAP_GROWSDOWN,
  MAP_SHARED,
  mmap,
  mprotect,
  PROT_EXEC,
  PROT_GROWSDOWN,
  PROT_GROWSUP,
  PROT_NONE,
  PROT_READ,
  PROT_SEM,
  page,
  pages,
  store,
} from "../test/oracle/script";
import {
  A,
  at,
  fakeFile,
  hex,
  type MmRow,
  mapAnon,
  mmTable,
  P,
  PF,
  RW,
  row,
  SF,
  scriptTable,
} from "../test/syscall-tables";
import { EACCES, EINVAL, ENOMEM, MAP_LOCKED, MAP_PRIVATE, VM_WRITE } from "./index";

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
  // The alignment test reads the exact 64-bit value: 2^64 - 1 is no multiple of the page size even
  // though the nearest double (2^64) is (do_mprotect_pkey(): start & ~PAGE_MASK).
  row(
    "start 0xffffffffffffffff → EINVAL",
    [],
    mprotect(0xffff_ffff_ffff_ffffn, pages(1), PROT_READ),
    "-EINVAL",
  ),
  row("start 2^64 - 4095 → EINVAL", [], mprotect(0xffff_ffff_ffff_f001n, pages(1), PROT_READ), "-EINVAL"),
  row(
    "start 0xffffffffffffffff, len 0 → EINVAL (before len)",
    [],
    mprotect(0xffff_ffff_ffff_ffffn, 0n, PROT_READ),
    "-EINVAL",
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

// A split at vm.max_map_count: split_vma()'s -ENOMEM is mprotect's answer in both eras
// (mprotect_fixup(), 2.6.9, 2.6.11 and 6.18 alike). Linux 6.18.44, the map count filled: mprotect of a
// VMA's middle page → ENOMEM.
mmTable(
  "mprotect past vm.max_map_count",
  (["modern", "2.6.10"] as const).map(
    (era): MmRow => ({
      name: `${era}: a split at the limit → ENOMEM, the VMA unchanged`,
      options: { era, maxMapCount: 1 },
      run: ({ mm }) => {
        mapAnon(mm, 3 * P);
        return mm.mprotect(at(1), P, PROT_READ);
      },
      expect: -ENOMEM,
      after: ({ mm }) => {
        expect(mm.mapCount).toBe(1);
        expect(mm.vmaLookup(at(1))!.vmFlags & VM_WRITE).toBe(VM_WRITE);
      },
    }),
  ),
);

// The first split fits, the second does not: mprotect_fixup() leaves the first split and the old
// protection (6.18's vma_modify_flags(), 2.6.9/2.6.11's split_vma() pair alike). Linux 6.18.44, one
// slot below the limit: mprotect of a VMA's middle page → ENOMEM.
mmTable(
  "mprotect: the second split past vm.max_map_count",
  (["modern", "2.6.10"] as const).map(
    (era): MmRow => ({
      name: `${era}: → ENOMEM, the first split stays, the range still writable`,
      options: { era, maxMapCount: 2 },
      run: ({ mm }) => {
        mapAnon(mm, 3 * P);
        return mm.mprotect(at(1), P, PROT_READ);
      },
      expect: -ENOMEM,
      after: ({ mm }) => {
        expect(mm.mapCount).toBe(2);
        for (const v of mm) expect(v.vmFlags & VM_WRITE).toBe(VM_WRITE);
      },
    }),
  ),
);

// Locked memory made writable: 6.18's mprotect_fixup() write-faults it in only when it is private
// (populate_vma_page_range() when (oldflags & (VM_WRITE | VM_SHARED | VM_LOCKED)) == VM_LOCKED), to
// break COW now; shared memory is left to fault. Linux 6.18.44: MAP_SHARED|MAP_ANONYMOUS|MAP_LOCKED
// PROT_NONE, then mprotect(PROT_READ|PROT_WRITE): RSS unchanged; the private one is resident. Before
// v2.6.38 (2.6.9/2.6.11's mprotect_fixup()) nothing was populated (era.ts lockedPopulateWritesShared).
mmTable(
  "mprotect of locked memory to writable: populated or not, by era",
  (
    [
      ["private", PF, "modern", true],
      ["shared", SF, "modern", false],
      ["private", PF, "2.6.10", false],
      ["shared", SF, "2.6.10", false],
    ] as const
  ).map(
    ([kind, flags, era, populated]): MmRow => ({
      name: `${era}: ${kind} MAP_LOCKED PROT_NONE → RW: ${populated ? "both pages resident" : "nothing resident"}`,
      options: { era },
      run: ({ mm }) => {
        expect(mm.mmap(A, 2 * P, PROT_NONE, flags | MAP_LOCKED, null, 0)).toBe(A);
        return mm.mprotect(A, 2 * P, RW);
      },
      expect: 0,
      after: ({ mm }) => {
        expect([mm.pgd.getPte(A) !== 0, mm.pgd.getPte(at(1)) !== 0]).toEqual([populated, populated]);
      },
    }),
  ),
);
