// Peer-suite tests that need a file and its page cache (issue 12 §2), ported onto the oracle's memfd
// ops: gVisor's MMapFileTest (test/syscalls/linux/mmap.cc), LTP's mmap13 and memfd_create01, the
// shmem variant of selftests/mm/guard-regions.c and cow.c's non-anonymous "Basic COW" with memfd. The
// original's file (a tmpfs or disk file) is a memfd here: the assertions are about the page cache,
// EOF and seals, which shmem has as any file does. Expectations are the originals' assertions written
// as the exact answers Linux 6.18 gives; the live kernel checks them (peer-suites.test.ts).
import { type B as Builder, type PeerCase, peer } from "./peer-cases.ts";
import {
  close,
  fallocate,
  ftruncate,
  load,
  MAP_FIXED,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  madvise,
  memfd,
  mlock,
  mmapfd,
  mprotect,
  mremap,
  munlock,
  munmap,
  PROT_EXEC,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  page,
  pages,
  pread,
  pwrite,
  seal,
  store,
} from "./script.ts";

const P = page;
const N = pages;
const RW = PROT_READ | PROT_WRITE;
const SHF = MAP_SHARED | MAP_FIXED;
const PRF = MAP_PRIVATE | MAP_FIXED;
const PAGE = 4096n;
const rep = (byte: number): bigint => 0x0101_0101_0101_0101n * BigInt(byte);
const hex = (v: bigint): string => `0x${v.toString(16)}`;
const bus = (a: bigint) => `SIGBUS BUS_ADRERR ${hex(a)}`;
/** pread of 8 bytes all `byte`. */
const read8 = (byte: number) => `read 0x8 ${hex(rep(byte))}`;
const A = 0x61;
const B = 0x62;
const C = 0x63;
const F_SEAL_SHRINK = 2;
const F_SEAL_GROW = 4;
const F_SEAL_WRITE = 8;
const F_SEAL_FUTURE_WRITE = 0x10;

