// The fault path through a driver's vm_ops, as mm sees it (no kernel package): do_fault →
// __do_fault (->fault, or 2.6's ->nopage), do_read_fault / do_shared_fault (->page_mkwrite) /
// do_cow_fault, then do_wp_page on a present read-only PTE (->pfn_mkwrite, ->page_mkwrite, the COW
// copy of a driver's page), and the out-of-memory ends of the anonymous and COW faults. Every test
// checks what the process reads, the signal it gets, the fault counters and the page references.
import type { PhysMemory } from "@faultline/phys";
import { describe, expect, it } from "vitest";
import {
  A,
  at,
  auditEachTest,
  check,
  forkOf,
  P,
  PRIV,
  pfnAt,
  RW,
  setup,
  signalOf,
  world,
} from "../test/fault-world";
import { fakeFile } from "../test/syscall-tables";
import {
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_RW,
  type Era,
  FAULT_FLAG_MKWRITE,
  FAULT_FLAG_USER,
  FAULT_FLAG_WRITE,
  FAULT_OK,
  FAULT_OOM,
  FAULT_SEGV_MAPERR,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  Mm,
  Mmu,
  NOPAGE_OOM,
  NOPAGE_SIGBUS,
  PROT_READ,
  pteFlags,
  VM_FAULT_MAJOR,
  VM_FAULT_NOPAGE,
  VM_FAULT_OOM,
  VM_FAULT_SIGBUS,
  VM_IO,
  VM_PFNMAP,
  type Vma,
  type VmFault,
  type VmOperations,
} from "./index";
import { ramOnly } from "./phys-access";

auditEachTest();

const SH = MAP_SHARED | MAP_FIXED;
const PV = MAP_PRIVATE | MAP_FIXED;

/** What a driver's callbacks saw. */
interface Seen {
  mkwrite: { flags: number; pfn: number | null; pgoff: number }[];
}

/** Two driver pages filled with 0xa0 + index, referenced once by the driver. */
function driverPages(mem: PhysMemory, n = 2): number[] {
  const pfns: number[] = [];
  for (let i = 0; i < n; i++) {
    const pfn = mem.allocPfn(0);
    mem.frameBytes(pfn).fill(0xa0 + i);
    pfns.push(pfn);
  }
  return pfns;
}

/** A ->fault that hands out pfns[pgoff] with a reference, then answers `ret`. */
function faultOps(mem: PhysMemory, pfns: number[], ret = 0, extra: VmOperations = {}): VmOperations {
  return {
    fault: (vmf) => {
      const pfn = pfns[vmf.pgoff]!;
      mem.getPage(pfn);
      vmf.page = mem.pfnToPage(pfn);
      return ret;
    },
    ...extra,
  };
}

const fileWith = (ops: VmOperations, flags = 0) =>
  fakeFile({
    mmap: (vma) => {
      vma.vmOps = ops;
      vma.vmFlags |= flags;
      return 0;
    },
  });

/** The driver drops its own references (the world audit wants every frame back). */
const release = (mem: PhysMemory, pfns: number[]) => {
  for (const pfn of pfns) mem.putPage(pfn);
};

/**
 * setup() with the driver's pages (driverPages): after the test the driver drops its references, then
 * the world audit unmaps everything (exit) and checks that every frame came back.
 */
function driverWorld(n = 2) {
  const w = setup();
  const pfns = driverPages(w.mem, n);
  world!.teardown.push(() => release(w.mem, pfns));
  return { ...w, pfns };
}

