// gVisor's mlock.cc and mincore.cc (test/syscalls/linux), ported into the differential runner (issue
// 12: the peer tests for rlimits, mincore, mlock2 and mlockall). Each TEST is one script, its steps and
// assertions kept: gVisor's IsPageMlocked() is msync(MS_ASYNC | MS_INVALIDATE) failing with EBUSY, so
// the scripts ask msync too; "SetCapability(CAP_IPC_LOCK, false)" is `unprivileged`, and
// ScopedSetSoftRlimit(RLIMIT_MEMLOCK, n) lowers both limits to n (a process may always lower them).
// Every script runs on a Faultline process and on Linux (oracle.c); the transcripts must be equal, and
// each script's `expect` lists the original's assertions, checked on both. Recorded in
// __fixtures__/oracle-peer-mlock.json (FAULTLINE_RECORD_PEER_MLOCK=1 re-records).
import { describe, expect, it } from "vitest";
import { compileOracle, oracleUnavailableReason, runTextOnLinux } from "../../mm/test/oracle/linux.ts";
import { runSignalScript } from "./oracle-signals";
import { expectRecordedCover, recordedTranscripts } from "./recorded-transcripts";

const A = 0x1000_0000_0000;
const h = (n: number) => `0x${n.toString(16)}`;
const at = (page: number) => h(A + page * 0x1000);
const HEAD = `arena ${h(A)} 0x400000\n`;
const RW_PRIVATE = "0x3 0x32";
const LOCKED = "0x3 0x2032";
/** gVisor's IsPageMlocked(addr): msync(MS_ASYNC | MS_INVALIDATE) is -EBUSY on locked memory. */
const isLocked = (page: number) => `msync ${at(page)} 0x1000 0x3`;

interface Peer {
  readonly script: string;
  /** The original's assertions: transcript line prefix → the result it must end with. */
  readonly expect: Readonly<Record<string, string>>;
}