/** gVisor's MMapFileTest, with its fixture file as memfd slot 0 (created empty, as the tests truncate first). */
const GVISOR_MMAP_FILE: PeerCase[] = [
  peer(
    "gvisor",
    "gvisor/mmap: MMapFileTest.MapOffsetBeyondEnd",
    "a private writable mapping at offset 10 pages of a short file succeeds; touching it is SIGBUS",
    (b) => {
      b.do(memfd(0x29n), "0x0");
      b.do(mmapfd(P(0), N(1), RW, PRF, 0, 10n * PAGE), hex(P(0)));
      b.do(store(8, P(0), 0x54n), bus(P(0)));
    },
  ),
  peer(
    "gvisor",
    "gvisor/mmap: MMapFileTest.MapLengthPlusOffsetOverflows",
    "length -PAGE_SIZE at offset PAGE_SIZE fails with ENOMEM (no room, not an overflow)",
    (b) => {
      b.do(memfd(0x29n), "0x0");
      b.do(mmapfd(0n, -PAGE & ((1n << 64n) - 1n), PROT_READ, MAP_PRIVATE, 0, PAGE), "-ENOMEM");
    },
  ),
  peer(
    "gvisor",
    "gvisor/mmap: MMapFileTest.MapPopulateShort",
    "MAP_POPULATE of two pages of a one-page file succeeds (the page past EOF is simply not populated)",
    (b) => {
      b.do(memfd(0x29n), "0x0");
      b.do(mmapfd(P(0), N(2), PROT_READ, PRF | MAP_POPULATE, 0), hex(P(0)));
      b.do(load(8, P(1)), bus(P(1)));
    },
  ),
  peer(
    "gvisor",
    "gvisor/mmap: MMapFileTest.ReadSharedConsistentWithOverwrite",
    "two pages written 'a','b', mapped shared read-only, rewritten 'b','a': the mapping shows the new data",
    (b) => {
      b.do(memfd(0n), "0x0");
      b.do(pwrite(0, 0n, A, PAGE), hex(PAGE)).do(pwrite(0, PAGE, B, PAGE), hex(PAGE));
      b.do(mmapfd(P(0), N(2), PROT_READ, SHF, 0), hex(P(0)));
      b.do(load(64, P(0)), hex(rep(A))).do(load(64, P(1, 4088)), hex(rep(B)));
      b.do(pwrite(0, 0n, B, PAGE), hex(PAGE)).do(pwrite(0, PAGE, A, PAGE), hex(PAGE));
      b.do(load(64, P(0, 4088)), hex(rep(B))).do(load(64, P(1)), hex(rep(A)));
    },
  ),
  peer(
    "gvisor",
    "gvisor/mmap: MMapFileTest.ReadSharedConsistentWithPartialOverwrite",
    "a write of a page and a half of 'c' over 'a','b' shows in the mapping; the rest of page 1 stays 'b'",
    (b) => {
      b.do(memfd(0n), "0x0");
      b.do(pwrite(0, 0n, A, PAGE), hex(PAGE)).do(pwrite(0, PAGE, B, PAGE), hex(PAGE));
      b.do(mmapfd(P(0), N(2), PROT_READ, SHF, 0), hex(P(0)));
      b.do(pwrite(0, 0n, C, PAGE + PAGE / 2n), hex(PAGE + PAGE / 2n));
      b.do(load(64, P(0)), hex(rep(C))).do(load(64, P(1, 2040)), hex(rep(C)));
      b.do(load(64, P(1, 2048)), hex(rep(B))).do(load(64, P(1, 4088)), hex(rep(B)));
    },
  ),
  peer(
    "gvisor",
    "gvisor/mmap: MMapFileTest.ReadSharedConsistentWithWriteAndFile",
    "with only page 0 mapped, overwriting both pages shows in the mapping and in the file",
    (b) => {
      b.do(memfd(0n), "0x0");
      b.do(pwrite(0, 0n, A, N(2)), hex(N(2)));
      b.do(mmapfd(P(0), N(1), PROT_READ, SHF, 0), hex(P(0)));
      b.do(pwrite(0, 0n, B, N(2)), hex(N(2)));
      b.do(load(64, P(0, 4088)), hex(rep(B)));
      b.do(pread(0, N(2) - 8n), read8(B));
    },
  ),
  peer(
    "gvisor",
    "gvisor/mmap: MMapFileTest.WriteShared",
    "stores through a shared mapping are in the file after munmap",
    (b) => {
      b.do(memfd(0x29n), "0x0");
      b.do(mmapfd(P(0), N(1), RW, SHF, 0), hex(P(0)));
      b.do(store(64, P(0), rep(0x54)), "0");
      b.do(munmap(P(0), N(1)), "0");
      b.do(pread(0, 0n), read8(0x54));
    },
  ),
  peer(
    "gvisor",
    "gvisor/mmap: MMapFileTest.WriteSharedBeyondEnd",
    "a half-page file mapped a whole page: stores to the second half do not reach the file (a read stops at EOF)",
    (b) => {
      b.do(memfd(PAGE / 2n), "0x0");
      b.do(mmapfd(P(0), N(1), RW, SHF, 0), hex(P(0)));
      b.do(store(64, P(0), rep(0x41)), "0").do(store(64, P(0, 2048), rep(0x42)), "0");
      b.do(munmap(P(0), N(1)), "0");
      b.do(pread(0, 0n), read8(0x41));
      b.do(pread(0, 2048n), "read 0x0 0x0");
    },
  ),
  peer(
    "gvisor",
    "gvisor/mmap: MMapFileTest.WriteSharedTruncateUp",
    "the beyond-EOF half of a mapped page becomes file data once ftruncate extends the file over it",
    (b) => {
      b.do(memfd(PAGE / 2n), "0x0");
      b.do(mmapfd(P(0), N(1), RW, SHF, 0), hex(P(0)));
      b.do(store(64, P(0), rep(0x41)), "0").do(store(64, P(0, 2048), rep(0x42)), "0");
      b.do(ftruncate(0, PAGE), "0");
      b.do(munmap(P(0), N(1)), "0");
      b.do(pread(0, 0n), read8(0x41)).do(pread(0, 2048n), read8(0x42));
    },
  ),
  peer(
    "gvisor",
    "gvisor/mmap: MMapFileTest.ReadSharedTruncateDownThenUp",
    "a page of 'a' mapped shared read-only; ftruncate to 0 then to a page: the mapping and the file read zeros",
    (b) => {
      b.do(memfd(0n), "0x0");
      b.do(pwrite(0, 0n, A, PAGE), hex(PAGE));
      b.do(mmapfd(P(0), N(1), PROT_READ, SHF, 0), hex(P(0)));
      b.do(load(64, P(0)), hex(rep(A)));
      b.do(ftruncate(0, 0n), "0").do(ftruncate(0, PAGE), "0");
      b.do(load(64, P(0)), "0x0").do(load(64, P(0, 4088)), "0x0");
      b.do(pread(0, 0n), "read 0x8 0x0");
    },
  ),
  peer(
    "gvisor",
    "gvisor/mmap: MMapFileTest.WriteSharedTruncateDownThenUp",
    "stores through a shared mapping, then ftruncate to 0 and back: memory and file are zero",
    (b) => {
      b.do(memfd(PAGE / 2n), "0x0");
      b.do(mmapfd(P(0), N(1), RW, SHF, 0), hex(P(0)));
      b.do(store(64, P(0), rep(0x41)), "0");
      b.do(ftruncate(0, 0n), "0").do(ftruncate(0, PAGE), "0");
      b.do(load(64, P(0)), "0x0");
      b.do(munmap(P(0), N(1)), "0");
      b.do(pread(0, 0n), "read 0x8 0x0");
    },
  ),
];