describe("->fault on a shared mapping", () => {
  it("a read maps the driver's page writable at once when the driver wants no write notification", () => {
    const { mem, mm, mmu, pfns } = driverWorld();
    expect(mm.mmap(A, 2 * P, RW, SH, fileWith(faultOps(mem, pfns)), 0)).toBe(A);
    expect(mmu.load8(at(1))).toBe(0xa1);
    expect(pfnAt(mm, at(1))).toBe(pfns[1]);
    expect(pteFlags(mm.pgd.getPte(at(1))) & (_PAGE_RW | _PAGE_DIRTY)).toBe(_PAGE_RW);
    expect(mem.refcount[pfns[1]!]).toBe(2);
    expect([mm.minflt, mm.majflt]).toEqual([1, 0]);
    // The write goes straight to the driver's page: no second fault.
    mmu.store8(at(1), 7);
    expect(mm.minflt).toBe(1);
    expect(mem.frameBytes(pfns[1]!)[0]).toBe(7);
    mm.munmap(A, 2 * P);
    expect(mem.refcount[pfns[1]!]).toBe(1);
  });

  it("a read-only shared mapping maps the page read-only", () => {
    const { mem, mm, mmu, pfns } = driverWorld();
    mm.mmap(A, 2 * P, PROT_READ, SH, fileWith(faultOps(mem, pfns)), 0);
    expect(mmu.load8(at(0))).toBe(0xa0);
    expect(pteFlags(mm.pgd.getPte(at(0))) & _PAGE_RW).toBe(0);
  });

  it("a write fault asks ->page_mkwrite first, with the page and WRITE|MKWRITE|USER; then maps it writable and dirty", () => {
    const { mem, mm, mmu, pfns } = driverWorld();
    const seen: Seen = { mkwrite: [] };
    const ops = faultOps(mem, pfns, 0, {
      pageMkwrite: (vmf: VmFault) => {
        seen.mkwrite.push({ flags: vmf.flags, pfn: vmf.page?.pfn ?? null, pgoff: vmf.pgoff });
        return 0;
      },
    });
    mm.mmap(A, 2 * P, RW, SH, fileWith(ops), 0);
    mmu.store8(at(1, 5), 9);
    expect(seen.mkwrite).toEqual([
      { flags: FAULT_FLAG_WRITE | FAULT_FLAG_MKWRITE | FAULT_FLAG_USER, pfn: pfns[1], pgoff: 1 },
    ]);
    expect(pteFlags(mm.pgd.getPte(at(1))) & (_PAGE_RW | _PAGE_DIRTY)).toBe(_PAGE_RW | _PAGE_DIRTY);
    expect(mem.frameBytes(pfns[1]!)[5]).toBe(9);
    // A read fault with write notification maps read-only; the first write asks again (do_wp_page).
    expect(mmu.load8(at(0))).toBe(0xa0);
    expect(pteFlags(mm.pgd.getPte(at(0))) & _PAGE_RW).toBe(0);
    mmu.store8(at(0), 3);
    expect(seen.mkwrite.map((s) => [s.pfn, s.pgoff])).toEqual([
      [pfns[1], 1],
      [pfns[0], 0],
    ]);
    expect(pteFlags(mm.pgd.getPte(at(0))) & (_PAGE_RW | _PAGE_DIRTY)).toBe(_PAGE_RW | _PAGE_DIRTY);
    expect(mem.frameBytes(pfns[0]!)[0]).toBe(3);
  });

  it("->page_mkwrite refusing: SIGBUS, nothing mapped, the page's reference dropped", () => {
    const { mem, mm, mmu, pfns } = driverWorld();
    const ops = faultOps(mem, pfns, 0, { pageMkwrite: () => VM_FAULT_SIGBUS });
    mm.mmap(A, 2 * P, RW, SH, fileWith(ops), 0);
    expect(signalOf(() => mmu.store8(at(1), 1))?.signal).toBe("SIGBUS");
    expect(mm.pgd.getPte(at(1))).toBe(0);
    expect(mem.refcount[pfns[1]!]).toBe(1);
    expect(mem.frameBytes(pfns[1]!)[0]).toBe(0xa1);
    // On a present read-only PTE (do_wp_page) too: the PTE stays read-only, the byte unwritten.
    mmu.load8(at(0));
    expect(signalOf(() => mmu.store8(at(0), 1))?.signal).toBe("SIGBUS");
    expect(pteFlags(mm.pgd.getPte(at(0))) & _PAGE_RW).toBe(0);
    expect(mem.frameBytes(pfns[0]!)[0]).toBe(0xa0);
  });

  it("->page_mkwrite answering VM_FAULT_NOPAGE on a present PTE leaves it read-only (the access is retried)", () => {
    const { mem, mm, pfns } = driverWorld();
    let calls = 0;
    const ops = faultOps(mem, pfns, 0, {
      pageMkwrite: () => {
        calls++;
        return VM_FAULT_NOPAGE;
      },
    });
    mm.mmap(A, 2 * P, RW, SH, fileWith(ops), 0);
    expect(mm.handleFault(at(0), false)).toBe(FAULT_OK);
    expect(mm.handleFault(at(0), true)).toBe(FAULT_OK);
    expect(calls).toBe(1);
    expect(pteFlags(mm.pgd.getPte(at(0))) & _PAGE_RW).toBe(0);
  });
});

