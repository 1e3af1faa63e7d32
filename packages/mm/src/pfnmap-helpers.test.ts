// The driver helpers of mm/memory.c as mm sees them, called from a driver's ->mmap or ->fault: what
// remap_pfn_range accepts and installs (bounds, private remaps, PTE permissions, the 2.6.10 RAM
// skip), vmf_insert_pfn's answers, vm_insert_page's references and errors, zap_vma_ptes. Each test
// reads through the mapping, checks the signal an access gets and the page references.
import { PhysMemory } from "@faultline/phys";
import { describe, expect, it } from "vitest";
import { A, fakeFile, P } from "../test/syscall-tables";
import {
  _PAGE_RW,
  EBUSY,
  EFAULT,
  EINVAL,
  type Era,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  Mm,
  Mmu,
  PROT_READ,
  PROT_WRITE,
  pteFlags,
  ptePfn,
  SignalError,
  VM_FAULT_NOPAGE,
  VM_FAULT_SIGBUS,
  VM_IO,
  VM_MIXEDMAP,
  VM_PFNMAP,
  type Vma,
} from "./index";
import { ramOnly } from "./phys-access";

const RW = PROT_READ | PROT_WRITE;
const SH = MAP_SHARED | MAP_FIXED;

/** A machine whose RAM pages hold 0xc0 + (pfn & 0x3f) in every byte. */
function boot(era: Era = "modern") {
  const mem = PhysMemory.create({ ramBytes: 8 * 1024 * 1024 });
  const free = mem.nrFreePages;
  const mm = new Mm(ramOnly(mem), { era });
  const mmu = Mmu.forMm(mm);
  return { mem, mm, mmu, free };
}

/** mmap of a driver whose ->mmap runs `fn` (its answer is ->mmap's); returns the VMA it saw. */
function mapWith(mm: Mm, len: number, prot: number, flags: number, fn: (vma: Vma) => number) {
  let seen: Vma | null = null;
  const r = mm.mmap(
    A,
    len,
    prot,
    flags,
    fakeFile({
      mmap: (vma) => {
        seen = vma;
        return fn(vma);
      },
    }),
    0,
  );
  return { r, vma: seen as Vma | null };
}

const signal = (fn: () => unknown): string | null => {
  try {
    fn();
    return null;
  } catch (e) {
    if (!SignalError.is(e)) throw e;
    return `${e.signal} ${e.code}`;
  }
};

/** Two RAM pages the driver owns, filled with a marker. */
function pages(mem: PhysMemory): number[] {
  const p = [mem.allocPfn(0), mem.allocPfn(0)];
  mem.frameBytes(p[0]!).fill(0x11);
  mem.frameBytes(p[1]!).fill(0x22);
  return p;
}