/** LTP: mmap13, and memfd_create01's seal tests (memfd_create_common.h's checks, one op each). */
const LTP_FILES: PeerCase[] = [
  peer(
    "ltp",
    "ltp/mmap13",
    "a mapping longer than its file (2 pages of a half-page file) succeeds; the page past the file is SIGBUS",
    (b) => {
      b.do(memfd(PAGE / 2n), "0x0");
      b.do(mmapfd(P(0), N(2), RW, SHF, 0), hex(P(0)));
      b.do(store(8, P(0, 2048), 1n), "0");
      b.do(load(8, P(1)), bus(P(1)));
    },
  ),
  peer(
    "ltp",
    "ltp/memfd_create01: test_seal_write",
    "after F_SEAL_WRITE: shared read-only mmap works, shared writable mmap and write() fail with EPERM, the size may change",
    (b) => {
      b.do(memfd(N(4)), "0x0");
      b.do(seal(0, F_SEAL_WRITE), "0");
      b.do(mmapfd(P(0), N(4), PROT_READ, SHF, 0), hex(P(0)));
      b.do(mmapfd(P(4), N(4), RW, SHF, 0), "-EPERM");
      b.do(pwrite(0, 0n, 1, 1n), "-EPERM");
      b.do(ftruncate(0, N(2)), "0").do(ftruncate(0, N(4)), "0");
      b.do(fallocate(0, 0, 0n, N(8)), "0");
      b.do(fallocate(0, 3, 0n, N(1)), "-EPERM");
    },
  ),
  peer(
    "ltp",
    "ltp/memfd_create01: test_seal_future_write",
    "after F_SEAL_FUTURE_WRITE: an earlier shared writable mapping still writes; new ones, mprotect to write and write() are refused",
    (b) => {
      b.do(memfd(N(4)), "0x0");
      b.do(mmapfd(P(0), N(4), RW, SHF, 0), hex(P(0)));
      b.do(seal(0, F_SEAL_FUTURE_WRITE), "0");
      b.do(store(8, P(0), 7n), "0");
      b.do(mmapfd(P(4), N(4), RW, SHF, 0), "-EPERM");
      b.do(mmapfd(P(4), N(4), PROT_READ, SHF, 0), hex(P(4)));
      b.do(mprotect(P(4), N(4), RW), "-EACCES");
      b.do(pwrite(0, 0n, 1, 1n), "-EPERM");
      b.do(load(8, P(4)), "0x7");
    },
  ),
  peer(
    "ltp",
    "ltp/memfd_create01: test_seal_shrink",
    "after F_SEAL_SHRINK: reads, writes and growing work; ftruncate smaller fails with EPERM",
    (b) => {
      b.do(memfd(N(4)), "0x0");
      b.do(seal(0, F_SEAL_SHRINK), "0");
      b.do(pwrite(0, 0n, 1, N(1)), hex(N(1)));
      b.do(ftruncate(0, N(2)), "-EPERM");
      b.do(ftruncate(0, N(8)), "0");
      b.do(fallocate(0, 0, 0n, N(16)), "0");
    },
  ),
  peer(
    "ltp",
    "ltp/memfd_create01: test_seal_grow",
    "after F_SEAL_GROW: shrinking works; ftruncate, fallocate and write() past the size fail with EPERM",
    (b) => {
      b.do(memfd(N(4)), "0x0");
      b.do(seal(0, F_SEAL_GROW), "0");
      b.do(ftruncate(0, N(2)), "0");
      b.do(ftruncate(0, N(8)), "-EPERM");
      b.do(fallocate(0, 0, 0n, N(8)), "-EPERM");
      b.do(pwrite(0, N(2), 1, 1n), "-EPERM");
      b.do(pwrite(0, 0n, 1, N(1)), hex(N(1)));
    },
  ),
  peer(
    "ltp",
    "ltp/memfd_create01: test_seal_resize",
    "after F_SEAL_SHRINK|F_SEAL_GROW: the size cannot change either way (EPERM), same-size ftruncate works",
    (b) => {
      b.do(memfd(N(4)), "0x0");
      b.do(seal(0, F_SEAL_SHRINK | F_SEAL_GROW), "0");
      b.do(ftruncate(0, N(2)), "-EPERM");
      b.do(ftruncate(0, N(8)), "-EPERM");
      b.do(ftruncate(0, N(4)), "0");
      b.do(fallocate(0, 0, 0n, N(8)), "-EPERM");
    },
  ),
  peer(
    "ltp",
    "ltp/memfd_create01: test_share_mmap",
    "seals are the file's: F_SEAL_WRITE is EBUSY while a shared mapping exists, fine after munmap, and a private mapping does not count",
    (b) => {
      b.do(memfd(N(4)), "0x0");
      b.do(mmapfd(P(0), N(4), RW, SHF, 0), hex(P(0)));
      b.do(seal(0, F_SEAL_SHRINK), "0");
      b.do(seal(0, F_SEAL_WRITE), "-EBUSY");
      b.do(munmap(P(0), N(4)), "0");
      b.do(mmapfd(P(0), N(4), RW, PRF, 0), hex(P(0)));
      b.do(seal(0, F_SEAL_WRITE), "0");
      b.do(store(8, P(0), 1n), "0");
    },
  ),
  peer(
    "ltp",
    "ltp/memfd_create01: test_share_fork",
    "a seal added by a forked child holds for the parent's fd too; the child's close leaves the parent's open",
    (b) => {
      b.do(memfd(N(4)), "0x0");
      b.fork((c) => {
        c.do(seal(0, F_SEAL_SHRINK), "0");
        c.do(close(0), "0");
      });
      b.do(ftruncate(0, N(2)), "-EPERM");
      b.do(ftruncate(0, N(8)), "0");
    },
  ),
];