const PEERS: Record<string, Peer> = {
  "gvisor/mlock: MlockTest.Basic": {
    script: `mmap ${at(0)} 0x1000 ${RW_PRIVATE}\n${isLocked(0)}\nmlock ${at(0)} 0x1000\n${isLocked(0)}\n`,
    expect: { "1 ": "= 0", "2 ": "= 0", "3 ": "= -EBUSY" },
  },
  "gvisor/mlock: MlockTest.ProtNone (ENOMEM: nothing to populate, yet the range is locked)": {
    script: `mmap ${at(0)} 0x1000 0x0 0x32\n${isLocked(0)}\nmlock ${at(0)} 0x1000\n${isLocked(0)}\n`,
    expect: { "1 ": "= 0", "2 ": "= -ENOMEM", "3 ": "= -EBUSY" },
  },
  "gvisor/mlock: MlockTest.MsyncInvalidate": {
    script: `mmap ${at(0)} 0x1000 ${RW_PRIVATE}\nmlock ${at(0)} 0x1000\nmsync ${at(0)} 0x1000 0x3\nmsync ${at(0)} 0x1000 0x6\n`,
    expect: { "1 ": "= 0", "2 ": "= -EBUSY", "3 ": "= -EBUSY" },
  },
  "gvisor/mlock: MlockTest.Fork (the child's copy is not locked)": {
    script: `mmap ${at(0)} 0x1000 ${RW_PRIVATE}\n${isLocked(0)}\nmlock ${at(0)} 0x1000\n${isLocked(0)}\nfork\n  ${isLocked(0)}\nend\n`,
    expect: { "1 ": "= 0", "3 ": "= -EBUSY", "4.0 ": "= 0", "4 ": "= exit 0" },
  },
  "gvisor/mlock: MlockTest.RlimitMemlockZero (EPERM without CAP_IPC_LOCK)": {
    script: `unprivileged\nsetrlimit 0x8 0x0 0x0\nmmap ${at(0)} 0x1000 ${RW_PRIVATE}\n${isLocked(0)}\nmlock ${at(0)} 0x1000\n`,
    expect: { "3 ": "= 0", "4 ": "= -EPERM" },
  },
  "gvisor/mlock: MlockTest.RlimitMemlockInsufficient (ENOMEM above the limit)": {
    script: `unprivileged\nsetrlimit 0x8 0x1000 0x1000\nmmap ${at(0)} 0x2000 ${RW_PRIVATE}\n${isLocked(0)}\nmlock ${at(0)} 0x2000\n`,
    expect: { "3 ": "= 0", "4 ": "= -ENOMEM" },
  },
  "gvisor/mlock: MunlockTest.Basic": {
    script: `mmap ${at(0)} 0x1000 ${RW_PRIVATE}\n${isLocked(0)}\nmlock ${at(0)} 0x1000\n${isLocked(0)}\nmunlock ${at(0)} 0x1000\n${isLocked(0)}\n`,
    expect: { "1 ": "= 0", "2 ": "= 0", "3 ": "= -EBUSY", "4 ": "= 0", "5 ": "= 0" },
  },
  "gvisor/mlock: MunlockTest.NotLocked": {
    script: `mmap ${at(0)} 0x1000 ${RW_PRIVATE}\n${isLocked(0)}\nmunlock ${at(0)} 0x1000\n${isLocked(0)}\n`,
    expect: { "1 ": "= 0", "2 ": "= 0", "3 ": "= 0" },
  },
  "gvisor/mlock: MlockallTest.Future (in a child, as the original; munlockall turns MCL_FUTURE off)": {
    script: `fork\n  mmap ${at(0)} 0x1000 ${RW_PRIVATE}\n  ${isLocked(0)}\n  mlockall 0x2\n  mmap ${at(2)} 0x1000 ${RW_PRIVATE}\n  ${isLocked(2)}\n  munlockall\n  mmap ${at(4)} 0x1000 ${RW_PRIVATE}\n  ${isLocked(2)}\nend\n`,
    expect: {
      "0.1 ": "= 0",
      "0.2 ": "= 0",
      "0.4 ": "= -EBUSY",
      "0.5 ": "= 0",
      "0.7 ": "= 0",
      "0 ": "= exit 0",
    },
  },
  "gvisor/mlock: MunlockallTest.Basic": {
    script: `mmap ${at(0)} 0x1000 ${LOCKED}\n${isLocked(0)}\nmunlockall\n${isLocked(0)}\n`,
    expect: { "1 ": "= -EBUSY", "2 ": "= 0", "3 ": "= 0" },
  },
  "gvisor/mlock: Mlock2Test.NoFlags": {
    script: `mmap ${at(0)} 0x1000 ${RW_PRIVATE}\n${isLocked(0)}\nmlock2 ${at(0)} 0x1000 0x0\n${isLocked(0)}\n`,
    expect: { "1 ": "= 0", "2 ": "= 0", "3 ": "= -EBUSY" },
  },
  "gvisor/mlock: Mlock2Test.MlockOnfault": {
    script: `mmap ${at(0)} 0x1000 ${RW_PRIVATE}\n${isLocked(0)}\nmlock2 ${at(0)} 0x1000 0x1\n${isLocked(0)}\n`,
    expect: { "1 ": "= 0", "2 ": "= 0", "3 ": "= -EBUSY" },
  },
  "gvisor/mlock: Mlock2Test.UnknownFlags": {
    script: `mmap ${at(0)} 0x1000 ${RW_PRIVATE}\nmlock2 ${at(0)} 0x1000 0xffffffff\n`,
    expect: { "1 ": "= -EINVAL" },
  },
  "gvisor/mlock: MapLockedTest.Basic": {
    script: `mmap ${at(0)} 0x1000 ${LOCKED}\n${isLocked(0)}\nmunlock ${at(0)} 0x1000\n${isLocked(0)}\n`,
    expect: { "1 ": "= -EBUSY", "2 ": "= 0", "3 ": "= 0" },
  },
  "gvisor/mlock: MapLockedTest.RlimitMemlockZero (EPERM)": {
    script: `unprivileged\nsetrlimit 0x8 0x0 0x0\nmmap ${at(0)} 0x1000 ${LOCKED}\n`,
    expect: { "2 ": "= -EPERM" },
  },
  "gvisor/mlock: MapLockedTest.RlimitMemlockInsufficient (EAGAIN)": {
    script: `unprivileged\nsetrlimit 0x8 0x1000 0x1000\nmmap ${at(0)} 0x2000 ${LOCKED}\n`,
    expect: { "2 ": "= -EAGAIN" },
  },
  "gvisor/mlock: MremapLockedTest.Basic (the grown mapping stays locked)": {
    script: `mmap ${at(0)} 0x1000 ${LOCKED}\n${isLocked(0)}\nmremap ${at(0)} 0x1000 0x2000 0x1\n${isLocked(0)}\n${isLocked(1)}\n`,
    expect: { "1 ": "= -EBUSY", "2 ": `= ${at(0)}`, "3 ": "= -EBUSY", "4 ": "= -EBUSY" },
  },
  "gvisor/mlock: MremapLockedTest.RlimitMemlockZero (EAGAIN)": {
    script: `mmap ${at(0)} 0x1000 ${LOCKED}\n${isLocked(0)}\nunprivileged\nsetrlimit 0x8 0x0 0x0\nmremap ${at(0)} 0x1000 0x2000 0x1\n`,
    expect: { "1 ": "= -EBUSY", "4 ": "= -EAGAIN" },
  },
  "gvisor/mlock: MremapLockedTest.RlimitMemlockInsufficient (EAGAIN)": {
    script: `mmap ${at(0)} 0x1000 ${LOCKED}\n${isLocked(0)}\nunprivileged\nsetrlimit 0x8 0x1000 0x1000\nmremap ${at(0)} 0x1000 0x2000 0x1\n`,
    expect: { "1 ": "= -EBUSY", "4 ": "= -EAGAIN" },
  },
  "gvisor/mincore: MincoreTest.DirtyAnonPagesAreResident": {
    script: `mmap ${at(0)} 0xa000 ${RW_PRIVATE}\n${[...Array(10).keys()].map((i) => `store8 ${at(i)} 0x0`).join("\n")}\nmincore ${at(0)} 0xa000\n`,
    expect: { "11 ": "= 0 1111111111" },
  },
  "gvisor/mincore: MincoreTest.UnalignedAddressFails": {
    script: `mmap ${at(0)} 0x2000 ${RW_PRIVATE}\nstore8 ${at(0)} 0x0\nstore8 ${at(1)} 0x0\nmincore ${h(A + 0x800)} 0x1000\n`,
    expect: { "3 ": "= -EINVAL" },
  },
  "gvisor/mincore: MincoreTest.UnalignedLengthSucceedsAndIsRoundedUp": {
    script: `mmap ${at(0)} 0x2000 ${RW_PRIVATE}\nstore8 ${at(0)} 0x0\nstore8 ${at(1)} 0x0\nmincore ${at(0)} 0x1800\n`,
    expect: { "3 ": "= 0 11" },
  },
  "gvisor/mincore: MincoreTest.ZeroLengthSucceedsAndAllowsAnyVecBelowTaskSize": {
    script: "mincore 0x0 0x0\n",
    expect: { "0 ": "= 0 " },
  },
  "gvisor/mincore: MincoreTest.InvalidLengthFails": {
    script: "mincore 0x0 0xffffffffffffffff\n",
    expect: { "0 ": "= -ENOMEM" },
  },
};

