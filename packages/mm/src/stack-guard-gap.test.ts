// stack_guard_gap (era.ts stackGuardGap: 256 pages today, none in 2.6.10) where the live kernel cannot
// show it in a transcript: an mmap hint inside a stack's gap is not used (arch_get_unmapped_area_topdown
// checks vm_start_gap()), so the kernel picks an address outside the oracle's arena. The fault-time and
// brk() rows are in packages/kernel/test/oracle-heap-seal.test.ts, checked against the live kernel.
import { PhysMemory } from "@faultline/phys";
import { describe, expect, it } from "vitest";
import {
  type Era,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_GROWSDOWN,
  MAP_PRIVATE,
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
