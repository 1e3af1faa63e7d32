// Tests of the differential-test harness itself, with the real kernel of this machine as oracle.
// Kernel-backed tests are skipped (with the reason in their title) when no C compiler exists;
// the recorded-fixture tests still run then. Hosts differ (PKU, the zero page): the live tests
// detect this machine's features (hostFeatures()) and judge each case by the expectations for them.

import { describe, expect, it } from "vitest";
import { CASES, type OracleCase, unmetExpectations } from "./cases.ts";
import { FIXTURE_SETS, fixtureFileName, recordedRandomScripts } from "./expected.ts";
import { pkeyLiveSkip } from "./faultline.ts";
import {
  compileOracle,
  DEFAULT_HOST_FEATURES,
  describeHost,
  type HostMmFeatures,
  hostFeatures,
  hostMlockLimit,
  hugetlbMismatch,
  kernelRelease,
  oracleUnavailableReason,
  pkeyAllocDifference,
  runOnLinux,
  runTextOnLinux,
} from "./linux.ts";
import {
  ARENA,
  load,
  locksMemory,
  MAP_FIXED,
  MAP_HUGETLB,
  maps,
  mmap,
  mprotect,
  opIsSafe,
  opText,
  PRIVATE_ANON,
  PROT_READ,
  page,
  pages,
  parseScript,
  randomScript,
  serializeScript,
  store,
} from "./script.ts";
import { diffTranscripts, formatMapsLine, formatOpLines, normalizeLine } from "./transcript.ts";

const oracle = compileOracle();
const SKIP = oracle ? "" : ` [SKIPPED: ${oracleUnavailableReason}]`;
if (!oracle) console.warn(`linux-oracle: kernel tests skipped: ${oracleUnavailableReason}`);

const series = (release: string) => release.split(".").slice(0, 2).join(".");
const HOST: HostMmFeatures = oracle ? hostFeatures() : DEFAULT_HOST_FEATURES;

/** Checks a case's hand-written expectations on a host (results, and maps lines that must be shown). */
function checkExpectations(c: OracleCase, transcript: readonly string[], host: HostMmFeatures): void {
  expect(unmetExpectations(c, transcript, host), transcript.join("\n")).toEqual([]);
}

describe("oracle script format", () => {
  it("serializes ops with canonical hex arguments and an arena header", () => {
    const text = serializeScript([
      mmap(page(0), pages(2), PROT_READ, PRIVATE_ANON | MAP_FIXED),
      store(32, page(0, 4), 0xdeadbeefn),
      maps,
    ]);
    expect(text).toBe(
      [
        "arena 0x100000000000 0x400000",
        "mmap 0x100000000000 0x2000 0x1 0x32",
        "store32 0x100000000004 0xdeadbeef",
        "maps",
        "",
      ].join("\n"),
    );
  });

  it("round-trips every hand-written case and random scripts through parseScript", () => {
    for (const c of CASES) expect(parseScript(serializeScript(c.script))).toEqual(c.script);
    for (let seed = 1; seed <= 20; seed++) {
      const s = randomScript(seed, 150);
      expect(parseScript(serializeScript(s))).toEqual(s);
    }
  });

  it("parses comments, indentation, decimal numbers and nested forks", () => {
    const s = parseScript(
      "arena 0x100000000000 0x400000 # header\n\nfork\n  load8 17592186044416\n  fork\n    maps\n  end\nend\n",
    );
    expect(s).toEqual([{ kind: "fork", child: [load(8, page(0)), { kind: "fork", child: [maps] }] }]);
    expect(() => parseScript("arena 0x100000000000 0x400000\nfork\n")).toThrow(/without 'end'/);
    expect(() => parseScript("mmap 0 0 0 0\n")).toThrow(/arena line/);
  });

  it("randomScript is deterministic per seed and varied across seeds", () => {
    expect(randomScript(7, 80)).toEqual(randomScript(7, 80));
    expect(serializeScript(randomScript(7, 80))).not.toBe(serializeScript(randomScript(8, 80)));
    const kinds = new Set(randomScript(3, 400).map((op) => op.kind));
    for (const k of ["mmap", "munmap", "mremap", "mprotect", "madvise", "load", "store", "maps", "fork"]) {
      expect(kinds.has(k as never), k).toBe(true);
    }
    for (let seed = 1; seed <= 50; seed++) {
      expect(randomScript(seed, 100).every((op) => opIsSafe(op))).toBe(true);
    }
  });

  it("refuses to serialize ops that could touch memory outside the arena", () => {
    const outside = ARENA.base + ARENA.size;
    expect(() => serializeScript([mmap(outside, pages(1), PROT_READ, PRIVATE_ANON | MAP_FIXED)])).toThrow(
      /outside the arena/,
    );
    expect(() => serializeScript([mprotect(page(0), ARENA.size + pages(1), PROT_READ)])).toThrow(
      /outside the arena/,
    );
    // ranges the kernel rejects outright are allowed
    expect(opIsSafe(mprotect(page(0), 0xffff_ffff_ffff_0000n, PROT_READ))).toBe(true);
    expect(opIsSafe(mmap(1n << 47n, pages(1), PROT_READ, PRIVATE_ANON | MAP_FIXED))).toBe(true);
  });

  it("counts a MAP_HUGETLB mmap's length in whole huge pages, as the kernel maps it", () => {
    const huge = PRIVATE_ANON | MAP_FIXED | MAP_HUGETLB;
    // The arena's last page: 4 KiB fits, the 2 MiB the kernel would map do not.
    const last = page(Number(ARENA.size / 0x1000n) - 1);
    expect(opIsSafe(mmap(last, pages(1), PROT_READ, PRIVATE_ANON | MAP_FIXED))).toBe(true);
    expect(opIsSafe(mmap(page(0), pages(1), PROT_READ, huge))).toBe(true);
    expect(opIsSafe(mmap(page(512), pages(1), PROT_READ, huge))).toBe(true);
    expect(opIsSafe(mmap(page(513), pages(1), PROT_READ, huge))).toBe(false);
    // MAP_HUGE_1GB: a gigabyte; a size no x86-64 hstate has (log 40) maps nothing.
    expect(opIsSafe(mmap(page(0), pages(1), PROT_READ, huge | (30 << 26)))).toBe(false);
    expect(opIsSafe(mmap(page(0), pages(1), PROT_READ, huge | (40 << 26)))).toBe(true);
  });
});

