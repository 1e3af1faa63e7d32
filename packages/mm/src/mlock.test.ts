// Every documented errno of mlock(2) and munlock(2), as a table (reference linux-mm.md §3, §7 and the man
// pages). Script rows also run on the live kernel; Mm rows follow the kernel source each cites
// (test/syscall-tables.ts explains both kinds).
import type { PhysMemory } from "@faultline/phys";
import { expect } from "vitest";
import { mlock, mmap, munlock, PROT_NONE as NONE, page, pages, rss } from "../test/oracle/script";
import {
  A,
  at,
  fakeFile,
  type MmRow,
  mapAnon,
  mapRemap,
  mmTable,
  P,
  PF,
  RW,
  row,
  scriptTable,
} from "../test/syscall-tables";
import {
  EAGAIN,
  EFAULT,
  EINVAL,
  ENOMEM,
  EPERM,
  errnoName,
  MAP_ANONYMOUS,
  MAP_DROPPABLE,
  MAP_FIXED,
  MAP_SHARED,
  MCL_CURRENT,
  MCL_FUTURE,
  MCL_ONFAULT,
  type MmFile,
  PROT_NONE,
  PROT_READ,
  VM_FAULT_SIGBUS,
  VM_LOCKED,
  VM_LOCKONFAULT,
} from "./index";
import { ShmemFile, ShmemInode } from "./shmem";

// ================================================================================== mlock

