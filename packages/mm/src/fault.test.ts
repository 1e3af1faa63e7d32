// The page-fault path (reference linux-mm.md §2, §7): zero page, anonymous and COW faults, signals,
// MAP_POPULATE, MADV_DONTNEED, mremap, fault counters and accesses that cross pages.
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
  SHARED,
  setup,
  signalOf,
  world,
} from "../test/fault-world";
import { runLikeHost } from "../test/oracle/faultline";
import { compileOracle, liveKernelMismatch, runOnLinux } from "../test/oracle/linux";
import * as S from "../test/oracle/script";
import { mapsAt, resultsByIndex } from "../test/oracle/transcript";
import {
  MADV_DONTNEED,
  MAP_POPULATE,
  MMAP_MIN_ADDR,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  PROT_NONE,
  PROT_READ,
} from "./constants";
import { Mm } from "./mm";
import { Mmu } from "./mmu";
import { ramOnly } from "./phys-access";

auditEachTest();

describe("anonymous faults", () => {
  it("a read maps the zero page: no reference taken, not in RSS", () => {
    const { mem, mm, mmu } = setup();
    mm.mmap(A, 2 * P, RW, PRIV, null, 0);
    const zeroRefs = mem.refcount[mem.zeroPfn];
    const free = mem.nrFreePages;
    expect(mmu.load32(at(0, 8))).toBe(0);
    expect(pfnAt(mm, A)).toBe(mem.zeroPfn);
    expect(mem.refcount[mem.zeroPfn]).toBe(zeroRefs);
    expect(mm.rss).toBe(0);
    // Only a page table may have been allocated, no data frame.
    expect(free - mem.nrFreePages).toBeLessThanOrEqual(3);
    check();
  });

  it("a write maps a fresh zeroed frame, counted as anon RSS", () => {
    const { mem, mm, mmu } = setup();
    mm.mmap(A, P, RW, PRIV, null, 0);
    // Dirty a frame, free it, so a non-zeroing allocator would hand back garbage.
    const junk = mem.allocPfn(0);
    mem.frameBytes(junk).fill(0xa5);
    mem.putPage(junk);
    mmu.store8(at(0, 100), 1);
    const pfn = pfnAt(mm, A);
    expect(pfn).not.toBe(mem.zeroPfn);
    expect(mem.refcount[pfn]).toBe(1);
    expect(mem.mapcount[pfn]).toBe(1);
    expect(mm.rssAnon).toBe(1);
    const bytes = mmu.read(A, P);
    expect(bytes[100]).toBe(1);
    expect(bytes.reduce((s, b) => s + b, 0)).toBe(1);
    check();
  });

  it("a write after a read replaces the zero page with a zeroed frame", () => {
    const { mem, mm, mmu } = setup();
    mm.mmap(A, P, RW, PRIV, null, 0);
    mmu.load8(A);
    mmu.store16(at(0, 2), 0xbeef);
    expect(pfnAt(mm, A)).not.toBe(mem.zeroPfn);
    expect(mmu.load32(A)).toBe(0xbeef0000);
    expect(mm.rssAnon).toBe(1);
    check();
  });

  it("PROT_NONE → SIGSEGV SEGV_ACCERR at the exact address", () => {
    const { mm, mmu } = setup();
    mm.mmap(A, P, PROT_NONE, PRIV, null, 0);
    expect(signalOf(() => mmu.load8(at(0, 17)))).toEqual({
      signal: "SIGSEGV",
      code: "SEGV_ACCERR",
      addr: at(0, 17),
    });
    expect(signalOf(() => mmu.store32(at(0, 16), 1))).toEqual({
      signal: "SIGSEGV",
      code: "SEGV_ACCERR",
      addr: at(0, 16),
    });
    check();
  });

  it("a write to PROT_READ → SEGV_ACCERR; the page keeps its contents", () => {
    const { mm, mmu } = setup();
    mm.mmap(A, P, RW, PRIV, null, 0);
    mmu.store32(A, 42);
    mm.mprotect(A, P, PROT_READ);
    expect(signalOf(() => mmu.store32(A, 1))?.code).toBe("SEGV_ACCERR");
    expect(mmu.load32(A)).toBe(42);
    check();
  });

  it("no VMA → SIGSEGV SEGV_MAPERR", () => {
    const { mmu } = setup();
    expect(signalOf(() => mmu.load64(at(3, 8)))).toEqual({
      signal: "SIGSEGV",
      code: "SEGV_MAPERR",
      addr: at(3, 8),
    });
    check();
  });

  it("after munmap → SEGV_MAPERR (the TLB was flushed)", () => {
    const { mm, mmu } = setup();
    mm.mmap(A, P, RW, PRIV, null, 0);
    mmu.store8(A, 1);
    expect(mmu.load8(A)).toBe(1);
    mm.munmap(A, P);
    expect(signalOf(() => mmu.load8(A))?.code).toBe("SEGV_MAPERR");
    check();
  });
});

