// Every documented errno of madvise(2), as a table (reference linux-mm.md §3, §7 and the man pages).
// Script rows also run on the live kernel; Mm rows follow the kernel source each cites (test/syscall-
// tables.ts explains both kinds).
import { expect } from "vitest";
import { ksmMismatch } from "../test/oracle/linux";
import {
  fallocate,
  fork,
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
  MREMAP_DONTUNMAP,
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
  PROT_EXEC,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  page,
  pages,
  pwrite,
  rss,
  store,
} from "../test/oracle/script";
import {
  A,
  at,
  fakeFile,
  MADV_COLD,
  MADV_DONTNEED_LOCKED,
  MADV_HUGEPAGE,
  MADV_PAGEOUT,
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
  type MmRow,
  mapAnon,
  mapRemap,
  mmTable,
  P,
  PF,
  RW,
  row,
  SF,
  scriptTable,
} from "../test/syscall-tables";
import {
  EAGAIN,
  EBADF,
  EINVAL,
  ENOMEM,
  FAULT_OK,
  FAULT_SEGV_MAPERR,
  MAP_FIXED as FIXED,
  MADV_DODUMP,
  MADV_GUARD_INSTALL,
  MADV_GUARD_REMOVE,
  MADV_MERGEABLE,
  MADV_UNMERGEABLE,
  MAP_ANONYMOUS,
  MAP_DROPPABLE,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  type Mm,
  Mmu,
  VM_DONTDUMP,
  VM_IO,
  VM_RAND_READ,
} from "./index";
import { _PAGE_DIRTY, pteFlags, pteIsGuardMarker, ptePfn } from "./pgtable";
import { ShmemFile, ShmemInode } from "./shmem";

// ================================================================================== madvise