// ------------------------------------------------------------------------------ guard-regions (shmem)

/*
 * selftests/mm/guard-regions.c, shmem variant: the fixture's memfd (slot 0, 100 pages) mapped
 * MAP_SHARED at offset 0 wherever the original calls mmap_() (every mapping of a test maps offset 0,
 * as there). The anonymous variant lives in peer-cases.ts. Not ported:
 *   - the `file` variant: a local file behaves as the memfd in every assertion ported here, so its
 *     scripts would be these ones again; readonly_file needs the file reopened O_RDONLY (the oracle
 *     has no open/reopen op);
 *   - fork_cow, fork_wipeonfork, lazyfree: the original skips them on shmem;
 *   - uffd (userfaultfd), collapse (THP), pagemap and pagemap_scan (/proc/self/pagemap bits):
 *     outside what the oracle expresses;
 *   - process_madvise: the oracle has no process_madvise op (pidfd and iovec batches).
 */
const MADV_DONTNEED = 4;
const MADV_SEQUENTIAL = 2;
const MADV_REMOVE = 9;
const MADV_COLD = 20;
const MADV_PAGEOUT = 21;
const MADV_POPULATE_READ = 22;
const MADV_POPULATE_WRITE = 23;
const MADV_GUARD_INSTALL = 102;
const MADV_GUARD_REMOVE = 103;
const RWX = RW | PROT_EXEC;
const mapErr = (a: bigint) => `SIGSEGV SEGV_MAPERR ${hex(a)}`;
const accErr = (a: bigint) => `SIGSEGV SEGV_ACCERR ${hex(a)}`;

function guardShmem(name: string, doc: string, build: (b: Builder) => void): PeerCase {
  return peer("selftests/mm", `selftests/mm/guard-regions: guard_regions.${name} (shmem)`, doc, (b) => {
    b.do(memfd(N(100)), "0x0");
    build(b);
  });
}
/** mmap_(): the memfd shared at offset 0, placed at page `at`. */
const mapS = (b: Builder, at: number, n: number, prot = RW) =>
  b.do(mmapfd(P(at), N(n), prot, SHF, 0), hex(P(at)));
