// brk(2) and the [heap] on an Mm, in both eras (the live kernel's rows are in
// packages/kernel/test/oracle-heap-seal.test.ts): the exact RLIMIT_DATA edges, which a Linux process's
// own data segment hides, the era differences, and a property test against a reference heap.
import { PhysMemory } from "@faultline/phys";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ENOSYS,
  type Era,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_GROWSDOWN,
  MAP_PRIVATE,
  MCL_FUTURE,
  Mm,
  Mmu,
  PROT_READ,
  PROT_WRITE,
  ramOnly,
  renderMaps,
  renderSmaps,
  STACK_GUARD_GAP,
  START_BRK,
  VM_LOCKED,
} from "./index";

const P = 4096;
const H = START_BRK;
const RW = PROT_READ | PROT_WRITE;
const PF = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;

function fresh(
  era: Era = "modern",
  mem = PhysMemory.create({ ramBytes: 16 * 1024 * 1024 }),
): { mm: Mm; mmu: Mmu } {
  const mm = new Mm(ramOnly(mem), { era });
  return { mm, mmu: Mmu.forMm(mm) };
}

const heapLines = (mm: Mm) =>
  renderMaps(mm)
    .split("\n")
    .filter((l) => l.endsWith("[heap]"))
    .map((l) => l.slice(0, l.indexOf(" ")));
const range = (s: number, e: number) => `${s.toString(16)}-${e.toString(16)}`;

describe("brk(2)", () => {
  it("starts empty at start_brk; grows and shrinks by pages; the break is exact, the heap page-rounded", () => {
    const { mm, mmu } = fresh();
    expect(mm.brk(0)).toBe(H);
    expect(heapLines(mm)).toEqual([]);
    expect(mm.brk(H + 1)).toBe(H + 1);
    expect(heapLines(mm)).toEqual([range(H, H + P)]);
    mmu.store8(H + 10, 7);
    expect(mm.brk(H + 3 * P - 1)).toBe(H + 3 * P - 1);
    expect(heapLines(mm)).toEqual([range(H, H + 3 * P)]);
    expect(mmu.load8(H + 10)).toBe(7);
    expect(mm.brk(H + P)).toBe(H + P);
    expect(heapLines(mm)).toEqual([range(H, H + P)]);
    expect(mm.brk(H - P)).toBe(H + P);
    expect(mm.brk(2 ** 64 - 1)).toBe(H + P);
    expect(renderSmaps(mm)).toContain("VmFlags: rd wr mr mw me ac sd \n");
    mm.checkInvariants();
  });

  it("RLIMIT_DATA: the break may reach the limit exactly, not one byte past; may_expand_vm counts other data mappings", () => {
    const { mm } = fresh();
    mm.rlimData = { cur: 2 * P, max: 2 * P };
    expect(mm.brk(H + 2 * P)).toBe(H + 2 * P);
    expect(mm.brk(H + 2 * P + 1)).toBe(H + 2 * P);
    expect(mm.brk(H + P)).toBe(H + P);
    // A private writable mapping elsewhere takes one page of the two.
    expect(mm.mmap(0x1000_0000_0000, P, RW, PF, null, 0)).toBe(0x1000_0000_0000);
    expect(mm.brk(H + 2 * P)).toBe(H + P);
    mm.checkInvariants();
  });

  it("RLIMIT_AS bounds the heap like any mapping", () => {
    const { mm } = fresh();
    mm.rlimAs = 2 * P;
    expect(mm.brk(H + 2 * P)).toBe(H + 2 * P);
    expect(mm.brk(H + 3 * P)).toBe(H + 2 * P);
  });

  it("mlockall(MCL_FUTURE): new heap is locked and populated, within RLIMIT_MEMLOCK", () => {
    const { mm } = fresh();
    mm.mlockLimit = 2 * P;
    expect(mm.mlockall(MCL_FUTURE)).toBe(0);
    expect(mm.brk(H + 2 * P)).toBe(H + 2 * P);
    expect(mm.vmaLookup(H)!.vmFlags & VM_LOCKED).toBe(VM_LOCKED);
    expect(mm.lockedVm).toBe(2);
    expect(mm.rss).toBe(2);
    expect(mm.brk(H + 3 * P)).toBe(H + 2 * P);
    mm.checkInvariants();
  });

  it("a fork child has the parent's heap and break, and moves its own", () => {
    const { mm } = fresh();
    mm.brk(H + 2 * P);
    const child = mm.fork() as Mm;
    expect(child.brk(0)).toBe(H + 2 * P);
    expect(child.brk(H + P)).toBe(H + P);
    expect(mm.brk(0)).toBe(H + 2 * P);
    expect(heapLines(child)).toEqual([range(H, H + P)]);
    child.exit();
  });
});