scriptTable("madvise", [
  row(
    "mlock over a guard marker: populating it fails (EFAULT), which mlock reports as ENOMEM",
    [mmap(page(0), pages(2), RW, PF), madvise(page(0), pages(1), MADV_GUARD_INSTALL)],
    mlock(page(0), pages(2)),
    "-ENOMEM",
  ),
  row(
    "GUARD_INSTALL over a gap → ENOMEM (the mapped part is still guarded)",
    [mmap(page(0), pages(1), RW, PF)],
    madvise(page(0), pages(2), MADV_GUARD_INSTALL),
    "-ENOMEM",
  ),
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
  row(
    "len 2^64 - 4095 rounds up to 0 → EINVAL",
    [mmap(page(0), pages(1), RW, PF)],
    madvise(page(0), 0xffff_ffff_ffff_f001n, MADV_NORMAL),
    "-EINVAL",
  ),
  // PAGE_ALIGNED(start) on the exact value (madvise_should_skip()): 2^64 - 4095 is not aligned.
  row("start 2^64 - 4095 → EINVAL", [], madvise(0xffff_ffff_ffff_f001n, pages(1), MADV_DONTNEED), "-EINVAL"),
  row("start 2^64 - 1, len 0 → EINVAL", [], madvise(0xffff_ffff_ffff_ffffn, 0n, MADV_DONTNEED), "-EINVAL"),
  row(
    "the last page: end wraps to 0 → EINVAL",
    [],
    madvise(0xffff_ffff_ffff_f000n, pages(1), MADV_NORMAL),
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
  // madvise_pageout(): reclaim unmaps a page-cache (shmem) page this PTE alone maps; with no swap
  // shmem_writeout() keeps it in the cache, so RSS drops and the next access maps the same data back.
  // Linux 6.18.44 (anonymous pages would go to swap where there is some: no row asserts them).
  row(
    "PAGEOUT of written shared anonymous memory: unmapped (RSS 0)",
    [
      mmap(page(0), pages(2), RW, SF),
      store(32, page(0), 0x1234n),
      store(32, page(1), 0x5678n),
      madvise(page(0), pages(2), MADV_PAGEOUT),
    ],
    rss,
    "rss 0 anon 0",
  ),
  row(
    "PAGEOUT of shared anonymous memory, then a load: the data comes back",
    [mmap(page(0), pages(1), RW, SF), store(32, page(0), 0x1234n), madvise(page(0), pages(1), MADV_PAGEOUT)],
    load(32, page(0)),
    "0x1234",
  ),
  // A clean page (read, never written) leaves the cache on PAGEOUT (__remove_mapping()); a dirty one
  // stays. Seen through fault-around: a read of the next page maps the cached one too.
  row(
    "PAGEOUT of a shared page only read: it leaves the cache (a read of the next page maps one page)",
    [
      mmap(page(0), pages(2), RW, SF),
      load(32, page(0)),
      madvise(page(0), pages(1), MADV_PAGEOUT),
      load(32, page(1)),
    ],
    rss,
    "rss 4 anon 0",
  ),
  row(
    "PAGEOUT of a shared page written: it stays cached (a read of the next page maps both)",
    [
      mmap(page(0), pages(2), RW, SF),
      store(32, page(0), 1n),
      madvise(page(0), pages(1), MADV_PAGEOUT),
      load(32, page(1)),
    ],
    rss,
    "rss 8 anon 0",
  ),
  row(
    "PAGEOUT of a fallocated memfd page only read: fallocate made it dirty, it stays cached",
    [
      memfd(pages(2)),
      fallocate(0, 0, 0n, pages(1)),
      mmapfd(page(0), pages(2), PROT_READ, MAP_SHARED | MAP_FIXED, 0),
      load(32, page(0)),
      madvise(page(0), pages(1), MADV_PAGEOUT),
      pwrite(0, pages(1), 7, 1n),
      load(32, page(1)),
    ],
    rss,
    "rss 8 anon 0",
  ),
  row(
    "PAGEOUT of a memfd page mapped twice: both mappings keep it (RSS 8 kB)",
    [
      memfd(pages(1)),
      pwrite(0, 0n, 7, pages(1)),
      mmapfd(page(0), pages(1), PROT_READ, MAP_SHARED | MAP_FIXED, 0),
      mmapfd(page(2), pages(1), PROT_READ, MAP_SHARED | MAP_FIXED, 0),
      load(8, page(0)),
      load(8, page(2)),
      madvise(page(0), pages(1), MADV_PAGEOUT),
    ],
    rss,
    "rss 8 anon 0",
  ),
  row(
    "PAGEOUT of a private memfd mapping read, not written: its file pages go (RSS 0)",
    [
      memfd(pages(2)),
      pwrite(0, 0n, 7, pages(2)),
      mmapfd(page(0), pages(2), RW, MAP_PRIVATE | MAP_FIXED, 0),
      load(8, page(0)),
      load(8, page(1)),
      madvise(page(0), pages(2), MADV_PAGEOUT),
    ],
    rss,
    "rss 0 anon 0",
  ),
  // MADV_FREE makes each page clean and lazy-free; reclaim (PAGEOUT here) then discards the ones not
  // written since and keeps the rest (try_to_unmap_one()). Linux 6.18.44, no swap: the same with swap.
  row(
    "FREE then PAGEOUT: the pages are discarded (RSS 0)",
    [
      mmap(page(0), pages(2), RW, PF),
      store(32, page(0), 1n),
      store(32, page(1), 2n),
      madvise(page(0), pages(2), MADV_FREE),
      madvise(page(0), pages(2), MADV_PAGEOUT),
    ],
    rss,
    "rss 0 anon 0",
  ),
  // GUP for writing touches what is mapped already (follow_page_pte() with FOLL_TOUCH | FOLL_WRITE):
  // a page its PTE maps clean is marked dirty, so a lazy-free one is no longer discardable.
  row(
    "FREE, POPULATE_WRITE, PAGEOUT: the populate dirtied the page, its data stays",
    [
      mmap(page(0), pages(1), RW, PF),
      store(8, page(0), 0x22n),
      madvise(page(0), pages(1), MADV_FREE),
      madvise(page(0), pages(1), MADV_POPULATE_WRITE),
      madvise(page(0), pages(1), MADV_PAGEOUT),
    ],
    load(8, page(0)),
    "0x22",
  ),
  row(
    "FREE, mlock, munlock, PAGEOUT: mlock's population dirtied the page, its data stays",
    [
      mmap(page(0), pages(1), RW, PF),
      store(8, page(0), 0x33n),
      madvise(page(0), pages(1), MADV_FREE),
      mlock(page(0), pages(1)),
      munlock(page(0), pages(1)),
      madvise(page(0), pages(1), MADV_PAGEOUT),
    ],
    load(8, page(0)),
    "0x33",
  ),
  row(
    "FREE, POPULATE_READ, PAGEOUT: reading touches nothing, the page is discarded",
    [
      mmap(page(0), pages(1), RW, PF),
      store(8, page(0), 0x22n),
      madvise(page(0), pages(1), MADV_FREE),
      madvise(page(0), pages(1), MADV_POPULATE_READ),
      madvise(page(0), pages(1), MADV_PAGEOUT),
    ],
    load(8, page(0)),
    "0x0",
  ),
  row(
    "FREE then PAGEOUT, then a load: a fresh zero page",
    [
      mmap(page(0), pages(1), RW, PF),
      store(32, page(0), 0x1234n),
      madvise(page(0), pages(1), MADV_FREE),
      madvise(page(0), pages(1), MADV_PAGEOUT),
    ],
    load(32, page(0)),
    "0x0",
  ),
  row(
    "FREE, a store, a load, PAGEOUT: the page written since stays, the one only read goes",
    [
      mmap(page(0), pages(2), RW, PF),
      store(32, page(0), 1n),
      store(32, page(1), 2n),
      madvise(page(0), pages(2), MADV_FREE),
      store(32, page(0), 3n),
      load(32, page(1)),
      madvise(page(0), pages(2), MADV_PAGEOUT),
    ],
    rss,
    "rss 4 anon 4",
  ),
  row(
    "FREE, a store, PAGEOUT keeps the page and it is ordinary again: a second FREE and PAGEOUT discard it",
    [
      mmap(page(0), pages(1), RW, PF),
      store(32, page(0), 1n),
      madvise(page(0), pages(1), MADV_FREE),
      store(32, page(0), 2n),
      madvise(page(0), pages(1), MADV_PAGEOUT),
      load(32, page(0)),
      madvise(page(0), pages(1), MADV_FREE),
      madvise(page(0), pages(1), MADV_PAGEOUT),
    ],
    load(32, page(0)),
    "0x0",
  ),
  row(
    "FREE, a store, PAGEOUT, PAGEOUT again: the page written since stays both times",
    [
      mmap(page(0), pages(1), RW, PF),
      store(32, page(0), 1n),
      madvise(page(0), pages(1), MADV_FREE),
      store(32, page(0), 2n),
      madvise(page(0), pages(1), MADV_PAGEOUT),
      madvise(page(0), pages(1), MADV_PAGEOUT),
    ],
    load(32, page(0)),
    "0x2",
  ),
  row(
    "FREE, fork, the child writes its copy and exits: the parent's PAGEOUT discards its page",
    [
      mmap(page(0), pages(1), RW, PF),
      store(32, page(0), 9n),
      madvise(page(0), pages(1), MADV_FREE),
      fork([store(32, page(0), 10n)]),
      madvise(page(0), pages(1), MADV_PAGEOUT),
    ],
    load(32, page(0)),
    "0x0",
  ),
  row(
    "a child's FREE and PAGEOUT of a page its parent maps too: kept (RSS 4 kB after)",
    [
      mmap(page(0), pages(1), RW, PF),
      store(32, page(0), 9n),
      fork([
        madvise(page(0), pages(1), MADV_FREE),
        madvise(page(0), pages(1), MADV_PAGEOUT),
        load(32, page(0)),
      ]),
      madvise(page(0), pages(1), MADV_PAGEOUT),
    ],
    load(32, page(0)),
    "0x9",
  ),
  row(
    "FREE, mremap to elsewhere, mprotect read-only, PAGEOUT: the moved pages are still lazy-free",
    [
      mmap(page(0), pages(2), RW, PF),
      store(32, page(0), 1n),
      store(32, page(1), 2n),
      madvise(page(0), pages(2), MADV_FREE),
      mremap(page(0), pages(2), pages(2), MREMAP_MAYMOVE | MREMAP_FIXED, page(8)),
      mprotect(page(8), pages(2), PROT_READ),
      madvise(page(8), pages(2), MADV_PAGEOUT),
    ],
    rss,
    "rss 0 anon 0",
  ),
  row(
    "FREE of PROT_NONE memory, PAGEOUT, then readable again: the pages are gone",
    [
      mmap(page(0), pages(2), RW, PF),
      store(32, page(0), 1n),
      mprotect(page(0), pages(2), PROT_NONE),
      madvise(page(0), pages(2), MADV_FREE),
      madvise(page(0), pages(2), MADV_PAGEOUT),
      mprotect(page(0), pages(2), PROT_READ),
    ],
    load(32, page(0)),
    "0x0",
  ),
  // MREMAP_DONTUNMAP clears the old VMA's VM_LOCKED without munlocking its pages (dontunmap_complete()):
  // they stay unevictable, so reclaim skips them although the VMA is no longer locked.
  row(
    "PAGEOUT of shared memory whose VMA lost VM_LOCKED to MREMAP_DONTUNMAP: the pages stay (mlocked)",
    [
      memfd(pages(3)),
      mmapfd(page(0), pages(3), RW, MAP_SHARED | MAP_FIXED | MAP_LOCKED, 0),
      mremap(page(2), pages(1), pages(1), MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, page(10)),
      madvise(page(0), pages(2), MADV_PAGEOUT),
    ],
    rss,
    "rss 12 anon 0",
  ),
  row(
    "FREE and PAGEOUT of anonymous memory whose VMA lost VM_LOCKED to MREMAP_DONTUNMAP: the pages stay",
    [
      mmap(page(0), pages(3), RW, PF | MAP_LOCKED),
      mremap(page(2), pages(1), pages(1), MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, page(10)),
      madvise(page(0), pages(2), MADV_FREE),
      madvise(page(0), pages(2), MADV_PAGEOUT),
    ],
    rss,
    "rss 12 anon 12",
  ),
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
  // madvise_populate() walks on its own and stops at the first hole, before the VMAs after it: not
  // madvise_walk_vmas(), which would reach the read-only VMA and say EINVAL (Linux 6.18.44).
  row(
    "POPULATE_WRITE of a hole, then a read-only mapping → ENOMEM (it stops at the hole)",
    [mmap(page(1), pages(1), PROT_READ, PF)],
    madvise(page(0), pages(2), MADV_POPULATE_WRITE),
    "-ENOMEM",
  ),
  row(
    "POPULATE_WRITE of a mapping, a hole, then a read-only mapping → ENOMEM",
    [mmap(page(0), pages(1), RW, PF), mmap(page(2), pages(1), PROT_READ, PF)],
    madvise(page(0), pages(3), MADV_POPULATE_WRITE),
    "-ENOMEM",
  ),
]);

// KSM (v2.6.32): MADV_MERGEABLE only sets VM_MERGEABLE where KSM could merge (ksm_madvise(),
// vma_ksm_compatible()), a flag change that splits and merges like any other; MADV_UNMERGEABLE clears
// it. Faultline models a kernel built with KSM; a host without it answers -EINVAL and is not compared.
scriptTable(
  "madvise KSM",
  [
    row(
      "MERGEABLE on one page of two private anonymous: VM_MERGEABLE splits the VMA",
      [mmap(page(0), pages(2), RW, PF), madvise(page(0), pages(1), MADV_MERGEABLE)],
      maps,
      "2",
    ),
    row(
      "MERGEABLE then UNMERGEABLE: one VMA again",
      [
        mmap(page(0), pages(2), RW, PF),
        madvise(page(0), pages(1), MADV_MERGEABLE),
        madvise(page(0), pages(1), MADV_UNMERGEABLE),
      ],
      maps,
      "1",
    ),
    row(
      "MERGEABLE page by page: the marked pages merge into one VMA",
      [
        mmap(page(0), pages(3), RW, PF),
        madvise(page(0), pages(1), MADV_MERGEABLE),
        madvise(page(2), pages(1), MADV_MERGEABLE),
        madvise(page(1), pages(1), MADV_MERGEABLE),
      ],
      maps,
      "1",
    ),
    row(
      "MERGEABLE on shared memory: 0, and nothing marked (no split)",
      [mmap(page(0), pages(2), RW, SF), madvise(page(0), pages(1), MADV_MERGEABLE)],
      maps,
      "1",
    ),
    row(
      "mprotect inside a MERGEABLE VMA and back: still one VMA (the flag follows the pieces)",
      [
        mmap(page(0), pages(2), RW, PF),
        madvise(page(0), pages(2), MADV_MERGEABLE),
        mprotect(page(1), pages(1), PROT_READ),
        mprotect(page(1), pages(1), RW),
      ],
      maps,
      "1",
    ),
    row(
      "UNMERGEABLE on memory never marked → 0",
      [mmap(page(0), pages(1), RW, PF)],
      madvise(page(0), pages(1), MADV_UNMERGEABLE),
      "0",
    ),
  ],
  ksmMismatch,
);

mmTable("madvise", [
  {
    // Faultline has no swap: MADV_PAGEOUT leaves anonymous pages mapped (add_to_swap() fails), the
    // COW copies in a private file mapping too, so no data is lost; its file pages go (script rows).
    name: "MADV_PAGEOUT of a private shmem mapping: the written page (a COW copy) stays, the read one goes",
    run: ({ mm, mem }) => {
      const inode = new ShmemInode(mem);
      inode.write(0, new Uint8Array(2 * P).fill(7));
      mm.mmap(A, 2 * P, RW, MAP_PRIVATE | FIXED, new ShmemFile(inode, 0, "/f"), 0);
      const mmu = Mmu.forMm(mm);
      mmu.store32(A, 0x1234);
      expect(mmu.load8(at(1))).toBe(7);
      return mm.madvise(A, 2 * P, MADV_PAGEOUT);
    },
    expect: 0,
    after: ({ mm }) => {
      expect([mm.pgd.getPte(A) !== 0, mm.pgd.getPte(at(1)) !== 0]).toEqual([true, false]);
      expect([mm.rssAnon, mm.rssShmem]).toEqual([1, 0]);
      const mmu = Mmu.forMm(mm);
      expect([mmu.load32(A), mmu.load8(at(1))]).toEqual([0x1234, 7]);
    },
  },
  {
    // Linux 6.18.44, a C program (a fork child alive while the parent runs): the parent's MADV_FREE
    // of a page shared with the child cleans the parent's PTE and makes the page lazy-free; the
    // child's exit zaps its own dirty PTE without dirtying the anonymous page (zap_present_folio_ptes()
    // marks file pages only), so the parent's PAGEOUT discards it (a read after gives 0).
    name: "MADV_FREE of a page a fork child maps too; the child exits: the parent's PAGEOUT discards it",
    run: ({ mm }) => {
      mapAnon(mm, P);
      Mmu.forMm(mm).store32(A, 7);
      const child = mm.fork();
      if (typeof child === "number") return child;
      expect(pteFlags(child.pgd.getPte(A)) & _PAGE_DIRTY).toBe(_PAGE_DIRTY);
      expect(mm.madvise(A, P, MADV_FREE)).toBe(0);
      expect(pteFlags(mm.pgd.getPte(A)) & _PAGE_DIRTY).toBe(0);
      expect(mm.madvise(A, P, MADV_PAGEOUT)).toBe(0); // shared: kept
      expect(mm.rssAnon).toBe(1);
      child.exit();
      return mm.madvise(A, P, MADV_PAGEOUT);
    },
    expect: 0,
    after: ({ mm }) => {
      expect(mm.pgd.getPte(A)).toBe(0);
      expect(mm.rssAnon).toBe(0);
      expect(Mmu.forMm(mm).load32(A)).toBe(0);
    },
  },
  {
    // try_to_unmap_one(): a lazy-free page someone else holds (ref_count != 1 + map_count: a pin) is
    // not discarded but put back as an ordinary anonymous page, so a later PAGEOUT keeps it too.
    name: "MADV_FREE then PAGEOUT of a pinned page: kept, and no longer lazy-free once the pin is gone",
    run: ({ mm, mem }) => {
      mapAnon(mm, P);
      Mmu.forMm(mm).store32(A, 7);
      const pfn = ptePfn(mm.pgd.getPte(A));
      mem.getPage(pfn);
      expect(mm.madvise(A, P, MADV_FREE)).toBe(0);
      expect(mm.madvise(A, P, MADV_PAGEOUT)).toBe(0);
      expect(mm.rssAnon).toBe(1);
      mem.putPage(pfn);
      return mm.madvise(A, P, MADV_PAGEOUT);
    },
    expect: 0,
    after: ({ mm }) => {
      expect(mm.rssAnon).toBe(1);
      expect(Mmu.forMm(mm).load32(A)).toBe(7);
    },
  },
  {
    // madvise_vma_behavior(): droppable memory stays out of core dumps (v6.11).
    name: "MADV_DODUMP on MAP_DROPPABLE memory → EINVAL, still VM_DONTDUMP",
    run: ({ mm }) => {
      mm.mmap(A, 2 * P, RW, MAP_DROPPABLE | MAP_ANONYMOUS | FIXED, null, 0);
      return mm.madvise(A, 2 * P, MADV_DODUMP);
    },
    expect: -EINVAL,
    after: ({ mm }) => expect(mm.vmaLookup(A)!.vmFlags & VM_DONTDUMP).toBe(VM_DONTDUMP),
  },
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

// ================================================================ guard regions (MADV_GUARD_*)
// The peer suites (selftests/mm/guard-regions, LTP madvise12) pin the user-visible rules against the
// live kernel; these rows pin what only the model shows: what the markers hold and where they go.

const guardAt = (mm: Mm, n: number) => pteIsGuardMarker(mm.pgd.getPte(at(n)));

mmTable("madvise guard regions", [
  {
    name: "2.6.10 knows neither advice → EINVAL (era.ts madviseModernAdvice)",
    options: { era: "2.6.10" },
    run: ({ mm }) => {
      mapAnon(mm, 2 * P);
      return mm.madvise(A, P, MADV_GUARD_INSTALL) || mm.madvise(A, P, MADV_GUARD_REMOVE);
    },
    expect: -EINVAL,
  },
  {
    name: "INSTALL on VM_PFNMAP → EINVAL (is_valid_guard_vma: VM_SPECIAL)",
    run: ({ mm }) => {
      mapRemap(mm);
      return mm.madvise(A, 2 * P, MADV_GUARD_INSTALL);
    },
    expect: -EINVAL,
    after: ({ mm }) => expect(guardAt(mm, 0)).toBe(false),
  },
  {
    name: "REMOVE on VM_PFNMAP → EINVAL too",
    run: ({ mm }) => {
      mapRemap(mm);
      return mm.madvise(A, 2 * P, MADV_GUARD_REMOVE);
    },
    expect: -EINVAL,
  },
  {
    name: "INSTALL on mlocked memory → EINVAL, its pages stay",
    run: ({ mm }) => {
      mm.mmap(A, 2 * P, RW, PF | MAP_LOCKED, null, 0);
      return mm.madvise(A, 2 * P, MADV_GUARD_INSTALL);
    },
    expect: -EINVAL,
    after: ({ mm }) => expect(mm.rssAnon).toBe(2),
  },
  {
    name: "REMOVE on mlocked memory is allowed (non-destructive): markers set before mlock go",
    run: ({ mm }) => {
      mapAnon(mm, 2 * P);
      expect(mm.madvise(A, P, MADV_GUARD_INSTALL)).toBe(0);
      // mlock populates: the guarded page fails (EFAULT, reported by mlock as ENOMEM) but the flag stays.
      mm.mlock(A, 2 * P);
      return mm.madvise(A, 2 * P, MADV_GUARD_REMOVE);
    },
    expect: 0,
    after: ({ mm }) => expect(guardAt(mm, 0)).toBe(false),
  },
  {
    name: "INSTALL over populated pages frees them: no RSS, no page behind a marker, a VMA with an anon_vma",
    run: ({ mm }) => {
      mm.mmap(A, 4 * P, RW, PF | MAP_POPULATE, null, 0);
      return mm.madvise(A, 3 * P, MADV_GUARD_INSTALL);
    },
    expect: 0,
    after: ({ mm }) => {
      expect(mm.rssAnon).toBe(1);
      expect([0, 1, 2, 3].map((n) => guardAt(mm, n))).toEqual([true, true, true, false]);
      expect(mm.vmaLookup(A)!.anonVma).not.toBeNull();
      // A marker holds no page: vm_normal_page() finds none.
      expect(mm.normalPfn(mm.pgd.getPte(A))).toBe(-1);
    },
  },
  {
    name: "a fault on a marker is SIGSEGV SEGV_MAPERR for reads and writes (handle_pte_marker)",
    run: ({ mm }) => {
      mapAnon(mm, 2 * P);
      return mm.madvise(A, P, MADV_GUARD_INSTALL);
    },
    expect: 0,
    after: ({ mm }) => {
      expect(mm.handleFault(A + 8, false)).toBe(FAULT_SEGV_MAPERR);
      expect(mm.handleFault(A + 8, true)).toBe(FAULT_SEGV_MAPERR);
      expect(mm.handleFault(at(1), true)).toBe(FAULT_OK);
      expect(guardAt(mm, 0)).toBe(true);
    },
  },
  {
    name: "a marker carries no protection key, and pkey_mprotect leaves it a marker",
    options: { pku: true },
    run: ({ mm }) => {
      mapAnon(mm, 2 * P);
      expect(mm.madvise(A, 2 * P, MADV_GUARD_INSTALL)).toBe(0);
      const key = mm.pkeyAlloc(0, 0);
      expect(key).toBeGreaterThan(0);
      return mm.pkeyMprotect(A, 2 * P, PROT_READ, key);
    },
    expect: 0,
    after: ({ mm }) => {
      expect(guardAt(mm, 0) && guardAt(mm, 1)).toBe(true);
      expect(mm.pgd.readPkey(mm.pgd.pteSlot(A, false))).toBe(0);
    },
  },
  {
    name: "a child inherits the markers; its exit drops them and frees every table (fork then exit)",
    run: ({ mm }) => {
      mapAnon(mm, 4 * P);
      expect(mm.madvise(A, 2 * P, MADV_GUARD_INSTALL)).toBe(0);
      const child = mm.fork();
      if (typeof child === "number") return child;
      const ok = guardAt(child, 0) && guardAt(child, 1) && !guardAt(child, 2);
      child.checkInvariants();
      child.exit();
      return ok ? 0 : -1;
    },
    expect: 0,
  },
  {
    name: "munmap drops the markers it covers (ZAP_FLAG_DROP_MARKER), MADV_DONTNEED does not",
    run: ({ mm }) => {
      mapAnon(mm, 4 * P);
      expect(mm.madvise(A, 4 * P, MADV_GUARD_INSTALL)).toBe(0);
      expect(mm.madvise(A, 4 * P, MADV_DONTNEED)).toBe(0);
      expect([0, 1, 2, 3].every((n) => guardAt(mm, n))).toBe(true);
      return mm.munmap(at(2), 2 * P);
    },
    expect: 0,
    after: ({ mm }) => {
      expect(guardAt(mm, 1)).toBe(true);
      expect(mm.pgd.getPte(at(2))).toBe(0);
    },
  },
]);

// ====================================================================== madvise in 2.6.10
// 2.6.10's sys_madvise() (mm/madvise.c, 2.6.9 and 2.6.11 alike) checked start, length and wrap, then
// walked the VMAs; madvise_vma() knew five advices and said -EINVAL for any other only on reaching a
// VMA, and madvise_willneed() wanted a file (era.ts madviseModernAdvice).

const old = { era: "2.6.10" } as const;

mmTable("madvise in 2.6.10", [
  ...[MADV_FREE, MADV_REMOVE, MADV_DONTFORK, MADV_BAD].map(
    (advice): MmRow => ({
      name: `advice ${advice} on mapped anonymous memory → EINVAL in 2.6.10 (not one of its five)`,
      options: old,
      run: ({ mm }) => {
        mapAnon(mm, 2 * P);
        return mm.madvise(A, 2 * P, advice);
      },
      expect: -EINVAL,
      after: ({ mm }) => expect(mm.vmaLookup(A)!.vmEnd).toBe(at(2)),
    }),
  ),
  {
    name: "an unknown advice with a zero length → 0 in 2.6.10 (the walk never starts)",
    options: old,
    run: ({ mm }) => mm.madvise(A, 0, MADV_BAD),
    expect: 0,
  },
  {
    name: "an unknown advice with a zero length → EINVAL today (madvise_behavior_valid first)",
    run: ({ mm }) => mm.madvise(A, 0, MADV_BAD),
    expect: -EINVAL,
  },
  {
    name: "an unknown advice over nothing mapped → ENOMEM in 2.6.10",
    options: old,
    run: ({ mm }) => mm.madvise(A, 2 * P, MADV_BAD),
    expect: -ENOMEM,
  },
  {
    name: "an unknown advice over nothing mapped → EINVAL today",
    run: ({ mm }) => mm.madvise(A, 2 * P, MADV_BAD),
    expect: -EINVAL,
  },
  {
    name: "an unknown advice at a misaligned start → EINVAL in 2.6.10 too (checked before the walk)",
    options: old,
    run: ({ mm }) => mm.madvise(A + 1, P, MADV_BAD),
    expect: -EINVAL,
  },
  {
    name: "WILLNEED of private anonymous memory → EBADF in 2.6.10 (madvise_willneed: no file)",
    options: old,
    run: ({ mm }) => {
      mapAnon(mm, 2 * P);
      return mm.madvise(A, 2 * P, MADV_WILLNEED);
    },
    expect: -EBADF,
  },
  {
    name: "WILLNEED of private anonymous memory → 0 today",
    run: ({ mm }) => {
      mapAnon(mm, 2 * P);
      return mm.madvise(A, 2 * P, MADV_WILLNEED);
    },
    expect: 0,
  },
  {
    name: "WILLNEED of shared anonymous memory (a shmem file) → 0 in 2.6.10",
    options: old,
    run: ({ mm }) => {
      mm.mmap(A, 2 * P, RW, SF, null, 0);
      return mm.madvise(A, 2 * P, MADV_WILLNEED);
    },
    expect: 0,
  },
  {
    name: "DONTNEED, RANDOM, SEQUENTIAL and NORMAL → 0 in 2.6.10",
    options: old,
    run: ({ mm }) => {
      mapAnon(mm, 2 * P);
      return [MADV_DONTNEED, MADV_RANDOM, MADV_SEQUENTIAL, MADV_NORMAL].reduce(
        (r, adv) => r || mm.madvise(A, 2 * P, adv),
        0,
      );
    },
    expect: 0,
  },
]);

// ====================================================================== a split past vm.max_map_count
// split_vma() refuses a split at the map count limit (-ENOMEM), and madvise says -EAGAIN for it:
// madvise_vma_behavior() today, madvise_behavior() in 2.6.9 and 2.6.11 (so 2.6.10). Linux 6.18.44,
// the map count filled: madvise(MADV_RANDOM) of a VMA's middle page → EAGAIN.

mmTable(
  "madvise past vm.max_map_count",
  (["modern", "2.6.10"] as const).map(
    (era): MmRow => ({
      name: `${era}: a split at the limit → EAGAIN, the VMA unchanged`,
      options: { era, maxMapCount: 1 },
      run: ({ mm }) => {
        mapAnon(mm, 3 * P);
        return mm.madvise(at(1), P, MADV_RANDOM);
      },
      expect: -EAGAIN,
      after: ({ mm }) => expect(mm.mapCount).toBe(1),
    }),
  ),
);

// The first split fits, the second (at the range's end) does not: the first stays, the advice is not
// applied (vma_modify() in 6.18, madvise_behavior() in 2.6.9/2.6.11 split start then end). Linux
// 6.18.44, one slot below the limit: madvise(MADV_RANDOM) of a VMA's middle page → EAGAIN.
mmTable(
  "madvise: the second split past vm.max_map_count",
  (["modern", "2.6.10"] as const).map(
    (era): MmRow => ({
      name: `${era}: → EAGAIN, the first split stays, the range not advised`,
      options: { era, maxMapCount: 2 },
      run: ({ mm }) => {
        mapAnon(mm, 3 * P);
        return mm.madvise(at(1), P, MADV_RANDOM);
      },
      expect: -EAGAIN,
      after: ({ mm }) => {
        expect(mm.mapCount).toBe(2);
        expect([...mm].some((v) => v.vmFlags & VM_RAND_READ)).toBe(false);
      },
    }),
  ),
);
