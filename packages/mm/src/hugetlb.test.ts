// MAP_HUGETLB on a machine with an empty huge page pool (hugetlb.ts). Script rows run on Faultline and,
// on a 6.18 host whose pool is empty too (hugetlbMismatch()), on the live kernel; Mm rows check what the
// oracle cannot print (smaps, placement without a hint, mincore, mlock2, fork, the era, the file).
import { PhysMemory } from "@faultline/phys";
import { describe, expect, it } from "vitest";
import { hugetlbMismatch } from "../test/oracle/linux";
import {
  fork,
  load,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_GROWSDOWN,
  MAP_HUGETLB,
  MAP_LOCKED,
  MAP_NORESERVE,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MAP_SYNC,
  madvise,
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
  page,
  pages,
  store,
} from "../test/oracle/script";
import {
  A,
  fakeFile,
  hex,
  MADV_COLD,
  MADV_DONTNEED_LOCKED,
  MADV_HUGEPAGE,
  MADV_PAGEOUT,
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
  MAP_DROPPABLE,
  MOVE,
  mmTable,
  P,
  PF,
  RW,
  row,
  scriptTable,
} from "../test/syscall-tables";
import { EINVAL, ENOMEM } from "./errno";
import { HPAGE_SIZE, HugetlbFile, hstateSizelog, hugeAlign } from "./hugetlb";
import {
  FAULT_SIGBUS,
  MADV_DODUMP,
  MADV_DONTDUMP,
  MADV_DONTFORK,
  MADV_DONTNEED,
  MADV_FREE,
  MADV_GUARD_INSTALL,
  MADV_GUARD_REMOVE,
  MADV_MERGEABLE,
  MADV_NORMAL,
  MADV_RANDOM,
  MADV_REMOVE,
  MADV_WILLNEED,
  MADV_WIPEONFORK,
  MAP_HUGE_1GB,
  MAP_HUGE_2MB,
  MAP_HUGE_SHIFT,
  MCL_CURRENT,
  MCL_FUTURE,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  MS_SYNC,
  VM_ACCOUNT,
  VM_DONTEXPAND,
  VM_HUGETLB,
  VM_LOCKED,
  VM_NORESERVE,
} from "./index";
import { Mm } from "./mm";
import { ramOnly } from "./phys-access";
import { mapsLine, renderSmaps } from "./procfs";
import { shmemNextIno } from "./shmem";

/** One huge page, in the arena's pages. */
const H = HPAGE_SIZE / 0x1000;
const HUGE = PRIVATE_ANON | MAP_HUGETLB;
/** MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|MAP_NORESERVE|MAP_FIXED: a VMA without a reservation. */
const HNF = HUGE | MAP_NORESERVE | MAP_FIXED;
const SHNF = MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB | MAP_NORESERVE | MAP_FIXED;
/** The arena's first huge page, mapped without a reservation. */
const huge0 = mmap(page(0), pages(1), RW, HNF);
/** Both of the arena's huge pages (4 MiB), one VMA. */
const huge01 = mmap(page(0), pages(2 * H), RW, HNF);
const liveSkip = () => hugetlbMismatch();

