// gVisor's memfd.cc (test/syscalls/linux), ported into the tmpfs differential runner (issue 12: the peer
// tests for memfd). Each TEST is a script for fs-oracle.c / runFsOnFaultline (__fixtures__/fs-runner.ts),
// its steps kept and its assertions listed; both sides must meet them and print the same transcript.
// Adaptations: data is 'x' bytes or single stored bytes instead of random pages (peek/mload compare
// them), mappings are slots (the kernel's address is not printed), and MemfdTest.Name reads the name
// /proc/self/maps shows for a mapping of the memfd (Faultline's /proc/PID/fd/N opens, it does not
// readlink).
import { describe, expect, it } from "vitest";
import { compileFsOracle, runFsOnFaultline, runFsOnLinux } from "./__fixtures__/fs-runner";

const F_ADD_SEALS = 1033;
const F_GET_SEALS = 1034;
const MFD_ALLOW_SEALING = 2;
const [SEAL, SHRINK, GROW, WRITE] = [1, 2, 4, 8];
const PAGE = 4096;
const N = "some-memfd";
const sealing = `memfd ${N} ${MFD_ALLOW_SEALING}`;
const plain = `memfd ${N} 0`;
const add = (fd: number, seals: number) => `fcntl ${fd} ${F_ADD_SEALS} ${seals}`;
const get = (fd: number) => `fcntl ${fd} ${F_GET_SEALS} 0`;

interface Peer {
  readonly script: readonly string[];
  /** The original's assertions: line index → the result that line must show. */
  readonly expect: Readonly<Record<number, string>>;
  /**
   * Where the live kernel Faultline models (6.18) answers otherwise than the original asserts (gVisor
   * follows older Linux there): line index → that answer and why. Both sides must give it.
   */
  readonly linux?: Readonly<Record<number, { readonly answer: string; readonly why: string }>>;
}