describe("MAP_POPULATE, MADV_DONTNEED, mremap", () => {
  it("MAP_POPULATE on private writable memory pre-faults every page writable", () => {
    const { mm, mmu } = setup();
    mm.mmap(A, 4 * P, RW, PRIV | MAP_POPULATE, null, 0);
    expect(mm.rssAnon).toBe(4);
    const faults = mmu.faults;
    for (let i = 0; i < 4; i++) mmu.store8(at(i), i);
    expect(mmu.faults).toBe(faults);
    check();
  });

  it("MAP_POPULATE on shared anonymous memory fills the page cache", () => {
    const { mm } = setup();
    mm.mmap(A, 3 * P, RW, SHARED | MAP_POPULATE, null, 0);
    expect(mm.rssShmem).toBe(3);
    check();
  });

  it("MADV_DONTNEED zero-fills private anonymous memory and frees its frames", () => {
    const { mem, mm, mmu } = setup();
    mm.mmap(A, 2 * P, RW, PRIV, null, 0);
    mmu.store32(A, 1);
    mmu.store32(at(1), 2);
    const free = mem.nrFreePages;
    expect(mm.madvise(A, 2 * P, MADV_DONTNEED)).toBe(0);
    expect(mem.nrFreePages).toBeGreaterThanOrEqual(free + 2);
    expect(mm.rss).toBe(0);
    expect(mmu.load32(A)).toBe(0);
    expect(mmu.load32(at(1))).toBe(0);
    check();
  });

  it("MADV_DONTNEED keeps shared anonymous data", () => {
    const { mm, mmu } = setup();
    mm.mmap(A, P, RW, SHARED, null, 0);
    mmu.store32(A, 0xcafe);
    expect(mm.madvise(A, P, MADV_DONTNEED)).toBe(0);
    expect(mm.rss).toBe(0);
    expect(mmu.load32(A)).toBe(0xcafe);
    check();
  });

  it("MADV_DONTNEED after fork drops only the caller's view", () => {
    const { mm, mmu } = setup();
    mm.mmap(A, P, RW, PRIV, null, 0);
    mmu.store32(A, 4);
    const child = forkOf(mm);
    child.mm.madvise(A, P, MADV_DONTNEED);
    expect(child.mmu.load32(A)).toBe(0);
    expect(mmu.load32(A)).toBe(4);
    check();
  });

  it("an mremap move keeps the data, without faults, and unmaps the source", () => {
    const { mem, mm, mmu } = setup();
    mm.mmap(A, 3 * P, RW, PRIV, null, 0);
    for (let i = 0; i < 3; i++) mmu.store32(at(i, 12), 0x100 + i);
    const pfns = [0, 1, 2].map((i) => pfnAt(mm, at(i)));
    const free = mem.nrFreePages;
    expect(mm.mremap(A, 3 * P, 3 * P, MREMAP_MAYMOVE | MREMAP_FIXED, at(32))).toBe(at(32));
    const faults = mmu.faults;
    const minflt = mm.minflt;
    for (let i = 0; i < 3; i++) {
      expect(mmu.load32(at(32 + i, 12))).toBe(0x100 + i);
      expect(pfnAt(mm, at(32 + i))).toBe(pfns[i]);
    }
    expect(mmu.faults).toBe(faults);
    expect(mm.minflt).toBe(minflt);
    expect(mem.nrFreePages).toBeGreaterThanOrEqual(free - 3); // page tables at most
    expect(signalOf(() => mmu.load8(A))?.code).toBe("SEGV_MAPERR");
    check();
  });

  it("an mremap grow that moves keeps the data and zero-fills the new tail", () => {
    const { mm, mmu } = setup();
    mm.mmap(A, P, RW, PRIV, null, 0);
    mm.mmap(at(1), P, PROT_READ, PRIV, null, 0);
    mmu.store32(A, 77);
    const r = mm.mremap(A, P, 2 * P, MREMAP_MAYMOVE);
    expect(r).not.toBe(A);
    expect(mmu.load32(r)).toBe(77);
    expect(mmu.load32(r + P)).toBe(0);
    check();
  });
});

