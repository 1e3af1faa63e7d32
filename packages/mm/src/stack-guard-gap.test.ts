// stack_guard_gap (era.ts stackGuardGap: 256 pages today, none in 2.6.10) where the live kernel cannot
// show it in a transcript: an mmap hint inside a stack's gap is not used (arch_get_unmapped_area_topdown
// checks vm_start_gap()), so the kernel picks an address outside the oracle's arena. The fault-time and
// brk() rows are in packages/kernel/test/oracle-heap-seal.test.ts, checked against the live kernel.
import { PhysMemory } from "@faultline/phys";
import { describe, expect, it } from "vitest";
import {
  type Era,
  MAP_32BIT,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_GROWSDOWN,
  MAP_PRIVATE,
  MMAP_BASE,
  Mm,
  Mmu,
  PROT_READ,
  PROT_WRITE,
  ramOnly,
  STACK_GUARD_GAP,
} from "./index";

const P = 4096;
const STACK = 0x2000_0000_0000;
const RW = PROT_READ | PROT_WRITE;
const PA = MAP_PRIVATE | MAP_ANONYMOUS;

function withStack(era: Era): { mm: Mm; mmu: Mmu } {
  const mm = new Mm(ramOnly(PhysMemory.create({ ramBytes: 8 << 20 })), { era });
  expect(mm.mmap(STACK, P, RW, PA | MAP_FIXED | MAP_GROWSDOWN, null, 0)).toBe(STACK);
  return { mm, mmu: Mmu.forMm(mm) };
}

describe("stack_guard_gap", () => {
  it("an mmap hint whose end reaches into a stack's gap is not used today; it was in 2.6.10", () => {
    const hint = STACK - 2 * P;
    expect(withStack("modern").mm.mmap(hint, P, RW, PA, null, 0)).not.toBe(hint);
    expect(withStack("2.6.10").mm.mmap(hint, P, RW, PA, null, 0)).toBe(hint);
    const below = STACK - STACK_GUARD_GAP - P;
    expect(withStack("modern").mm.mmap(below, P, RW, PA, null, 0)).toBe(below);
  });

  it("a free-area search passes over a stack's gap today (unmapped_area_topdown's retry), not in 2.6.10", () => {
    for (const era of ["modern", "2.6.10"] as const) {
      const mm = new Mm(ramOnly(PhysMemory.create({ ramBytes: 8 << 20 })), { era });
      // The stack is the highest mapping below mmap_base: the first gap a search finds is under it.
      const stack = MMAP_BASE - P;
      expect(mm.mmap(stack, P, RW, PA | MAP_FIXED | MAP_GROWSDOWN, null, 0)).toBe(stack);
      const gap = era === "modern" ? STACK_GUARD_GAP : 0;
      expect(mm.mmap(0, 2 * P, RW, PA, null, 0), era).toBe(stack - gap - 2 * P);
      // A plain mapping above the next search's gap has no guard gap: the next one sits right under.
      expect(mm.mmap(0, P, RW, PA, null, 0), era).toBe(stack - gap - 3 * P);
      mm.checkInvariants();
    }
  });

  it("the bottom-up search (MAP_32BIT) passes over a stack's gap the same way", () => {
    const mm = new Mm(ramOnly(PhysMemory.create({ ramBytes: 8 << 20 })), { era: "modern" });
    // A stack a page above the start of MAP_32BIT's window, [1 GiB, 2 GiB): the page under it is in its gap.
    const stack = 0x4000_0000 + P;
    expect(mm.mmap(stack, P, RW, PA | MAP_FIXED | MAP_GROWSDOWN, null, 0)).toBe(stack);
    expect(mm.mmap(0, P, RW, PA | MAP_32BIT, null, 0)).toBe(stack + P);
    mm.checkInvariants();
  });

  it("a stack grows down to an accessible mapping in 2.6.10, and stops a gap short of it today", () => {
    for (const era of ["modern", "2.6.10"] as const) {
      const { mm, mmu } = withStack(era);
      mm.mmap(STACK - 10 * P, P, RW, PA | MAP_FIXED, null, 0);
      let grew = true;
      try {
        mmu.store8(STACK - 8 * P, 1);
      } catch {
        grew = false;
      }
      expect(grew, era).toBe(era === "2.6.10");
      mm.checkInvariants();
    }
  });
});