describe("brk(2): where 2.6.10 differed (era.ts)", () => {
  const rows: { what: string; run: (mm: Mm) => unknown; modern: unknown; old: unknown }[] = [
    {
      what: "a break inside the heap's last page above RLIMIT_DATA (brkRlimitFirst)",
      run: (mm) => {
        mm.brk(H + 2 * P);
        mm.rlimData = { cur: P, max: P };
        return mm.brk(H + 2 * P - 1);
      },
      modern: H + 2 * P,
      old: H + 2 * P - 1,
    },
    {
      what: "shrinking a heap that was unmapped by hand (brkShrinkNeedsVma)",
      run: (mm) => {
        mm.brk(H + 2 * P);
        mm.munmap(H, 2 * P);
        return mm.brk(H);
      },
      modern: H + 2 * P,
      old: H,
    },
    {
      what: "growing to within stack_guard_gap of a MAP_GROWSDOWN mapping (stackGuardGap)",
      run: (mm) => {
        mm.mmap(H + 0x200000, P, RW, PF | MAP_GROWSDOWN, null, 0);
        return mm.brk(H + 0x200000 - 2 * P);
      },
      modern: H,
      old: H + 0x200000 - 2 * P,
    },
    {
      what: "/proc/PID/maps names the heap (heapName)",
      run: (mm) => {
        mm.brk(H + P);
        return renderMaps(mm).includes("[heap]");
      },
      modern: true,
      old: false,
    },
  ];
  for (const r of rows) {
    it(r.what, () => {
      const modern = fresh("modern").mm;
      const old = fresh("2.6.10").mm;
      expect(r.run(modern)).toBe(r.modern);
      expect(r.run(old)).toBe(r.old);
      modern.checkInvariants();
      old.checkInvariants();
    });
  }

  it("both eras keep one page free above the break, and the gap below a stack is 256 pages today", () => {
    for (const era of ["modern", "2.6.10"] as const) {
      const { mm } = fresh(era);
      mm.mmap(H + 4 * P, P, RW, PF, null, 0);
      expect(mm.brk(H + 3 * P + 1)).toBe(H);
      expect(mm.brk(H + 3 * P)).toBe(H + 3 * P);
    }
    expect(STACK_GUARD_GAP).toBe(256 * P);
  });

  it("mseal is -ENOSYS in 2.6.10", () => {
    const { mm } = fresh("2.6.10");
    mm.brk(H + P);
    expect(mm.mseal(H, P, 0)).toBe(-ENOSYS);
  });
});

describe("brk(2) against a reference heap", () => {
  it("any sequence of breaks leaves [start_brk, PAGE_ALIGN(brk)) mapped as one VMA, contents kept below the lowest break", () => {
    const pageAlign = (x: number) => Math.ceil(x / P) * P;
    // One memory for every run: each run's mm exits, so its frames come back.
    const mem = PhysMemory.create({ ramBytes: 4 * 1024 * 1024 });
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -2 * P, max: 64 * P }), { maxLength: 30 }), (offsets) => {
        const { mm, mmu } = fresh("modern", mem);
        let brk = H;
        // the lowest page-rounded end since each byte was written: what survives
        const written = new Map<number, number>();
        for (const [i, off] of offsets.entries()) {
          const want = H + off;
          const got = mm.brk(want);
          if (want >= H) brk = want;
          expect(got).toBe(brk);
          for (const a of [...written.keys()]) if (a >= pageAlign(brk)) written.delete(a);
          if (brk > H) {
            const a = H + ((i * 977) % (brk - H));
            mmu.store8(a, i & 0xff);
            written.set(a, i & 0xff);
          }
        }
        expect(heapLines(mm)).toEqual(pageAlign(brk) > H ? [range(H, pageAlign(brk))] : []);
        for (const [a, v] of written) expect(mmu.load8(a)).toBe(v);
        mm.checkInvariants();
        mm.exit();
      }),
      { numRuns: 100 },
    );
  });
});