const PEERS: Record<string, Peer> = {
  "gvisor/memfd: MemfdTest.Name (the name in /proc/self/maps)": {
    script: [plain, `mmap 0 ${PAGE} 1 1 0`, "mname 0"],
    expect: { 2: `/memfd:${N}` },
  },
  "gvisor/memfd: MemfdTest.WriteRead": {
    script: [plain, `write 0 ${PAGE}`, "lseek 0 0 0", `read 0 ${PAGE}`, "peek 0 0", `peek 0 ${PAGE - 1}`],
    expect: { 1: `${PAGE}`, 3: `${PAGE}`, 4: "0x78", 5: "0x78" },
  },
  "gvisor/memfd: MemfdTest.Mmap": {
    script: [
      plain,
      `mmap 0 ${PAGE} 3 1 0`,
      `ftruncate 0 ${PAGE}`,
      "mstore 0 0 0x42",
      `mstore 0 ${PAGE - 1} 0x43`,
      `read 0 ${PAGE}`,
      "peek 0 0",
      `peek 0 ${PAGE - 1}`,
      `mmap 0 ${PAGE} 3 1 0`,
      "mload 1 0",
      `mload 1 ${PAGE - 1}`,
    ],
    expect: { 5: `${PAGE}`, 6: "0x42", 7: "0x43", 9: "0x42", 10: "0x43" },
  },
  "gvisor/memfd: MemfdTest.DuplicateFDsShareContent": {
    script: [
      plain,
      `mmap 0 ${PAGE} 3 1 0`,
      "dup 0",
      `ftruncate 0 ${PAGE}`,
      "mstore 0 0 0x42",
      `read 1 ${PAGE}`,
      "peek 1 0",
    ],
    expect: { 5: `${PAGE}`, 6: "0x42" },
  },
  "gvisor/memfd: MemfdTest.SealingDisabledByDefault": {
    script: [plain, get(0), add(0, WRITE)],
    expect: { 1: `${SEAL}`, 2: "-EPERM" },
  },
  "gvisor/memfd: MemfdTest.SealsGetSet": {
    script: [
      sealing,
      get(0),
      add(0, WRITE),
      get(0),
      add(0, GROW | SHRINK),
      get(0),
      add(0, WRITE),
      get(0),
      add(0, SEAL),
      get(0),
    ],
    expect: { 1: "0", 3: `${WRITE}`, 5: `${WRITE | GROW | SHRINK}`, 7: `${WRITE | GROW | SHRINK}`, 9: "15" },
  },
  "gvisor/memfd: MemfdTest.SealGrowWithTruncate": {
    script: [
      sealing,
      `ftruncate 0 ${PAGE}`,
      add(0, GROW),
      `ftruncate 0 ${2 * PAGE}`,
      `ftruncate 0 ${PAGE}`,
      `ftruncate 0 ${PAGE / 2}`,
      `ftruncate 0 ${PAGE}`,
    ],
    expect: { 3: "-EPERM", 4: "0", 5: "0", 6: "-EPERM" },
  },
  "gvisor/memfd: MemfdTest.SealGrowWithWrite": {
    script: [
      sealing,
      `write 0 ${PAGE}`,
      add(0, GROW),
      `write 0 ${PAGE}`,
      "write 0 0",
      "lseek 0 0 0",
      `write 0 ${PAGE}`,
      `write 0 ${PAGE}`,
    ],
    expect: { 1: `${PAGE}`, 3: "-EPERM", 4: "0", 6: `${PAGE}`, 7: "-EPERM" },
  },
  "gvisor/memfd: MemfdTest.SealGrowPartialWriteTruncated": {
    script: [sealing, `ftruncate 0 ${PAGE}`, add(0, GROW), `lseek 0 ${(PAGE * 3) / 4} 0`, `write 0 ${PAGE}`],
    expect: { 4: `${PAGE / 4}` },
  },
  "gvisor/memfd: MemfdTest.SealGrowPartialWriteTruncatedSamePage": {
    script: [
      sealing,
      `ftruncate 0 ${(PAGE * 3) / 4}`,
      add(0, GROW),
      `pwrite 0 ${PAGE / 2} ${PAGE / 2}`,
      `pwrite 0 ${PAGE / 4} ${PAGE / 2}`,
    ],
    expect: { 3: "-EPERM", 4: `${PAGE / 4}` },
  },
  "gvisor/memfd: MemfdTest.SealShrink": {
    script: [
      sealing,
      `ftruncate 0 ${PAGE}`,
      add(0, SHRINK),
      `ftruncate 0 ${PAGE / 2}`,
      `ftruncate 0 ${PAGE}`,
      `ftruncate 0 ${2 * PAGE}`,
      `ftruncate 0 ${PAGE}`,
    ],
    expect: { 3: "-EPERM", 4: "0", 5: "0", 6: "-EPERM" },
  },
  "gvisor/memfd: MemfdTest.SealWriteWithWrite": {
    script: [
      sealing,
      `write 0 ${PAGE}`,
      add(0, WRITE),
      "write 0 1",
      "pwrite 0 1 0",
      `pwrite 0 ${PAGE / 2} ${PAGE / 2}`,
      `pwrite 0 ${PAGE} ${PAGE / 2}`,
      "write 0 0",
    ],
    expect: { 3: "-EPERM", 4: "-EPERM", 5: "-EPERM", 6: "-EPERM", 7: "0" },
  },
  "gvisor/memfd: MemfdTest.SealWriteWithMmap": {
    script: [
      sealing,
      `write 0 ${PAGE}`,
      add(0, WRITE),
      `mmap 0 ${PAGE} 2 1 0`,
      `mmap 0 ${PAGE} 1 1 0`,
      `mmap 0 ${PAGE} 3 2 0`,
    ],
    expect: { 3: "-EPERM", 4: "-EPERM", 5: "map" },
    linux: {
      4: {
        answer: "map",
        why: "since 6.7 a read-only shared mapping of a write-sealed memfd is allowed ('mm: reinstate ability to map write-sealed memfd mappings read-only')",
      },
    },
  },
  "gvisor/memfd: MemfdTest.SealWriteWithOutstandingWritbleMapping": {
    script: [
      sealing,
      `write 0 ${PAGE}`,
      `mmap 0 ${PAGE} 1 1 0`,
      add(0, WRITE),
      `munmap 0 ${PAGE}`,
      `mmap 0 ${PAGE} 2 1 0`,
      add(0, WRITE),
      `munmap 1 ${PAGE}`,
      `mmap 0 ${PAGE} 3 1 0`,
      add(0, WRITE),
      `munmap 2 ${PAGE}`,
      `mmap 0 ${PAGE} 3 2 0`,
      add(0, WRITE),
    ],
    expect: { 3: "-EBUSY", 6: "-EBUSY", 9: "-EBUSY", 12: "0" },
  },
  "gvisor/memfd: MemfdTest.NoPartialSealApplicationWhenWriteSealRejected": {
    script: [sealing, `mmap 0 ${PAGE} 3 1 0`, add(0, WRITE | GROW), get(0)],
    expect: { 2: "-EBUSY", 3: "0" },
  },
  "gvisor/memfd: MemfdTest.SealsAreInodeLevelProperties": {
    script: [
      sealing,
      "dup 0",
      add(0, WRITE),
      get(1),
      `write 0 ${PAGE}`,
      `write 1 ${PAGE}`,
      "dup 1",
      `write 2 ${PAGE}`,
      add(2, GROW),
      `ftruncate 0 ${PAGE}`,
      `ftruncate 1 ${PAGE}`,
      `ftruncate 2 ${PAGE}`,
    ],
    expect: {
      3: `${WRITE}`,
      4: "-EPERM",
      5: "-EPERM",
      7: "-EPERM",
      8: "0",
      9: "-EPERM",
      10: "-EPERM",
      11: "-EPERM",
    },
  },
  "gvisor/memfd: MemfdTest.TmpfsFilesHaveSealSeal": {
    script: [`open /tmp/f ${0o102} ${0o644}`, get(0)],
    expect: { 1: `${SEAL}` },
  },
  "gvisor/memfd: MemfdTest.CanOpenFromProcfs (the memfd is fd 3 on both sides)": {
    script: [
      sealing,
      `write 0 ${PAGE}`,
      "open /proc/self/fd/3 2 0",
      `pread 1 ${PAGE} 0`,
      "peek 1 0",
      `peek 1 ${PAGE - 1}`,
    ],
    expect: { 2: "fd", 3: `${PAGE}`, 4: "0x78", 5: "0x78" },
  },
  "gvisor/memfd: MemfdTest.OtherProcessCanOpenFromProcfs (a forked child opens the parent's fd 3)": {
    script: [sealing, "childopen 3 2"],
    expect: { 1: "fd" },
  },
  "gvisor/memfd: MemfdTest.MemfdMustBeWritableToModifySeals": {
    script: [sealing, add(0, WRITE), "open /proc/self/fd/3 0 0", add(1, GROW), get(1)],
    expect: { 1: "0", 2: "fd", 3: "-EPERM", 4: `${WRITE}` },
  },
  "gvisor/memfd: MemfdTest.MultipleWritableAndNonWritableRefsToSameFileRegion": {
    script: [
      plain,
      `write 0 ${PAGE}`,
      `mmap 0 ${PAGE} 1 2 0`,
      `mmap 0 ${PAGE} 3 1 0`,
      `munmap 0 ${PAGE}`,
      `munmap 1 ${PAGE}`,
    ],
    expect: { 2: "map", 3: "map", 4: "0", 5: "0" },
  },
};