describe("->fault answers", () => {
  it("an error with a page set: the page's reference is dropped and the access gets SIGBUS", () => {
    const { mem, mm, mmu, pfns } = driverWorld();
    mm.mmap(A, 2 * P, RW, SH, fileWith(faultOps(mem, pfns, VM_FAULT_SIGBUS)), 0);
    expect(signalOf(() => mmu.load8(at(0)))?.signal).toBe("SIGBUS");
    expect(mem.refcount[pfns[0]!]).toBe(1);
    expect(mm.pgd.getPte(at(0))).toBe(0);
    expect([mm.minflt, mm.majflt]).toEqual([0, 0]);
  });

  it("VM_FAULT_OOM: the fault ends out of memory", () => {
    const { mem, mm, pfns } = driverWorld();
    mm.mmap(A, 2 * P, RW, SH, fileWith(faultOps(mem, pfns, VM_FAULT_OOM)), 0);
    expect(mm.handleFault(at(0), false)).toBe(FAULT_OOM);
    expect(mem.refcount[pfns[0]!]).toBe(1);
  });

  it("no page and no error: SIGBUS", () => {
    const { mm, mmu } = setup();
    mm.mmap(A, P, RW, SH, fileWith({ fault: () => 0 }), 0);
    expect(signalOf(() => mmu.load8(at(0)))?.signal).toBe("SIGBUS");
    expect(mm.pgd.getPte(at(0))).toBe(0);
    mm.munmap(A, P);
    check();
  });

  it("VM_FAULT_MAJOR is counted as a major fault, not a minor one", () => {
    const { mem, mm, mmu, pfns } = driverWorld();
    mm.mmap(A, 2 * P, RW, SH, fileWith(faultOps(mem, pfns, VM_FAULT_MAJOR)), 0);
    expect(mmu.load8(at(1))).toBe(0xa1);
    expect([mm.minflt, mm.majflt]).toEqual([0, 1]);
    expect(mem.refcount[pfns[1]!]).toBe(2);
  });

  it("VM_FAULT_NOPAGE: the driver installed the PTE itself (vmf_insert_pfn) and nothing else is mapped", () => {
    const { mem, mm, mmu, pfns } = driverWorld();
    let vma: Vma | null = null;
    const ops: VmOperations = {
      fault: (vmf) => {
        vma = vmf.vma;
        return mm.vmfInsertPfn(vmf.vma, vmf.address, pfns[vmf.pgoff]!);
      },
    };
    mm.mmap(A, 2 * P, RW, SH, fileWith(ops, VM_PFNMAP | VM_IO), 0);
    expect(mmu.load8(at(1))).toBe(0xa1);
    expect(vma).not.toBeNull();
    expect(pfnAt(mm, at(1))).toBe(pfns[1]);
    expect(mem.refcount[pfns[1]!]).toBe(1); // a special PTE: no reference
    expect(mm.minflt).toBe(1);
  });

  it("a handler that installed a PTE and also returned a page: the extra page is dropped", () => {
    const { mem, mm, mmu, pfns } = driverWorld();
    const ops: VmOperations = {
      fault: (vmf) => {
        mm.vmfInsertPfn(vmf.vma, vmf.address, pfns[0]!);
        mem.getPage(pfns[1]!);
        vmf.page = mem.pfnToPage(pfns[1]!);
        return 0;
      },
    };
    mm.mmap(A, P, RW, SH, fileWith(ops, VM_PFNMAP | VM_IO), 0);
    expect(mmu.load8(at(0))).toBe(0xa0);
    expect(mem.refcount[pfns[1]!]).toBe(1);
  });
});

