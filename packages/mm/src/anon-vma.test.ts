// anon_vma sharing between neighbours, the rules merge.test.ts's cases do not reach on their own
// (issue 16's planted bugs): anon_vma_prepare() reuses a neighbour's anon_vma only when that
// neighbour's anon_vma_chain is a single entry (reusable_anon_vma: list_is_singular), so a fork
// child's VMA never lends its anon_vma; and a new range between two VMAs with different anon_vmas
// merges with one of them only (vma_merge_new_range: is_mergeable_anon_vma(prev, next)). Each script
// runs on Faultline everywhere and, when a C compiler and the modelled kernel series are there, on the
// machine's kernel too: both must print the maps written here.
import { describe, expect, it } from "vitest";
import { anonLine } from "../test/oracle/cases";
import { runOnFaultline } from "../test/oracle/faultline";
import { liveKernelMismatch, runOnLinux } from "../test/oracle/linux";
import {
  fork,
  MAP_FIXED,
  maps,
  mmap,
  mprotect,
  PRIVATE_ANON,
  PROT_READ,
  PROT_WRITE,
  page,
  pages,
  type Script,
  store,
} from "../test/oracle/script";
import { mapsAt } from "../test/oracle/transcript";

const RW = PROT_READ | PROT_WRITE;
const PF = PRIVATE_ANON | MAP_FIXED;

interface Case {
  readonly name: string;
  readonly script: Script;
  /** The maps printed by the script's last op. */
  readonly maps: readonly string[];
  /** The maps the forked child printed last, when the script forks. */
  readonly child?: readonly string[];
}

/** The neighbour-reuse steps, run by the parent and by a forked child alike. */
const reuseNextToFaulted: Script = [
  mmap(page(2), pages(2), PROT_WRITE, PF), // flags differ from pages 0-1: a VMA of its own
  store(8, page(2), 2n), // anon_vma_prepare(): pages 0-1's anon_vma, if it may be shared
  mprotect(page(2), pages(2), RW), // same flags now: merges only with the same anon_vma
  maps,
];

const CASES: readonly Case[] = [
  {
    // The parent's VMA has a single-entry chain: its anon_vma is reused and the two merge. The
    // child's copy of it chains to the parent's anon_vma too: not reusable, so a new one, no merge.
    name: "a fork child's VMA does not lend its anon_vma to a neighbour (single-chain rule)",
    script: [
      mmap(page(0), pages(2), RW, PF),
      store(8, page(0), 1n),
      fork(reuseNextToFaulted),
      ...reuseNextToFaulted,
    ],
    maps: [anonLine(0, 4, "rw-p")],
    child: [anonLine(0, 2, "rw-p"), anonLine(2, 4, "rw-p")],
  },
  {
    // Pages 0 and 2 have different anon_vmas (page 1 was a hole when page 2 faulted). Mapping page 1
    // can extend one of them, never join the two: prev takes it.
    name: "a new range between two different anon_vmas joins only one of them",
    script: [
      mmap(page(0), pages(1), RW, PF),
      store(8, page(0), 1n),
      mmap(page(2), pages(1), RW, PF),
      store(8, page(2), 2n),
      mmap(page(1), pages(1), RW, PF),
      maps,
    ],
    maps: [anonLine(0, 2, "rw-p"), anonLine(2, 3, "rw-p")],
  },
  {
    // The same with mprotect: page 1 made like its neighbours merges into prev only.
    name: "mprotect between two different anon_vmas merges with one of them only",
    script: [
      mmap(page(0), pages(1), RW, PF),
      store(8, page(0), 1n),
      mmap(page(2), pages(1), RW, PF),
      store(8, page(2), 2n),
      mmap(page(1), pages(1), PROT_READ, PF),
      mprotect(page(1), pages(1), RW),
      maps,
    ],
    maps: [anonLine(0, 2, "rw-p"), anonLine(2, 3, "rw-p")],
  },
  {
    // Control: pages 1 and 2 each reused their previous neighbour's anon_vma, so all three have page
    // 0's, and making page 1 like the others joins all three.
    name: "an mprotect between two VMAs sharing an anon_vma joins both",
    script: [
      mmap(page(0), pages(1), RW, PF),
      store(8, page(0), 1n),
      mmap(page(1), pages(1), PROT_WRITE, PF),
      store(8, page(1), 2n), // prev (page 0) is reusable: its anon_vma
      mmap(page(2), pages(1), RW, PF),
      store(8, page(2), 3n), // prev (page 1) is reusable: the same anon_vma
      mprotect(page(1), pages(1), RW),
      maps,
    ],
    maps: [anonLine(0, 3, "rw-p")],
  },
];

function check(c: Case, lines: readonly string[]): void {
  expect(mapsAt(lines, c.script.length - 1), `${c.name}\n${lines.join("\n")}`).toEqual(c.maps);
  if (c.child) {
    const at = c.script.findIndex((op) => op.kind === "fork");
    const op = c.script[at]!;
    const last = op.kind === "fork" ? op.child.length - 1 : -1;
    expect(mapsAt(lines, `${at}.${last}`), `${c.name} (child)\n${lines.join("\n")}`).toEqual(c.child);
  }
}

describe("anon_vma sharing between neighbours", () => {
  it.each(CASES.map((c) => [c.name, c] as const))("%s (Faultline)", (_name, c) => {
    check(c, runOnFaultline(c.script));
  });

  const live = liveKernelMismatch();
  it.skipIf(live !== null)(
    `every case's maps are what the real kernel prints${live ? ` [SKIPPED: ${live}]` : ""}`,
    () => {
      for (const c of CASES) check(c, runOnLinux(c.script));
    },
  );
});