/** The original's assertions that a transcript does not meet. */
function unmet(peer: Peer, transcript: readonly string[]): string[] {
  const out: string[] = [];
  for (const [prefix, result] of Object.entries(peer.expect)) {
    const line = transcript.find((l) => l.startsWith(prefix));
    if (!line?.endsWith(result)) out.push(`${prefix}…${result}: got ${line ?? "nothing"}`);
  }
  return out;
}

const FIXTURE = new URL("./__fixtures__/oracle-peer-mlock.json", import.meta.url);
const oracle = compileOracle();
const SKIP = oracle ? "" : ` [SKIPPED: ${oracleUnavailableReason}]`;

const RECORD = "FAULTLINE_RECORD_PEER_MLOCK";
const SCRIPTS = Object.fromEntries(Object.entries(PEERS).map(([n, b]) => [n, HEAD + b.script]));
const recorded = recordedTranscripts(FIXTURE, RECORD, SCRIPTS);

describe("gVisor mlock.cc and mincore.cc, ported: Faultline against Linux", () => {
  it("the recorded kernel transcripts cover every case, for the scripts as they are now, and meet the originals' assertions", () => {
    expectRecordedCover(recorded, RECORD, SCRIPTS);
    for (const [name, peer] of Object.entries(PEERS)) {
      expect(unmet(peer, recorded!.cases[name]!.transcript), name).toEqual([]);
    }
  });

  for (const [name, peer] of Object.entries(PEERS)) {
    const text = HEAD + peer.script;
    it(`${name}: Faultline meets the original's assertions and prints the recorded kernel's transcript`, async () => {
      const t = await runSignalScript(text);
      expect(unmet(peer, t)).toEqual([]);
      expect(t).toEqual(recorded!.cases[name]!.transcript);
    });
    it.skipIf(!oracle)(`${name}: this machine's kernel meets them and prints the same${SKIP}`, async () => {
      const linux = runTextOnLinux(text);
      expect(unmet(peer, linux)).toEqual([]);
      expect(await runSignalScript(text)).toEqual(linux);
    });
  }
});
