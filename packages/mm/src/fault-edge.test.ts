// The fault path's less travelled ends (mm/memory.c), each checked for what the process sees:
// a page table that cannot be allocated, a spurious read fault on a COW-shared page, fresh and COW
// pages on a machine whose zero page is not pfn 1, COW copies of low RAM and of device memory (a
// private /dev/mem-style remap), drivers without vm_ops or without the mkwrite callback for the
// PTE's kind, ->fault answering VM_FAULT_NOPAGE, and which faults do fault-around.
import { PhysMemory } from "@faultline/phys";
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
} from "../test/fault-world";
import { fakeFile } from "../test/syscall-tables";
import {
  _PAGE_RW,
  type Era,
  FAULT_FLAG_USER,
  FAULT_FLAG_WRITE,
  FAULT_OK,
  FAULT_OOM,
  FAULT_SEGV_MAPERR,
  FAULT_SEGV_PKUERR,
  faultPkey,
  MADV_GUARD_INSTALL,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  Mm,
  Mmu,
  PKEY_DISABLE_ACCESS,
  PKEY_DISABLE_WRITE,
  PROT_READ,
  pteFlags,
  VM_FAULT_MAJOR,
  VM_FAULT_MINOR,
  VM_FAULT_NOPAGE,
  VM_IO,
  VM_PFNMAP,
  type VmOperations,
} from "./index";
import { type PhysAccess, ramOnly } from "./phys-access";
import { ShmemFile, ShmemInode } from "./shmem";

auditEachTest();

const SH = MAP_SHARED | MAP_FIXED;
const PV = MAP_PRIVATE | MAP_FIXED;

/** Takes every free frame; returns them for giving back. */
function exhaust(mem: PhysMemory): number[] {
  const taken: number[] = [];
  for (let pfn = mem.allocPfn(0); pfn >= 0; pfn = mem.allocPfn(0)) taken.push(pfn);
  return taken;
}

/** Fills every free frame with 0x77 (memory used and freed before), then frees them again. */
function dirtyFreeMemory(mem: PhysMemory): void {
  const taken = exhaust(mem);
  for (const pfn of taken) mem.frameBytes(pfn).fill(0x77);
  for (const pfn of taken) mem.putPage(pfn);
}

/** A machine of our own (not fault-world's): an mm over `phys`, audited by `done()`. */
function machine(
  phys: (mem: PhysMemory) => PhysAccess,
  ramBytes = 4 * 1024 * 1024,
  era: Era = "modern",
  pku = false,
) {
  const mem = PhysMemory.create({ ramBytes });
  const free = mem.nrFreePages;
  const mm = new Mm(phys(mem), { era, pku });
  const mmu = Mmu.forMm(mm);
  const done = () => {
    mm.checkInvariants();
    mm.exit();
    mem.checkInvariants();
    expect(mem.nrFreePages).toBe(free);
  };
  return { mem, mm, mmu, done };
}

/** A driver whose mmap installs `ops` (and ORs `flags` into vm_flags). */
const fileWith = (ops: VmOperations, flags = 0) =>
  fakeFile({
    mmap: (vma) => {
      vma.vmOps = ops;
      vma.vmFlags |= flags;
      return 0;
    },
  });

const nonZero = (b: Uint8Array) => b.filter((x) => x !== 0).length;

