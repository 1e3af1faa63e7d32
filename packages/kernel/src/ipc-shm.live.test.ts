// SysV shm against the live kernel (issue 12 §2): __fixtures__/sysv-oracle.c runs a script of
// shmget/shmat/shmdt/shmctl calls and accesses in a fresh IPC namespace; the same script on Faultline
// must print the same lines (ids, errno, fault codes, /SYSV maps lines with the id as inode, the
// key/id/perms/size/nattch/rss columns of /proc/sysvipc/shm). Skipped, with the reason in its title,
// where there is no C compiler, no Linux x86-64, or no private IPC namespace.
import { describe, expect, it } from "vitest";
import { hugetlbMismatch } from "../../mm/test/oracle/linux.ts";
import { compileSysvOracle, runSysvOnFaultline, runSysvOnLinux } from "./__fixtures__/sysv-runner";

const ARENA = 0x2000_0000_0000;
const at = (page: number, byte = 0) => `0x${(ARENA + page * 4096 + byte).toString(16)}`;
const SHM_RDONLY = 0o10000;
const SHM_RND = 0o20000;
const SHM_REMAP = 0o40000;

// Ids are remembered in order, failures too (#0 … #6 below): the segments are #2 (key 0x5eed) and #6.
const SCRIPT = [
  `get 0 0 ${0o600}`,
  "get 0x5eed 100 0",
  `get 0x5eed 100 ${0o1640}`,
  `get 0x5eed 100 ${0o3600}`,
  "get 0x5eed 101 0",
  "get 0x5eed 50 0",
  `get 0 ${3 * 4096} ${0o600}`,
  `at 2 ${at(0)} 0`,
  `at 2 ${at(4, 12)} 0`,
  `at 2 ${at(4, 12)} ${SHM_RND}`,
  `at 2 ${at(0)} 0`,
  `at 6 ${at(8)} 0`,
  `at 6 ${at(9)} ${SHM_REMAP}`,
  `at 6 0 ${SHM_REMAP}`,
  `at 2 ${at(16)} ${SHM_RDONLY}`,
  `w ${at(0)} 0xabcd`,
  `r ${at(4)}`,
  `r ${at(16)}`,
  `w ${at(16)} 1`,
  `r ${at(1)}`,
  `w ${at(8, 4)} 0x77`,
  `r ${at(9, 4)}`,
  `r ${at(11)}`,
  "st 2",
  "st 6",
  `set 6 0 0 ${0o1640}`,
  "st 6",
  "set 5 0 0 0",
  "maps",
  "proc",
  "rm 2",
  "st 2",
  "get 0x5eed 100 0",
  `dt ${at(4, 1)}`,
  `dt ${at(1)}`,
  `dt ${at(4)}`,
  `dt ${at(0)}`,
  "st 2",
  "maps",
  `dt ${at(16)}`,
  "st 2",
  "rm 6",
  "st 6",
  `r ${at(9, 4)}`,
  "proc",
  `dt ${at(8)}`,
  `dt ${at(9)}`,
  "st 6",
  "proc",
];

// SHM_HUGETLB (the machine's huge page pool is empty, as the live host's must be: hugetlbMismatch()):
// a bad page size is EINVAL, the reservation ENOMEM unless SHM_NORESERVE; a NORESERVE segment attaches
// as whole 2 MiB pages at a huge page boundary (EINVAL at a 4 KiB one), on hugetlbfs (00:11), and every
// touch is SIGBUS; it splits only at huge pages (an unaligned shmdt is EINVAL). SHM_NORESERVE lets a
// shmem segment larger than RAM be made (no commit charge); without it, ENOMEM.
const SHM_HUGETLB = 0o4000;
const SHM_NORESERVE = 0o10000;
const HUGE_SCRIPT = [
  `get 0 4096 ${SHM_HUGETLB | 0o600}`,
  `get 0 4096 ${SHM_HUGETLB | SHM_NORESERVE | (30 << 26) | 0o600}`,
  `get 0 0 ${SHM_HUGETLB | SHM_NORESERVE | 0o600}`,
  `get 0 ${3 * 4096} ${SHM_HUGETLB | SHM_NORESERVE | (21 << 26) | 0o600}`,
  `at 3 ${at(1)} 0`,
  `at 3 ${at(512)} 0`,
  `r ${at(512)}`,
  `w ${at(513, 8)} 7`,
  `r ${at(1023)}`,
  "maps",
  "st 3",
  "proc",
  `dt ${at(513)}`,
  `dt ${at(512)}`,
  "st 3",
  `get 0 ${2 ** 46} ${SHM_NORESERVE | 0o600}`,
  `get 0 ${2 ** 46} ${0o600}`,
  "rm 3",
  "rm 4",
];

const { bin, why } = compileSysvOracle();
const hugeSkip = bin === null ? why : hugetlbMismatch();

describe("SysV shm: Faultline prints what the live kernel prints", () => {
  it.skipIf(bin === null)(`the script's transcript matches${bin ? "" : ` [SKIPPED: ${why}]`}`, async () => {
    const linux = runSysvOnLinux(bin!, SCRIPT);
    const faultline = await runSysvOnFaultline(SCRIPT);
    const trim = (ls: readonly string[]) => ls.map((l) => l.trimEnd()).join("\n");
    expect(trim(faultline)).toBe(trim(linux));
  });
});

describe("SysV shm with SHM_HUGETLB and SHM_NORESERVE: Faultline prints what the live kernel prints", () => {
  it.skipIf(hugeSkip !== null)(
    `the script's transcript matches${hugeSkip ? ` [SKIPPED: ${hugeSkip}]` : ""}`,
    async () => {
      const linux = runSysvOnLinux(bin!, HUGE_SCRIPT);
      const faultline = await runSysvOnFaultline(HUGE_SCRIPT);
      const trim = (ls: readonly string[]) => ls.map((l) => l.trimEnd()).join("\n");
      expect(trim(faultline)).toBe(trim(linux));
    },
  );
});