const GI = (b: Builder, at: number, n: number, want = "0") =>
  b.do(madvise(P(at), N(n), MADV_GUARD_INSTALL), want);
const GR = (b: Builder, at: number, n: number, want = "0") =>
  b.do(madvise(P(at), N(n), MADV_GUARD_REMOVE), want);
/** try_read_buf fails. */
const noRead = (b: Builder, at: number) => b.do(load(8, P(at)), mapErr(P(at)));
/** set_pattern(): page i of the range all 'a' + i % 26. */
const setPattern = (b: Builder, at: number, n: number) => {
  for (let i = 0; i < n; i++) b.fill(P(at + i), A + (i % 26));
};
/** check_pattern_offset(): pages pgoff.. of the range hold the pattern of their own index. */
const checkPattern = (b: Builder, at: number, n: number, pgoff = 0) => {
  for (let i = pgoff; i < pgoff + n; i++) b.check(P(at + i), A + (i % 26));
};

const SELFTESTS_GUARD_SHMEM: PeerCase[] = [
  guardShmem(
    "basic",
    "guard pages at the first and last page of 10 fault on read and write, the rest stay usable; removal restores them; a 3-page guard over faulted pages; removing guards keeps the file's contents ('x')",
    (b) => {
      mapS(b, 0, 10);
      b.readWrite(P(0));
      GI(b, 0, 1);
      b.noAccess(P(0));
      for (let i = 1; i < 10; i++) b.readWrite(P(i));
      GI(b, 9, 1);
      b.noAccess(P(0)).noAccess(P(9));
      GR(b, 0, 1);
      b.readWrite(P(0));
      GR(b, 9, 1);
      b.readWrite(P(9));
      GI(b, 0, 3);
      for (let i = 0; i < 3; i++) b.noAccess(P(i));
      for (let i = 3; i < 10; i++) b.readWrite(P(i));
      GR(b, 0, 10);
      for (let i = 0; i < 10; i++) b.readWrite(P(i));
      GR(b, 0, 10);
      for (let i = 0; i < 10; i++) b.do(load(8, P(i)), "0x78");
      b.do(munmap(P(0), N(10)), "0");
    },
  ),
  guardShmem(
    "multi_vma",
    "guards over a 100-page range of 3 VMAs and 2 gaps: ENOMEM yet every VMA page is guarded; removal likewise; with RWX VMAs in the gaps the whole range is guarded and unguarded with success",
    (b) => {
      mapS(b, 0, 100, PROT_NONE);
      mapS(b, 0, 10);
      mapS(b, 50, 5);
      mapS(b, 80, 20);
      b.do(munmap(P(10), N(40)), "0");
      b.do(munmap(P(55), N(25)), "0");
      const vmaPages = [
        ...Array(10).keys(),
        ...[50, 51, 52, 53, 54],
        ...Array.from({ length: 20 }, (_, i) => 80 + i),
      ];
      GI(b, 0, 100, "-ENOMEM");
      for (const i of vmaPages) b.noAccess(P(i));
      GR(b, 0, 100, "-ENOMEM");
      for (const i of vmaPages) b.readWrite(P(i));
      mapS(b, 10, 40, RWX);
      mapS(b, 55, 25, RWX);
      GI(b, 0, 100);
      for (let i = 0; i < 100; i++) b.noAccess(P(i));
      GR(b, 0, 100);
      for (let i = 0; i < 100; i++) b.readWrite(P(i));
    },
  ),
  guardShmem(
    "munmap",
    "unmapping guarded pages and mapping over them leaves no guard markers behind",
    (b) => {
      mapS(b, 0, 10);
      GI(b, 0, 1);
      GI(b, 9, 1);
      b.noAccess(P(0)).noAccess(P(9));
      b.do(munmap(P(0), N(1)), "0").do(munmap(P(9), N(1)), "0");
      mapS(b, 0, 1);
      mapS(b, 9, 1);
      b.readWrite(P(0)).readWrite(P(9));
      b.do(munmap(P(0), N(10)), "0");
    },
  ),
  guardShmem(
    "mprotect",
    "mprotect has no bearing on guard markers; guarding again is fine; removal makes the range readable",
    (b) => {
      mapS(b, 0, 10);
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
  guardShmem(
    "split_merge",
    "guards survive VMA splits (munmap, mprotect) and merges; unmapped-and-remapped pages are unguarded",
    (b) => {
      mapS(b, 0, 10);
      GI(b, 0, 10);
      for (let i = 0; i < 10; i++) b.noAccess(P(i));
      for (const i of [2, 5, 8]) b.do(munmap(P(i), N(1)), "0");
      for (const i of [0, 1, 3, 4, 6, 7, 9]) b.noAccess(P(i));
      for (const i of [2, 5, 8]) mapS(b, i, 1);
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
  guardShmem(
    "dontneed",
    "MADV_DONTNEED does not remove guard markers; the other pages read the file's data ('y') again and stay writable",
    (b) => {
      mapS(b, 0, 10);
      for (let i = 0; i < 10; i++) b.do(store(8, P(i), 0x79n), "0");
      for (let i = 0; i < 10; i += 2) GI(b, i, 1);
      b.do(madvise(P(0), N(10), MADV_DONTNEED), "0");
      for (let i = 0; i < 10; i++) {
        if (i % 2 === 0) b.noAccess(P(i));
        else b.do(load(8, P(i)), "0x79").do(store(8, P(i), 0x78n), "0");
      }
    },
  ),
  guardShmem(
    "mlock",
    "guards cannot be installed over mlocked pages (EINVAL); after munlock they can; removing guards from an mlocked range is allowed",
    (b) => {
      mapS(b, 0, 10);
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
  guardShmem("mremap_move", "moving a mapping keeps its guard markers where they were in it", (b) => {
    mapS(b, 0, 5);
    GI(b, 0, 1);
    GI(b, 4, 1);
    b.noAccess(P(0)).noAccess(P(4));
    mapS(b, 20, 5, PROT_NONE);
    b.do(mremap(P(0), N(5), N(5), MREMAP_MAYMOVE | MREMAP_FIXED, P(20)), hex(P(20)));
    b.noAccess(P(20)).noAccess(P(24));
  }),
  guardShmem(
    "mremap_expand",
    "growing in place, then moving and growing, keeps the guard markers at their original offsets",
    (b) => {
      mapS(b, 0, 10);
      b.do(munmap(P(5), N(5)), "0");
      GI(b, 0, 1);
      GI(b, 4, 1);
      b.noAccess(P(0)).noAccess(P(4));
      b.do(mremap(P(0), N(5), N(10), 0), hex(P(0)));
      b.noAccess(P(0)).noAccess(P(4));
      mapS(b, 20, 20, PROT_NONE);
      b.do(mremap(P(0), N(10), N(20), MREMAP_MAYMOVE | MREMAP_FIXED, P(20)), hex(P(20)));
      b.noAccess(P(20)).noAccess(P(24));
    },
  ),
  guardShmem(
    "mremap_shrink",
    "shrinking drops the markers shrunk over (the first stays); growing back does not restore them",
    (b) => {
      mapS(b, 0, 5);
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
  guardShmem(
    "fork",
    "a child inherits guard markers of a shared mapping; its MADV_GUARD_REMOVE leaves the parent's",
    (b) => {
      mapS(b, 0, 10);
      GI(b, 0, 5);
      const check = (x: Builder) => {
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
  guardShmem(
    "populate",
    "MADV_POPULATE_READ and MADV_POPULATE_WRITE over guard markers fail with EFAULT",
    (b) => {
      mapS(b, 0, 10);
      GI(b, 0, 10);
      b.do(madvise(P(0), N(10), MADV_POPULATE_READ), "-EFAULT");
      b.do(madvise(P(0), N(10), MADV_POPULATE_WRITE), "-EFAULT");
    },
  ),
  guardShmem("cold_pageout", "MADV_COLD and MADV_PAGEOUT leave the guard markers in place", (b) => {
    mapS(b, 0, 10);
    GI(b, 0, 10);
    for (let i = 0; i < 10; i++) b.noAccess(P(i));
    b.do(madvise(P(0), N(10), MADV_COLD), "0");
    for (let i = 0; i < 10; i++) b.noAccess(P(i));
    b.do(madvise(P(0), N(10), MADV_PAGEOUT), "0");
    for (let i = 0; i < 10; i++) b.noAccess(P(i));
  }),
  guardShmem(
    "madvise_sequential",
    "with MADV_SEQUENTIAL, every other page guarded and the range paged out: guarded pages fault, the others read their pattern; after removal the whole pattern is there",
    (b) => {
      mapS(b, 0, 10);
      setPattern(b, 0, 10);
      checkPattern(b, 0, 10);
      b.do(madvise(P(0), N(10), MADV_SEQUENTIAL), "0");
      for (let i = 0; i < 10; i += 2) GI(b, i, 1);
      b.do(madvise(P(0), N(10), MADV_PAGEOUT), "0");
      for (let i = 0; i < 10; i++) {
        if (i % 2 === 0) b.noAccess(P(i));
        else b.do(load(8, P(i)), hex(BigInt(A + i)));
      }
      GR(b, 0, 10);
      checkPattern(b, 0, 10);
    },
  ),
  guardShmem(
    "map_private",
    "guards in a shared and a private mapping of the same file are independent; removing them from the private one zaps its CoW copies, so the file's pages show through again",
    (b) => {
      mapS(b, 0, 10);
      b.do(mmapfd(P(20), N(10), RW, PRF, 0), hex(P(20)));
      setPattern(b, 0, 10);
      for (let i = 0; i < 10; i += 2) GI(b, i, 1);
      for (let i = 0; i < 10; i++) {
        if (i % 2 === 0) noRead(b, i);
        else b.do(load(8, P(i)));
        b.do(load(8, P(20 + i)));
      }
      for (let i = 0; i < 10; i += 2) GI(b, 20 + i, 1);
      for (let i = 0; i < 10; i++) {
        if (i % 2 === 0) noRead(b, i).do(load(8, P(20 + i)), mapErr(P(20 + i)));
        else b.do(load(8, P(i))).do(load(8, P(20 + i)));
      }
      GR(b, 0, 10);
      for (let i = 0; i < 10; i++) {
        b.do(load(8, P(i)));
        if (i % 2 === 0) b.do(load(8, P(20 + i)), mapErr(P(20 + i)));
        else b.do(load(8, P(20 + i)));
      }
      GR(b, 20, 10);
      for (let i = 0; i < 10; i++) b.do(load(8, P(i))).do(load(8, P(20 + i)));
      checkPattern(b, 0, 10);
      checkPattern(b, 20, 10);
      // Private copies of the even pages, each filled with its own pattern byte: SPSPSPSPSP.
      for (let i = 0; i < 10; i += 2) b.fill(P(20 + i), A + i);
      GI(b, 20, 5);
      for (let i = 0; i < 10; i++) {
        if (i < 5) b.do(load(8, P(20 + i)), mapErr(P(20 + i)));
        else b.do(load(8, P(20 + i)));
        b.do(load(8, P(i)));
      }
      GR(b, 20, 10);
      // The guards zapped the private copies of pages 0-4: they read the file again (same bytes as the
      // shared mapping); 6 and 8 keep their private copies.
      for (let i = 0; i < 10; i++) {
        if (i < 5 || i % 2 === 1) b.check(P(20 + i), A + i).check(P(i), A + i);
        else b.check(P(20 + i), A + i);
      }
      b.do(munmap(P(0), N(10)), "0").do(munmap(P(20), N(10)), "0");
    },
  ),
  guardShmem(
    "fault_around",
    "a file paged out, unmapped and mapped again, every even page guarded: reading the odd ones (fault-around) leaves the guards intact",
    (b) => {
      mapS(b, 0, 10);
      setPattern(b, 0, 10);
      b.do(madvise(P(0), N(10), MADV_PAGEOUT), "0");
      b.do(munmap(P(0), N(10)), "0");
      mapS(b, 0, 10);
      for (let i = 0; i < 10; i += 2) GI(b, i, 1);
      for (let i = 1; i < 10; i += 2) b.do(load(8, P(i)), hex(BigInt(A + i)));
      for (let i = 0; i < 10; i++) {
        if (i % 2 === 0) noRead(b, i);
        else b.do(load(8, P(i)), hex(BigInt(A + i)));
      }
    },
  ),
  guardShmem(
    "truncation",
    "guards stay in place when the file is truncated to the mapping's size, and when shrunk to half and grown back",
    (b) => {
      mapS(b, 0, 10);
      setPattern(b, 0, 10);
      for (let i = 0; i < 10; i += 2) GI(b, i, 1);
      const expectGuards = () => {
        for (let i = 0; i < 10; i++) {
          if (i % 2 === 0) b.noAccess(P(i));
          else b.readWrite(P(i));
        }
      };
      expectGuards();
      b.do(ftruncate(0, N(10)), "0");
      expectGuards();
      b.do(ftruncate(0, N(5)), "0").do(ftruncate(0, N(10)), "0");
      expectGuards();
    },
  ),
  guardShmem(
    "hole_punch",
    "MADV_REMOVE over a guarded range leaves the guards; after removing them the punched pages read zero and the rest keep the pattern",
    (b) => {
      mapS(b, 0, 10);
      setPattern(b, 0, 10);
      GI(b, 3, 4);
      const expectGuards = () => {
        for (let i = 0; i < 10; i++) {
          if (i >= 3 && i < 7) noRead(b, i);
          else b.do(load(8, P(i)), hex(BigInt(A + i)));
        }
      };
      expectGuards();
      b.do(madvise(P(3), N(4), MADV_REMOVE), "0");
      expectGuards();
      GR(b, 0, 10);
      checkPattern(b, 0, 3);
      for (let i = 3; i < 7; i++) b.check(P(i), 0);
      checkPattern(b, 0, 3, 7);
    },
  ),
  peer(
    "selftests/mm",
    "selftests/mm/guard-regions: guard_regions.memfd_write_seal (shmem)",
    "a write-sealed memfd mapped read-only: guards install and remove, the pattern survives, and writes still fault",
    (b) => {
      b.do(memfd(N(100)), "0x0");
      b.do(close(0), "0");
      b.do(memfd(N(10)), "0x1");
      b.do(mmapfd(P(0), N(10), RW, SHF, 1), hex(P(0)));
      setPattern(b, 0, 10);
      b.do(munmap(P(0), N(10)), "0");
      b.do(seal(1, F_SEAL_WRITE), "0");
      b.do(mmapfd(P(0), N(10), PROT_READ, SHF, 1), hex(P(0)));
      checkPattern(b, 0, 10);
      for (let i = 0; i < 10; i += 2) GI(b, i, 1);
      for (let i = 0; i < 10; i++) {
        if (i % 2 === 0) noRead(b, i);
        else b.do(load(8, P(i)), hex(BigInt(A + i)));
      }
      GR(b, 0, 10);
      checkPattern(b, 0, 10);
      for (let i = 0; i < 10; i++) b.do(store(8, P(i), 0x78n), accErr(P(i)));
    },
  ),
  guardShmem(
    "anon_zeropage",
    "guards in a read-only shared mapping of an empty file: every other page guarded, then all removed, the range reads zero",
    (b) => {
      mapS(b, 0, 10, PROT_READ);
      for (let i = 0; i < 10; i += 2) GI(b, i, 1);
      for (let i = 0; i < 10; i++) {
        if (i % 2 === 0) noRead(b, i);
        else b.do(load(8, P(i)), "0x0");
      }
      GR(b, 0, 10);
      for (let i = 0; i < 10; i++) b.check(P(i), 0);
    },
  ),
];

/** selftests/mm/cow.c's non-anonymous "Basic COW", memfd run (the tmpfile run would be this script again). */
const SELFTESTS_COW_FILES: PeerCase[] = [
  peer(
    "selftests/mm",
    "selftests/mm/cow: Basic COW (memfd)",
    "a one-page memfd (fallocate) mapped private writable and shared read-only, both read; writing 0xff through the private mapping leaves the shared one reading zero",
    (b) => {
      b.do(memfd(0n), "0x0");
      b.do(fallocate(0, 0, 0n, PAGE), "0");
      b.do(mmapfd(P(0), N(1), RW, PRF, 0), hex(P(0)));
      b.do(mmapfd(P(2), N(1), PROT_READ, SHF, 0), hex(P(2)));
      b.do(load(8, P(0)), "0x0").do(load(8, P(2)), "0x0");
      b.fill(P(0), 0xff);
      b.check(P(2), 0);
    },
  ),
];

/** The file-backed peer cases (peer-suites.test.ts runs them with PEER_CASES). */
export const FILE_PEER_CASES: readonly PeerCase[] = [
  ...GVISOR_MMAP_FILE,
  ...LTP_FILES,
  ...SELFTESTS_GUARD_SHMEM,
  ...SELFTESTS_COW_FILES,
];