describe("page tables and spurious faults", () => {
  it("no frame for the page table: FAULT_OOM (__handle_mm_fault's pte_alloc), nothing mapped", () => {
    const { mem, mm } = setup();
    mm.mmap(A, P, RW, PRIV, null, 0);
    // No fault yet, so no page table below A: the fault needs one.
    const taken = exhaust(mem);
    expect(mm.handleFault(at(0), false)).toBe(FAULT_OOM);
    expect(mm.handleFault(at(0), true)).toBe(FAULT_OOM);
    expect(mm.rss).toBe(0);
    for (const pfn of taken) mem.putPage(pfn);
    expect(mm.handleFault(at(0), true)).toBe(FAULT_OK);
    expect(mm.rssAnon).toBe(1);
    check();
  });

  it("a read fault on a present read-only COW page only marks it young: no copy (handle_pte_fault)", () => {
    const { mem, mm, mmu } = setup();
    mm.mmap(A, P, RW, PRIV, null, 0);
    mmu.store32(A, 0x1234);
    const pfn = pfnAt(mm, A);
    const child = forkOf(mm);
    // The parent's PTE is now read-only; a read fault on it (a TLB refill, another thread) is spurious.
    expect(pteFlags(mm.pgd.getPte(A)) & _PAGE_RW).toBe(0);
    expect(mm.handleFault(A, false)).toBe(FAULT_OK);
    expect(pfnAt(mm, A)).toBe(pfn);
    expect(pteFlags(mm.pgd.getPte(A)) & _PAGE_RW).toBe(0);
    expect(mem.refcount[pfn]).toBe(2);
    expect(mem.mapcount[pfn]).toBe(2);
    expect(mm.rssAnon).toBe(1);
    expect(child.mmu.load32(A)).toBe(0x1234);
    check();
  });
});

describe("what access_error() and handle_pte_marker() refuse before any page is touched", () => {
  it("a protection key's PKRU rights: SEGV_PKUERR with the key for what they deny, nothing allocated", () => {
    const { mm, done } = machine(ramOnly, 4 * 1024 * 1024, "modern", true);
    expect(mm.mmap(A, 2 * P, RW, PRIV, null, 0)).toBe(A);
    const k = mm.pkeyAlloc(0, 0);
    expect(mm.pkeyMprotect(A, 2 * P, RW, k)).toBe(0);
    // Allowed by the key: faults as usual.
    expect(mm.handleFault(at(0), true)).toBe(FAULT_OK);
    expect(mm.pkeySet(k, PKEY_DISABLE_WRITE)).toBe(0);
    expect(mm.handleFault(at(1), false)).toBe(FAULT_OK);
    const w = mm.handleFault(at(0), true);
    expect(w & 0xff).toBe(FAULT_SEGV_PKUERR);
    expect(faultPkey(w)).toBe(k);
    expect(mm.pkeySet(k, PKEY_DISABLE_ACCESS)).toBe(0);
    expect(mm.handleFault(at(1), false)).toBe(FAULT_SEGV_PKUERR | (k << 8));
    expect(mm.rssAnon).toBe(1);
    done();
  });

  it("a guard marker (MADV_GUARD_INSTALL): SIGSEGV SEGV_MAPERR for reads and writes; the marker stays", () => {
    const { mm, mmu } = setup();
    mm.mmap(A, 2 * P, RW, PRIV, null, 0);
    mmu.store8(at(0), 1);
    expect(mm.madvise(A, P, MADV_GUARD_INSTALL)).toBe(0);
    const marker = mm.pgd.getPte(A);
    const minflt = mm.minflt;
    expect(mm.handleFault(at(0, 4), false)).toBe(FAULT_SEGV_MAPERR);
    expect(signalOf(() => mmu.store8(at(0, 4), 1))).toEqual({
      signal: "SIGSEGV",
      code: "SEGV_MAPERR",
      addr: at(0, 4),
    });
    expect(mm.pgd.getPte(A)).toBe(marker);
    expect(mm.minflt).toBe(minflt);
    expect(mm.rss).toBe(0);
    check();
  });
});

