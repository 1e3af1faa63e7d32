// Every documented errno of madvise(2), as a table (reference linux-mm.md §3, §7 and the man pages).
// Script rows also run on the live kernel; Mm rows follow the kernel source each cites (test/syscall-
// tables.ts explains both kinds).
import { expect } from "vitest";
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
  MAP_FIXED,
  MAP_LOCKED,
  madvise,
  mmap,
  mprotect,
  mremap,
  PROT_EXEC,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  page,
  pages,
  store,
} from "../test/oracle/script";
import {
  A,
  fakeFile,
  MADV_COLD,
  MADV_DONTNEED_LOCKED,
  MADV_HUGEPAGE,
  MADV_PAGEOUT,
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
  type MmRow,
  mapRemap,
  mmTable,
  P,
  PF,
  RW,
  row,
  SF,
  scriptTable,
} from "../test/syscall-tables";
import { EINVAL, MAP_POPULATE, MAP_PRIVATE, VM_IO } from "./index";
import { ptePfn } from "./pgtable";

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
    "POPULATE_READ on PROT_WRITE (no VM_READ) → EINVAL (check_vma_flags without FOLL_FORCE)",
    [mmap(page(0), pages(1), PROT_WRITE, PF)],
    madvise(page(0), pages(1), MADV_POPULATE_READ),
    "-EINVAL",
  ),
  row(
    "POPULATE_READ on PROT_EXEC (no VM_READ) → EINVAL",
    [mmap(page(0), pages(1), PROT_EXEC, PF)],
    madvise(page(0), pages(1), MADV_POPULATE_READ),
    "-EINVAL",
  ),
  row(
    "POPULATE_READ of the VM_READ part before a PROT_WRITE part → EINVAL",
    [mmap(page(0), pages(2), RW, PF), mprotect(page(1), pages(1), PROT_WRITE)],
    madvise(page(0), pages(2), MADV_POPULATE_READ),
    "-EINVAL",
  ),
  row(
    "POPULATE_WRITE on PROT_WRITE → 0",
    [mmap(page(0), pages(1), PROT_WRITE, PF)],
    madvise(page(0), pages(1), MADV_POPULATE_WRITE),
    "0",
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
    name: "POPULATE_READ of private RW memory read-faults: the zero page, no Rss (faultin_page_range without FOLL_WRITE)",
    run: ({ mm }) => {
      mm.mmap(A, 4 * P, RW, PF, null, 0);
      return mm.madvise(A, 4 * P, MADV_POPULATE_READ);
    },
    expect: 0,
    after: ({ mm, mem }) => {
      expect(mm.rss).toBe(0);
      for (let i = 0; i < 4; i++) expect(ptePfn(mm.pgd.getPte(A + i * P))).toBe(mem.zeroPfn);
    },
  },
  {
    name: "POPULATE_READ of private RW memory without a zero page: private pages",
    options: { zeroPage: false },
    run: ({ mm }) => {
      mm.mmap(A, 4 * P, RW, PF, null, 0);
      return mm.madvise(A, 4 * P, MADV_POPULATE_READ);
    },
    expect: 0,
    after: ({ mm }) => expect(mm.rssAnon).toBe(4),
  },
  {
    name: "MAP_POPULATE of private RW memory still write-faults (populate_vma_page_range)",
    run: ({ mm }) => mm.mmap(A, 4 * P, RW, PF | MAP_POPULATE, null, 0),
    expect: A,
    after: ({ mm }) => expect(mm.rssAnon).toBe(4),
  },
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
