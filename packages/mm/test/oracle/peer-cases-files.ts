// Peer-suite tests that need a file and its page cache (issue 12 §2), ported onto the oracle's memfd
// ops: gVisor's MMapFileTest (test/syscalls/linux/mmap.cc), LTP's mmap13 and memfd_create01. The
// original's file (a tmpfs or disk file) is a memfd here: the assertions are about the page cache,
// EOF and seals, which shmem has as any file does. Expectations are the originals' assertions written
// as the exact answers Linux 6.18 gives; the live kernel checks them (peer-suites.test.ts).
import { type PeerCase, peer } from "./peer-cases.ts";
import {
  close,
  fallocate,
  ftruncate,
  load,
  MAP_FIXED,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  memfd,
  mmapfd,
  mprotect,
  munmap,
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

/** The file-backed peer cases (peer-suites.test.ts runs them with PEER_CASES). */
export const FILE_PEER_CASES: readonly PeerCase[] = [...GVISOR_MMAP_FILE, ...LTP_FILES];