describe("fresh pages are zeroed whatever frame the zero page is", () => {
  // 2 MiB + 4 KiB of RAM: the unaligned tail is freed first, so the zero page is not pfn 1 and pfn 1
  // is an ordinary free frame (dirty here): a fresh page must not be a copy of any other frame.
  const odd = 2 * 1024 * 1024 + 4096;

  it("an anonymous write fault", () => {
    const { mem, mm, mmu, done } = machine(ramOnly, odd);
    expect(mem.zeroPfn).not.toBe(1);
    mm.mmap(A, P, RW, PRIV, null, 0);
    dirtyFreeMemory(mem);
    mmu.store8(at(0, 5), 1);
    expect(nonZero(mem.frameBytes(pfnAt(mm, A)))).toBe(1);
    done();
  });

  it("the COW break of the zero page (wp_page_copy with the zero pfn)", () => {
    const { mem, mm, mmu, done } = machine(ramOnly, odd);
    mm.mmap(A, P, RW, PRIV, null, 0);
    expect(mmu.load8(at(0, 5))).toBe(0);
    expect(pfnAt(mm, A)).toBe(mem.zeroPfn);
    dirtyFreeMemory(mem);
    mmu.store8(at(0, 5), 1);
    expect(pfnAt(mm, A)).not.toBe(mem.zeroPfn);
    expect(nonZero(mem.frameBytes(pfnAt(mm, A)))).toBe(1);
    done();
  });
});

describe("COW copies of memory without a struct page behind the PTE (a private remap_pfn_range)", () => {
  /** A driver whose mmap remaps `pfn` over the whole VMA (LDD3's simple_remap_mmap, /dev/mem). */
  const remapOf = (pfn: number) =>
    fakeFile({ mmap: (vma) => vma.vmMm.remapPfnRange(vma, vma.vmStart, pfn, vma.vmEnd - vma.vmStart) });

  it("of low RAM (pfn 0, the real-mode IVT): the copy holds the frame's bytes; the frame keeps them", () => {
    const { mem, mm, mmu, done } = machine(ramOnly);
    const ivt = mem.frameBytes(0);
    for (let i = 0; i < P; i++) ivt[i] = (i * 13 + 1) & 0xff;
    const before = ivt.slice();
    expect(mm.mmap(A, P, RW, PV, remapOf(0), 0)).toBe(A);
    expect(mmu.load8(at(0, 7))).toBe(before[7]);
    // wp_page_copy(): no struct page to reuse (vm_normal_page() is NULL), so a copy of the frame.
    mmu.store8(at(0, 7), 0);
    const copy = pfnAt(mm, A);
    expect(copy).not.toBe(0);
    const want = before.slice();
    want[7] = 0;
    expect(mem.frameBytes(copy)).toEqual(want);
    expect(mem.frameBytes(0)).toEqual(before);
    expect(mm.rssAnon).toBe(1);
    mem.frameBytes(0).fill(0);
    done();
  });

  it("of device memory (MMIO): the copy reads the device word by word, little-endian, the whole page", () => {
    const DEV = 0xfe000;
    const word = (paddr: number) => (0x9e3779b9 * ((paddr >>> 2) + 1)) >>> 0;
    const writes: number[] = [];
    const { mem, mm, mmu, done } = machine((m) => ({
      ...ramOnly(m),
      locatePage: (pfn) => (pfn >= DEV ? -1 : m.ramLocate(pfn)),
      physRead: (paddr, size) => {
        if (size !== 4 || paddr % 4 !== 0) throw new Error(`device read of ${size} at ${paddr}`);
        return paddr >= DEV * P && paddr < (DEV + 1) * P ? word(paddr) : 0xffffffff;
      },
      physWrite: (paddr) => {
        writes.push(paddr);
      },
    }));
    expect(mm.mmap(A, P, RW, PV, remapOf(DEV), 0)).toBe(A);
    expect(mmu.load32(at(0, 8))).toBe(word(DEV * P + 8));
    mmu.store8(at(0, 1), 0xee);
    const copy = pfnAt(mm, A);
    expect(copy).not.toBe(DEV);
    expect(writes).toEqual([]);
    const bytes = mem.frameBytes(copy);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, P);
    expect(bytes[1]).toBe(0xee);
    expect(bytes[0]).toBe(word(DEV * P) & 0xff);
    expect(bytes[2]).toBe((word(DEV * P) >>> 16) & 0xff);
    for (let i = 4; i < P; i += 4) expect(dv.getUint32(i, true)).toBe(word(DEV * P + i));
    expect(mmu.load32(at(0, P - 4))).toBe(word(DEV * P + P - 4));
    done();
  });
});