describe("fault counters", () => {
  it("counts one minor fault per first touch and none on TLB or PTE hits", () => {
    const { mm, mmu } = setup();
    mm.mmap(A, 4 * P, RW, PRIV, null, 0);
    const base = mm.minflt;
    mmu.load8(A); // zero page
    expect(mm.minflt).toBe(base + 1);
    mmu.load8(at(0, 1));
    expect(mm.minflt).toBe(base + 1);
    mmu.store8(A, 1); // write to the zero page: do_wp_page
    expect(mm.minflt).toBe(base + 2);
    mmu.store8(at(0, 5), 1);
    expect(mm.minflt).toBe(base + 2);
    for (let i = 1; i < 4; i++) mmu.store32(at(i), i);
    expect(mm.minflt).toBe(base + 5);
    expect(mm.majflt).toBe(0);
    check();
  });

  it("a COW break is a minor fault in the writer only", () => {
    const { mm, mmu } = setup();
    mm.mmap(A, P, RW, PRIV, null, 0);
    mmu.store8(A, 1);
    const child = forkOf(mm);
    const p0 = mm.minflt;
    const c0 = child.mm.minflt;
    child.mmu.store8(A, 2);
    expect(child.mm.minflt).toBe(c0 + 1);
    expect(mm.minflt).toBe(p0);
    check();
  });

  it("failed accesses count no fault", () => {
    const { mm, mmu } = setup();
    mm.mmap(A, P, PROT_NONE, PRIV, null, 0);
    const base = mm.minflt;
    signalOf(() => mmu.load8(A));
    signalOf(() => mmu.load8(at(5)));
    expect(mm.minflt).toBe(base);
    check();
  });
});

describe("accesses crossing a page boundary", () => {
  it("read/write of a buffer spanning three pages", () => {
    const { mm, mmu } = setup();
    mm.mmap(A, 3 * P, RW, PRIV, null, 0);
    const data = Uint8Array.from({ length: P + 200 }, (_, i) => (i * 7) & 0xff);
    mmu.write(at(0, P - 100), data);
    expect(mmu.read(at(0, P - 100), data.length)).toEqual(data);
    expect(mmu.load8(at(0, P - 101))).toBe(0);
    expect(mmu.load8(at(2, 100))).toBe(0);
    check();
  });

  it("unaligned load32/load16/load64 across pages are little-endian", () => {
    const { mm, mmu } = setup();
    mm.mmap(A, 2 * P, RW, PRIV, null, 0);
    mmu.store32(at(0, P - 2), 0x44332211);
    expect(mmu.load8(at(0, P - 2))).toBe(0x11);
    expect(mmu.load8(at(1, 1))).toBe(0x44);
    expect(mmu.load32(at(0, P - 2))).toBe(0x44332211);
    expect(mmu.load16(at(0, P - 1))).toBe(0x3322);
    mmu.store64(at(0, P - 3), 0x8877665544332211n);
    expect(mmu.load64(at(0, P - 3))).toBe(0x8877665544332211n);
    expect(mmu.load32(at(1, 1))).toBe(0x88776655);
    check();
  });

  it("a crossing store that faults on the second page writes nothing", () => {
    const { mm, mmu } = setup();
    mm.mmap(A, 2 * P, RW, PRIV, null, 0);
    mm.mprotect(at(1), P, PROT_READ);
    mmu.store32(at(0, P - 4), 0x01020304);
    expect(signalOf(() => mmu.store32(at(0, P - 2), 0xffffffff))?.code).toBe("SEGV_ACCERR");
    expect(signalOf(() => mmu.store64(at(0, P - 4), -1n))?.code).toBe("SEGV_ACCERR");
    expect(mmu.load32(at(0, P - 4))).toBe(0x01020304);
    check();
  });

  // Linux reports si_addr = the first byte of the first page the access cannot use (the CPU's CR2).
  it("si_addr of a load32 whose second page is unmapped is that page's first byte", () => {
    const { mm, mmu } = setup();
    mm.mmap(A, P, RW, PRIV, null, 0);
    expect(signalOf(() => mmu.load32(at(0, P - 2)))).toEqual({
      signal: "SIGSEGV",
      code: "SEGV_MAPERR",
      addr: at(1),
    });
    expect(signalOf(() => mmu.store32(at(0, P - 2), 1))?.addr).toBe(at(1));
    check();
  });

  it("si_addr of a crossing load32 with both pages unmapped is the access address", () => {
    const { mmu } = setup();
    expect(signalOf(() => mmu.load32(at(5, P - 2)))?.addr).toBe(at(5, P - 2));
    check();
  });

  it.skipIf(!compileOracle())("the si_addr rules above are the real kernel's", () => {
    const lines = runOnLinux([
      S.mmap(S.page(0), S.pages(1), RW, PRIV),
      S.load(32, S.page(0, P - 2)),
      S.store(32, S.page(0, P - 2), 1n),
      S.load(32, S.page(5, P - 2)),
    ]);
    const r = resultsByIndex(lines);
    const h = (n: number) => `0x${n.toString(16)}`;
    expect(r.get("1")).toBe(`SIGSEGV SEGV_MAPERR ${h(at(1))}`);
    expect(r.get("2")).toBe(`SIGSEGV SEGV_MAPERR ${h(at(1))}`);
    expect(r.get("3")).toBe(`SIGSEGV SEGV_MAPERR ${h(at(5, P - 2))}`);
  });
});