scriptTable("mlock", [
  row(
    "mlock of private writable memory → 0",
    [mmap(page(0), pages(2), RW, PF)],
    mlock(page(0), pages(2)),
    "0",
  ),
  row(
    "it faults the pages in for writing (populate_vma_page_range: FOLL_WRITE)",
    [mmap(page(0), pages(2), RW, PF), mlock(page(0), pages(2))],
    rss,
    "rss 8 anon 8",
  ),
  row("PROT_NONE → ENOMEM", [mmap(page(0), pages(2), NONE, PF)], mlock(page(0), pages(2)), "-ENOMEM"),
  row(
    "population stops at a PROT_NONE VMA: the page after it is not faulted in",
    [
      mmap(page(0), pages(1), RW, PF),
      mmap(page(1), pages(1), NONE, PF),
      mmap(page(2), pages(1), RW, PF),
      mlock(page(0), pages(3)),
    ],
    rss,
    "rss 4 anon 4",
  ),
  row(
    "munlock of PROT_NONE memory → 0",
    [mmap(page(0), pages(2), NONE, PF)],
    munlock(page(0), pages(2)),
    "0",
  ),
  row("a hole → ENOMEM", [mmap(page(0), pages(1), RW, PF)], mlock(page(0), pages(2)), "-ENOMEM"),
  // len + offset_in_page(start) and PAGE_ALIGN() wrap as unsigned longs do (do_mlock()), on the exact
  // 64-bit values.
  row(
    "len 2^64 - 4095 rounds up to 0 → 0",
    [mmap(page(0), pages(1), RW, PF)],
    mlock(page(0), 0xffff_ffff_ffff_f001n),
    "0",
  ),
  row(
    "len -1 from an offset of 0xfff wraps to one page",
    [mmap(page(0), pages(1), RW, PF)],
    mlock(page(0, 0xfff), 0xffff_ffff_ffff_ffffn),
    "0",
  ),
  row(
    "len -1 from an offset of 0xfff: that page unmapped → ENOMEM",
    [],
    mlock(page(0, 0xfff), 0xffff_ffff_ffff_ffffn),
    "-ENOMEM",
  ),
  row(
    "start 2^64 - 4095, len 0: the last page, whose end wraps → EINVAL",
    [],
    mlock(0xffff_ffff_ffff_f001n, 0n),
    "-EINVAL",
  ),
  row("munlock: len 2^64 - 4095 rounds up to 0 → 0", [], munlock(page(0), 0xffff_ffff_ffff_f001n), "0"),
]);

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
  {
    // __mmap_complete() asks vma_supports_mlock(), as mlock_fixup() does: droppable memory is not locked
    // nor counted, but do_mmap() still populates it (its own vm_flags had VM_LOCKED). Linux 6.18.44:
    // VmFlags without "lo", Locked 0 kB, both pages resident.
    name: "mlockall(MCL_FUTURE), then MAP_DROPPABLE: populated, neither locked nor counted",
    run: ({ mm }) => {
      mm.mlockall(MCL_FUTURE);
      return mm.mmap(A, 2 * P, RW, MAP_DROPPABLE | MAP_ANONYMOUS | MAP_FIXED, null, 0);
    },
    expect: A,
    after: ({ mm }) => {
      expect(mm.vmaLookup(A)!.vmFlags & VM_LOCKED).toBe(0);
      expect(mm.lockedVm).toBe(0);
      expect(mm.rssAnon).toBe(2);
    },
  },
  {
    // 2.6.10's sys_mlockall() took MCL_CURRENT and MCL_FUTURE only (era.ts mlockallFlags).
    name: "2.6.10: mlockall(MCL_CURRENT | MCL_ONFAULT) → EINVAL, nothing locked",
    options: { era: "2.6.10" },
    run: ({ mm }) => {
      mapAnon(mm, 2 * P);
      return mm.mlockall(MCL_CURRENT | MCL_ONFAULT);
    },
    expect: -EINVAL,
    after: ({ mm }) => expect(mm.lockedVm).toBe(0),
  },
  {
    name: "modern: mlockall(MCL_CURRENT | MCL_ONFAULT) locks without populating",
    run: ({ mm }) => {
      mapAnon(mm, 2 * P);
      return mm.mlockall(MCL_CURRENT | MCL_ONFAULT);
    },
    expect: 0,
    after: ({ mm }) => {
      expect(mm.lockedVm).toBe(2);
      expect(mm.vmaLookup(A)!.vmFlags & VM_LOCKONFAULT).toBe(VM_LOCKONFAULT);
    },
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
  {
    // do_mlock(): mlock_fixup() locks first, then __mm_populate(start, len, 0) fails on memory GUP may
    // not touch (check_vma_flags: no FOLL_FORCE for an inaccessible VMA) and -EFAULT becomes -ENOMEM
    // (__mlock_posix_error_return); the VMA stays locked and counted.
    name: "PROT_NONE → ENOMEM, the range still locked",
    run: ({ mm }) => {
      mm.mmap(A, 2 * P, PROT_NONE, PF, null, 0);
      return mm.mlock(A, 2 * P);
    },
    expect: -ENOMEM,
    after: ({ mm }) => {
      expect(mm.lockedVm).toBe(2);
      expect(mm.vmaLookup(A)!.vmFlags & VM_LOCKED).toBe(VM_LOCKED);
    },
  },
  {
    name: "population stops at a PROT_NONE VMA: what lies after it is locked but not faulted in",
    run: ({ mm }) => {
      mm.mmap(A, P, RW, PF, null, 0);
      mm.mmap(at(1), P, PROT_NONE, PF, null, 0);
      mm.mmap(at(2), P, RW, PF, null, 0);
      return mm.mlock(A, 3 * P);
    },
    expect: -ENOMEM,
    after: ({ mm }) => {
      expect(mm.lockedVm).toBe(3);
      expect(mm.rssAnon).toBe(1);
    },
  },
  {
    name: "munlock of PROT_NONE memory → 0 (nothing to populate)",
    run: ({ mm }) => {
      mm.mmap(A, P, PROT_NONE, PF, null, 0);
      return mm.munlock(A, P);
    },
    expect: 0,
  },
  {
    name: "mlock after mlock2(MLOCK_ONFAULT) replaces the lock bits: VM_LOCKONFAULT goes",
    run: ({ mm }) => {
      mm.mlock(mapAnon(mm), P, true, true);
      expect(mm.vmaLookup(A)!.vmFlags & VM_LOCKONFAULT).toBe(VM_LOCKONFAULT);
      return mm.mlock(A, P);
    },
    expect: 0,
    after: ({ mm }) => {
      expect(mm.vmaLookup(A)!.vmFlags & (VM_LOCKED | VM_LOCKONFAULT)).toBe(VM_LOCKED);
      expect(mm.lockedVm).toBe(1);
      expect(mm.rssAnon).toBe(1);
    },
  },
  {
    // populate_vma_page_range() returns early for VM_LOCKONFAULT: mremap's mm_populate of the grown
    // part leaves it to fault.
    name: "memory locked on fault is not populated when mremap grows it",
    run: ({ mm }) => {
      mm.mlock(mapAnon(mm), P, true, true);
      return mm.mremap(A, P, 3 * P, 0);
    },
    expect: A,
    after: ({ mm }) => {
      expect(mm.lockedVm).toBe(3);
      expect(mm.rssAnon).toBe(0);
    },
  },
]);

