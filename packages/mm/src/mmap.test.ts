// Every documented errno of mmap(2) and munmap(2), as a table (reference linux-mm.md §3, §7 and the man
// pages). Script rows also run on the live kernel; Mm rows follow the kernel source each cites
// (test/syscall-tables.ts explains both kinds).
import { PhysMemory } from "@faultline/phys";
import { describe, expect, it } from "vitest";
import {
  load,
  MAP_32BIT,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_GROWSDOWN,
  MAP_LOCKED,
  MAP_NORESERVE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  mmap,
  munmap,
  PRIVATE_ANON,
  PROT_NONE,
  PROT_READ,
  PROT_SEM,
  PROT_WRITE,
  page,
  pages,
  store,
  TASK_SIZE,
  USER_TOP,
} from "../test/oracle/script";
import {
  A,
  ADDR_32BIT,
  ANY_ADDR,
  at,
  fakeFile,
  hex,
  MAP_DROPPABLE,
  type MmRow,
  mmTable,
  P,
  PF,
  RW,
  remapFile,
  row,
  SF,
  scriptTable,
} from "../test/syscall-tables";
import { MAP_NONBLOCK, MAP_POPULATE, MCL_FUTURE, MREMAP_FIXED, MREMAP_MAYMOVE } from "./constants";
import {
  EACCES,
  EAGAIN,
  EINVAL,
  ENODEV,
  ENOMEM,
  EOPNOTSUPP,
  EOVERFLOW,
  MAP_PRIVATE,
  MAP_SYNC,
  VM_FAULT_SIGBUS,
  VM_LOCKED,
  VM_MAYWRITE,
  VM_SHARED,
} from "./index";
import { Mm } from "./mm";
import { _PAGE_DIRTY, pteFlags, ptePfn } from "./pgtable";
import { ramOnly } from "./phys-access";
import { mapsLine } from "./procfs";
import { ShmemFile, ShmemInode } from "./shmem";

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
  // __get_unmapped_area() returns a MAP_FIXED address as it is, and IS_ERR_VALUE() reads the top 4095
  // as an errno: 0xffffffffffffffff is -EPERM, 2^64 - 4095 is -4095; 2^64 - 4096 is an address.
  row(
    "MAP_FIXED at 0xffffffffffffffff → EPERM",
    [],
    mmap(0xffff_ffff_ffff_ffffn, pages(1), RW, PF),
    "-EPERM",
  ),
  row("MAP_FIXED at 2^64 - 4095 → errno 4095", [], mmap(0xffff_ffff_ffff_f001n, pages(1), RW, PF), "-E4095"),
  row("MAP_FIXED at 2^64 - 4096 → ENOMEM", [], mmap(0xffff_ffff_ffff_f000n, pages(1), RW, PF), "-ENOMEM"),
  row(
    "MAP_FIXED at 0xffffffffffffffff with len > TASK_SIZE → ENOMEM first",
    [],
    mmap(0xffff_ffff_ffff_ffffn, 0x8000_0000_0000n, RW, PF),
    "-ENOMEM",
  ),
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
  // The commit charge's overcommit heuristic (__vm_enough_memory(), vm.overcommit_memory = 0): one
  // request for more than RAM and swap is ENOMEM. 64 TiB is more than any host's; the Faultline side
  // compares it with its machine's RAM (MmOptions.overcommitPages).
  row("private writable 64 TiB → ENOMEM (overcommit)", [], mmap(0n, 1n << 46n, RW, PRIVATE_ANON), "-ENOMEM"),
  row("private read-only 64 TiB is not charged", [], mmap(0n, 1n << 46n, PROT_READ, PRIVATE_ANON), ANY_ADDR),
  row(
    "private writable 64 TiB with MAP_NORESERVE is not charged",
    [],
    mmap(0n, 1n << 46n, RW, PRIVATE_ANON | MAP_NORESERVE),
    ANY_ADDR,
  ),
  row(
    "shared anonymous 64 TiB → ENOMEM (shmem_acct_size)",
    [],
    mmap(0n, 1n << 46n, PROT_READ, MAP_SHARED | MAP_ANONYMOUS),
    "-ENOMEM",
  ),
  row(
    "shared anonymous 64 TiB with MAP_NORESERVE is not charged",
    [],
    mmap(0n, 1n << 46n, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE),
    ANY_ADDR,
  ),
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
  row(
    "MAP_32BIT: bottom-up in find_start_end()'s [1 GiB, 2 GiB), not the top-down mmap base",
    [],
    mmap(0n, pages(1), RW, PRIVATE_ANON | MAP_32BIT),
    ADDR_32BIT,
  ),
  row(
    "MAP_32BIT: a free hint whose end lies below 2 GiB is used as is",
    [],
    mmap(0x1000_0000n, pages(1), RW, PRIVATE_ANON | MAP_32BIT),
    "0x10000000",
  ),
  row(
    "MAP_32BIT longer than its 2 GiB window → ENOMEM",
    [],
    mmap(0n, 0x8000_1000n, RW, PRIVATE_ANON | MAP_32BIT),
    "-ENOMEM",
  ),
]);