// lock_mm_and_find_vma() → expand_stack_locked() → expand_downwards(): a fault below a VM_GROWSDOWN
// VMA grows it down to the faulting page while the previous accessible, non-GROWSDOWN VMA stays at
// least stack_guard_gap (256 pages) below the new start.
describe("stack growth (expand_downwards)", () => {
  const GD = PRIV | S.MAP_GROWSDOWN;
  const pg = (n: number) => S.page(n);
  const np = (n: number) => S.pages(n);
  const h = (n: number) => `0x${n.toString(16)}`;
  const line = (s: number, e: number, perms: string) =>
    `${at(s).toString(16)}-${at(e).toString(16)} ${perms} 00000000 00:00 0 `;
  /** Scripts with the results Faultline must print; the live kernel must print the same transcript. */
  const scripts: Record<string, { script: S.Script; want: Record<string, string>; maps?: string[] }> = {
    "exactly stack_guard_gap above the previous VMA: grows": {
      script: [
        S.mmap(pg(100), np(1), RW, PRIV),
        S.mmap(pg(400), np(2), RW, GD),
        S.store(8, pg(357), 7n),
        S.load(8, pg(357)),
        S.maps,
      ],
      want: { "2": "0", "3": "0x7", "4": "2" },
      maps: [line(100, 101, "rw-p"), line(357, 402, "rw-p")],
    },
    "one page inside stack_guard_gap: SEGV_MAPERR, nothing grows": {
      script: [
        S.mmap(pg(100), np(1), RW, PRIV),
        S.mmap(pg(400), np(2), RW, GD),
        S.store(8, pg(356), 7n),
        S.load(8, pg(356)),
        S.maps,
      ],
      want: { "2": `SIGSEGV SEGV_MAPERR ${h(at(356))}`, "3": `SIGSEGV SEGV_MAPERR ${h(at(356))}`, "4": "2" },
      maps: [line(100, 101, "rw-p"), line(400, 402, "rw-p")],
    },
    "an inaccessible (PROT_NONE) previous VMA does not count: grows up to it": {
      script: [
        S.mmap(pg(100), np(1), PROT_NONE, PRIV),
        S.mmap(pg(400), np(2), RW, GD),
        S.store(8, pg(101), 1n),
        S.maps,
      ],
      want: { "2": "0", "3": "2" },
      maps: [line(100, 101, "---p"), line(101, 402, "rw-p")],
    },
    "a VM_GROWSDOWN previous VMA does not count: grows up to it": {
      script: [S.mmap(pg(100), np(1), RW, GD), S.mmap(pg(400), np(2), RW, GD), S.load(8, pg(101)), S.maps],
      want: { "2": "0x0", "3": "2" },
      maps: [line(100, 101, "rw-p"), line(101, 402, "rw-p")],
    },
    "a write below a read-only VM_GROWSDOWN VMA grows it, then SEGV_ACCERR": {
      script: [S.mmap(pg(400), np(2), PROT_READ, GD), S.store(8, pg(390), 1n), S.load(8, pg(395)), S.maps],
      want: { "1": `SIGSEGV SEGV_ACCERR ${h(at(390))}`, "2": "0x0", "3": "1" },
      maps: [line(390, 402, "r--p")],
    },
    "vm_pgoff moves down with vm_start: a MAP_GROWSDOWN mapping placed just below merges": {
      script: [
        S.mmap(pg(400), np(2), RW, GD),
        S.store(8, pg(398), 3n),
        S.mmap(pg(390), np(8), RW, GD),
        S.load(8, pg(398)),
        S.maps,
      ],
      want: { "1": "0", "2": h(at(390)), "3": "0x3", "4": "1" },
      maps: [line(390, 402, "rw-p")],
    },
  };

  for (const [name, { script, want, maps }] of Object.entries(scripts)) {
    it(name, () => {
      const lines = runLikeHost(script);
      const r = resultsByIndex(lines);
      for (const [i, v] of Object.entries(want)) expect(r.get(i), lines.join("\n")).toBe(v);
      if (maps) expect(mapsAt(lines, script.length - 1)).toEqual(maps);
    });
  }

  const live = liveKernelMismatch();
  it.skipIf(live !== null)(
    `the live kernel prints the same transcripts${live ? ` [SKIPPED: ${live}]` : ""}`,
    () => {
      for (const { script } of Object.values(scripts))
        expect(runLikeHost(script)).toEqual(runOnLinux(script));
    },
  );

  it("locked_vm grows with a VM_LOCKED vma; vm_pgoff and anon_vma follow the kernel", () => {
    const { mm, mmu } = setup();
    mm.mmap(at(400), 2 * P, RW, PRIV | S.MAP_GROWSDOWN | S.MAP_LOCKED, null, 0);
    const vma = mm.vmaLookup(at(400))!;
    const pgoff = vma.vmPgoff;
    expect(mm.lockedVm).toBe(2);
    mmu.store32(at(395), 1);
    expect(mm.vmaLookup(at(395))).toBe(vma);
    expect(vma.vmStart).toBe(at(395));
    expect(vma.vmPgoff).toBe(pgoff - 5);
    expect(mm.lockedVm).toBe(7);
    expect(vma.anonVma).not.toBeNull();
    check();
  });

  it("a failed growth still prepares the anon_vma; RLIMIT_STACK and RLIMIT_MEMLOCK limit the growth", () => {
    const { mem } = setup();
    const mm = new Mm(ramOnly(mem), { stackLimit: 20 * P, mlockLimit: 10 * P });
    const mmu = Mmu.forMm(mm);
    world!.procs.push({ mm, mmu });
    mm.mmap(at(400), 2 * P, RW, PRIV | S.MAP_GROWSDOWN, null, 0);
    const vma = mm.vmaLookup(at(400))!;
    expect(signalOf(() => mmu.store32(at(381), 1))?.code).toBe("SEGV_MAPERR"); // 21 pages > 20
    expect(vma.vmStart).toBe(at(400));
    expect(vma.anonVma).not.toBeNull();
    mmu.store32(at(382), 1); // 20 pages: allowed
    expect(vma.vmStart).toBe(at(382));
    mm.mmap(at(600), 2 * P, RW, PRIV | S.MAP_GROWSDOWN | S.MAP_LOCKED, null, 0);
    expect(mm.lockedVm).toBe(2);
    const locked = mm.vmaLookup(at(600))!;
    expect(signalOf(() => mmu.store32(at(591), 1))?.code).toBe("SEGV_MAPERR"); // locked 2 + 9 > 10
    expect(mm.lockedVm).toBe(2);
    mmu.store32(at(592), 1);
    expect(locked.vmStart).toBe(at(592));
    expect(mm.lockedVm).toBe(10);
    check();
  });

  it("never below mmap_min_addr (-EPERM)", () => {
    const { mm, mmu } = setup();
    mm.mmap(MMAP_MIN_ADDR, 2 * P, RW, PRIV | S.MAP_GROWSDOWN, null, 0);
    expect(signalOf(() => mmu.store32(MMAP_MIN_ADDR - P, 1))?.code).toBe("SEGV_MAPERR");
    expect(mm.vmaLookup(MMAP_MIN_ADDR)!.vmStart).toBe(MMAP_MIN_ADDR);
    check();
  });
});