describe("remapPfnRange", () => {
  it("maps consecutive pfns over the range, writable when shared and writable; no references taken", () => {
    const { mem, mm, mmu, free } = boot();
    const [p0, p1] = pages(mem) as [number, number];
    expect(p1).toBe(p0 + 1);
    const { r } = mapWith(mm, 2 * P, RW, SH, (v) => mm.remapPfnRange(v, v.vmStart, p0, 2 * P));
    expect(r).toBe(A);
    expect([mmu.load8(A), mmu.load8(A + P + 7)]).toEqual([0x11, 0x22]);
    expect(pteFlags(mm.pgd.getPte(A)) & _PAGE_RW).toBe(_PAGE_RW);
    mmu.store8(A + P, 0x33);
    expect(mem.frameBytes(p1)[0]).toBe(0x33);
    expect([mem.refcount[p0], mem.refcount[p1]]).toEqual([1, 1]);
    expect(mm.minflt).toBe(0); // mapped up front
    mm.checkInvariants();
    mm.exit();
    mem.putPage(p0);
    mem.putPage(p1);
    expect(mem.nrFreePages).toBe(free);
  });

  it("a read-only shared mapping's PTEs are read-only: a write gets SIGSEGV", () => {
    const { mem, mm, mmu } = boot();
    const [p0] = pages(mem) as [number];
    mapWith(mm, P, PROT_READ, SH, (v) => mm.remapPfnRange(v, v.vmStart, p0, P));
    expect(pteFlags(mm.pgd.getPte(A)) & _PAGE_RW).toBe(0);
    expect(mmu.load8(A)).toBe(0x11);
    expect(signal(() => mmu.store8(A, 1))).toBe("SIGSEGV SEGV_ACCERR");
    mm.exit();
  });

  it("a size that is not a page multiple maps the last partial page whole", () => {
    const { mem, mm, mmu } = boot();
    const [p0] = pages(mem) as [number];
    mapWith(mm, 2 * P, RW, SH, (v) => mm.remapPfnRange(v, v.vmStart, p0, P + 1));
    expect(mmu.load8(A + P + 100)).toBe(0x22);
    mm.exit();
  });

  it.each<[string, (v: Vma, pfn: number) => [number, number, number]]>([
    ["an unaligned addr", (v, pfn) => [v.vmStart + 1, pfn, P]],
    ["a negative pfn", (v) => [v.vmStart, -1, P]],
    ["a fractional pfn", (v, pfn) => [v.vmStart, pfn + 0.5, P]],
    ["a range starting below the VMA", (v, pfn) => [v.vmStart - P, pfn, P]],
    ["a range ending past the VMA", (v, pfn) => [v.vmStart + P, pfn, 2 * P]],
    ["size 0", (v, pfn) => [v.vmStart, pfn, 0]],
  ])("%s is -EINVAL and maps nothing", (_what, args) => {
    const { mem, mm } = boot();
    const [p0] = pages(mem) as [number];
    let r = 0;
    mapWith(mm, 2 * P, RW, SH, (v) => {
      r = mm.remapPfnRange(v, ...args(v, p0));
      return 0;
    });
    expect(r).toBe(-EINVAL);
    expect([mm.pgd.getPte(A), mm.pgd.getPte(A + P)]).toEqual([0, 0]);
    mm.exit();
  });

  it("a range inside the VMA maps only that range; the rest faults", () => {
    const { mem, mm, mmu } = boot();
    const [, p1] = pages(mem) as [number, number];
    mapWith(mm, 2 * P, RW, SH, (v) => mm.remapPfnRange(v, v.vmStart + P, p1, P));
    expect(mmu.load8(A + P)).toBe(0x22);
    expect(mm.pgd.getPte(A)).toBe(0);
    expect(signal(() => mmu.load8(A))).toBe("SIGBUS BUS_ADRERR");
    mm.exit();
  });

  it("a private writable mapping must be remapped whole; vm_pgoff then names the first pfn", () => {
    const { mem, mm, mmu } = boot();
    const [p0] = pages(mem) as [number];
    const part = mapWith(mm, 2 * P, RW, MAP_PRIVATE | MAP_FIXED, (v) =>
      mm.remapPfnRange(v, v.vmStart, p0, P),
    );
    expect(part.r).toBe(-EINVAL);
    const whole = mapWith(mm, 2 * P, RW, MAP_PRIVATE | MAP_FIXED, (v) =>
      mm.remapPfnRange(v, v.vmStart, p0, 2 * P),
    );
    expect(whole.r).toBe(A);
    expect(whole.vma!.vmPgoff).toBe(p0);
    // The PTEs are read-only: a write copies the page (COW of a PFNMAP page), the device's stays.
    expect(pteFlags(mm.pgd.getPte(A)) & _PAGE_RW).toBe(0);
    mmu.store8(A, 0x44);
    expect(mmu.load8(A)).toBe(0x44);
    expect(mmu.load8(A + 1)).toBe(0x11);
    expect(mem.frameBytes(p0)[0]).toBe(0x11);
    mm.exit();
  });

  it("2.6.10 skips RAM pages that are not reserved (they stay unmapped); today maps them", () => {
    for (const era of ["2.6.10", "modern"] as const) {
      const { mem, mm, mmu } = boot(era);
      const [p0] = pages(mem) as [number];
      mapWith(mm, P, RW, SH, (v) => mm.remapPfnRange(v, v.vmStart, p0, P));
      if (era === "2.6.10") expect(mm.pgd.getPte(A)).toBe(0);
      else expect(mmu.load8(A)).toBe(0x11);
      mm.exit();
    }
  });

  it("remapping over an existing PTE is a kernel BUG (a throw), and the range mapped so far is undone", () => {
    const { mem, mm } = boot();
    const [p0] = pages(mem) as [number];
    let err: unknown = null;
    mapWith(mm, 2 * P, RW, SH, (v) => {
      expect(mm.remapPfnRange(v, v.vmStart + P, p0, P)).toBe(0);
      try {
        mm.remapPfnRange(v, v.vmStart, p0, 2 * P);
      } catch (e) {
        err = e;
      }
      return 0;
    });
    expect(String(err)).toMatch(/a PTE already exists/);
    expect(mm.pgd.getPte(A)).toBe(0);
    expect(mm.pgd.getPte(A + P)).not.toBe(0);
    mm.exit();
  });
});

