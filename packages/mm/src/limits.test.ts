// mincore(2), mlockall(2)/munlockall(2), may_expand_vm (RLIMIT_AS, RLIMIT_DATA) and can_do_mlock,
// on an Mm (the kernel's syscall rows, checked against the live kernel, are in
// packages/kernel/test/oracle-limits.test.ts).
import { PhysMemory } from "@faultline/phys";
import { describe, expect, it } from "vitest";
import {
  EFAULT,
  EINVAL,
  ENOMEM,
  EPERM,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_GROWSDOWN,
  MAP_PRIVATE,
  MAP_SHARED,
  MCL_CURRENT,
  MCL_FUTURE,
  MCL_ONFAULT,
  Mm,
  Mmu,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  ramOnly,
  VM_LOCKED,
  VM_LOCKONFAULT,
} from "./index";

const P = 4096;
const A = 0x1000_0000_0000;
const RW = PROT_READ | PROT_WRITE;
const PF = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;

function fresh(zeroPage = true): { mm: Mm; mmu: Mmu; mem: PhysMemory } {
  const mem = PhysMemory.create({ ramBytes: 16 * 1024 * 1024 });
  const mm = new Mm(ramOnly(mem), { zeroPage });
  return { mm, mmu: Mmu.forMm(mm), mem };
}

const vec = (mm: Mm, start: number, n: number): string | number => {
  const v = new Uint8Array(n);
  const r = mm.mincore(start, n * P, v);
  return r < 0 ? r : [...v].join("");
};

describe("mincore(2)", () => {
  it("1 for each page a PTE holds (the zero page too, PROT_NONE too), 0 for the rest", () => {
    const { mm, mmu } = fresh();
    expect(mm.mmap(A, 4 * P, RW, PF, null, 0)).toBe(A);
    mmu.store8(A, 1);
    mmu.load8(A + 2 * P);
    expect(vec(mm, A, 4)).toBe("1010");
    expect(mm.mprotect(A, P, PROT_NONE)).toBe(0);
    expect(vec(mm, A, 4)).toBe("1010");
    mm.checkInvariants();
  });

  it("shared anonymous memory: what the page cache holds counts, even unmapped here", () => {
    const { mm, mmu } = fresh();
    expect(mm.mmap(A, 2 * P, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, null, 0)).toBe(A);
    mmu.store8(A + P, 7);
    const child = mm.fork() as Mm;
    expect(vec(child, A, 2)).toBe("01");
    child.exit();
  });

  it("EINVAL unaligned, ENOMEM for a hole (pages before it filled) or beyond user space, EFAULT for a short vector", () => {
    const { mm } = fresh();
    expect(mm.mmap(A, P, RW, PF, null, 0)).toBe(A);
    expect(mm.mmap(A + 2 * P, P, RW, PF, null, 0)).toBe(A + 2 * P);
    mm.populate(A, A + P, true);
    expect(mm.mincore(A + 1, P, new Uint8Array(1))).toBe(-EINVAL);
    const v = new Uint8Array(3);
    expect(mm.mincore(A, 3 * P, v)).toBe(-ENOMEM);
    expect(v[0]).toBe(1);
    expect(mm.mincore(A, 2 ** 47, new Uint8Array(1))).toBe(-ENOMEM);
    expect(mm.mincore(A, 2 * P, new Uint8Array(1))).toBe(-EFAULT);
    expect(mm.mincore(0x5000, 0, new Uint8Array(0))).toBe(0);
  });
});