describe("->nopage (2.6.10) answers", () => {
  function nopageWorld(
    answer: (pfns: number[]) => ReturnType<NonNullable<VmOperations["nopage"]>>,
    type = 0,
  ) {
    // Several worlds in one test: each gives its pages back itself before the next replaces it.
    const { mem, mm, mmu } = setup();
    const pfns = driverPages(mem);
    mm.mmap(
      A,
      2 * P,
      RW,
      SH,
      fileWith({
        nopage: (_vma, _addr, t) => {
          if (t) t.value = type;
          return answer(pfns);
        },
      }),
      0,
    );
    return { mem, mm, mmu, pfns };
  }

  it("a page: mapped, a minor fault; VM_FAULT_MAJOR's type 3: a major one", () => {
    for (const [type, counts] of [
      [0, [1, 0]],
      [3, [0, 1]],
    ] as const) {
      const { mem, mm, mmu, pfns } = nopageWorld((p) => {
        mem.getPage(p[0]!);
        return mem.pfnToPage(p[0]!);
      }, type);
      expect(mmu.load8(at(0))).toBe(0xa0);
      expect([mm.minflt, mm.majflt]).toEqual(counts);
      mm.munmap(A, 2 * P);
      release(mem, pfns);
      check();
    }
  });

  it("NOPAGE_OOM: out of memory; NOPAGE_SIGBUS: SIGBUS", () => {
    const a = nopageWorld(() => NOPAGE_OOM);
    expect(a.mm.handleFault(at(0), false)).toBe(FAULT_OOM);
    a.mm.munmap(A, 2 * P);
    release(a.mem, a.pfns);
    check();
    const b = nopageWorld(() => NOPAGE_SIGBUS);
    expect(signalOf(() => b.mmu.load8(at(0)))?.signal).toBe("SIGBUS");
    b.mm.munmap(A, 2 * P);
    release(b.mem, b.pfns);
    check();
  });
});

describe("no ->fault and no ->nopage", () => {
  function noHandler(era: Era) {
    const { mem } = setup();
    const mm = new Mm(ramOnly(mem), { era });
    const mmu = Mmu.forMm(mm);
    world!.procs.push({ mm, mmu });
    mm.mmap(A, P, RW, SH, fileWith({}), 0);
    return { mm, mmu };
  }

  it("today: SIGBUS", () => {
    const { mm, mmu } = noHandler("modern");
    expect(signalOf(() => mmu.load8(at(0)))?.signal).toBe("SIGBUS");
    mm.munmap(A, P);
    check();
  });

  it("2.6.10: an anonymous page (do_no_page fell back to do_anonymous_page)", () => {
    const { mm, mmu } = noHandler("2.6.10");
    mmu.store8(at(0, 3), 4);
    expect(mmu.load8(at(0, 3))).toBe(4);
    expect(mmu.load8(at(0, 2))).toBe(0);
    mm.munmap(A, P);
    check();
  });
});