describe("vmfInsertPfn", () => {
  function pfnmapWorld(prot = RW, extraFlags = VM_PFNMAP | VM_IO) {
    const { mem, mm, mmu } = boot();
    const [p0, p1] = pages(mem) as [number, number];
    const answers: number[] = [];
    mm.mmap(
      A,
      2 * P,
      prot,
      SH,
      fakeFile({
        mmap: (vma) => {
          vma.vmFlags |= extraFlags;
          vma.vmOps = {
            fault: (vmf) => {
              const r = mm.vmfInsertPfn(vmf.vma, vmf.address, vmf.pgoff === 0 ? p0 : p1);
              answers.push(r);
              return r;
            },
          };
          return 0;
        },
      }),
      0,
    );
    return { mem, mm, mmu, answers, p0, p1 };
  }

  it("installs one special PTE per fault: VM_FAULT_NOPAGE, no reference, writable in a shared writable VMA", () => {
    const { mem, mm, mmu, answers, p1 } = pfnmapWorld();
    expect(mmu.load8(A + P + 3)).toBe(0x22);
    expect(answers).toEqual([VM_FAULT_NOPAGE]);
    expect(mem.refcount[p1]).toBe(1);
    expect(pteFlags(mm.pgd.getPte(A + P)) & _PAGE_RW).toBe(_PAGE_RW);
    expect(mm.pgd.getPte(A)).toBe(0);
    mm.exit();
  });

  it("read-only in a read-only VMA", () => {
    const { mm, mmu } = pfnmapWorld(PROT_READ);
    expect(mmu.load8(A)).toBe(0x11);
    expect(pteFlags(mm.pgd.getPte(A)) & _PAGE_RW).toBe(0);
    mm.exit();
  });

  it("an address outside the VMA is VM_FAULT_SIGBUS; an existing PTE is left alone (VM_FAULT_NOPAGE)", () => {
    const { mem, mm, mmu, p0, p1 } = pfnmapWorld();
    mmu.load8(A);
    let vma: Vma | null = null;
    for (const v of mm) vma = v;
    expect(mm.vmfInsertPfn(vma!, A - P, p0)).toBe(VM_FAULT_SIGBUS);
    expect(mm.vmfInsertPfn(vma!, A + 2 * P, p0)).toBe(VM_FAULT_SIGBUS);
    expect(mm.vmfInsertPfn(vma!, A + 5, p1)).toBe(VM_FAULT_NOPAGE);
    expect(mmu.load8(A)).toBe(0x11); // still p0
    expect(mem.refcount[p0]).toBe(1);
    mm.exit();
  });

  it("a VMA with neither VM_PFNMAP nor VM_MIXEDMAP, or both, is a kernel BUG", () => {
    for (const flags of [0, VM_PFNMAP | VM_MIXEDMAP]) {
      const { mm, mmu } = pfnmapWorld(RW, flags);
      expect(() => mmu.load8(A)).toThrow(/exactly one of VM_PFNMAP and VM_MIXEDMAP/);
      mm.exit();
    }
  });
});