scriptTable(
  "mmap(MAP_HUGETLB) with an empty pool",
  [
    row("private: the reservation fails → ENOMEM", [], mmap(page(0), pages(1), RW, HUGE), "-ENOMEM"),
    row(
      "MAP_HUGE_2MB names the default hstate → ENOMEM",
      [],
      mmap(page(0), pages(1), RW, HUGE | MAP_HUGE_2MB),
      "-ENOMEM",
    ),
    row(
      "MAP_HUGE_1GB: no 1 GiB hstate → EINVAL",
      [],
      mmap(page(0), pages(1), RW, HUGE | MAP_HUGE_1GB),
      "-EINVAL",
    ),
    row("log 31 → EINVAL", [], mmap(page(0), pages(1), RW, HUGE | (31 << MAP_HUGE_SHIFT)), "-EINVAL"),
    row(
      "log 12 (the base page) → EINVAL",
      [],
      mmap(page(0), pages(1), RW, HUGE | (12 << MAP_HUGE_SHIFT)),
      "-EINVAL",
    ),
    row(
      "shared: the reservation fails → ENOMEM",
      [],
      mmap(page(0), pages(1), RW, MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB),
      "-ENOMEM",
    ),
    row("len 0 → EINVAL", [], mmap(page(0), 0n, RW, HUGE), "-EINVAL"),
    row(
      "a length the huge page rounding wraps → EINVAL (len 0)",
      [],
      mmap(page(0), 0xffff_ffff_ffe0_0001n, RW, HUGE | MAP_NORESERVE),
      "-EINVAL",
    ),
    row(
      "len -1 → EINVAL, not ENOMEM",
      [],
      mmap(page(0), 0xffff_ffff_ffff_ffffn, RW, HUGE | MAP_NORESERVE),
      "-EINVAL",
    ),
    row(
      "a length that does not wrap but no gap holds → ENOMEM",
      [],
      mmap(page(0), 0xffff_ffff_ffe0_0000n, RW, HUGE | MAP_NORESERVE),
      "-ENOMEM",
    ),
    row(
      "MAP_FIXED not huge page aligned → EINVAL",
      [],
      mmap(page(1), pages(1), RW, HUGE | MAP_FIXED),
      "-EINVAL",
    ),
    row(
      "MAP_FIXED at 0xffffffffffffffff → EINVAL (not EPERM)",
      [],
      mmap(0xffff_ffff_ffff_ffffn, pages(1), RW, HNF),
      "-EINVAL",
    ),
    row("MAP_FIXED aligned → ENOMEM", [], mmap(page(0), pages(1), RW, HUGE | MAP_FIXED), "-ENOMEM"),
    row("MAP_NORESERVE: no reservation, the VMA is made", [], huge0, hex(page(0))),
    row("MAP_NORESERVE, shared", [], mmap(page(0), pages(1), RW, SHNF), hex(page(0))),
    row(
      "a hint is rounded up to a huge page boundary",
      [],
      mmap(page(1), pages(1), RW, HUGE | MAP_NORESERVE),
      hex(page(H)),
    ),
    row(
      "file offset not whole huge pages → EINVAL",
      [],
      mmap(page(0), pages(1), RW, HNF, 0x1000n),
      "-EINVAL",
    ),
    row("file offset of a huge page", [], mmap(page(0), pages(1), RW, HNF, BigInt(HPAGE_SIZE)), hex(page(0))),
    // file_mmap_ok(): hugetlbfs files end at MAX_LFS_FILESIZE too.
    row(
      "a huge page at 2^63 - 32 MiB",
      [],
      mmap(page(0), pages(1), RW, HNF, 0x7fff_ffff_fe00_0000n),
      hex(page(0)),
    ),
    row(
      "a huge page at 2^63 - 2 MiB ends past MAX_LFS_FILESIZE → EOVERFLOW",
      [],
      mmap(page(0), pages(1), RW, HNF, 0x7fff_ffff_ffe0_0000n),
      "-EOVERFLOW",
    ),
    row(
      "an unaligned offset near it → EOVERFLOW first",
      [],
      mmap(page(0), pages(1), RW, HNF, 0x7fff_ffff_fff0_0000n),
      "-EOVERFLOW",
    ),
    row(
      "MAP_SHARED_VALIDATE with MAP_HUGE_2MB: the hstate bits are valid",
      [],
      mmap(
        page(0),
        pages(1),
        RW,
        MAP_SHARED_VALIDATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_NORESERVE | MAP_FIXED | MAP_HUGE_2MB,
      ),
      hex(page(0)),
    ),
    row(
      "MAP_SHARED_VALIDATE with MAP_SYNC → EOPNOTSUPP",
      [],
      mmap(
        page(0),
        pages(1),
        RW,
        MAP_SHARED_VALIDATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_NORESERVE | MAP_FIXED | MAP_SYNC,
      ),
      "-EOPNOTSUPP",
    ),
    row(
      "MAP_DROPPABLE|MAP_HUGETLB → EINVAL",
      [],
      mmap(page(0), pages(1), RW, MAP_DROPPABLE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_NORESERVE | MAP_FIXED),
      "-EINVAL",
    ),
    row(
      "MAP_GROWSDOWN|MAP_HUGETLB → EINVAL",
      [],
      mmap(page(0), pages(1), RW, HNF | MAP_GROWSDOWN),
      "-EINVAL",
    ),
    row(
      "no mapping type → EINVAL",
      [],
      mmap(page(0), pages(1), RW, MAP_ANONYMOUS | MAP_HUGETLB | MAP_NORESERVE | MAP_FIXED),
      "-EINVAL",
    ),
    row(
      "MAP_LOCKED|MAP_POPULATE: the populate's SIGBUS is ignored",
      [],
      mmap(page(0), pages(1), RW, HNF | MAP_LOCKED | MAP_POPULATE),
      hex(page(0)),
    ),
    row(
      "MAP_FIXED_NOREPLACE not aligned → EINVAL before EEXIST",
      [huge0],
      mmap(page(1), pages(1), RW, HUGE | MAP_NORESERVE | MAP_FIXED_NOREPLACE),
      "-EINVAL",
    ),
    row(
      "MAP_FIXED_NOREPLACE aligned over a mapping → EEXIST",
      [huge0],
      mmap(page(0), pages(1), RW, HUGE | MAP_NORESERVE | MAP_FIXED_NOREPLACE),
      "-EEXIST",
    ),
    // __mmap_setup() cleared the old PTEs before ->mmap: the failed MAP_FIXED leaves a gap.
    row(
      "a MAP_FIXED that fails with ENOMEM has unmapped what it replaced",
      [mmap(page(0), pages(3), RW, PF), store(8, page(0), 5n), mmap(page(0), pages(1), RW, HUGE | MAP_FIXED)],
      load(8, page(1)),
      `SIGSEGV SEGV_MAPERR ${hex(page(1))}`,
    ),
    row(
      "so has one that fails with EINVAL in ->mmap",
      [mmap(page(0), pages(3), RW, PF), mmap(page(0), pages(1), RW, HNF, 0x1000n)],
      load(8, page(2)),
      `SIGSEGV SEGV_MAPERR ${hex(page(2))}`,
    ),
    row(
      "MAP_FIXED 4 KiB over part of a hugetlb VMA: the split is refused → EINVAL",
      [huge0],
      mmap(page(0), pages(1), RW, PF),
      "-EINVAL",
    ),
    row(
      "MAP_HUGETLB with a file → EINVAL",
      [memfd(pages(1))],
      mmapfd(page(0), pages(1), RW, MAP_SHARED | MAP_FIXED | MAP_HUGETLB, 0, 0n),
      "-EINVAL",
    ),
  ],
  liveSkip,
);