describe("private driver mappings: COW of the driver's page", () => {
  it("a write fault copies the driver's page (do_cow_fault); the driver's page is untouched and its reference back", () => {
    const { mem, mm, mmu, pfns } = driverWorld();
    mm.mmap(A, 2 * P, RW, PV, fileWith(faultOps(mem, pfns)), 0);
    mmu.store8(at(1, 1), 0x55);
    const copy = pfnAt(mm, at(1));
    expect(copy).not.toBe(pfns[1]);
    expect(mmu.load8(at(1, 0))).toBe(0xa1);
    expect(mmu.load8(at(1, 1))).toBe(0x55);
    expect(mmu.load8(at(1, P - 1))).toBe(0xa1);
    expect(mem.frameBytes(pfns[1]!)[1]).toBe(0xa1);
    expect(mem.refcount[pfns[1]!]).toBe(1);
    expect(mem.refcount[copy]).toBe(1);
    expect(pteFlags(mm.pgd.getPte(at(1))) & (_PAGE_RW | _PAGE_DIRTY)).toBe(_PAGE_RW | _PAGE_DIRTY);
    expect(mm.minflt).toBe(1);
  });

  it("a read maps the driver's page read-only; the first write copies it (do_wp_page on a page that is not anon)", () => {
    const { mem, mm, mmu, pfns } = driverWorld();
    mm.mmap(A, 2 * P, RW, PV, fileWith(faultOps(mem, pfns)), 0);
    expect(mmu.load8(at(0, 9))).toBe(0xa0);
    expect(pfnAt(mm, at(0))).toBe(pfns[0]);
    expect(pteFlags(mm.pgd.getPte(at(0))) & _PAGE_RW).toBe(0);
    expect(mem.refcount[pfns[0]!]).toBe(2);
    expect(mem.mapcount[pfns[0]!]).toBe(1);
    mmu.store8(at(0, 9), 1);
    const copy = pfnAt(mm, at(0));
    expect(copy).not.toBe(pfns[0]);
    expect(mmu.load8(at(0, 8))).toBe(0xa0);
    expect(mmu.load8(at(0, 9))).toBe(1);
    expect(mem.frameBytes(pfns[0]!)[9]).toBe(0xa0);
    expect(mem.refcount[pfns[0]!]).toBe(1);
    expect(mem.mapcount[pfns[0]!]).toBe(0);
  });

  it("->fault's error on a write fault: no copy, the reference dropped, SIGBUS", () => {
    const { mem, mm, mmu, pfns } = driverWorld();
    mm.mmap(A, 2 * P, RW, PV, fileWith(faultOps(mem, pfns, VM_FAULT_SIGBUS)), 0);
    expect(signalOf(() => mmu.store8(at(0), 1))?.signal).toBe("SIGBUS");
    expect(mem.refcount[pfns[0]!]).toBe(1);
    expect(mm.pgd.getPte(at(0))).toBe(0);
    expect(mm.rssAnon).toBe(0);
  });

  it("a major fault that copies counts as major", () => {
    const { mem, mm, mmu, pfns } = driverWorld();
    mm.mmap(A, 2 * P, RW, PV, fileWith(faultOps(mem, pfns, VM_FAULT_MAJOR)), 0);
    mmu.store8(at(0), 1);
    expect([mm.minflt, mm.majflt]).toEqual([0, 1]);
  });
});

/** Takes every free frame; returns them for giving back. */
function exhaust(mem: PhysMemory): number[] {
  const taken: number[] = [];
  for (let pfn = mem.allocPfn(0); pfn >= 0; pfn = mem.allocPfn(0)) taken.push(pfn);
  return taken;
}