// A split at vm.max_map_count (split_vma: -ENOMEM). Today's mlock_fixup() passes that on (Linux 6.18.44,
// the map count filled: mlock of a VMA's middle page → ENOMEM); 2.6.10's answered -EAGAIN (2.6.9 and
// 2.6.11 alike; era.ts mlockSplitEagain).
mmTable(
  "mlock past vm.max_map_count",
  (
    [
      ["modern", -ENOMEM],
      ["2.6.10", -EAGAIN],
    ] as const
  ).map(
    ([era, errno]): MmRow => ({
      name: `${era}: a split at the limit → ${errno === -ENOMEM ? "ENOMEM" : "EAGAIN"}, nothing locked`,
      options: { era, maxMapCount: 1 },
      run: ({ mm }) => {
        mapAnon(mm, 3 * P);
        return mm.mlock(at(1), P);
      },
      expect: errno,
      after: ({ mm }) => {
        expect(mm.mapCount).toBe(1);
        expect(mm.lockedVm).toBe(0);
      },
    }),
  ),
);

// The order of mlock's checks: can_do_mlock() (-EPERM), RLIMIT_MEMLOCK (-ENOMEM), then a wrapping range
// (-EINVAL, apply_vma_lock_flags) — 6.18's do_mlock() and 2.6.9/2.6.11's sys_mlock() + do_mlock() alike.
// Linux 6.18.44 without CAP_IPC_LOCK: mlock(addr, -2 pages) is EPERM with RLIMIT_MEMLOCK 0, ENOMEM with
// one page, and munlock(addr, -2 pages) EINVAL.
mmTable(
  "mlock: which check comes first",
  (["modern", "2.6.10"] as const).flatMap((era): MmRow[] => [
    {
      name: `${era}: a wrapping range with RLIMIT_MEMLOCK 0 → EPERM`,
      options: { era, mlockLimit: 0 },
      run: ({ mm }) => mm.mlock(mapAnon(mm, 2 * P), -2 * P),
      expect: -EPERM,
    },
    {
      name: `${era}: a wrapping range past RLIMIT_MEMLOCK → ENOMEM`,
      options: { era, mlockLimit: P },
      run: ({ mm }) => mm.mlock(mapAnon(mm, 2 * P), -2 * P),
      expect: -ENOMEM,
    },
    {
      name: `${era}: munlock of a wrapping range with RLIMIT_MEMLOCK 0 → EINVAL`,
      options: { era, mlockLimit: 0 },
      run: ({ mm }) => mm.munlock(mapAnon(mm, 2 * P), -2 * P),
      expect: -EINVAL,
    },
  ]),
);

// RLIMIT_MEMLOCK and memory already locked: today's do_mlock() does not charge it again
// (count_mm_mlocked_page_nr; Linux 6.18.44 without CAP_IPC_LOCK, limit two pages: a second mlock of the
// same two pages → 0); 2.6.10's sys_mlock() charged len + locked_vm (era.ts mlockChargesLockedOnce).
mmTable(
  "mlock of locked memory against RLIMIT_MEMLOCK",
  (
    [
      ["modern", 0],
      ["2.6.10", -ENOMEM],
    ] as const
  ).map(
    ([era, result]): MmRow => ({
      name: `${era}: locking two locked pages again under a two-page limit → ${result ? "ENOMEM" : "0"}`,
      options: { era, mlockLimit: 2 * P },
      run: ({ mm }) => {
        expect(mm.mlock(mapAnon(mm, 2 * P), 2 * P)).toBe(0);
        return mm.mlock(A, 2 * P);
      },
      expect: result,
      after: ({ mm }) => expect(mm.lockedVm).toBe(2),
    }),
  ),
);

// The first split fits, the second does not (Linux 6.18.44, one slot below the limit: mlock of a VMA's
// middle page → ENOMEM): the first split stays, nothing is locked or counted. Across two VMAs, what
// apply_vma_lock_flags() locked in the first before the second's split failed stays locked and counted.
mmTable(
  "mlock: the second split past vm.max_map_count",
  (
    [
      ["modern", -ENOMEM],
      ["2.6.10", -EAGAIN],
    ] as const
  ).flatMap(([era, errno]): MmRow[] => [
    {
      name: `${era}: in one VMA → ${errno === -ENOMEM ? "ENOMEM" : "EAGAIN"}, nothing locked`,
      options: { era, maxMapCount: 2 },
      run: ({ mm }) => {
        mapAnon(mm, 3 * P);
        return mm.mlock(at(1), P);
      },
      expect: errno,
      after: ({ mm }) => {
        expect(mm.mapCount).toBe(2);
        expect(mm.lockedVm).toBe(0);
        expect([...mm].some((v) => v.vmFlags & VM_LOCKED)).toBe(false);
      },
    },
    {
      name: `${era}: across two VMAs, the second's split fails → the first's part stays locked`,
      options: { era, maxMapCount: 3 },
      run: ({ mm }) => {
        mm.mmap(A, 2 * P, RW, PF, null, 0);
        mm.mmap(at(2), 3 * P, PROT_READ, PF, null, 0);
        return mm.mlock(at(1), 3 * P);
      },
      expect: errno,
      after: ({ mm }) => {
        expect(mm.mapCount).toBe(3);
        expect(mm.lockedVm).toBe(1);
        expect(mm.vmaLookup(at(1))!.vmFlags & VM_LOCKED).toBe(VM_LOCKED);
        expect(mm.vmaLookup(at(2))!.vmFlags & VM_LOCKED).toBe(0);
      },
    },
  ]),
);

