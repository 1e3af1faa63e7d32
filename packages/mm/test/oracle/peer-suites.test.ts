// Tests ported from peer suites (LTP, the kernel's selftests/mm, gVisor's syscall tests), run on both
// sides: Faultline must meet each original test's assertions on every kind of host, and, where this
// machine's kernel is the 6.18 series Faultline models, the live kernel must meet them too and print
// the same transcript as Faultline. Known divergences (knownDivergence) are asserted to still differ,
// exactly where recorded, so a fix shows up as a failing test that asks for the case to be promoted.

import { describe, expect, it } from "vitest";
import { pkeyLiveSkip, runLikeHost, runOnFaultline } from "./faultline.ts";
import { describeHost, type HostMmFeatures, hostFeatures, liveKernelMismatch, runOnLinux } from "./linux.ts";
import {
  divergenceOn,
  PEER_CASES as MM_PEER_CASES,
  type PeerCase,
  peerUnmet,
  unmetIndices,
} from "./peer-cases.ts";
import { FILE_PEER_CASES } from "./peer-cases-files.ts";
import { locksMemory } from "./script.ts";
import { diffTranscripts, normalizeTranscript } from "./transcript.ts";

/** The mm peer cases and the file-backed ones (page cache, memfd seals). */
const PEER_CASES: readonly PeerCase[] = [...MM_PEER_CASES, ...FILE_PEER_CASES];

const live = liveKernelMismatch();
const LIVE_SKIP = live === null ? "" : ` [SKIPPED: ${live}]`;
const HOSTS: readonly HostMmFeatures[] = [
  { pku: false, zeroPage: true },
  { pku: false, zeroPage: false },
  { pku: true, zeroPage: true },
  { pku: true, zeroPage: false },
];

/** The index label ("3", "5.1") of the op that printed transcript line `at` (maps lines belong to their op). */
function labelAt(lines: readonly string[], at: number): string {
  for (let k = Math.min(at, lines.length - 1); k >= 0; k--) {
    const m = /^(\d+(?:\.\d+)*) /.exec(lines[k]!);
    if (m) return m[1]!;
  }
  return "<start>";
}

function faultlineSide(c: PeerCase, host: HostMmFeatures): void {
  const unmet = peerUnmet(c, runOnFaultline(c.script, undefined, undefined, host), host);
  const known = divergenceOn(c, host);
  if (known) {
    // The original's assertions first fail on Faultline where recorded; none failing means fixed.
    expect(unmetIndices(unmet)[0] ?? null, `${known.reason}\n${unmet.join("\n")}`).toBe(known.firstUnmet);
  } else {
    expect(unmet).toEqual([]);
  }
}

function liveSide(c: PeerCase): void {
  const host = hostFeatures();
  const linux = runOnLinux(c.script);
  expect(peerUnmet(c, linux, host), linux.join("\n")).toEqual([]);
  const diff = diffTranscripts(linux, runLikeHost(c.script), { labels: ["linux", "faultline"] });
  const known = divergenceOn(c, host);
  if (known) {
    expect(diff, `divergence gone: promote ${c.name} (drop knownDivergence)`).not.toBeNull();
    expect(labelAt(normalizeTranscript(linux), diff!.line), diff!.report).toBe(known.firstDiffAt);
  } else {
    expect(diff?.report ?? null).toBeNull();
  }
}

describe("peer suites ported to the oracle", () => {
  it("every case has a unique name that says where it came from", () => {
    const names = PEER_CASES.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    for (const c of PEER_CASES) expect(c.name.startsWith(`${c.suite}/`), c.name).toBe(true);
  });

  for (const c of PEER_CASES) {
    const only = c.knownDivergence?.onlyOn;
    const where = only ? ` on hosts with ${JSON.stringify(only)}` : "";
    const tag = c.knownDivergence ? ` [KNOWN DIVERGENCE${where}: ${c.knownDivergence.reason}]` : "";
    describe(`${c.name}${tag}`, () => {
      for (const host of HOSTS) {
        it(`Faultline meets the original's assertions (host with ${describeHost(host)})`, () =>
          faultlineSide(c, host));
      }
      const memlock =
        live !== null
          ? ""
          : hostFeatures().mlockLimit !== undefined && locksMemory(c.script)
            ? " [SKIPPED: locks memory, and this process has no CAP_IPC_LOCK and a finite RLIMIT_MEMLOCK]"
            : pkeyLiveSkip(c.script);
      it.skipIf(live !== null || memlock !== "")(
        `live kernel meets them and prints Faultline's transcript${c.knownDivergence ? ` except at the known divergence${where}` : ""}${LIVE_SKIP}${memlock}`,
        () => liveSide(c),
      );
    });
  }
});