scriptTable(
  "faults and splits of a hugetlb VMA",
  [
    row(
      "a read finds no huge page → SIGBUS at the address",
      [huge0],
      load(8, page(0, 0x123)),
      `SIGBUS BUS_ADRERR ${hex(page(0, 0x123))}`,
    ),
    row("a write → SIGBUS", [huge0], store(8, page(1), 1n), `SIGBUS BUS_ADRERR ${hex(page(1))}`),
    row(
      "shared: a write → SIGBUS",
      [mmap(page(0), pages(1), RW, SHNF)],
      store(8, page(0), 1n),
      `SIGBUS BUS_ADRERR ${hex(page(0))}`,
    ),
    row(
      "PROT_NONE → SIGSEGV SEGV_ACCERR",
      [mmap(page(0), pages(1), PROT_NONE, HNF)],
      load(8, page(0)),
      `SIGSEGV SEGV_ACCERR ${hex(page(0))}`,
    ),
    row("a fork child's read → SIGBUS, it exits", [huge0], fork([load(8, page(0))]), "exit 0"),
    row("munmap of a page → EINVAL", [huge0], munmap(page(0), pages(1)), "-EINVAL"),
    row("munmap of a huge page", [huge01], munmap(page(0), pages(H)), "0"),
    row("munmap from inside → EINVAL", [huge0], munmap(page(1), pages(H - 1)), "-EINVAL"),
    row("mprotect of the whole VMA", [huge0], mprotect(page(0), pages(H), PROT_READ), "0"),
    row("mprotect of a page → EINVAL", [huge0], mprotect(page(0), pages(1), PROT_READ), "-EINVAL"),
    row("mprotect of a huge page of two", [huge01], mprotect(page(H), pages(H), PROT_READ), "0"),
    row("mlock → ENOMEM (the populate's SIGBUS)", [huge0], mlock(page(0), pages(1)), "-ENOMEM"),
    row("munlock", [huge0], munlock(page(0), pages(1)), "0"),
  ],
  liveSkip,
);

const adv = (
  name: string,
  setup: Parameters<typeof row>[1],
  at: bigint,
  len: bigint,
  advice: number,
  want: string,
) => row(name, setup, madvise(at, len, advice), want);