describe("oracle transcripts", () => {
  const shm =
    "  100000010000-100000012000 rw-s 00000000 00:01 1025                       /dev/zero (deleted)";

  it("formats maps lines with the kernel's name padding", () => {
    expect(
      formatMapsLine({
        start: page(0x10),
        end: page(0x12),
        perms: "rw-s",
        offset: 0n,
        dev: "00:01",
        inode: 1025,
        name: "/dev/zero (deleted)",
      }),
    ).toBe(shm.slice(2));
    expect(
      formatMapsLine({ start: page(0), end: page(1), perms: "rw-p", offset: 0n, dev: "00:00", inode: 0 }),
    ).toBe("100000000000-100000001000 rw-p 00000000 00:00 0 ");
    expect(formatOpLines(3, maps, { type: "maps", lines: ["a", "b"] })).toEqual(["3 maps = 2", "  a", "  b"]);
    expect(
      formatOpLines("4.1", load(8, page(1)), {
        type: "fault",
        signal: "SIGSEGV",
        code: "SEGV_MAPERR",
        addr: page(1),
      }),
    ).toEqual([`4.1 ${opText(load(8, page(1)))} = SIGSEGV SEGV_MAPERR 0x100000001000`]);
  });

  it("normalizes shmem inode numbers but keeps wrong padding visible", () => {
    const other = shm.replace(" 1025    ", " 7       ");
    expect(normalizeLine(shm)).toBe(normalizeLine(other));
    expect(normalizeLine(shm)).toContain(" 00:01 <ino> ");
    expect(normalizeLine(shm).indexOf("/dev/zero")).toBe(shm.indexOf("/dev/zero"));
    const badPad = shm.replace("1025 ", "1025");
    expect(normalizeLine(badPad)).not.toBe(normalizeLine(shm));
    const anon = "  100000000000-100000001000 rw-p 00000000 00:00 0 ";
    expect(normalizeLine(anon)).toBe(anon);
    expect(normalizeLine(shm, { dev: true })).toContain(" <dev> <ino> ");
  });

  it("reports the first differing line with context", () => {
    const a = ["0 maps = 1", "  x", "1 load8 0x1 = 0x0", "2 maps = 0"];
    const b = ["0 maps = 1", "  x", "1 load8 0x1 = SIGSEGV SEGV_MAPERR 0x1", "2 maps = 0"];
    expect(diffTranscripts(a, a)).toBeNull();
    const d = diffTranscripts(a, b)!;
    expect(d.line).toBe(2);
    expect(d.report).toContain("- 1 load8 0x1 = 0x0");
    expect(d.report).toContain("+ 1 load8 0x1 = SIGSEGV SEGV_MAPERR 0x1");
    expect(d.report).toContain("  0 maps = 1");
    expect(diffTranscripts(a, a.slice(0, 3))!.report).toContain("<end of transcript>");
  });
});