describe("vmInsertPage", () => {
  it("maps a driver's page with a reference, sets VM_MIXEDMAP; -EFAULT outside the VMA, -EBUSY on a PTE", () => {
    const { mem, mm, mmu } = boot();
    const [p0, p1] = pages(mem) as [number, number];
    const rs: number[] = [];
    const { vma } = mapWith(mm, 2 * P, RW, SH, (v) => {
      rs.push(mm.vmInsertPage(v, v.vmStart, mem.pfnToPage(p0)));
      rs.push(mm.vmInsertPage(v, v.vmStart + 5, mem.pfnToPage(p1)));
      rs.push(mm.vmInsertPage(v, v.vmEnd, mem.pfnToPage(p1)));
      rs.push(mm.vmInsertPage(v, v.vmStart - 1, mem.pfnToPage(p1)));
      return 0;
    });
    expect(rs).toEqual([0, -EBUSY, -EFAULT, -EFAULT]);
    expect(vma!.vmFlags & VM_MIXEDMAP).toBe(VM_MIXEDMAP);
    expect(mem.refcount[p0]).toBe(2);
    expect(mem.mapcount[p0]).toBe(1);
    expect(mmu.load8(A)).toBe(0x11);
    expect(pteFlags(mm.pgd.getPte(A)) & _PAGE_RW).toBe(_PAGE_RW);
    mm.checkInvariants();
    mm.exit();
    expect(mem.refcount[p0]).toBe(1);
  });

  it("an anonymous page is -EINVAL; a VM_PFNMAP VMA is a kernel BUG", () => {
    const { mem, mm, mmu } = boot();
    mm.mmap(A + 8 * P, P, RW, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, null, 0);
    mmu.store8(A + 8 * P, 1);
    const anon = mm.pgd.getPte(A + 8 * P);
    expect(anon).not.toBe(0);
    const anonPfn = ptePfn(anon);
    let r = 0;
    mapWith(mm, P, RW, SH, (v) => {
      r = mm.vmInsertPage(v, v.vmStart, mem.pfnToPage(anonPfn));
      return 0;
    });
    expect(r).toBe(-EINVAL);
    const [p0] = pages(mem) as [number];
    let err: unknown = null;
    mm.mmap(
      A + 16 * P,
      P,
      RW,
      SH,
      fakeFile({
        mmap: (v) => {
          v.vmFlags |= VM_PFNMAP;
          try {
            mm.vmInsertPage(v, v.vmStart, mem.pfnToPage(p0));
          } catch (e) {
            err = e;
          }
          return 0;
        },
      }),
      0,
    );
    expect(String(err)).toMatch(/VM_PFNMAP VMA/);
    mm.exit();
  });
});

describe("zapVmaPtes", () => {
  it("takes the PTEs of the range back: the next access faults again", () => {
    const { mem, mm, mmu } = boot();
    const [p0] = pages(mem) as [number];
    const faults: number[] = [];
    const { vma } = mapWith(mm, 2 * P, RW, SH, (v) => {
      v.vmFlags |= VM_PFNMAP | VM_IO;
      v.vmOps = {
        fault: (vmf) => {
          faults.push(vmf.pgoff);
          return mm.vmfInsertPfn(vmf.vma, vmf.address, p0 + vmf.pgoff);
        },
      };
      return 0;
    });
    mmu.load8(A);
    mmu.load8(A + P);
    mm.zapVmaPtes(vma!, A + P, P);
    expect(mm.pgd.getPte(A)).not.toBe(0);
    expect(mm.pgd.getPte(A + P)).toBe(0);
    expect(mmu.load8(A + P)).toBe(0x22);
    expect(mmu.load8(A)).toBe(0x11);
    expect(faults).toEqual([0, 1, 1]);
    mm.exit();
  });
});