describe("out of memory", () => {
  it("an anonymous write fault with no free frame: FAULT_OOM, nothing mapped", () => {
    const { mem, mm } = setup();
    mm.mmap(A, P, RW, PRIV, null, 0);
    mm.handleFault(at(0), false); // the zero page; the page table exists
    const taken = exhaust(mem);
    expect(mm.handleFault(at(0), true)).toBe(FAULT_OOM);
    expect(pfnAt(mm, at(0))).toBe(mem.zeroPfn);
    for (const pfn of taken) mem.putPage(pfn);
    expect(mm.handleFault(at(0), true)).toBe(FAULT_OK);
    mm.munmap(A, P);
    check();
  });

  it("a COW break with no free frame: FAULT_OOM, the shared page still mapped read-only with its data", () => {
    const { mem, mm, mmu } = setup();
    mm.mmap(A, P, RW, PRIV, null, 0);
    mmu.store32(A, 0x1234);
    const pfn = pfnAt(mm, A);
    const child = forkOf(mm);
    const taken = exhaust(mem);
    expect(child.mm.handleFault(A, true)).toBe(FAULT_OOM);
    expect(pfnAt(child.mm, A)).toBe(pfn);
    expect(pteFlags(child.mm.pgd.getPte(A)) & _PAGE_RW).toBe(0);
    expect(mem.refcount[pfn]).toBe(2);
    expect(mem.mapcount[pfn]).toBe(2);
    expect(child.mmu.load32(A)).toBe(0x1234);
    for (const p of taken) mem.putPage(p);
    child.mmu.store32(A, 0x5678);
    expect(mmu.load32(A)).toBe(0x1234);
    expect(child.mmu.load32(A)).toBe(0x5678);
    check();
  });
});

describe("handle_mm_fault's own checks", () => {
  it("addresses outside user space and a dead mm are SEGV_MAPERR", () => {
    const { mm } = setup();
    mm.mmap(A, P, RW, PRIV, null, 0);
    expect(mm.handleFault(-P, false)).toBe(FAULT_SEGV_MAPERR);
    expect(mm.handleFault(2 ** 47, false)).toBe(FAULT_SEGV_MAPERR);
    expect(mm.handleFault(at(0), false)).toBe(FAULT_OK);
    mm.exit();
    world!.procs.pop();
    expect(mm.handleFault(at(0), false)).toBe(FAULT_SEGV_MAPERR);
  });

  it("a spurious fault on a present PTE only marks it young (and dirty for a write), as the CPU would", () => {
    const { mm, mmu } = setup();
    mm.mmap(A, P, RW, PRIV, null, 0);
    mmu.store8(at(0), 1);
    const slot = mm.pgd.pteSlot(at(0), false);
    mm.pgd.setPte(slot, mm.pgd.getPte(at(0)) & ~(_PAGE_ACCESSED | _PAGE_DIRTY));
    expect(mm.handleFault(at(0), false)).toBe(FAULT_OK);
    expect(pteFlags(mm.pgd.getPte(at(0))) & (_PAGE_ACCESSED | _PAGE_DIRTY)).toBe(_PAGE_ACCESSED);
    expect(mm.handleFault(at(0), true)).toBe(FAULT_OK);
    expect(pteFlags(mm.pgd.getPte(at(0))) & (_PAGE_ACCESSED | _PAGE_DIRTY)).toBe(
      _PAGE_ACCESSED | _PAGE_DIRTY,
    );
    mm.munmap(A, P);
    check();
  });
});

describe("new and copied pages never show what memory held before", () => {
  /** Fills every free frame with 0x77 (memory that was used and freed), then frees them again. */
  function dirtyFreeMemory(mem: PhysMemory): void {
    const taken = exhaust(mem);
    for (const pfn of taken) mem.frameBytes(pfn).fill(0x77);
    for (const pfn of taken) mem.putPage(pfn);
  }

  it("a write fault's fresh page is zeroed", () => {
    const { mem, mm, mmu } = setup();
    mm.mmap(A, P, RW, PRIV, null, 0);
    dirtyFreeMemory(mem);
    mmu.store8(at(0, 5), 1);
    const bytes = mem.frameBytes(pfnAt(mm, A));
    expect(bytes.filter((b) => b !== 0).length).toBe(1);
    mm.munmap(A, P);
    check();
  });

  it("the COW break of the zero page gives a zeroed page, not a copy of another frame", () => {
    const { mem, mm, mmu } = setup();
    mm.mmap(A, P, RW, PRIV, null, 0);
    expect(mmu.load8(at(0))).toBe(0);
    expect(pfnAt(mm, A)).toBe(mem.zeroPfn);
    dirtyFreeMemory(mem);
    mmu.store8(at(0, 5), 1);
    const bytes = mem.frameBytes(pfnAt(mm, A));
    expect(bytes.filter((b) => b !== 0).length).toBe(1);
    mm.munmap(A, P);
    check();
  });
});