scriptTable(
  "madvise on hugetlb",
  [
    adv("DONTNEED: the end rounds down to nothing → 0", [huge0], page(0), pages(1), MADV_DONTNEED, "0"),
    adv("DONTNEED from a page inside → EINVAL", [huge0], page(1), pages(1), MADV_DONTNEED, "-EINVAL"),
    adv("DONTNEED of the huge page", [huge0], page(0), pages(H), MADV_DONTNEED, "0"),
    adv(
      "DONTNEED_LOCKED from a page inside → EINVAL",
      [huge0],
      page(1),
      pages(1),
      MADV_DONTNEED_LOCKED,
      "-EINVAL",
    ),
    adv("DONTNEED_LOCKED rounds down too", [huge0], page(0), pages(1), MADV_DONTNEED_LOCKED, "0"),
    adv("FREE → EINVAL", [huge0], page(0), pages(H), MADV_FREE, "-EINVAL"),
    adv("REMOVE of a private mapping → EACCES", [huge0], page(0), pages(H), MADV_REMOVE, "-EACCES"),
    adv(
      "REMOVE of a shared mapping, any page → 0",
      [mmap(page(0), pages(1), RW, SHNF)],
      page(1),
      pages(1),
      MADV_REMOVE,
      "0",
    ),
    adv("NORMAL changes nothing: no split → 0", [huge0], page(1), pages(1), MADV_NORMAL, "0"),
    adv(
      "RANDOM of a page: the split is refused → EINVAL",
      [huge0],
      page(1),
      pages(1),
      MADV_RANDOM,
      "-EINVAL",
    ),
    adv("RANDOM of the VMA", [huge0], page(0), pages(H), MADV_RANDOM, "0"),
    adv("WILLNEED → 0", [huge0], page(1), pages(1), MADV_WILLNEED, "0"),
    adv("DONTFORK of a page → EINVAL", [huge0], page(1), pages(1), MADV_DONTFORK, "-EINVAL"),
    adv("DONTDUMP of a page → EINVAL", [huge0], page(1), pages(1), MADV_DONTDUMP, "-EINVAL"),
    adv(
      "DODUMP: hugetlb is VM_DONTEXPAND, yet allowed",
      [huge0, madvise(page(0), pages(H), MADV_DONTDUMP)],
      page(0),
      pages(H),
      MADV_DODUMP,
      "0",
    ),
    adv("WIPEONFORK → EINVAL", [huge0], page(0), pages(H), MADV_WIPEONFORK, "-EINVAL"),
    adv("HUGEPAGE of a page → EINVAL", [huge0], page(1), pages(1), MADV_HUGEPAGE, "-EINVAL"),
    adv("MERGEABLE: KSM leaves hugetlb alone → 0", [huge0], page(1), pages(1), MADV_MERGEABLE, "0"),
    adv("COLD → EINVAL", [huge0], page(0), pages(H), MADV_COLD, "-EINVAL"),
    adv("PAGEOUT → EINVAL", [huge0], page(0), pages(H), MADV_PAGEOUT, "-EINVAL"),
    adv(
      "POPULATE_READ: the fault's SIGBUS → EFAULT",
      [huge0],
      page(0),
      pages(1),
      MADV_POPULATE_READ,
      "-EFAULT",
    ),
    adv("POPULATE_WRITE → EFAULT", [huge0], page(0), pages(1), MADV_POPULATE_WRITE, "-EFAULT"),
    adv("GUARD_INSTALL → EINVAL", [huge0], page(0), pages(H), MADV_GUARD_INSTALL, "-EINVAL"),
    adv("GUARD_REMOVE → EINVAL", [huge0], page(0), pages(H), MADV_GUARD_REMOVE, "-EINVAL"),
  ],
  liveSkip,
);