describe("addresses inside a page, bounds and permissions", () => {
  it("vmInsertPage maps the page that holds an unaligned address; a private or read-only VMA gets no write permission", () => {
    const { mem, mm, mmu } = boot();
    const [, p1] = pages(mem) as [number, number];
    const rs: number[] = [];
    mapWith(mm, 2 * P, RW, SH, (v) => {
      rs.push(mm.vmInsertPage(v, v.vmStart + 2 * P - 1, mem.pfnToPage(p1)));
      return 0;
    });
    expect(rs).toEqual([0]);
    expect(mmu.load8(A + P)).toBe(0x22);
    expect(mm.pgd.getPte(A)).toBe(0);
    mm.exit();

    const b = boot();
    const [q0, q1] = pages(b.mem) as [number, number];
    const ro = mapWith(b.mm, P, PROT_READ, SH, (v) => b.mm.vmInsertPage(v, v.vmStart, b.mem.pfnToPage(q0)));
    expect(ro.r).toBe(A);
    expect(pteFlags(b.mm.pgd.getPte(A)) & _PAGE_RW).toBe(0);
    b.mm.exit();
    const c = boot();
    const priv = mapWith(c.mm, P, RW, MAP_PRIVATE | MAP_FIXED, (v) =>
      c.mm.vmInsertPage(v, v.vmStart, c.mem.pfnToPage(c.mem.allocPfn(0))),
    );
    expect(priv.r).toBe(A);
    expect(pteFlags(c.mm.pgd.getPte(A)) & _PAGE_RW).toBe(0);
    c.mm.exit();
    expect(q1).toBe(q0 + 1);
  });

  it("vmfInsertPfn outside a fault, where no page table exists yet, still maps the page that holds the address", () => {
    const { mem, mm, mmu } = boot();
    const [, p1] = pages(mem) as [number, number];
    const { vma } = mapWith(mm, 2 * P, RW, SH, (v) => {
      v.vmFlags |= VM_PFNMAP | VM_IO;
      return 0;
    });
    expect(mm.vmfInsertPfn(vma!, A + 2 * P - 1, p1)).toBe(VM_FAULT_NOPAGE);
    expect(mm.pgd.getPte(A)).toBe(0);
    expect(mmu.load8(A + P)).toBe(0x22);
    mm.exit();
  });

  it("a private remap not starting at the VMA's start is -EINVAL too (returned as such)", () => {
    const { mem, mm } = boot();
    const [p0] = pages(mem) as [number];
    let r = 0;
    mapWith(mm, 2 * P, RW, MAP_PRIVATE | MAP_FIXED, (v) => {
      r = mm.remapPfnRange(v, v.vmStart + P, p0, P);
      return 0;
    });
    expect(r).toBe(-EINVAL);
    expect(mm.pgd.getPte(A + P)).toBe(0);
    mm.exit();
  });

  it("zapVmaPtes ignores a VMA that is not VM_PFNMAP and a range not inside the VMA", () => {
    const { mem, mm, mmu } = boot();
    const [p0] = pages(mem) as [number];
    const { vma } = mapWith(mm, 2 * P, RW, SH, (v) => mm.remapPfnRange(v, v.vmStart, p0, 2 * P));
    for (const [addr, size] of [
      [A - P, 2 * P],
      [A + P, 2 * P],
    ] as const) {
      mm.zapVmaPtes(vma!, addr, size);
      expect([mm.pgd.getPte(A), mm.pgd.getPte(A + P)].every((pte) => pte !== 0)).toBe(true);
    }
    const flags = vma!.vmFlags;
    vma!.vmFlags &= ~VM_PFNMAP;
    mm.zapVmaPtes(vma!, A, P);
    expect(mm.pgd.getPte(A)).not.toBe(0);
    vma!.vmFlags = flags;
    mm.zapVmaPtes(vma!, A, P);
    expect(mm.pgd.getPte(A)).toBe(0);
    expect(mmu.load8(A + P)).toBe(0x22);
    mm.exit();
  });
});