// 2.6.10's mlock_fixup() faulted in each range it locked (make_pages_present(), 2.6.9 and 2.6.11), so a
// VMA locked before a later failure is populated; 6.18's do_mlock() populates only after
// apply_vma_lock_flags() has succeeded (era.ts mlockPopulatesEachVma).
mmTable(
  "mlock: a failure after the first VMA, and what is populated",
  (
    [
      ["modern", -ENOMEM, 0],
      ["2.6.10", -EAGAIN, 2],
    ] as const
  ).flatMap(([era, splitErrno, rss]): MmRow[] => [
    {
      name: `${era}: the second VMA's split fails → the first locked, ${rss ? "populated" : "not populated"}`,
      options: { era, maxMapCount: 2 },
      run: ({ mm }) => {
        mm.mmap(A, 2 * P, RW, PF, null, 0);
        mm.mmap(at(2), 3 * P, PROT_READ, PF, null, 0);
        return mm.mlock(A, 3 * P);
      },
      expect: splitErrno,
      after: ({ mm }) => {
        expect(mm.lockedVm).toBe(2);
        expect(mm.rssAnon).toBe(rss);
      },
    },
    {
      name: `${era}: a hole after the first VMA → ENOMEM, the first locked, ${rss ? "populated" : "not populated"}`,
      options: { era },
      run: ({ mm }) => {
        mm.mmap(A, 2 * P, RW, PF, null, 0);
        mm.mmap(at(3), P, RW, PF, null, 0);
        return mm.mlock(A, 4 * P);
      },
      expect: -ENOMEM,
      after: ({ mm }) => {
        expect(mm.lockedVm).toBe(2);
        expect(mm.rssAnon).toBe(rss);
      },
    },
  ]),
);

// What mlock says when faulting the memory in fails. 2.6.9/2.6.11's mlock_fixup() returned
// make_pages_present()'s result: get_user_pages()'s -EFAULT when the first page fails (a SIGBUS from
// the driver, a VMA without the access asked such as PROT_NONE), -1 (EPERM) when a later page does;
// 6.18 answers -ENOMEM for both (__mlock_posix_error_return). The range stays locked in both.
const sigbusDriver = (): MmFile =>
  fakeFile({
    mmap: (vma) => {
      vma.vmOps = { fault: () => VM_FAULT_SIGBUS };
      return 0;
    },
  });
const onePageFile = (mem: PhysMemory): ShmemFile => {
  const f = new ShmemFile(new ShmemInode(mem), 0, "/tmp/f");
  f.inode.setSize(P);
  return f;
};
mmTable(
  "mlock: a fault that fails, by era",
  (
    [
      ["modern", -ENOMEM, -ENOMEM, -ENOMEM],
      ["2.6.10", -EFAULT, -EPERM, -EFAULT],
    ] as const
  ).flatMap(([era, first, later, none]): MmRow[] => [
    {
      name: `${era}: a driver whose ->fault is SIGBUS → ${errnoName(first)}, the range locked`,
      options: { era },
      run: ({ mm }) => {
        mm.mmap(A, 2 * P, PROT_READ, MAP_SHARED | MAP_FIXED, sigbusDriver(), 0);
        return mm.mlock(A, 2 * P);
      },
      expect: first,
      after: ({ mm }) => expect(mm.lockedVm).toBe(2),
    },
    {
      name: `${era}: a tmpfs file of one page mapped over two (page 1 SIGBUS) → ${errnoName(later)}, page 0 in`,
      options: { era },
      run: ({ mm, mem }) => {
        mm.mmap(A, 2 * P, RW, MAP_SHARED | MAP_FIXED, onePageFile(mem), 0);
        return mm.mlock(A, 2 * P);
      },
      expect: later,
      after: ({ mm }) => {
        expect(mm.lockedVm).toBe(2);
        expect(mm.rssShmem).toBe(1);
      },
    },
    {
      name: `${era}: PROT_NONE anonymous memory → ${errnoName(none)}`,
      options: { era },
      run: ({ mm }) => {
        mm.mmap(A, 2 * P, PROT_NONE, PF, null, 0);
        return mm.mlock(A, 2 * P);
      },
      expect: none,
      after: ({ mm }) => expect(mm.lockedVm).toBe(2),
    },
  ]),
);
