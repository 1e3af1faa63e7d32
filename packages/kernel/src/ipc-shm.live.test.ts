// SysV shm against the live kernel (issue 12 §2): __fixtures__/sysv-oracle.c runs a script of
// shmget/shmat/shmdt/shmctl calls and accesses in a fresh IPC namespace; the same script on Faultline
// must print the same lines (ids, errno, fault codes, /SYSV maps lines with the id as inode, the
// key/id/perms/size/nattch/rss columns of /proc/sysvipc/shm). Skipped, with the reason in its title,
// where there is no C compiler, no Linux x86-64, or no private IPC namespace.
import { describe, expect, it } from "vitest";
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

const { bin, why } = compileSysvOracle();

describe("SysV shm: Faultline prints what the live kernel prints", () => {
  it.skipIf(bin === null)(`the script's transcript matches${bin ? "" : ` [SKIPPED: ${why}]`}`, async () => {
    const linux = runSysvOnLinux(bin!, SCRIPT);
    const faultline = await runSysvOnFaultline(SCRIPT);
    const trim = (ls: readonly string[]) => ls.map((l) => l.trimEnd()).join("\n");
    expect(trim(faultline)).toBe(trim(linux));
  });
});