mmTable("mmap", [
  {
    // 2.6.10's do_mmap_pgoff() knew MAP_SHARED and MAP_PRIVATE only (era.ts modernMapTypes).
    name: "2.6.10: a file with MAP_SHARED_VALIDATE → EINVAL (today it is MAP_SHARED with checked flags)",
    options: { era: "2.6.10" },
    run: ({ mm }) => mm.mmap(0, P, PROT_READ, MAP_SHARED_VALIDATE, fakeFile(), 0),
    expect: -EINVAL,
    after: ({ mm }) => expect(mm.mapCount).toBe(0),
  },
  {
    name: "modern: a file with MAP_SHARED_VALIDATE maps",
    run: ({ mm }) => mm.mmap(0, P, PROT_READ, MAP_SHARED_VALIDATE, fakeFile(), 0),
    expect: "addr",
  },
  {
    name: "2.6.10: MAP_DROPPABLE anonymous → EINVAL",
    options: { era: "2.6.10" },
    run: ({ mm }) => mm.mmap(0, P, RW, MAP_DROPPABLE | MAP_ANONYMOUS, null, 0),
    expect: -EINVAL,
    after: ({ mm }) => expect(mm.mapCount).toBe(0),
  },
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
    // __mmap_setup() clears the old mapping (vms_clean_up_area) before ->mmap, so a failing ->mmap
    // cannot put it back: vms_abort_munmap_vmas() completes the unmap and leaves a gap (2.6.10's
    // do_mmap_pgoff() had unmapped it before, too).
    name: "file: a failing MAP_FIXED ->mmap leaves a gap where the old mapping was",
    run: ({ mm }) => {
      mm.mmap(A, P, RW, PF, null, 0);
      return mm.mmap(A, P, PROT_READ, MAP_SHARED | MAP_FIXED, fakeFile({ mmap: () => -ENODEV }), 0);
    },
    expect: -ENODEV,
    after: ({ mm }) => expect(mm.vmaLookup(A)).toBeNull(),
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
    // do_mmap() refuses only map_count > max: at the limit a mapping that merges with nothing still
    // goes one past it ("allowed to exceed the limit by one"; Linux 6.18.44 and 2.6.11 alike), and the
    // next one is refused.
    name: "map_count at max_map_count: one more VMA, then ENOMEM",
    options: { maxMapCount: 2 },
    run: ({ mm }) => {
      mm.mmap(at(0), P, PROT_READ, PF, null, 0);
      mm.mmap(at(2), P, PROT_READ, PF, null, 0);
      expect(mm.mmap(at(4), P, PROT_READ, PF, null, 0)).toBe(at(4));
      expect(mm.mapCount).toBe(3);
      return mm.mmap(at(6), P, PROT_READ, PF, null, 0);
    },
    expect: -ENOMEM,
    after: ({ mm }) => expect(mm.mapCount).toBe(3),
  },
  {
    name: "at max_map_count a mapping that merges both neighbours maps: one VMA left",
    options: { maxMapCount: 2 },
    run: ({ mm }) => {
      mm.mmap(at(0), P, PROT_READ, PF, null, 0);
      mm.mmap(at(2), P, PROT_READ, PF, null, 0);
      return mm.mmap(at(1), P, PROT_READ, PF, null, 0);
    },
    expect: "addr",
    after: ({ mm }) => expect(mm.mapCount).toBe(1),
  },
  {
    name: "2.6.10: map_count at max_map_count: one more VMA too (do_mmap_pgoff's check is map_count > max)",
    options: { maxMapCount: 2, era: "2.6.10" },
    run: ({ mm }) => {
      mm.mmap(at(0), P, PROT_READ, PF, null, 0);
      mm.mmap(at(2), P, PROT_READ, PF, null, 0);
      return mm.mmap(at(4), P, PROT_READ, PF, null, 0);
    },
    expect: "addr",
    after: ({ mm }) => expect(mm.mapCount).toBe(3),
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

// Whether mmap() faults a file's range in when the driver's ->mmap changes VM_LOCKED. 6.18's do_mmap()
// asks the vm_flags it built; 2.6.10's do_mmap_pgoff() asked those read back from the VMA after ->mmap
// (era.ts populateByOwnFlags). The driver's ->fault counts the faults asked of it.
mmTable(
  "mmap: populate after a driver's ->mmap changed VM_LOCKED",
  (
    [
      ["modern", "sets", false],
      ["2.6.10", "sets", true],
      ["modern", "clears", true],
      ["2.6.10", "clears", false],
    ] as const
  ).map(([era, change, populated]): MmRow => {
    let calls = 0;
    return {
      name: `${era}: a driver that ${change} VM_LOCKED → ${populated ? "populated" : "not populated"}`,
      options: { era },
      run: ({ mm }) => {
        const f = fakeFile({
          mmap: (vma) => {
            vma.vmOps = {
              fault: () => {
                calls++;
                return VM_FAULT_SIGBUS;
              },
            };
            vma.vmFlags = change === "sets" ? vma.vmFlags | VM_LOCKED : vma.vmFlags & ~VM_LOCKED;
            return 0;
          },
        });
        return mm.mmap(
          A,
          2 * P,
          PROT_READ,
          MAP_SHARED | MAP_FIXED | (change === "sets" ? 0 : MAP_LOCKED),
          f,
          0,
        );
      },
      expect: A,
      // The SIGBUS ends the walk at the first page: one call when populated.
      after: () => expect(calls).toBe(populated ? 1 : 0),
    };
  }),
);

// What MAP_POPULATE faults in, by era (era.ts populateByRemapFilePages). 6.18's do_mmap() populates
// any mapping (mm_populate) unless MAP_NONBLOCK; 2.6.9/2.6.11's do_mmap_pgoff() called
// sys_remap_file_pages(), which ran ->populate only for a VM_SHARED VMA that had one (shmem_populate:
// the whole range inside i_size; MAP_NONBLOCK maps only the pages already cached).
type PopulateCase = readonly [
  what: string,
  map: (mm: Mm, mem: PhysMemory, counter: { calls: number }) => number,
  modern: number,
  old: number,
];
const tmpfs = (mem: PhysMemory, pagesCached: number, sizePages = 2, writable = true): ShmemFile => {
  const f = new ShmemFile(new ShmemInode(mem), 0, "/tmp/f", { writable });
  if (pagesCached) f.inode.write(0, new Uint8Array(pagesCached * P).fill(1));
  f.inode.setSize(sizePages * P);
  return f;
};
const populateCases: readonly PopulateCase[] = [
  ["private anonymous memory", (mm) => mm.mmap(A, 2 * P, RW, PF | MAP_POPULATE, null, 0), 2, 0],
  ["shared anonymous memory", (mm) => mm.mmap(A, 2 * P, RW, SF | MAP_POPULATE, null, 0), 2, 2],
  [
    "a shared tmpfs file",
    (mm, mem) => mm.mmap(A, 2 * P, RW, MAP_SHARED | MAP_FIXED | MAP_POPULATE, tmpfs(mem, 0), 0),
    2,
    2,
  ],
  [
    "a private tmpfs file",
    (mm, mem) => mm.mmap(A, 2 * P, PROT_READ, MAP_PRIVATE | MAP_FIXED | MAP_POPULATE, tmpfs(mem, 2), 0),
    2,
    0,
  ],
  [
    "a shared tmpfs file opened read-only (no VM_SHARED)",
    (mm, mem) =>
      mm.mmap(A, 2 * P, PROT_READ, MAP_SHARED | MAP_FIXED | MAP_POPULATE, tmpfs(mem, 2, 2, false), 0),
    2,
    0,
  ],
  [
    "a shared tmpfs mapping past EOF (1 page of 2)",
    (mm, mem) => mm.mmap(A, 2 * P, RW, MAP_SHARED | MAP_FIXED | MAP_POPULATE, tmpfs(mem, 0, 1), 0),
    1,
    0,
  ],
  [
    "a shared PROT_NONE tmpfs mapping",
    (mm, mem) => mm.mmap(A, 2 * P, PROT_NONE, MAP_SHARED | MAP_FIXED | MAP_POPULATE, tmpfs(mem, 0), 0),
    0,
    2,
  ],
  [
    "MAP_NONBLOCK with page 0 cached, page 1 a hole",
    (mm, mem) =>
      mm.mmap(A, 2 * P, RW, MAP_SHARED | MAP_FIXED | MAP_POPULATE | MAP_NONBLOCK, tmpfs(mem, 1), 0),
    0,
    1,
  ],
  [
    "a shared driver mapping with ->fault",
    (mm, _mem, counter) => {
      const f = fakeFile({
        mmap: (vma) => {
          vma.vmOps = {
            fault: () => {
              counter.calls++;
              return VM_FAULT_SIGBUS;
            },
          };
          return 0;
        },
      });
      return mm.mmap(A, 2 * P, PROT_READ, MAP_SHARED | MAP_FIXED | MAP_POPULATE, f, 0);
    },
    1,
    0,
  ],
];
mmTable(
  "mmap: what MAP_POPULATE faults in, by era",
  populateCases.flatMap(([what, map, modern, old]): MmRow[] =>
    (
      [
        ["modern", modern],
        ["2.6.10", old],
      ] as const
    ).map(([era, want]) => {
      const counter = { calls: 0 };
      return {
        name: `${era}: ${what} → ${want} page(s) ${what.includes("driver") ? "asked of ->fault" : "mapped"}`,
        options: { era },
        run: ({ mm, mem }) => map(mm, mem, counter),
        expect: A,
        after: ({ mm }) => {
          if (what.includes("driver")) expect(counter.calls).toBe(want);
          else {
            expect(mm.rss).toBe(want);
            let held = 0;
            for (const a of [A, at(1)]) if (mm.pgd.getPte(a) !== 0) held++;
            expect(held).toBe(want);
          }
        },
      };
    }),
  ),
);

// munmap at vm.max_map_count by era (era.ts munmapSplitsChecked). 2.6.9/2.6.11's do_munmap() split
// both edges with split_vma(), which is -ENOMEM at the limit; 6.18's vms_gather_munmap_vmas() asks only
// for a range strictly inside one VMA (Linux 6.18.44 at the limit: munmap of a VMA's head succeeds).
const threePages = (mm: Mm): void => void mm.mmap(A, 3 * P, RW, PF, null, 0);
mmTable("munmap at vm.max_map_count, by era", [
  ...(
    [
      ["head", 0, 0, -ENOMEM],
      ["middle", 1, -ENOMEM, -ENOMEM],
      ["tail", 2, 0, -ENOMEM],
    ] as const
  ).flatMap(([where, n, modern, old]): MmRow[] =>
    (
      [
        ["modern", modern],
        ["2.6.10", old],
      ] as const
    ).map(([era, errno]) => ({
      name: `${era}: munmap of a VMA's ${where} at the limit → ${errno ? "ENOMEM" : "0"}`,
      options: { era, maxMapCount: 1 },
      run: ({ mm }) => {
        threePages(mm);
        return mm.munmap(at(n), P);
      },
      expect: errno,
      after: ({ mm }) => expect(mm.vmaLookup(at(n)) === null).toBe(errno === 0),
    })),
  ),
  {
    name: "2.6.10: the first split fits, the second does not → ENOMEM, the first split stays",
    options: { era: "2.6.10", maxMapCount: 2 },
    run: ({ mm }) => {
      threePages(mm);
      return mm.munmap(at(1), P);
    },
    expect: -ENOMEM,
    after: ({ mm }) => {
      expect(mm.mapCount).toBe(2);
      expect(mm.vmaLookup(at(1))).not.toBeNull();
    },
  },
  {
    name: "modern: one below the limit, a hole in one VMA → 0 (the end split is not checked)",
    options: { maxMapCount: 2 },
    run: ({ mm }) => {
      threePages(mm);
      return mm.munmap(at(1), P);
    },
    expect: 0,
    after: ({ mm }) => expect(mm.mapCount).toBe(2),
  },
  ...(
    [
      ["modern", "addr"],
      ["2.6.10", -ENOMEM],
    ] as const
  ).map(
    ([era, res]): MmRow => ({
      // Four VMAs at the limit, MAP_FIXED from the middle of the first to the middle of the last: the
      // two splits are taken back by the two middle VMAs going away, so the new VMA still fits.
      name: `${era}: MAP_FIXED over a tail and a head at the limit → ${res === "addr" ? "the address" : "ENOMEM"}`,
      options: { era, maxMapCount: 4 },
      run: ({ mm }) => {
        for (let i = 0; i < 4; i++) mm.mmap(at(2 * i), 2 * P, i % 2 ? PROT_READ : RW, PF, null, 0);
        return mm.mmap(at(1), 6 * P, RW, PF, null, 0);
      },
      expect: res,
      // The new VMA joins what is left of the first (both read-write).
      after: ({ mm }) => expect(mm.mapCount).toBe(res === "addr" ? 2 : 4),
    }),
  ),
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

describe("MAP_FIXED over a mapping (vms_clean_up_area)", () => {
  for (const era of ["modern", "2.6.10"] as const) {
    it(`a remap_pfn_range driver mapped again over its own populated range succeeds (${era})`, () => {
      const mem = PhysMemory.create({ ramBytes: 16 * 1024 * 1024 });
      const free = mem.nrFreePages;
      const mm = new Mm(ramOnly(mem), { era });
      const f = remapFile();
      expect(mm.mmap(A, 2 * P, RW, MAP_SHARED | MAP_FIXED, f, 0)).toBe(A);
      expect(ptePfn(mm.pgd.getPte(at(1)))).toBe(0xfe001);
      // Linux clears the old PTEs before calling ->mmap (2.6.10: a whole do_munmap first), so
      // remap_pte_range() finds none; before the fix this threw "a PTE already exists".
      expect(mm.mmap(A, 2 * P, RW, MAP_SHARED | MAP_FIXED, f, 4 * P)).toBe(A);
      expect(ptePfn(mm.pgd.getPte(A))).toBe(0xfe004);
      expect(ptePfn(mm.pgd.getPte(at(1)))).toBe(0xfe005);
      expect(mm.mapCount).toBe(1);
      mm.checkInvariants();
      mm.exit();
      expect(mem.nrFreePages).toBe(free);
    });
  }

  it("the replaced VMA's ->close runs before the new ->mmap; a ->mmap that fails then leaves a gap", () => {
    const mem = PhysMemory.create({ ramBytes: 16 * 1024 * 1024 });
    const free = mem.nrFreePages;
    const mm = new Mm(ramOnly(mem));
    const log: string[] = [];
    let fail = false;
    const f = fakeFile({
      mmap: (vma) => {
        log.push(`mmap ${fail ? "fails" : "ok"}`);
        if (fail) return -EINVAL;
        vma.vmOps = { close: () => log.push("close") };
        return 0;
      },
    });
    expect(mm.mmap(A, 2 * P, RW, MAP_SHARED | MAP_FIXED, f, 0)).toBe(A);
    expect(mm.mmap(A, 2 * P, RW, MAP_SHARED | MAP_FIXED, f, 0)).toBe(A);
    expect(log).toEqual(["mmap ok", "close", "mmap ok"]);
    fail = true;
    // vms_abort_munmap_vmas(): once the old PTEs are gone the old VMAs cannot come back.
    expect(mm.mmap(A, 2 * P, RW, MAP_SHARED | MAP_FIXED, f, 0)).toBe(-EINVAL);
    expect(log).toEqual(["mmap ok", "close", "mmap ok", "close", "mmap fails"]);
    expect(mm.vmaLookup(A)).toBeNull();
    mm.checkInvariants();
    mm.exit();
    expect(log).toHaveLength(5);
    expect(mem.nrFreePages).toBe(free);
  });

  it("a driver mmap that fails before anything was replaced changes nothing", () => {
    const mem = PhysMemory.create({ ramBytes: 16 * 1024 * 1024 });
    const mm = new Mm(ramOnly(mem));
    expect(mm.mmap(A, P, RW, MAP_SHARED | MAP_FIXED, fakeFile({ mmap: () => -ENODEV }), 0)).toBe(-ENODEV);
    expect(mm.mapCount).toBe(0);
    mm.exit();
  });
});

// Memory mapped VM_LOCKED (MAP_LOCKED, mlockall(MCL_FUTURE)) or grown so by mremap is faulted in at
// once. Today mm_populate() write-faults only private writable memory: a shared writable mapping is
// read-faulted, its PTEs clean. 2.6.9/2.6.11's do_mmap_pgoff(), do_mremap() and move_vma() called
// make_pages_present(), which write-faulted any VM_WRITE VMA, so those PTEs were dirty (era.ts
// lockedPopulateWritesShared).
const dirty = (mm: Mm, a: number) => {
  const pte = mm.pgd.getPte(a);
  expect(pte).not.toBe(0);
  return (pteFlags(pte) & _PAGE_DIRTY) !== 0;
};
mmTable(
  "populate of VM_LOCKED memory: write-faulted or not, by era",
  (
    [
      ["MAP_LOCKED, shared writable", A, (mm: Mm) => mm.mmap(A, 2 * P, RW, SF | MAP_LOCKED, null, 0), true],
      ["MAP_LOCKED, private writable", A, (mm: Mm) => mm.mmap(A, 2 * P, RW, PF | MAP_LOCKED, null, 0), false],
      [
        "MAP_LOCKED, shared read-only",
        A,
        (mm: Mm) => mm.mmap(A, 2 * P, PROT_READ, SF | MAP_LOCKED, null, 0),
        false,
      ],
      [
        "mlockall(MCL_FUTURE), shared writable",
        A,
        (mm: Mm) => mm.mlockall(MCL_FUTURE) || mm.mmap(A, 2 * P, RW, SF, null, 0),
        true,
      ],
      [
        "mremap growing a locked shared writable VMA in place",
        A,
        (mm: Mm) => {
          mm.mmap(A, 2 * P, RW, SF | MAP_LOCKED, null, 0);
          mm.munmap(at(1), P);
          return mm.mremap(A, P, 2 * P, 0, 0);
        },
        true,
      ],
      [
        "mremap moving and growing a locked shared writable VMA",
        at(8),
        (mm: Mm) => {
          mm.mmap(A, 2 * P, RW, SF | MAP_LOCKED, null, 0);
          mm.munmap(at(1), P);
          return mm.mremap(A, P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, at(8));
        },
        true,
      ],
    ] as const
  ).flatMap(([what, base, run, differs]): MmRow[] =>
    (["modern", "2.6.10"] as const).map((era): MmRow => {
      // Private writable memory is write-faulted in both eras; read-only memory in neither.
      const want = differs ? era === "2.6.10" : what.includes("private");
      return {
        name: `${era}: ${what} → ${want ? "dirty" : "clean"} PTEs`,
        options: { era },
        run: ({ mm }) => run(mm),
        expect: base,
        after: ({ mm }) => {
          expect(dirty(mm, base + P)).toBe(want);
          if (!what.startsWith("mremap")) expect(dirty(mm, base)).toBe(want);
        },
      };
    }),
  ),
);
