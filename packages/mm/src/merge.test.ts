// VMA merging decided by anon_vma identity. Each script runs on Faultline and, when a C compiler is
// available, on the machine's real kernel; both must print the maps written here.
import { describe, expect, it } from "vitest";
import { anonLine } from "../test/oracle/cases";
import { runLikeHost, runOnFaultline } from "../test/oracle/faultline";
import { liveKernelMismatch, runOnLinux } from "../test/oracle/linux";
import {
  fork,
  load,
  MADV_REMOVE,
  MAP_FIXED,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  madvise,
  maps,
  mmap,
  mprotect,
  mremap,
  PRIVATE_ANON,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  page,
  pages,
  randomScript,
  type Script,
  SHARED_ANON,
  store,
} from "../test/oracle/script";
import { diffTranscripts, mapsAt } from "../test/oracle/transcript";

const RW = PROT_READ | PROT_WRITE;
const PF = PRIVATE_ANON | MAP_FIXED;
const MOVE = MREMAP_MAYMOVE | MREMAP_FIXED;

interface MergeCase {
  readonly name: string;
  readonly script: Script;
  /** Maps lines printed by the script's last op (a `maps`). */
  readonly maps: readonly string[];
}

const CASES: readonly MergeCase[] = [
  {
    // find_mergeable_anon_vma() (mm/vma.c) tries the next VMA before the previous one: the middle
    // VMA's first write fault takes the next VMA's anon_vma, so mprotect later merges it with next
    // and never with prev (is_mergeable_anon_vma: two different anon_vmas).
    name: "a fault between two reusable anon_vmas takes the next VMA's",
    script: [
      mmap(page(0), pages(2), PROT_WRITE, PF),
      store(8, page(0), 1n), // prev: anon_vma A
      mmap(page(4), pages(2), PROT_WRITE, PF),
      store(8, page(4), 2n), // next: anon_vma B (page 3 is not mapped yet: nothing to reuse)
      mmap(page(2), pages(2), RW, PF), // flags differ from both neighbours: no merge
      store(8, page(2), 3n), // anon_vma_prepare: next (B) is compatible and tried first
      mprotect(page(0), pages(2), RW), // A != B: stays apart from the middle
      mprotect(page(4), pages(2), RW), // B == B: merges with the middle
      maps,
    ],
    maps: [anonLine(0, 2, "rw-p"), anonLine(2, 6, "rw-p")],
  },
  {
    // Mirror image: the next VMA has no anon_vma, so the previous one's is reused and merges.
    name: "with no reusable next anon_vma, the previous VMA's is taken",
    script: [
      mmap(page(0), pages(2), PROT_WRITE, PF),
      store(8, page(0), 1n),
      mmap(page(4), pages(2), PROT_WRITE, PF), // never faulted: no anon_vma
      mmap(page(2), pages(2), RW, PF),
      store(8, page(2), 3n),
      mprotect(page(0), pages(2), RW),
      maps,
    ],
    maps: [anonLine(0, 4, "rw-p"), anonLine(4, 6, "-w-p")],
  },
  {
    // is_mergeable_anon_vma() case 1: only the changed VMA (vmg->middle) has an anon_vma, so it would
    // be dup_anon_vma()'d into the target; refused when that VMA is a fork child (vma_is_fork_child).
    name: "mprotect: a forked faulted VMA does not merge into an unfaulted neighbour",
    script: [
      mmap(page(0), pages(2), PROT_WRITE, PF),
      store(8, page(1), 1n),
      mmap(page(2), pages(2), RW, PF), // unfaulted, created before the fork
      fork([mprotect(page(0), pages(2), RW), maps]),
      mprotect(page(0), pages(2), RW), // the parent's VMA is no fork child: it merges
      maps,
    ],
    maps: [anonLine(0, 4, "rw-p")],
  },
  {
    // Same rule for copy_vma() (mremap): the source is vmg->copied_from, and a forked one refuses.
    name: "mremap: a forked faulted VMA moved next to an unfaulted one stays apart",
    script: [
      mmap(page(11), pages(1), RW, PF),
      store(8, page(11), 1n),
      fork([
        mremap(page(11), pages(1), pages(1), MOVE, page(20)),
        mmap(page(10), pages(1), RW, PF),
        mremap(page(20), pages(1), pages(1), MOVE, page(11)), // pgoff lines up with page 10
        maps,
      ]),
      mremap(page(11), pages(1), pages(1), MOVE, page(20)),
      mmap(page(10), pages(1), RW, PF),
      mremap(page(20), pages(1), pages(1), MOVE, page(11)), // not forked: merges
      maps,
    ],
    maps: [anonLine(10, 12, "rw-p")],
  },
  {
    // mprotect_fixup() (mm/mprotect.c) returns early when newflags == oldflags, before it drops
    // VM_ACCOUNT from unfaulted anon memory: an already read-only VMA that is still charged (it
    // lost its anon_vma to MREMAP_DONTUNMAP) keeps VM_ACCOUNT and so stays apart from the
    // uncharged neighbour the same mprotect made read-only. The hole after it gives -ENOMEM only
    // after both VMAs were visited (seed 9967).
    name: "mprotect: an unchanged charged read-only VMA keeps VM_ACCOUNT and does not merge",
    script: [
      mmap(page(5), pages(1), RW, PF), // charged: VM_ACCOUNT
      store(8, page(5), 1n), // anon_vma: PROT_READ below keeps VM_ACCOUNT
      mprotect(page(5), pages(1), PROT_READ),
      mremap(page(5), pages(1), pages(1), MOVE | MREMAP_DONTUNMAP, page(10)), // page 5 loses its anon_vma
      mmap(page(4), pages(1), PROT_NONE, PF), // not writable: never charged
      mprotect(page(4), pages(3), PROT_READ), // page 4 changes; page 5 is unchanged; page 6 is a hole
      maps,
    ],
    maps: [anonLine(4, 5, "r--p"), anonLine(5, 6, "r--p"), anonLine(10, 11, "r--p")],
  },
];

