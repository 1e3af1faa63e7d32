// gVisor's shm.cc (test/syscalls/linux), ported into the SysV differential runner (issue 12: the peer
// tests for SysV shm). Each TEST is a script for sysv-oracle.c / runSysvOnFaultline
// (__fixtures__/sysv-runner.ts), its steps kept and its assertions listed; both sides must meet them
// and print the same transcript. Adaptations: segments attach at fixed addresses of an arena (the
// original lets the kernel choose; the transcripts print the address), keys are literals (ftok of a
// temporary file elsewhere), IPC_STAT's owners, pids and times print as self/other and 0/set, and the
// death tests' faults are caught (the line shows SIGSEGV and its code) instead of killing a child.
import { describe, expect, it } from "vitest";
import { compileSysvOracle, runSysvOnFaultline, runSysvOnLinux } from "./__fixtures__/sysv-runner";

const ARENA = 0x2000_0000_0000;
const at = (page: number, byte = 0) => `0x${(ARENA + page * 4096 + byte).toString(16)}`;
/** kAllocSize: 128 pages. */
const SIZE = 128 * 4096;
const HALF = SIZE / 2;
const SHM_RDONLY = 0o10000;
const IPC_CREAT = 0o1000;
const IPC_EXCL = 0o2000;
const ALL = 0o777;
const CREAT = IPC_CREAT | ALL;
const KEY = "0x6d6d";

interface Peer {
  readonly script: readonly string[];
  /** The original's assertions: line index → what that line must end with. */
  readonly expect: Readonly<Record<number, string>>;
}