scriptTable(
  "mremap of hugetlb",
  [
    row(
      "same size in place from a page inside → EINVAL",
      [huge0],
      mremap(page(1), pages(1), pages(1), 0),
      "-EINVAL",
    ),
    row("same size in place: a no-op", [huge0], mremap(page(0), pages(1), pages(1), 0), hex(page(0))),
    row(
      "a page to two: both round to one huge page, a no-op",
      [huge0],
      mremap(page(0), pages(1), pages(2), 0),
      hex(page(0)),
    ),
    row(
      "same size in place past the VMA's end: a no-op (vrm_will_map_new())",
      [huge0],
      mremap(page(0), pages(2 * H), pages(2 * H), 0),
      hex(page(0)),
    ),
    row(
      "new_addr must be huge page aligned even without MREMAP_FIXED",
      [huge0],
      mremap(page(0), pages(1), pages(1), 0, 0x1000n),
      "-EINVAL",
    ),
    row("growing → EINVAL", [huge0], mremap(page(0), pages(H), pages(2 * H), MREMAP_MAYMOVE), "-EINVAL"),
    row(
      "old_len 0 → EINVAL",
      [mmap(page(0), pages(1), RW, SHNF)],
      mremap(page(0), 0n, pages(1), MREMAP_MAYMOVE),
      "-EINVAL",
    ),
    row(
      "shrinking 4 MiB to a page keeps a huge page",
      [huge01, mremap(page(0), pages(2 * H), pages(1), 0)],
      load(8, page(H)),
      `SIGSEGV SEGV_MAPERR ${hex(page(H))}`,
    ),
    row(
      "MREMAP_FIXED to an unaligned address → EINVAL",
      [huge0],
      mremap(page(0), pages(1), pages(1), MOVE, page(H + 1)),
      "-EINVAL",
    ),
    row(
      "MREMAP_FIXED of a page moves the whole huge page",
      [huge0],
      mremap(page(0), pages(1), pages(1), MOVE, page(H)),
      hex(page(H)),
    ),
    row(
      "MREMAP_DONTUNMAP: VM_DONTEXPAND → EINVAL",
      [huge0],
      mremap(page(0), pages(H), pages(H), MOVE | MREMAP_DONTUNMAP, page(H)),
      "-EINVAL",
    ),
  ],
  liveSkip,
);

// The mask MAP_SHARED_VALIDATE checks (LEGACY_MAP_MASK) holds MAP_32BIT, MAP_ABOVE4G and the bits of
// MAP_HUGE_2MB and MAP_HUGE_1GB, for every file; bit 31 is not in it.
scriptTable("MAP_SHARED_VALIDATE and the MAP_HUGE bits of a memfd", [
  row(
    "bit 28 (MAP_HUGE_2MB's)",
    [memfd(pages(1))],
    mmapfd(page(0), pages(1), RW, MAP_SHARED_VALIDATE | MAP_FIXED | (1 << 28), 0, 0n),
    hex(page(0)),
  ),
  row(
    "bit 29 (MAP_HUGE_1GB's)",
    [memfd(pages(1))],
    mmapfd(page(0), pages(1), RW, MAP_SHARED_VALIDATE | MAP_FIXED | (1 << 29), 0, 0n),
    hex(page(0)),
  ),
  row(
    "bit 31 → EOPNOTSUPP",
    [memfd(pages(1))],
    mmapfd(page(0), pages(1), RW, (MAP_SHARED_VALIDATE | MAP_FIXED) + 2 ** 31, 0, 0n),
    "-EOPNOTSUPP",
  ),
  row(
    "MAP_32BIT",
    [memfd(pages(1))],
    mmapfd(page(0), pages(1), RW, MAP_SHARED_VALIDATE | MAP_FIXED | 0x40, 0, 0n),
    hex(page(0)),
  ),
  row(
    "MAP_ABOVE4G",
    [memfd(pages(1))],
    mmapfd(page(0), pages(1), RW, MAP_SHARED_VALIDATE | MAP_FIXED | 0x80, 0, 0n),
    hex(page(0)),
  ),
  // file_mmap_ok(): pgoff > (MAX_LFS_FILESIZE - len) >> PAGE_SHIFT.
  row(
    "a page at offset 2^63 - 4096 ends past MAX_LFS_FILESIZE → EOVERFLOW",
    [memfd(pages(1))],
    mmapfd(page(0), pages(1), RW, MAP_PRIVATE | MAP_FIXED, 0, 0x7fff_ffff_ffff_f000n),
    "-EOVERFLOW",
  ),
  row(
    "two pages at 2^63 - 8192 → EOVERFLOW",
    [memfd(pages(1))],
    mmapfd(page(0), pages(2), RW, MAP_PRIVATE | MAP_FIXED, 0, 0x7fff_ffff_ffff_e000n),
    "-EOVERFLOW",
  ),
  row(
    "a page at 2^63 - 8192 fits",
    [memfd(pages(1))],
    mmapfd(page(0), pages(1), RW, MAP_PRIVATE | MAP_FIXED, 0, 0x7fff_ffff_ffff_e000n),
    hex(page(0)),
  ),
]);

// ---------------------------------------------------------------------------------- Mm level

function newMm(options: ConstructorParameters<typeof Mm>[1] = {}) {
  const mem = PhysMemory.create({ ramBytes: 16 * 1024 * 1024 });
  const free = mem.nrFreePages;
  return { mem, mm: new Mm(ramOnly(mem), options), free };
}