describe("mlockall(2), munlockall(2)", () => {
  it("MCL_CURRENT locks and populates every VMA; munlockall unlocks", () => {
    const { mm } = fresh();
    mm.mmap(A, 2 * P, RW, PF, null, 0);
    mm.mmap(A + 4 * P, P, PROT_READ, PF, null, 0);
    expect(mm.mlockall(MCL_CURRENT)).toBe(0);
    expect([...mm].every((v) => v.vmFlags & VM_LOCKED)).toBe(true);
    expect(mm.lockedVm).toBe(3);
    expect(mm.rssAnon).toBe(2);
    expect(mm.munlockall()).toBe(0);
    expect([...mm].some((v) => v.vmFlags & VM_LOCKED)).toBe(false);
    expect(mm.lockedVm).toBe(0);
    mm.checkInvariants();
  });

  it("MCL_FUTURE locks later mappings (populated), MCL_ONFAULT without populating; not inherited by fork", () => {
    const { mm } = fresh();
    expect(mm.mlockall(MCL_FUTURE)).toBe(0);
    mm.mmap(A, 2 * P, RW, PF, null, 0);
    expect(mm.vmaLookup(A)!.vmFlags & VM_LOCKED).toBeTruthy();
    expect(mm.rssAnon).toBe(2);
    expect(mm.mlockall(MCL_FUTURE | MCL_ONFAULT)).toBe(0);
    mm.mmap(A + 4 * P, 2 * P, RW, PF, null, 0);
    expect(mm.vmaLookup(A + 4 * P)!.vmFlags & (VM_LOCKED | VM_LOCKONFAULT)).toBe(VM_LOCKED | VM_LOCKONFAULT);
    expect(mm.rssAnon).toBe(2);
    const child = mm.fork() as Mm;
    expect(child.defFlags).toBe(0);
    child.exit();
    mm.checkInvariants();
  });

  it("EINVAL for 0, MCL_ONFAULT alone, unknown bits; EPERM with RLIMIT_MEMLOCK 0; ENOMEM above it", () => {
    const { mm } = fresh();
    for (const f of [0, MCL_ONFAULT, 8, MCL_CURRENT | 16]) expect(mm.mlockall(f)).toBe(-EINVAL);
    mm.mlockLimit = 0;
    expect(mm.mlockall(MCL_CURRENT)).toBe(-EPERM);
    expect(mm.mlock(A, P)).toBe(-EPERM);
    mm.mlockLimit = P;
    mm.mmap(A, 2 * P, RW, PF, null, 0);
    expect(mm.mlockall(MCL_CURRENT)).toBe(-ENOMEM);
    expect(mm.mlockall(MCL_FUTURE)).toBe(0);
  });
});