describe("a driver whose mmap sets no vm_ops", () => {
  const noOps = () => fakeFile({ mmap: () => 0 });

  it("today: every fault is SIGBUS, private or shared (do_fault: no ->fault; vma_dummy_vm_ops)", () => {
    for (const flags of [PV, SH]) {
      const { mm, mmu, done } = machine(ramOnly);
      expect(mm.mmap(A, P, RW, flags, noOps(), 0)).toBe(A);
      expect(mm.vmaLookup(A)!.vmOps).toBeNull();
      expect(signalOf(() => mmu.load8(A))?.signal).toBe("SIGBUS");
      expect(signalOf(() => mmu.store8(A, 1))?.signal).toBe("SIGBUS");
      expect(mm.rss).toBe(0);
      done();
    }
  });

  it("2.6.10: anonymous memory (do_no_page → do_anonymous_page), private or shared", () => {
    for (const flags of [PV, SH]) {
      const { mem, mm, mmu, done } = machine(ramOnly, 4 * 1024 * 1024, "2.6.10");
      expect(mm.mmap(A, 2 * P, RW, flags, noOps(), 0)).toBe(A);
      expect(mmu.load8(A)).toBe(0);
      expect(pfnAt(mm, A)).toBe(mem.zeroPfn);
      mmu.store8(at(1, 3), 4);
      expect(mmu.load8(at(1, 3))).toBe(4);
      expect(mm.rssAnon).toBe(1);
      // A write to the zero page copies it even in a shared VMA (2.6.10's do_wp_page had no shared
      // branch): the zero page itself is never written.
      mmu.store8(at(0, 2), 9);
      expect(pfnAt(mm, A)).not.toBe(mem.zeroPfn);
      expect(mmu.load8(at(0, 2))).toBe(9);
      expect(nonZero(mem.frameBytes(mem.zeroPfn))).toBe(0);
      expect(mm.rssAnon).toBe(2);
      done();
    }
  });
});

describe("a driver handing out the page at pfn 0 (reserved, but with a struct page)", () => {
  // vm_normal_page() has no pfn-0 case: the page is mapped, counted and notified like any other.
  const pfn0Ops = (mem: PhysMemory, seen: number[]): VmOperations => ({
    fault: (vmf) => {
      mem.getPage(0);
      vmf.page = mem.pfnToPage(0);
      return 0;
    },
    pageMkwrite: (vmf) => {
      seen.push(vmf.page?.pfn ?? -1);
      return 0;
    },
  });

  it("shared: ->page_mkwrite gets the page, on a write fault and on the write after a read", () => {
    const { mem, mm, mmu } = setup();
    const seen: number[] = [];
    const file = fileWith(pfn0Ops(mem, seen));
    mm.mmap(A, 2 * P, RW, SH, file, 0);
    mmu.store8(at(0, 1), 0); // do_shared_fault → do_page_mkwrite
    expect(mmu.load8(at(1, 1))).toBe(0); // read-only (write notification)
    mmu.store8(at(1, 1), 0); // do_wp_page → wp_page_shared → do_page_mkwrite
    expect(seen).toEqual([0, 0]);
    expect(mem.mapcount[0]).toBe(2);
    mm.munmap(A, 2 * P);
    expect([mem.refcount[0], mem.mapcount[0]]).toEqual([1, 0]);
    check();
  });

  it("private: a read maps it; the write copies it and gives back its mapcount and reference", () => {
    const { mem, mm, mmu } = setup();
    const file = fileWith(pfn0Ops(mem, []));
    mm.mmap(A, P, RW, PV, file, 0);
    expect(mmu.load8(A)).toBe(0);
    expect(pfnAt(mm, A)).toBe(0);
    expect([mem.refcount[0], mem.mapcount[0]]).toEqual([2, 1]);
    mmu.store8(A, 5);
    expect(pfnAt(mm, A)).not.toBe(0);
    expect([mem.refcount[0], mem.mapcount[0]]).toEqual([1, 0]);
    expect(mem.frameBytes(0)[0]).toBe(0);
    expect(mm.rssAnon).toBe(1);
    mm.munmap(A, P);
    check();
  });
});