describe("recorded kernel fixtures (no compiler needed)", () => {
  it("exist, named after the host features they were recorded with", () => {
    expect(FIXTURE_SETS.length).toBeGreaterThan(0);
    for (const set of FIXTURE_SETS) expect(set.file).toBe(fixtureFileName(set.kernel, set.host));
  });

  it("cover every hand-written case and recorded random seed (on at least one host)", () => {
    const recorded = new Set(FIXTURE_SETS.flatMap((set) => set.cases.map((e) => e.name)));
    const missing = [...CASES.map((c) => c.name), ...recordedRandomScripts().map((r) => r.name)].filter(
      (n) => !recorded.has(n),
    );
    expect(missing).toEqual([]);
  });

  it("are up to date with cases.ts and randomScript (else re-run record-fixtures.ts)", () => {
    const randoms = new Map(recordedRandomScripts().map((r) => [r.name, r.script]));
    for (const set of FIXTURE_SETS) {
      for (const e of set.cases) {
        const c = CASES.find((x) => x.name === e.name);
        const r = randoms.get(e.name);
        const text = c ? serializeScript(c.script) : r ? serializeScript(r) : undefined;
        expect(e.text, `${set.file}: ${e.name}`).toBe(text);
      }
    }
  });

  for (const set of FIXTURE_SETS) {
    for (const c of CASES) {
      const rec = set.cases.find((e) => e.name === c.name);
      if (!rec) continue;
      it(`${set.file} (${describeHost(set.host)}): recorded transcript meets the expectations of ${c.name}`, () => {
        checkExpectations(c, rec.transcript, set.host);
      });
    }
  }
});