describe("other threads of the mm see a COW break at once (TLB shootdown)", () => {
  it("a copy: the other thread reads the writer's new page, not the old one", () => {
    const { mm, mmu } = setup();
    const thread = Mmu.forMm(mm);
    mm.mmap(A, P, RW, PRIV, null, 0);
    mmu.store32(A, 1);
    const child = forkOf(mm);
    expect(thread.load32(A)).toBe(1); // the shared page, now in the thread's TLB
    mmu.store32(A, 2); // COW copy for the parent
    expect(thread.load32(A)).toBe(2);
    expect(child.mmu.load32(A)).toBe(1);
    mm.tlbClients.delete(thread);
    check();
  });

  it("a reuse in place: the other thread's next write needs no fault", () => {
    const { mm, mmu } = setup();
    const thread = Mmu.forMm(mm);
    mm.mmap(A, P, RW, PRIV, null, 0);
    mmu.store32(A, 1);
    const child = forkOf(mm);
    child.mm.exit();
    world!.procs.pop();
    expect(thread.load32(A)).toBe(1); // read-only in the thread's TLB
    mmu.store32(A, 2); // reused: made writable in place
    const faults = mm.minflt;
    thread.store32(A, 3);
    expect(mm.minflt).toBe(faults);
    expect(mmu.load32(A)).toBe(3);
    mm.tlbClients.delete(thread);
    check();
  });

  it("a shared mapping made writable by ->page_mkwrite: the other thread's next write needs no fault", () => {
    const { mem, mm, mmu, pfns } = driverWorld();
    const thread = Mmu.forMm(mm);
    mm.mmap(A, 2 * P, RW, SH, fileWith(faultOps(mem, pfns, 0, { pageMkwrite: () => 0 })), 0);
    expect(thread.load8(A)).toBe(0xa0);
    mmu.store8(A, 1);
    const faults = mm.minflt;
    thread.store8(A, 2);
    expect(mm.minflt).toBe(faults);
    expect(mem.frameBytes(pfns[0]!)[0]).toBe(2);
    mm.munmap(A, 2 * P);
    mm.tlbClients.delete(thread);
  });
});

describe("->pfn_mkwrite (a shared VM_PFNMAP mapping that wants write notification)", () => {
  it("the first write to a read-only pfn PTE asks ->pfn_mkwrite (no page); 0 makes it writable, an error is SIGBUS", () => {
    const { mem, mm, mmu, pfns } = driverWorld();
    const seen: (number | null)[] = [];
    let answer = VM_FAULT_SIGBUS;
    const ops: VmOperations = {
      fault: (vmf) => mm.vmfInsertPfn(vmf.vma, vmf.address, pfns[vmf.pgoff]!),
      pfnMkwrite: (vmf) => {
        seen.push(vmf.page?.pfn ?? null);
        return answer;
      },
    };
    mm.mmap(A, 2 * P, RW, SH, fileWith(ops, VM_PFNMAP | VM_IO), 0);
    expect(mmu.load8(at(1))).toBe(0xa1);
    expect(pteFlags(mm.pgd.getPte(at(1))) & _PAGE_RW).toBe(0);
    expect(signalOf(() => mmu.store8(at(1), 5))?.signal).toBe("SIGBUS");
    expect(mem.frameBytes(pfns[1]!)[0]).toBe(0xa1);
    answer = 0;
    mmu.store8(at(1), 5);
    expect(mem.frameBytes(pfns[1]!)[0]).toBe(5);
    expect(seen).toEqual([null, null]);
    expect(pteFlags(mm.pgd.getPte(at(1))) & (_PAGE_RW | _PAGE_DIRTY)).toBe(_PAGE_RW | _PAGE_DIRTY);
  });
});