describe("->nopage (2.6.10)", () => {
  it("finds *type = VM_FAULT_MINOR on entry (do_no_page's ret starts minor and is passed as the type)", () => {
    const { mem, mm, mmu } = setup();
    const pfn = mem.allocPfn(0);
    const seen: unknown[] = [];
    const ops: VmOperations = {
      nopage: (_vma, _addr, type) => {
        seen.push(type?.value);
        mem.getPage(pfn);
        return mem.pfnToPage(pfn);
      },
    };
    mm.mmap(A, P, RW, SH, fileWith(ops), 0);
    expect(mmu.load8(A)).toBe(0);
    expect(seen).toEqual([VM_FAULT_MINOR]);
    expect([mm.minflt, mm.majflt]).toEqual([1, 0]);
    mm.munmap(A, P);
    mem.putPage(pfn);
    check();
  });
});

describe("->fault answering VM_FAULT_NOPAGE (it installed the PTE itself, or wants the access retried)", () => {
  it("a shared read fault: nothing else is mapped, and VM_FAULT_MAJOR with it counts a major fault", () => {
    const { mem, mm, mmu } = setup();
    const pfn = mem.allocPfn(0);
    mem.frameBytes(pfn).fill(0x3c);
    const ops: VmOperations = {
      fault: (vmf) => mm.vmfInsertPfn(vmf.vma, vmf.address, pfn) | VM_FAULT_MAJOR,
    };
    const file = fileWith(ops, VM_PFNMAP | VM_IO);
    mm.mmap(A, P, RW, SH, file, 0);
    expect(mmu.load8(at(0, 1))).toBe(0x3c);
    expect([mm.minflt, mm.majflt]).toEqual([0, 1]);
    expect(mem.refcount[pfn]).toBe(1);
    mm.munmap(A, P);
    mem.putPage(pfn);
    check();
  });

  it("a private write fault (do_cow_fault): ->fault sees WRITE|USER; no copy, no anon page; the fault counts", () => {
    const { mm } = setup();
    const flags: number[] = [];
    const ops: VmOperations = {
      fault: (vmf) => {
        flags.push(vmf.flags);
        return VM_FAULT_NOPAGE | VM_FAULT_MAJOR;
      },
    };
    mm.mmap(A, P, RW, PV, fileWith(ops), 0);
    expect(mm.handleFault(at(0, 9), true)).toBe(FAULT_OK);
    expect(flags).toEqual([FAULT_FLAG_WRITE | FAULT_FLAG_USER]);
    expect(mm.pgd.getPte(A)).toBe(0);
    expect(mm.rss).toBe(0);
    // do_cow_fault() prepared the anon_vma before asking ->fault (era.ts cowFaultPreparesAnonVmaFirst).
    expect(mm.vmaLookup(A)!.anonVma).not.toBeNull();
    expect([mm.minflt, mm.majflt]).toEqual([0, 1]);
    mm.munmap(A, P);
    check();
  });
});