/** Forked children's maps the kernel printed, pinned by op index. */
const CHILD_MAPS: Readonly<Record<string, readonly string[]>> = {
  "mprotect: a forked faulted VMA does not merge into an unfaulted neighbour": [
    anonLine(0, 2, "rw-p"),
    anonLine(2, 4, "rw-p"),
  ],
  "mremap: a forked faulted VMA moved next to an unfaulted one stays apart": [
    anonLine(10, 11, "rw-p"),
    anonLine(11, 12, "rw-p"),
  ],
};

function check(c: MergeCase, lines: readonly string[]): void {
  expect(mapsAt(lines, c.script.length - 1), `${c.name}\n${lines.join("\n")}`).toEqual(c.maps);
  const child = CHILD_MAPS[c.name];
  if (child) {
    const forkAt = c.script.findIndex((op) => op.kind === "fork");
    const inner = c.script[forkAt]!;
    const n = inner.kind === "fork" ? inner.child.length - 1 : -1;
    expect(mapsAt(lines, `${forkAt}.${n}`), `${c.name} (child)\n${lines.join("\n")}`).toEqual(child);
  }
}

describe("merging by anon_vma identity (find_mergeable_anon_vma)", () => {
  it.each(CASES.map((c) => [c.name, c] as const))("%s (Faultline)", (_name, c) => {
    check(c, runOnFaultline(c.script));
  });

  const live = liveKernelMismatch();
  const LIVE = live ? ` [SKIPPED: ${live}]` : "";
  it.skipIf(live !== null)(`every case's maps are what the real kernel prints${LIVE}`, () => {
    for (const c of CASES) check(c, runOnLinux(c.script));
  });

  // 2131: a fault took prev's anon_vma instead of next's; 11119, 11882: fork children merged;
  // 9967: mprotect dropped VM_ACCOUNT from a VMA whose flags it did not change.
  it.skipIf(live !== null).each([2131, 9967, 11119, 11882])(
    `random script seed %i matches the kernel${LIVE}`,
    (seed) => {
      const script = randomScript(seed, 60);
      const diff = diffTranscripts(runOnLinux(script), runLikeHost(script), {
        labels: ["linux", "faultline"],
      });
      expect(diff?.report ?? "").toBe("");
    },
  );
});

describe("MADV_REMOVE on shared anonymous memory", () => {
  it("punches the page out of every mapping of it, not only the one advised (seed 5236)", () => {
    const script: Script = [
      mmap(page(0), pages(1), RW, SHARED_ANON | MAP_FIXED),
      store(32, page(0), 0xa9ed4f87n),
      // old_len 0: a second mapping of the same shmem page.
      mremap(page(0), 0n, pages(1), MOVE, page(8)),
      load(32, page(8)),
      madvise(page(8), pages(1), MADV_REMOVE),
      load(32, page(0)),
      load(32, page(8)),
    ];
    const ours = runOnFaultline(script);
    expect(ours.slice(-3)).toEqual([
      `4 madvise 0x${page(8).toString(16)} 0x1000 0x9 = 0`,
      `5 load32 0x${page(0).toString(16)} = 0x0`,
      `6 load32 0x${page(8).toString(16)} = 0x0`,
    ]);
    expect(ours[3]).toContain("= 0xa9ed4f87");
    if (!liveKernelMismatch())
      expect(diffTranscripts(runOnLinux(script), runLikeHost(script))?.report ?? "").toBe("");
  });
  const live = liveKernelMismatch();
  it.skipIf(live !== null)(`seed 5236 matches the kernel${live ? ` [SKIPPED: ${live}]` : ""}`, () => {
    const s = randomScript(5236, 60);
    expect(diffTranscripts(runOnLinux(s), runLikeHost(s))?.report ?? "").toBe("");
  });
});