function done(c: ReturnType<typeof newMm>): void {
  c.mm.checkInvariants();
  c.mem.checkInvariants();
  c.mm.exit();
  expect(c.mem.nrFreePages).toBe(c.free);
}

const HNF_N = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_NORESERVE;

describe("hugetlb (Mm)", () => {
  it("hstate_sizelog(): the default and 2 MiB name the one hstate; 1 GiB and 4 KiB none", () => {
    expect(hstateSizelog(0)).toBe(HPAGE_SIZE);
    expect(hstateSizelog(21)).toBe(HPAGE_SIZE);
    expect(hstateSizelog(30)).toBe(0);
    expect(hstateSizelog(12)).toBe(0);
    expect(hstateSizelog(63)).toBe(0);
  });

  it("ALIGN() of an unsigned long: 0 when it wraps, exact below", () => {
    expect(hugeAlign(1, HPAGE_SIZE)).toBe(HPAGE_SIZE);
    expect(hugeAlign(HPAGE_SIZE, HPAGE_SIZE)).toBe(HPAGE_SIZE);
    expect(hugeAlign(-1, HPAGE_SIZE)).toBe(0);
    expect(hugeAlign(-HPAGE_SIZE + 1, HPAGE_SIZE)).toBe(0);
    expect(hugeAlign(-HPAGE_SIZE, HPAGE_SIZE)).toBe(2 ** 64 - HPAGE_SIZE);
  });

  it("the VMA: VM_HUGETLB | VM_DONTEXPAND | VM_NORESERVE, no VM_ACCOUNT; maps shows /anon_hugepage (deleted) on 00:11", () => {
    const c = newMm();
    expect(c.mm.mmap(A, P, RW, HNF_N | MAP_FIXED, null, 0)).toBe(A);
    const v = c.mm.vmaLookup(A)!;
    expect(v.vmEnd - v.vmStart).toBe(HPAGE_SIZE);
    expect(v.vmFlags & (VM_HUGETLB | VM_DONTEXPAND | VM_NORESERVE)).toBe(
      VM_HUGETLB | VM_DONTEXPAND | VM_NORESERVE,
    );
    expect(v.vmFlags & VM_ACCOUNT).toBe(0);
    expect(v.vmFile).toBeInstanceOf(HugetlbFile);
    expect(mapsLine(v)).toMatch(
      /^100000000000-100000200000 rw-p 00000000 00:11 \d+ +\/anon_hugepage \(deleted\)$/,
    );
    done(c);
  });

  it("two adjacent hugetlb mappings stay two VMAs (VM_SPECIAL, and two files)", () => {
    const c = newMm();
    c.mm.mmap(A, HPAGE_SIZE, RW, HNF_N | MAP_FIXED, null, 0);
    c.mm.mmap(A + HPAGE_SIZE, HPAGE_SIZE, RW, HNF_N | MAP_FIXED, null, 0);
    expect(c.mm.mapCount).toBe(2);
    done(c);
  });

  it("the inode number is get_next_ino()'s, the counter shmem inodes share", () => {
    const c = newMm();
    const before = shmemNextIno(c.mem);
    c.mm.mmap(A, P, RW, HNF_N | MAP_FIXED, null, 0);
    expect(c.mm.vmaLookup(A)!.vmFile!.ino).toBe(before + 1);
    done(c);
  });

  it("smaps: KernelPageSize and MMUPageSize are the hstate's, THPeligible 0", () => {
    const c = newMm();
    c.mm.mmap(A, P, RW, HNF_N | MAP_FIXED, null, 0);
    c.mm.mmap(A + 4 * HPAGE_SIZE, P, RW, PF, null, 0);
    const smaps = renderSmaps(c.mm, { thp: "always" });
    const [huge, plain] = smaps.split(/(?=^1000008)/m);
    expect(huge).toMatch(/^Size: +2048 kB$/m);
    expect(huge).toMatch(/^KernelPageSize: +2048 kB$/m);
    expect(huge).toMatch(/^MMUPageSize: +2048 kB$/m);
    expect(huge).toMatch(/^THPeligible: +0$/m);
    // "sd": Faultline's kernel has CONFIG_MEM_SOFT_DIRTY (the live host's lacks it).
    expect(huge).toMatch(/^VmFlags: rd wr mr mw me de nr ht sd $/m);
    expect(plain).toMatch(/^KernelPageSize: +4 kB$/m);
    done(c);
  });

  it("placement without a hint: top-down, each at a huge page boundary, also with a huge page offset", () => {
    const c = newMm();
    c.mm.mmap(0, P, RW, PRIVATE_ANON, null, 0);
    const a = c.mm.mmap(0, P, RW, HNF_N, null, 0);
    const b = c.mm.mmap(0, 3 * HPAGE_SIZE, RW, HNF_N, null, HPAGE_SIZE);
    expect(a % HPAGE_SIZE).toBe(0);
    expect(b % HPAGE_SIZE).toBe(0);
    expect(b + 3 * HPAGE_SIZE).toBeLessThanOrEqual(a);
    // A hint taken is searched from again, below.
    const d = c.mm.mmap(a + 1, P, RW, HNF_N, null, 0);
    expect(d % HPAGE_SIZE).toBe(0);
    expect(d).toBeLessThan(b);
    done(c);
  });

  it("placement searches gaps of len + 2 MiB - 4 KiB: a gap of exactly that is used", () => {
    const c = newMm();
    // A gap [A + 4 KiB, A + 4 MiB) below a mapping and nothing above it up to the next one: the search
    // (top-down from mmapBase) finds the top gap first, so fill everything above A + 4 MiB.
    const top = c.mm.mmapBase;
    expect(
      c.mm.mmap(A + 2 * HPAGE_SIZE, top - (A + 2 * HPAGE_SIZE), PROT_READ, PF | MAP_NORESERVE, null, 0),
    ).toBe(A + 2 * HPAGE_SIZE);
    expect(c.mm.mmap(A, P, PROT_READ, PF, null, 0)).toBe(A);
    // [A + 4 KiB, A + 4 MiB) is 4 MiB - 4 KiB = len 2 MiB + 2 MiB - 4 KiB: a huge page fits at A + 2 MiB.
    expect(c.mm.mmap(0, HPAGE_SIZE, RW, HNF_N, null, 0)).toBe(A + HPAGE_SIZE);
    done(c);
  });

  it("mincore: nothing is resident", () => {
    const c = newMm();
    c.mm.mmap(A, P, RW, HNF_N | MAP_FIXED, null, 0);
    const vec = new Uint8Array(4).fill(7);
    expect(c.mm.mincore(A + P, 4 * P, vec)).toBe(0);
    expect([...vec]).toEqual([0, 0, 0, 0]);
    done(c);
  });

  it("mlock2(MLOCK_ONFAULT) still faults hugetlb in (it never gets VM_LOCKONFAULT): ENOMEM", () => {
    const c = newMm();
    c.mm.mmap(A, P, RW, HNF_N | MAP_FIXED, null, 0);
    expect(c.mm.mlock(A, P, true, true)).toBe(-ENOMEM);
    expect(c.mm.vmaLookup(A)!.vmFlags & VM_LOCKED).toBe(0);
    expect(c.mm.lockedVm).toBe(0);
    done(c);
  });

  it("mlock2(MLOCK_ONFAULT) of droppable memory faults it in: mlock never locks it", () => {
    const c = newMm();
    c.mm.mmap(A, 4 * P, RW, MAP_DROPPABLE | MAP_ANONYMOUS | MAP_FIXED, null, 0);
    expect(c.mm.mlock(A, 4 * P, true, true)).toBe(0);
    const vec = new Uint8Array(4);
    c.mm.mincore(A, 4 * P, vec);
    expect([...vec]).toEqual([1, 1, 1, 1]);
    done(c);
  });

  it("mlockall: MCL_CURRENT skips hugetlb (0, not locked), MCL_FUTURE maps it unlocked", () => {
    const c = newMm();
    c.mm.mmap(A, P, RW, HNF_N | MAP_FIXED, null, 0);
    expect(c.mm.mlockall(MCL_CURRENT)).toBe(0);
    expect(c.mm.vmaLookup(A)!.vmFlags & VM_LOCKED).toBe(0);
    expect(c.mm.mlockall(MCL_FUTURE)).toBe(0);
    expect(c.mm.mmap(A + HPAGE_SIZE, P, RW, HNF_N | MAP_FIXED, null, 0)).toBe(A + HPAGE_SIZE);
    expect(c.mm.vmaLookup(A + HPAGE_SIZE)!.vmFlags & VM_LOCKED).toBe(0);
    expect(c.mm.lockedVm).toBe(0);
    done(c);
  });

  it("msync of a shared hugetlb mapping: 0", () => {
    const c = newMm();
    c.mm.mmap(A, P, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB | MAP_NORESERVE | MAP_FIXED, null, 0);
    expect(c.mm.msync(A + P, P, MS_SYNC)).toBe(0);
    done(c);
  });

  it("mseal of a page → EINVAL (the split), of the VMA → 0", () => {
    const c = newMm();
    c.mm.mmap(A, P, RW, HNF_N | MAP_FIXED, null, 0);
    expect(c.mm.mseal(A + P, P, 0)).toBe(-EINVAL);
    expect(c.mm.mseal(A, HPAGE_SIZE, 0)).toBe(0);
    done(c);
  });

  it("mremap moves a hugetlb VMA across a gap with the next one (remap_move), each aligned", () => {
    const c = newMm();
    c.mm.mmap(A, P, RW, HNF_N | MAP_FIXED, null, 0);
    c.mm.mmap(A + 2 * HPAGE_SIZE, P, RW, HNF_N | MAP_FIXED, null, 0);
    const to = A + 16 * HPAGE_SIZE;
    expect(c.mm.mremap(A, 4 * HPAGE_SIZE, 4 * HPAGE_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, to)).toBe(to);
    expect([...c.mm].map((v) => [v.vmStart - to, v.vmEnd - to])).toEqual([
      [0, HPAGE_SIZE],
      [2 * HPAGE_SIZE, 3 * HPAGE_SIZE],
    ]);
    done(c);
  });

  it("fork: the child has the VMA and faults SIGBUS", () => {
    const c = newMm();
    c.mm.mmap(A, P, RW, HNF_N | MAP_FIXED, null, 0);
    const child = c.mm.fork() as Mm;
    expect(child).toBeInstanceOf(Mm);
    expect(child.vmaLookup(A)!.vmFlags & VM_HUGETLB).toBe(VM_HUGETLB);
    expect(child.handleFault(A, false)).toBe(FAULT_SIGBUS);
    const file = c.mm.vmaLookup(A)!.vmFile as HugetlbFile;
    expect(file.refs).toBe(2);
    child.checkInvariants();
    child.exit();
    expect(file.refs).toBe(1);
    done(c);
    expect(file.refs).toBe(0);
  });

  it("a failed mmap leaves no reference on its file, nor a VMA", () => {
    const c = newMm();
    expect(c.mm.mmap(A, P, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_FIXED, null, 0)).toBe(-ENOMEM);
    expect(c.mm.mapCount).toBe(0);
    done(c);
  });

  it("a file with MAP_HUGETLB → EINVAL, a file's unaligned offset first", () => {
    const c = newMm();
    expect(c.mm.mmap(A, P, RW, MAP_SHARED | MAP_FIXED | MAP_HUGETLB, fakeFile(), 0)).toBe(-EINVAL);
    expect(c.mm.mmap(A, P, RW, MAP_SHARED | MAP_FIXED, fakeFile(), 0)).toBe(A);
    done(c);
  });

  it("2.6.10 knew no MAP_HUGETLB: a plain anonymous page, and a file maps", () => {
    const c = newMm({ era: "2.6.10" });
    expect(c.mm.mmap(A, P, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_FIXED, null, 0)).toBe(A);
    const v = c.mm.vmaLookup(A)!;
    expect([v.vmEnd - v.vmStart, v.vmFlags & VM_HUGETLB, v.vmFile]).toEqual([P, 0, null]);
    expect(c.mm.mmap(A + 4 * P, P, RW, MAP_SHARED | MAP_FIXED | MAP_HUGETLB, fakeFile(), 0)).toBe(A + 4 * P);
    done(c);
  });
});

mmTable("hugetlb (Mm rows)", [
  {
    // accountable_mapping() leaves hugetlb out: a private writable mapping larger than the commit limit
    // still reaches ->mmap (whose reservation fails) after the old mapping's PTEs went.
    name: "private hugetlb larger than RAM without MAP_NORESERVE → ENOMEM, the old mapping gone",
    run: ({ mm }) => {
      mm.mmap(A, 2 * P, RW, PF, null, 0);
      return mm.mmap(A, 16 * HPAGE_SIZE, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_FIXED, null, 0);
    },
    expect: -ENOMEM,
    after: ({ mm }) => expect(mm.mapCount).toBe(0),
  },
  {
    name: "MAP_SHARED hugetlb without MAP_NORESERVE → ENOMEM, the old mapping gone",
    run: ({ mm }) => {
      mm.mmap(A, 2 * P, RW, PF, null, 0);
      return mm.mmap(A, P, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB | MAP_FIXED, null, 0);
    },
    expect: -ENOMEM,
    after: ({ mm }) => expect(mm.mapCount).toBe(0),
  },
]);