describe("may_expand_vm: RLIMIT_AS and RLIMIT_DATA", () => {
  it("RLIMIT_AS bounds mmap (MAP_FIXED counts what it replaces), mremap growth and stack growth", () => {
    const { mm, mmu } = fresh();
    mm.rlimAs = 4 * P;
    expect(mm.mmap(A, 3 * P, RW, PF, null, 0)).toBe(A);
    expect(mm.mmap(A + 8 * P, 2 * P, RW, PF, null, 0)).toBe(-ENOMEM);
    expect(mm.mmap(A + 2 * P, 2 * P, RW, PF, null, 0)).toBe(A + 2 * P); // replaces one page
    expect(mm.mremap(A, 4 * P, 5 * P, MREMAP_MAYMOVE)).toBe(-ENOMEM);
    expect(mm.munmap(A, 4 * P)).toBe(0);
    expect(mm.mmap(A + 16 * P, 4 * P, RW, PF | MAP_GROWSDOWN, null, 0)).toBe(A + 16 * P);
    expect(() => mmu.store8(A + 15 * P, 1)).toThrow(/SIGSEGV/);
    mm.checkInvariants();
  });

  it("RLIMIT_AS and RLIMIT_DATA bound mremap(MREMAP_DONTUNMAP), which keeps the old range: checked after the unmap at new_addr", () => {
    const { mm } = fresh();
    const DU = MREMAP_MAYMOVE | MREMAP_DONTUNMAP;
    mm.rlimAs = 4 * P;
    expect(mm.mmap(A, 2 * P, RW, PF, null, 0)).toBe(A);
    expect(mm.mmap(A + 8 * P, P, RW, PF, null, 0)).toBe(A + 8 * P);
    // 3 pages mapped: moving 2 more would make 5.
    expect(mm.mremap(A, 2 * P, 2 * P, DU, A + 16 * P)).toBe(-ENOMEM);
    expect(mm.mremap(A, 2 * P, 2 * P, DU | MREMAP_FIXED, A + 16 * P)).toBe(-ENOMEM);
    expect(mm.vmas.size).toBe(2);
    // mremap_to() unmaps new_addr first: over the page at 8 the total is 2 + 2.
    expect(mm.mremap(A, 2 * P, 2 * P, DU | MREMAP_FIXED, A + 7 * P)).toBe(A + 7 * P);
    expect([...mm.vmas].map((v) => [v.vmStart - A, v.vmEnd - A])).toEqual([
      [0, 2 * P],
      [7 * P, 9 * P],
    ]);
    mm.checkInvariants();

    const d = fresh().mm;
    d.rlimData = { cur: 3 * P, max: 3 * P };
    expect(d.mmap(A, 2 * P, RW, PF, null, 0)).toBe(A);
    expect(d.mremap(A, 2 * P, 2 * P, DU, 0)).toBe(-ENOMEM);
    // A read-only mapping is not data.
    expect(d.mprotect(A, 2 * P, PROT_READ)).toBe(0);
    expect(d.mremap(A, 2 * P, 2 * P, DU, 0)).toBeGreaterThan(0);
    d.checkInvariants();
  });

  it("RLIMIT_DATA bounds private writable mappings only (not shared, read-only or stacks); 0 falls back to the hard limit", () => {
    const { mm } = fresh();
    mm.rlimData = { cur: 2 * P, max: Number.POSITIVE_INFINITY };
    expect(mm.mmap(A, 3 * P, RW, PF, null, 0)).toBe(-ENOMEM);
    expect(mm.mmap(A, 3 * P, PROT_READ, PF, null, 0)).toBe(A);
    expect(mm.mmap(A + 4 * P, 3 * P, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, null, 0)).toBe(A + 4 * P);
    expect(mm.mmap(A + 8 * P, 3 * P, RW, PF | MAP_GROWSDOWN, null, 0)).toBe(A + 8 * P);
    // mprotect_fixup(): turning it into data is checked too.
    expect(mm.mprotect(A, 3 * P, RW)).toBe(-ENOMEM);
    expect(mm.mprotect(A, 2 * P, RW)).toBe(0);
    mm.rlimData = { cur: 0, max: 16 * P };
    expect(mm.mmap(A + 16 * P, 2 * P, RW, PF, null, 0)).toBe(A + 16 * P);
    mm.checkInvariants();
  });
});

// 2.6.9/2.6.11 compared total_vm with RLIMIT_AS alone in do_mmap_pgoff(), do_mremap() (growth) and
// do_brk(), and mprotect_fixup() checked no limit: RLIMIT_DATA bounded only sys_brk()'s heap. Today
// may_expand_vm() counts private writable memory against RLIMIT_DATA too (era.ts mayExpandVmData).
describe("may_expand_vm: RLIMIT_DATA, by era", () => {
  const cases = [
    ["mmap of three private writable pages", (mm: Mm) => mm.mmap(A, 3 * P, RW, PF, null, 0), A],
    [
      "mremap growing two private writable pages to three",
      (mm: Mm) => {
        mm.mmap(A, 2 * P, RW, PF, null, 0);
        return mm.mremap(A, 2 * P, 3 * P, MREMAP_MAYMOVE);
      },
      A,
    ],
    [
      "mprotect making three private pages writable",
      (mm: Mm) => {
        mm.mmap(A, 3 * P, PROT_READ, PF, null, 0);
        return mm.mprotect(A, 3 * P, RW);
      },
      0,
    ],
  ] as const;
  it.each(
    cases.flatMap(([what, call, ok]) =>
      (["modern", "2.6.10"] as const).map(
        (era) => [`${era}: ${what} over RLIMIT_DATA`, era, call, ok] as const,
      ),
    ),
  )("%s", (_name, era, call, ok) => {
    const mem = PhysMemory.create({ ramBytes: 16 * 1024 * 1024 });
    const mm = new Mm(ramOnly(mem), { era });
    mm.rlimData = { cur: 2 * P, max: Number.POSITIVE_INFINITY };
    expect(call(mm)).toBe(era === "modern" ? -ENOMEM : ok);
    mm.checkInvariants();
  });
});