describe("a shared mapping whose driver has only the other mkwrite callback", () => {
  it("a pfn PTE with ->page_mkwrite but no ->pfn_mkwrite: the first write makes it writable, no call (wp_pfn_shared)", () => {
    const { mem, mm, mmu } = setup();
    const pfn = mem.allocPfn(0);
    let calls = 0;
    const ops: VmOperations = {
      fault: (vmf) => mm.vmfInsertPfn(vmf.vma, vmf.address, pfn),
      pageMkwrite: () => {
        calls++;
        return 0;
      },
    };
    const file = fileWith(ops, VM_PFNMAP | VM_IO);
    mm.mmap(A, P, RW, SH, file, 0);
    expect(mmu.load8(A)).toBe(0);
    // vma_wants_writenotify(): a page_mkwrite makes the inserted PTE read-only.
    expect(pteFlags(mm.pgd.getPte(A)) & _PAGE_RW).toBe(0);
    mmu.store8(A, 6);
    expect(pteFlags(mm.pgd.getPte(A)) & _PAGE_RW).toBe(_PAGE_RW);
    expect(mem.frameBytes(pfn)[0]).toBe(6);
    expect(calls).toBe(0);
    mm.munmap(A, P);
    mem.putPage(pfn);
    check();
  });

  it("a page with ->pfn_mkwrite but no ->page_mkwrite: read-only at first, then made writable in place, no call (wp_page_shared)", () => {
    const { mem, mm, mmu } = setup();
    const pfn = mem.allocPfn(0);
    let calls = 0;
    const ops: VmOperations = {
      fault: (vmf) => {
        mem.getPage(pfn);
        vmf.page = mem.pfnToPage(pfn);
        return 0;
      },
      pfnMkwrite: () => {
        calls++;
        return 0;
      },
    };
    mm.mmap(A, P, RW, SH, fileWith(ops), 0);
    expect(mmu.load8(A)).toBe(0);
    expect(pteFlags(mm.pgd.getPte(A)) & _PAGE_RW).toBe(0);
    mmu.store8(A, 8);
    expect(pfnAt(mm, A)).toBe(pfn);
    expect(pteFlags(mm.pgd.getPte(A)) & _PAGE_RW).toBe(_PAGE_RW);
    expect(mem.frameBytes(pfn)[0]).toBe(8);
    expect(calls).toBe(0);
    mm.munmap(A, P);
    mem.putPage(pfn);
    check();
  });
});

describe("fault-around is for read faults only (do_read_fault; do_shared_fault and do_cow_fault map one page)", () => {
  function shmem(era: Era = "modern") {
    const { mem, mm, mmu, done } = machine(ramOnly, 4 * 1024 * 1024, era);
    const inode = new ShmemInode(mem);
    inode.write(0, new Uint8Array(16 * P).fill(7));
    return { mm, mmu, done, file: new ShmemFile(inode, 0, "/f") };
  }

  it("a shared write fault maps the faulting page alone", () => {
    const { mm, mmu, done, file } = shmem();
    const a = mm.mmap(A, 16 * P, RW, SH, file, 0);
    mmu.store8(a + 3 * P, 1);
    expect(mm.rssShmem).toBe(1);
    expect(mmu.load8(a + 5 * P)).toBe(7);
    expect(mm.rssShmem).toBe(16);
    done();
  });

  it("a private write fault copies the faulting page alone", () => {
    const { mm, mmu, done, file } = shmem();
    const a = mm.mmap(A, 16 * P, RW, PV, file, 0);
    mmu.store8(a + 3 * P, 1);
    expect([mm.rssAnon, mm.rssShmem]).toEqual([1, 0]);
    done();
  });

  it("a read fault of a read-only private mapping maps the window (modern), one page (2.6.10)", () => {
    for (const [era, want] of [
      ["modern", 16],
      ["2.6.10", 1],
    ] as const) {
      const { mm, mmu, done, file } = shmem(era);
      const a = mm.mmap(A, 16 * P, PROT_READ, PV, file, 0);
      expect(mmu.load8(a + 3 * P)).toBe(7);
      expect(mm.rssShmem).toBe(want);
      done();
    }
  });
});