describe(`linux oracle (kernel ${kernelRelease()}, ${describeHost(HOST)})${SKIP}`, () => {
  for (const c of CASES) {
    // The expectations assume mlock is not limited; on a host that limits it they cannot be judged.
    const why =
      SKIP ||
      (HOST.mlockLimit !== undefined && locksMemory(c.script)
        ? ` [SKIPPED: locks memory, and this process has no CAP_IPC_LOCK and RLIMIT_MEMLOCK ${HOST.mlockLimit} bytes]`
        : "") ||
      (oracle ? pkeyLiveSkip(c.script) : "");
    it.skipIf(why !== "")(`${c.name}: ${c.doc}${why}`, () => {
      checkExpectations(c, runOnLinux(c.script), HOST);
    });
  }

  it("names a pkey_alloc that differs from the modelled 6.18.44 (a backported fix) and nothing else", () => {
    const modelled = ["0 pkey_alloc 0x0 0x0 = -EINVAL", "1 pkey_alloc 0x0 0x0 = -ENOSPC"];
    expect(pkeyAllocDifference(modelled, modelled)).toBeNull();
    expect(
      pkeyAllocDifference(["0 pkey_alloc 0x0 0x0 = -ENOSPC", "1 pkey_alloc 0x0 0x0 = -ENOSPC"], modelled),
    ).toBe(
      "without PKU this kernel answers pkey_alloc with -ENOSPC, -ENOSPC; Faultline models 6.18.44's -EINVAL, -ENOSPC (before upstream dee87e09b0dd)",
    );
  });

  it("compares hugetlb only with a host whose 2 MiB pool is empty and which has no other hstate", () => {
    const files: Record<string, string> = {
      "/proc/filesystems": "nodev\tproc\nnodev\thugetlbfs\n",
      "/proc/meminfo": "HugePages_Total:       0\nHugepagesize:       2048 kB\n",
      "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages": "0\n",
      "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages": "0\n",
      "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_overcommit_hugepages": "0\n",
    };
    const host = (over: Record<string, string | null>, gb = false) =>
      hugetlbMismatch(
        (p) => (p in over ? over[p]! : (files[p] ?? null)),
        (p) => gb && p.endsWith("hugepages-1048576kB"),
      );
    expect(host({})).toBeNull();
    expect(host({ "/proc/filesystems": "nodev\tproc\n" })).toBe("this kernel has no hugetlbfs");
    expect(host({ "/proc/meminfo": "Hugepagesize:    1048576 kB\n" })).toMatch(/1048576 kB here/);
    expect(host({}, true)).toMatch(/1 GiB hstate/);
    expect(host({ "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages": "4\n" })).toBe(
      "nr_hugepages is 4 here: Faultline's huge page pool is empty",
    );
    expect(host({ "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_overcommit_hugepages": "1\n" })).toMatch(
      /nr_overcommit_hugepages is 1/,
    );
  });

  it("reads RLIMIT_MEMLOCK and CAP_IPC_LOCK the way the kernel applies them", () => {
    const limits =
      "Limit  Soft Limit  Hard Limit  Units\nMax locked memory         65536                65536                bytes\n";
    expect(hostMlockLimit("CapEff:\t0000000000000000\n", limits)).toBe(65536);
    // CAP_IPC_LOCK (bit 14) lifts the limit, as for root.
    expect(hostMlockLimit("CapEff:\t0000000000004000\n", limits)).toBeUndefined();
    expect(hostMlockLimit("CapEff:\t000001ffffffffff\n", limits)).toBeUndefined();
    expect(
      hostMlockLimit("CapEff:\t0\n", "Max locked memory  unlimited  unlimited  bytes\n"),
    ).toBeUndefined();
  });

  for (const set of FIXTURE_SETS) {
    const why = !oracle
      ? SKIP
      : series(set.kernel) !== series(kernelRelease())
        ? ` [SKIPPED: recorded on kernel ${set.kernel}, this is ${kernelRelease()}]`
        : set.host.pku !== HOST.pku || set.host.zeroPage !== HOST.zeroPage
          ? ` [SKIPPED: recorded with ${describeHost(set.host)}, this host has ${describeHost(HOST)}]`
          : "";
    // The recorded seeds of the live comparison (`random-<seed>-60`) run live there already.
    const again = set.cases.filter((e) => !/^random-\d+-\d+$/.test(e.name));
    it.skipIf(why !== "")(
      `matches the recorded fixtures of ${set.file} (kernel ${set.kernel}; ${again.length} of ${set.cases.length}: the live comparison's own seeds are left to it)${why}`,
      () => {
        for (const e of again) {
          const d = diffTranscripts(e.transcript, runOnLinux(e.script), { labels: ["recorded", "live"] });
          expect(d?.report ?? null, e.name).toBeNull();
        }
      },
    );
  }

  it.skipIf(!oracle)(`random scripts give reproducible transcripts${SKIP}`, () => {
    for (let seed = 100; seed < 130; seed++) {
      const s = randomScript(seed, 120);
      const d = diffTranscripts(runOnLinux(s), runOnLinux(s));
      expect(d?.report ?? null, `seed ${seed}`).toBeNull();
    }
  });

  it.skipIf(!oracle)(`prints one line per op and every fork child line before the fork${SKIP}`, () => {
    const s = randomScript(11, 200);
    const t = runOnLinux(s);
    const top = t.filter((l) => /^\d+ /.test(l)).map((l) => Number(l.split(" ")[0]));
    expect(top).toEqual(s.map((_, i) => i));
    expect(t.some((l) => l.startsWith("REFUSED"))).toBe(false);
  });

  it.skipIf(!oracle)(`oracle.c refuses unsafe ops and rejects malformed scripts${SKIP}`, () => {
    const t = runTextOnLinux(
      "arena 0x100000000000 0x400000\nmmap 0x200000000000 0x1000 0x3 0x32\nmadvise 0x100000000000 0x800000 0x4\n",
    );
    expect(t).toEqual([
      "0 mmap 0x200000000000 0x1000 0x3 0x32 = REFUSED",
      "1 madvise 0x100000000000 0x800000 0x4 = REFUSED",
    ]);
    expect(() => runTextOnLinux("arena 0x100000000000 0x400000\nfrobnicate 1\n")).toThrow(/unknown op/);
    expect(() => runTextOnLinux("maps\n")).toThrow(/arena line must come first/);
  });
});