function unmet(peer: Peer, lines: readonly string[]): string[] {
  const want = { ...peer.expect };
  for (const [i, d] of Object.entries(peer.linux ?? {})) want[Number(i)] = d.answer;
  return Object.entries(want)
    .filter(([i, want]) => {
      const l = lines[Number(i)]?.trimEnd() ?? "";
      const got = l.slice(l.indexOf(" = ") + 3);
      return !(got === want || got.startsWith(want));
    })
    .map(([i, want]) => `line ${i} should show ${want}: ${lines[Number(i)] ?? "nothing"}`);
}

const { bin, why } = compileFsOracle();
const SKIP = bin ? "" : ` [SKIPPED: ${why}]`;
const trim = (ls: readonly string[]) => ls.map((l) => l.trimEnd());

describe("gVisor memfd.cc, ported: Faultline against Linux", () => {
  for (const [base, peer] of Object.entries(PEERS)) {
    const differs = Object.entries(peer.linux ?? {}).map(([i, d]) => `line ${i}: ${d.why}`);
    const name = differs.length
      ? `${base} [LINUX 6.18 ANSWERS OTHERWISE THAN THE ORIGINAL ASSERTS: ${differs.join("; ")}]`
      : base;
    it(`${name}: Faultline meets the original's assertions`, async () => {
      expect(unmet(peer, await runFsOnFaultline(peer.script))).toEqual([]);
    });
    it.skipIf(bin === null)(`${name}: the live kernel meets them and prints the same${SKIP}`, async () => {
      const linux = runFsOnLinux(bin!, peer.script);
      expect(unmet(peer, linux)).toEqual([]);
      expect(trim(await runFsOnFaultline(peer.script))).toEqual(trim(linux));
    });
  }
});