const PEERS: Record<string, Peer> = {
  "gvisor/shm: ShmTest.AttachDetach": {
    script: [
      `get 0 ${SIZE} ${CREAT}`,
      "st 0",
      `at 0 ${at(0)} 0`,
      "st 0",
      `at 0 ${at(256)} 0`,
      "st 0",
      `dt ${at(0)}`,
      "st 0",
      `dt ${at(256)}`,
      "st 0",
    ],
    expect: { 1: `size ${SIZE} nattch 0`, 3: "nattch 1", 5: "nattch 2", 7: "nattch 1", 9: "nattch 0" },
  },
  "gvisor/shm: ShmTest.LookupByKey": {
    script: [`get ${KEY} ${SIZE} ${CREAT}`, `get ${KEY} ${SIZE} ${ALL}`],
    expect: { 0: "= 0", 1: "= 0" },
  },
  "gvisor/shm: ShmTest.DetachedSegmentsPersist": {
    script: [
      `get 0 ${SIZE} ${CREAT}`,
      `at 0 ${at(0)} 0`,
      `w ${at(0)} 0x78`,
      `dt ${at(0)}`,
      `at 0 ${at(256)} 0`,
      `r ${at(256)}`,
      `dt ${at(256)}`,
    ],
    expect: { 5: "= 0x78", 6: "= 0" },
  },
  "gvisor/shm: ShmTest.MultipleDetachFails": {
    script: [`get 0 ${SIZE} ${CREAT}`, `at 0 ${at(0)} 0`, `dt ${at(0)}`, `dt ${at(0)}`],
    expect: { 2: "= 0", 3: "= -EINVAL" },
  },
  "gvisor/shm: ShmTest.IpcStat (owners, pids and times as self/other and 0/set)": {
    script: [
      `get ${KEY} ${SIZE} ${CREAT}`,
      "st 0",
      "stx 0",
      `at 0 ${at(0)} 0`,
      "stx 0",
      `dt ${at(0)}`,
      "stx 0",
    ],
    expect: {
      1: `key ${KEY} mode 0777 size ${SIZE} nattch 0`,
      2: "uid self gid self cuid self cgid self cpid self lpid 0 atime 0 dtime 0 ctime set",
      4: "cpid self lpid self atime set dtime 0 ctime set",
      6: "cpid self lpid self atime set dtime set ctime set",
    },
  },
  "gvisor/shm: ShmTest.ShmStat (in a fresh IPC namespace the first segment is index 0)": {
    script: [`get 0 ${SIZE} ${CREAT}`, "sst 0"],
    expect: { 1: `key 0x0 size ${SIZE}` },
  },
  "gvisor/shm: ShmTest.IpcInfo": {
    script: ["info"],
    expect: { 0: "shmmin 1 shmmni 4096 shmseg 4096 shmmax>shmmin yes shmall>0 yes" },
  },
  "gvisor/shm: ShmTest.ShmInfo (the machine-wide counts are asserted only on gVisor)": {
    script: ["sinfo", `get 0 ${SIZE} ${CREAT}`, `at 0 ${at(0)} 0`, "sinfo", `dt ${at(0)}`],
    expect: { 0: "= 0", 3: "= 0", 4: "= 0" },
  },
  "gvisor/shm: ShmTest.ShmCtlSet": {
    script: [
      `get 0 ${SIZE} ${CREAT}`,
      `at 0 ${at(0)} 0`,
      "st 0",
      `set 0 0 0 ${0o766}`,
      "st 0",
      `dt ${at(0)}`,
    ],
    expect: { 2: "mode 0777", 3: "= 0", 4: "mode 0766" },
  },
  "gvisor/shm: ShmTest.RemovedSegmentsAreMarkedDeleted (SHM_DEST in the mode)": {
    script: [`get 0 ${SIZE} ${CREAT}`, `at 0 ${at(0)} 0`, "rm 0", "st 0", `dt ${at(0)}`],
    expect: { 2: "= 0", 3: "mode 01777", 4: "= 0" },
  },
  "gvisor/shm: ShmTest.RemovedSegmentsAreDestroyed (the totals are asserted only on gVisor: the id is gone)":
    {
      script: [`get 0 ${SIZE} ${CREAT}`, `at 0 ${at(0)} 0`, "sinfo", "rm 0", `dt ${at(0)}`, "sinfo", "st 0"],
      expect: { 3: "= 0", 4: "= 0", 6: "= -EINVAL" },
    },
  "gvisor/shm: ShmTest.AllowsAttachToRemovedSegmentWithRefs": {
    script: [
      `get 0 ${SIZE} ${CREAT}`,
      `at 0 ${at(0)} 0`,
      "rm 0",
      `at 0 ${at(256)} 0`,
      `dt ${at(0)}`,
      `dt ${at(256)}`,
    ],
    expect: { 3: `= ${at(256)}`, 4: "= 0", 5: "= 0" },
  },
  "gvisor/shm: ShmTest.RemovedSegmentsAreNotDiscoverable": {
    script: [`get ${KEY} ${SIZE} ${CREAT}`, "rm 0", `get ${KEY} ${SIZE} ${ALL}`],
    expect: { 1: "= 0", 2: "= -ENOENT" },
  },
  "gvisor/shm: ShmDeathTest.ReadonlySegment (the write's SIGSEGV caught)": {
    script: [`get 0 ${SIZE} ${CREAT}`, `at 0 ${at(0)} ${SHM_RDONLY}`, `r ${at(0)}`, `w ${at(0)} 0x78`],
    expect: { 2: "= 0x0", 3: "= SIGSEGV 2" },
  },
  "gvisor/shm: ShmDeathTest.SegmentNotAccessibleAfterDetach (the SIGSEGV caught)": {
    script: [
      `get 0 ${SIZE} ${CREAT}`,
      `at 0 ${at(0)} 0`,
      "rm 0",
      `w ${at(0)} 0x78`,
      `dt ${at(0)}`,
      `w ${at(0)} 0x78`,
    ],
    expect: { 3: "= 0", 4: "= 0", 5: "= SIGSEGV 1" },
  },
  "gvisor/shm: ShmTest.RequestingSegmentSmallerThanSHMMINFails": {
    script: ["info", `get 0 0 ${CREAT}`],
    expect: { 0: "shmmin 1", 1: "= -EINVAL" },
  },
  "gvisor/shm: ShmTest.RequestingSegmentLargerThanSHMMAXFails (SHMMAX + a page, as a negative size_t)": {
    script: [`get 0 -16773120 ${CREAT}`],
    expect: { 0: "= -EINVAL" },
  },
  "gvisor/shm: ShmTest.RequestingUnalignedSizeSucceeds": {
    script: [`get 0 4097 ${CREAT}`, "st 0"],
    expect: { 0: "= 0", 1: "size 4097 nattch 0" },
  },
  "gvisor/shm: ShmTest.RequestingDuplicateCreationFails": {
    script: [
      `get ${KEY} ${SIZE} ${IPC_CREAT | IPC_EXCL | ALL}`,
      `get ${KEY} ${SIZE} ${IPC_CREAT | IPC_EXCL | ALL}`,
    ],
    expect: { 0: "= 0", 1: "= -EEXIST" },
  },
  "gvisor/shm: ShmTest.NonExistentSegmentsAreNotFound": {
    script: [`get ${KEY} ${SIZE} ${ALL}`],
    expect: { 0: "= -ENOENT" },
  },
  "gvisor/shm: ShmTest.SegmentsSizeFixedOnCreation": {
    script: [
      `get ${KEY} ${SIZE} ${CREAT}`,
      `get ${KEY} ${HALF} ${ALL}`,
      `get ${KEY} ${SIZE * 2} ${ALL}`,
      `at 0 ${at(0)} 0`,
      `at 1 ${at(256)} 0`,
      `w ${at(127, 4092)} 0x78`,
      `w ${at(383, 4092)} 0x78`,
      `dt ${at(0)}`,
      `dt ${at(256)}`,
    ],
    expect: { 1: "= 0", 2: "= -EINVAL", 3: `= ${at(0)}`, 4: `= ${at(256)}`, 5: "= 0", 6: "= 0" },
  },
  "gvisor/shm: ShmTest.PartialUnmap": {
    script: [`get 0 ${SIZE} ${CREAT}`, `at 0 ${at(0)} 0`, `unmap ${at(32)} ${HALF}`, `dt ${at(0)}`, "st 0"],
    expect: { 2: "= 0", 3: "= 0", 4: "nattch 0" },
  },
  "gvisor/shm: ShmTest.GracefullyFailOnZeroLenSegmentCreation": {
    script: ["get 0 0 0"],
    expect: { 0: "= -EINVAL" },
  },
  "gvisor/shm: ShmTest.NoDestructionOfAttachedSegmentWithMultipleRmid": {
    script: [
      `get 0 ${SIZE} ${CREAT}`,
      `at 0 ${at(0)} 0`,
      `at 0 ${at(256)} 0`,
      ...Array(6).fill("rm 0"),
      `w ${at(0)} 0x78`,
      `dt ${at(0)}`,
      `w ${at(256)} 0x78`,
      `dt ${at(256)}`,
    ],
    expect: { 3: "= 0", 8: "= 0", 9: "= 0", 10: "= 0", 11: "= 0", 12: "= 0" },
  },
  "gvisor/shm: ShmTest.MprotectWriteOnReadonlySegmentFails": {
    script: [
      `get 0 ${SIZE} ${CREAT}`,
      `at 0 ${at(0)} ${SHM_RDONLY}`,
      `mprot ${at(0)} ${SIZE} 3`,
      `dt ${at(0)}`,
    ],
    expect: { 2: "= -EACCES", 3: "= 0" },
  },
  "gvisor/shm: ShmTest.MprotectWriteOnWritableSegmentSucceeds": {
    script: [
      `get 0 ${SIZE} ${CREAT}`,
      `at 0 ${at(0)} 0`,
      `mprot ${at(0)} ${SIZE} 1`,
      `mprot ${at(0)} ${SIZE} 3`,
      `w ${at(0)} 0x79`,
      `r ${at(0)}`,
      `dt ${at(0)}`,
    ],
    expect: { 2: "= 0", 3: "= 0", 4: "= 0", 5: "= 0x79" },
  },
};

function unmet(peer: Peer, lines: readonly string[]): string[] {
  return Object.entries(peer.expect)
    .filter(([i, end]) => !lines[Number(i)]?.trimEnd().endsWith(end) && !lines[Number(i)]?.includes(end))
    .map(([i, end]) => `line ${i} should show ${end}: ${lines[Number(i)] ?? "nothing"}`);
}

const { bin, why } = compileSysvOracle();
const SKIP = bin ? "" : ` [SKIPPED: ${why}]`;
const trim = (ls: readonly string[]) => ls.map((l) => l.trimEnd());

describe("gVisor shm.cc, ported: Faultline against Linux", () => {
  for (const [name, peer] of Object.entries(PEERS)) {
    it(`${name}: Faultline meets the original's assertions`, async () => {
      expect(unmet(peer, await runSysvOnFaultline(peer.script))).toEqual([]);
    });
    it.skipIf(bin === null)(`${name}: the live kernel meets them and prints the same${SKIP}`, async () => {
      const linux = runSysvOnLinux(bin!, peer.script);
      expect(unmet(peer, linux)).toEqual([]);
      expect(trim(await runSysvOnFaultline(peer.script))).toEqual(trim(linux));
    });
  }
});
