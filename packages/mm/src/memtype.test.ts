// Mapping attributes as x86 Linux gives them (arch/x86/mm/pat/memtype.c, mm/memory.c): pgprot cache
// bits, the PAT index a PTE selects, the memtype list and the rules remap_pfn_range, vmf_insert_pfn,
// vmf_insert_mixed and vm_iomap_memory follow.
import { PhysMemory } from "@faultline/phys";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { A, fakeFile, P } from "../test/syscall-tables";
import {
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
  VM_FAULT_NOPAGE,
  VM_FAULT_SIGBUS,
  VM_IO,
  VM_MIXEDMAP,
  VM_PFNMAP,
} from "./constants";
import { EBUSY, EINVAL } from "./errno";
import { Memtypes, memtypesOf } from "./memtype";
import { Mm } from "./mm";
import type { MmFile, Vma } from "./mm_types";
import {
  _PAGE_CACHE_MODE_UC,
  _PAGE_CACHE_MODE_UC_MINUS,
  _PAGE_CACHE_MODE_WB,
  _PAGE_CACHE_MODE_WC,
  _PAGE_CACHE_MODE_WP,
  _PAGE_CACHE_MODE_WT,
  _PAGE_PAT,
  cachemode2protval,
  pgprot2cachemode,
  pgprotCacheBits,
  pgprotDevice,
  pgprotNoncached,
  pgprotWritecombine,
  pgprotWritethrough,
  pteCachemode,
} from "./pgprot";
import { _PAGE_PCD, _PAGE_PWT, pteFlags } from "./pgtable";
import { ramOnly } from "./phys-access";
import { renderPtdumpUser } from "./ptdump";

const BAR = 0xfd000; // a pfn of the PCI hole: no struct page
const CACHE = _PAGE_PAT | _PAGE_PCD | _PAGE_PWT;

function machine(era: "modern" | "2.6.10" = "modern") {
  const mem = PhysMemory.create({ ramBytes: 16 * 1024 * 1024 });
  const logs: string[] = [];
  const mt = memtypesOf(mem);
  mt.log = { printk: (_l, t) => logs.push(t), current: () => ({ comm: "t", pid: 7 }) };
  const phys = { ...ramOnly(mem), locatePage: () => -1 };
  return { mem, mt, logs, mm: new Mm(phys, { era }) };
}

/** A device file whose ->mmap runs `fn` on the new VMA. */
const dev = (fn: (vma: Vma) => number): MmFile => fakeFile({ mmap: fn });
const cacheOf = (mm: Mm, addr: number) => pteFlags(mm.pgd.getPte(addr)) & CACHE;

describe("pgprot cache bits (the default PAT: WB WC UC- UC WB WP UC- WT)", () => {
  it("selects PAT entries as init_cache_modes() does", () => {
    expect(cachemode2protval(_PAGE_CACHE_MODE_WB)).toBe(0);
    expect(cachemode2protval(_PAGE_CACHE_MODE_WC)).toBe(_PAGE_PWT);
    expect(cachemode2protval(_PAGE_CACHE_MODE_UC_MINUS)).toBe(_PAGE_PCD);
    expect(cachemode2protval(_PAGE_CACHE_MODE_UC)).toBe(_PAGE_PCD | _PAGE_PWT);
    expect(cachemode2protval(_PAGE_CACHE_MODE_WP)).toBe(_PAGE_PAT | _PAGE_PWT);
    expect(cachemode2protval(_PAGE_CACHE_MODE_WT)).toBe(_PAGE_PAT | _PAGE_PCD | _PAGE_PWT);
    for (const pcm of [0, 1, 2, 3, 4, 5] as const) expect(pteCachemode(cachemode2protval(pcm))).toBe(pcm);
    // PAT entry 4 (PAT bit alone) is WB again, entry 6 UC-.
    expect(pteCachemode(_PAGE_PAT)).toBe(_PAGE_CACHE_MODE_WB);
    expect(pteCachemode(_PAGE_PAT | _PAGE_PCD)).toBe(_PAGE_CACHE_MODE_UC_MINUS);
  });

  it("ORs the bits in, as x86's pgprot_noncached/pgprot_writecombine do", () => {
    const prot = 0xb; // VM_READ | VM_WRITE | VM_SHARED
    expect(pgprot2cachemode(prot)).toBe(_PAGE_CACHE_MODE_WB);
    expect(pgprot2cachemode(pgprotNoncached(prot))).toBe(_PAGE_CACHE_MODE_UC_MINUS);
    expect(pgprot2cachemode(pgprotWritecombine(prot))).toBe(_PAGE_CACHE_MODE_WC);
    expect(pgprot2cachemode(pgprotWritethrough(prot))).toBe(_PAGE_CACHE_MODE_WT);
    expect(pgprotDevice(prot)).toBe(pgprotNoncached(prot));
    // WC over UC-: PCD|PWT, which is UC (entry 3).
    expect(pgprot2cachemode(pgprotWritecombine(pgprotNoncached(prot)))).toBe(_PAGE_CACHE_MODE_UC);
    expect(pgprotNoncached(prot) & 0xf).toBe(prot);
  });

  it("vm_page_prot keeps its cache bits across mprotect and on fork and split copies", () => {
    const { mm } = machine();
    const f = dev((vma) => {
      vma.vmPageProt = pgprotNoncached(vma.vmPageProt);
      return 0;
    });
    expect(mm.mmap(A, 2 * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, f, 0)).toBe(A);
    expect(mm.mprotect(A + P, P, PROT_READ)).toBe(0);
    for (const v of mm.vmas) expect(pgprot2cachemode(v.vmPageProt)).toBe(_PAGE_CACHE_MODE_UC_MINUS);
    expect(mm.vmas.find(A + P)!.vmPageProt & 0xf).toBe(0x9); // VM_READ | VM_SHARED
    const child = mm.fork() as Mm;
    expect(pgprot2cachemode(child.vmas.find(A)!.vmPageProt)).toBe(_PAGE_CACHE_MODE_UC_MINUS);
    child.exit();
    mm.exit();
  });
});

describe("the memtype list (memtype_reserve, memtype_free, lookup_memtype)", () => {
  it("prints entries as pat_memtype_list does, sorted by start, end exclusive", () => {
    const { mt } = machine();
    expect(mt.reserve(0xfe000000, 0xfe001000, _PAGE_CACHE_MODE_UC_MINUS, true)).toBe(
      _PAGE_CACHE_MODE_UC_MINUS,
    );
    expect(mt.reserve(0xfd000000, 0xfd400000, _PAGE_CACHE_MODE_WC, true)).toBe(_PAGE_CACHE_MODE_WC);
    expect(mt.render()).toBe(
      "PAT memtype list:\n" +
        "PAT: [mem 0x00000000fd000000-0x00000000fd400000] write-combining\n" +
        "PAT: [mem 0x00000000fe000000-0x00000000fe001000] uncached-minus\n",
    );
    expect(mt.lookup(0xfd3ff000)).toBe(_PAGE_CACHE_MODE_WC);
    expect(mt.lookup(0xfd400000)).toBe(_PAGE_CACHE_MODE_UC_MINUS); // untracked device memory
    expect(mt.lookup(0x1000)).toBe(_PAGE_CACHE_MODE_WB); // RAM
    expect(mt.lookup(0xa0000)).toBe(_PAGE_CACHE_MODE_WB); // the ISA range is untracked, mapped WB
    expect(mt.free(0xfd000000, 0xfd400000)).toBe(0);
    expect(mt.list()).toHaveLength(1);
  });

  it("a conflicting type is -EBUSY without new_type, the existing type with it", () => {
    const { mt, logs } = machine();
    mt.reserve(0xfe000000, 0xfe002000, _PAGE_CACHE_MODE_UC_MINUS, true);
    // set_memory_wc-style caller (no new_type): refused, with memtype.c's two lines.
    expect(mt.reserve(0xfe001000, 0xfe003000, _PAGE_CACHE_MODE_WC, false)).toBe(-EBUSY);
    expect(logs).toEqual([
      "x86/PAT: t:7 conflicting memory types fe001000-fe003000 write-combining<->uncached-minus",
      "x86/PAT: memtype_reserve failed [mem 0xfe001000-0xfe002fff], track write-combining, req write-combining",
    ]);
    // ioremap_wc / remap_pfn_range (new_type given): the new entry takes the type in force.
    expect(mt.reserve(0xfe001000, 0xfe003000, _PAGE_CACHE_MODE_WC, true)).toBe(_PAGE_CACHE_MODE_UC_MINUS);
    expect(mt.list().map((e) => e.type)).toEqual([_PAGE_CACHE_MODE_UC_MINUS, _PAGE_CACHE_MODE_UC_MINUS]);
    // Overlapping entries of two types: refused even with new_type.
    mt.reserve(0xfe004000, 0xfe005000, _PAGE_CACHE_MODE_WC, true);
    expect(mt.reserve(0xfe002000, 0xfe005000, _PAGE_CACHE_MODE_WC, true)).toBe(-EBUSY);
  });

  it("a write-back request for device memory is UC- (the MTRRs say uncachable); RAM ranges mixed with MMIO are -EINVAL", () => {
    const { mt, mem } = machine();
    expect(mt.reserve(0xfe000000, 0xfe001000, _PAGE_CACHE_MODE_WB, true)).toBe(_PAGE_CACHE_MODE_UC_MINUS);
    const top = mem.maxPfn * P;
    expect(mt.reserve(top - P, top + P, _PAGE_CACHE_MODE_WC, true)).toBe(-EINVAL);
    expect(mt.reserve(0x5000, 0x5000, _PAGE_CACHE_MODE_WC, true)).toBe(-EINVAL);
  });

  it("freeing a range never reserved is -EINVAL with 'freeing invalid memtype'", () => {
    const { mt, logs } = machine();
    mt.reserve(0xfe000000, 0xfe002000, _PAGE_CACHE_MODE_UC_MINUS, true);
    expect(mt.free(0xfe000000, 0xfe001000)).toBe(-EINVAL);
    expect(logs.at(-1)).toBe("x86/PAT: t:7 freeing invalid memtype [mem 0xfe000000-0xfe000fff]");
  });

  it("matches a reference model under random reserve/free sequences", () => {
    // The model: a list of [start, end, type]; a request conflicts when the overlapping entries do not
    // all share one type, or (without new_type) that type is not the request's.
    const pages = 8;
    const op = fc.record({
      free: fc.boolean(),
      first: fc.integer({ min: 0, max: pages - 1 }),
      n: fc.integer({ min: 1, max: 3 }),
      type: fc.constantFrom(_PAGE_CACHE_MODE_WC, _PAGE_CACHE_MODE_UC_MINUS, _PAGE_CACHE_MODE_UC),
      accept: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        const mt = new Memtypes(PhysMemory.create({ ramBytes: 2 << 20 }));
        const model: [number, number, number][] = [];
        const base = 0xfe000000;
        for (const o of ops) {
          const s = base + o.first * P;
          const e = s + o.n * P;
          if (o.free) {
            const i = model.findIndex(([a, b]) => a === s && b === e);
            expect(mt.free(s, e)).toBe(i < 0 ? -EINVAL : 0);
            if (i >= 0) model.splice(i, 1);
            continue;
          }
          const over = [...model].sort((x, y) => x[0] - y[0]).filter(([a, b]) => a < e && b > s);
          const types = new Set(over.map((x) => x[2]));
          const first = over[0]?.[2];
          const refused = types.size > 1 || (!o.accept && first !== undefined && first !== o.type);
          const want = refused ? -EBUSY : o.accept && first !== undefined ? first : o.type;
          expect(mt.reserve(s, e, o.type, o.accept)).toBe(want);
          if (!refused) model.push([s, e, want]);
        }
        const sorted = [...model].sort((x, y) => x[0] - y[0] || 0);
        expect(
          mt
            .list()
            .map((m) => [m.start, m.end, m.type])
            .sort((x, y) => x[0]! - y[0]! || 0),
        ).toEqual(sorted);
      }),
    );
  });
});

describe("remap_pfn_range and PAT", () => {
  it("a whole-VMA remap reserves the range with vm_page_prot's type; the PTEs carry it; the last VMA frees it", () => {
    const { mm, mt } = machine();
    const f = dev((vma) => {
      vma.vmPageProt = pgprotNoncached(vma.vmPageProt);
      return mm.remapPfnRange(vma, vma.vmStart, BAR, 4 * P, vma.vmPageProt);
    });
    expect(mm.mmap(A, 4 * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, f, 0)).toBe(A);
    expect(cacheOf(mm, A)).toBe(_PAGE_PCD);
    expect(mt.render()).toBe(
      "PAT memtype list:\nPAT: [mem 0x00000000fd000000-0x00000000fd004000] uncached-minus\n",
    );
    // Split by a partial munmap, copied by fork: one reservation, kept until the last piece goes.
    expect(mm.munmap(A + P, P)).toBe(0);
    const child = mm.fork() as Mm;
    mm.exit();
    expect(mt.list()).toHaveLength(1);
    expect(child.munmap(A, P)).toBe(0);
    expect(mt.list()).toHaveLength(1);
    child.exit();
    expect(mt.list()).toHaveLength(0);
  });

  it("checkInvariants notices a VMA whose reservation went missing", () => {
    const { mm, mt } = machine();
    const f = dev((vma) => mm.remapPfnRange(vma, vma.vmStart, BAR, P));
    expect(mm.mmap(A, P, PROT_READ, MAP_SHARED | MAP_FIXED, f, 0)).toBe(A);
    mm.checkInvariants();
    expect(mt.free(BAR * P, (BAR + 1) * P)).toBe(0); // someone frees what the VMA holds
    expect(() => mm.checkInvariants()).toThrow(
      /holds a PAT reservation of pfn fd000 \(\+4096\) that is not in the memtype list/,
    );
    mt.reserve(BAR * P, (BAR + 1) * P, _PAGE_CACHE_MODE_UC_MINUS, true);
    mm.exit();
  });

  it("remapping the whole VMA twice is -EINVAL (vma->pfnmap_track_ctx is taken)", () => {
    const { mm, mt } = machine();
    const f = dev((vma) => {
      expect(mm.remapPfnRange(vma, vma.vmStart, BAR, P)).toBe(0);
      expect(mm.remapPfnRange(vma, vma.vmStart, BAR, P)).toBe(-EINVAL);
      return 0;
    });
    expect(mm.mmap(A, P, PROT_READ, MAP_SHARED | MAP_FIXED, f, 0)).toBe(A);
    expect(mt.list()).toHaveLength(1);
    mm.exit();
    expect(mt.list()).toHaveLength(0);
  });

  it("a failing ->mmap after a remap releases the reservation (vm_area_free)", () => {
    const { mm, mt } = machine();
    const f = dev((vma) => (mm.remapPfnRange(vma, vma.vmStart, BAR, P) ? -EINVAL : -EBUSY));
    expect(mm.mmap(A, P, PROT_READ, MAP_SHARED | MAP_FIXED, f, 0)).toBe(-EBUSY);
    expect(mt.list()).toHaveLength(0);
    mm.exit();
  });

  it("a WC request over a range reserved UC- gets UC- (is_new_memtype_allowed); WT over WC is refused", () => {
    const { mm, mt, logs } = machine();
    mt.reserve(BAR * P, (BAR + 1) * P, _PAGE_CACHE_MODE_UC_MINUS, true);
    mt.reserve((BAR + 1) * P, (BAR + 2) * P, _PAGE_CACHE_MODE_WC, true);
    const wc = dev((vma) => {
      vma.vmPageProt = pgprotWritecombine(vma.vmPageProt);
      return mm.remapPfnRange(vma, vma.vmStart, BAR, P, vma.vmPageProt);
    });
    expect(mm.mmap(A, P, PROT_READ, MAP_SHARED | MAP_FIXED, wc, 0)).toBe(A);
    expect(pteCachemode(cacheOf(mm, A))).toBe(_PAGE_CACHE_MODE_UC_MINUS);
    const wt = dev((vma) =>
      mm.remapPfnRange(vma, vma.vmStart, BAR + 1, P, pgprotWritethrough(vma.vmPageProt)),
    );
    expect(mm.mmap(A + P, P, PROT_READ, MAP_SHARED | MAP_FIXED, wt, 0)).toBe(-EINVAL);
    expect(logs.at(-1)).toBe(
      "x86/PAT: t:7 map pfn expected mapping type write-through for [mem 0xfd001000-0xfd001fff], got write-combining",
    );
    expect(mt.list()).toHaveLength(3); // the two reservations and the WC mapping's (as UC-)
    mm.exit();
    expect(mt.list()).toHaveLength(2);
  });

  it("a partial remap takes the type in force without reserving; mixed types are -EINVAL", () => {
    const { mm, mt } = machine();
    mt.reserve(BAR * P, (BAR + 1) * P, _PAGE_CACHE_MODE_WC, true);
    let second = 0;
    const f = dev((vma) => {
      expect(mm.remapPfnRange(vma, vma.vmStart, BAR, P, pgprotNoncached(vma.vmPageProt))).toBe(0);
      second = mm.remapPfnRange(vma, vma.vmStart + P, BAR, 2 * P);
      return 0;
    });
    expect(mm.mmap(A, 4 * P, PROT_READ, MAP_SHARED | MAP_FIXED, f, 0)).toBe(A);
    expect(pteCachemode(cacheOf(mm, A))).toBe(_PAGE_CACHE_MODE_WC);
    expect(second).toBe(-EINVAL); // BAR is WC, BAR + 1 untracked (UC-)
    expect(mt.list()).toHaveLength(1);
    mm.exit();
  });

  it("RAM keeps its write-back type whatever the driver asks (with the kernel's warning)", () => {
    const { mm, mem, logs, mt } = machine();
    const pfn = mem.allocPfn(0, 0);
    const f = dev((vma) => mm.remapPfnRange(vma, vma.vmStart, pfn, P, pgprotNoncached(vma.vmPageProt)));
    expect(mm.mmap(A, P, PROT_READ, MAP_SHARED | MAP_FIXED, f, 0)).toBe(A);
    expect(cacheOf(mm, A)).toBe(0);
    expect(logs.at(-1)).toMatch(
      /^x86\/PAT: t:7 map pfn RAM range req uncached-minus for \[mem 0x[0-9a-f]{8}-0x[0-9a-f]{8}\], got write-back$/,
    );
    expect(mt.list()).toHaveLength(0);
    mm.exit();
    mem.putPage(pfn);
  });

  it("a remap mixing RAM and device memory is treated as RAM (reserve_pfn_range's `if (is_ram)`)", () => {
    const { mm, mem, mt } = machine();
    const last = mem.maxPfn - 1; // the last RAM page, then the hole above RAM
    const f = dev((vma) => mm.remapPfnRange(vma, vma.vmStart, last, 2 * P, pgprotNoncached(vma.vmPageProt)));
    expect(mm.mmap(A, 2 * P, PROT_READ, MAP_SHARED | MAP_FIXED, f, 0)).toBe(A);
    expect(cacheOf(mm, A)).toBe(0);
    expect(cacheOf(mm, A + P)).toBe(0);
    expect(mt.list()).toHaveLength(0);
    mm.exit();
  });

  it("2.6.10 had no PAT: the driver's bits reach the PTE as asked, nothing is tracked", () => {
    const { mm, mt } = machine("2.6.10");
    const f = dev((vma) => mm.remapPfnRange(vma, vma.vmStart, BAR, P, pgprotWritecombine(vma.vmPageProt)));
    expect(mm.mmap(A, P, PROT_READ, MAP_SHARED | MAP_FIXED, f, 0)).toBe(A);
    expect(cacheOf(mm, A)).toBe(_PAGE_PWT);
    expect(mt.list()).toHaveLength(0);
    mm.exit();
  });
});

describe("vmf_insert_pfn, vmf_insert_mixed, vm_iomap_memory", () => {
  it("vmf_insert_pfn takes the type in force, not vm_page_prot's (UC- unless reserved)", () => {
    const { mm, mt } = machine();
    const f = dev((vma) => {
      vma.vmFlags |= VM_IO | VM_PFNMAP;
      vma.vmPageProt = pgprotWritecombine(vma.vmPageProt);
      return 0;
    });
    expect(mm.mmap(A, 2 * P, PROT_READ, MAP_SHARED | MAP_FIXED, f, 0)).toBe(A);
    const vma = mm.vmas.find(A)!;
    expect(mm.vmfInsertPfn(vma, A, BAR)).toBe(VM_FAULT_NOPAGE);
    expect(pteCachemode(cacheOf(mm, A))).toBe(_PAGE_CACHE_MODE_UC_MINUS);
    mt.reserve((BAR + 1) * P, (BAR + 2) * P, _PAGE_CACHE_MODE_WC, true);
    expect(mm.vmfInsertPfn(vma, A + P, BAR + 1)).toBe(VM_FAULT_NOPAGE);
    expect(cacheOf(mm, A + P)).toBe(_PAGE_PWT);
    mm.exit();
  });

  it("vmf_insert_mixed: VM_MIXEDMAP only, inside the VMA, special PTEs that take no reference", () => {
    const { mm, mem } = machine();
    const f = dev(() => 0);
    expect(mm.mmap(A, 2 * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, f, 0)).toBe(A);
    const vma = mm.vmas.find(A)!;
    const pfn = mem.allocPfn(0, 0);
    expect(mm.vmfInsertMixed(vma, A, pfn)).toBe(VM_FAULT_SIGBUS); // not VM_MIXEDMAP
    vma.vmFlags |= VM_MIXEDMAP;
    expect(mm.vmfInsertMixed(vma, A + 2 * P, pfn)).toBe(VM_FAULT_SIGBUS);
    const ref = Atomics.load(mem.refcount, pfn);
    expect(mm.vmfInsertMixed(vma, A, pfn)).toBe(VM_FAULT_NOPAGE);
    expect(Atomics.load(mem.refcount, pfn)).toBe(ref);
    expect(mm.normalPfn(mm.pgd.getPte(A))).toBe(-1);
    expect(mm.vmfInsertMixed(vma, A + P, BAR)).toBe(VM_FAULT_NOPAGE);
    expect(pteCachemode(cacheOf(mm, A + P))).toBe(_PAGE_CACHE_MODE_UC_MINUS);
    // The zero page in a shared writable VMA could be pinned and then replaced: refused.
    expect(mm.vmfInsertMixed(vma, A + P, mem.zeroPfn)).toBe(VM_FAULT_SIGBUS);
    mm.checkInvariants();
    mm.exit();
    mem.putPage(pfn);
  });

  it("vmf_insert_mixed maps the zero page in a private VMA even without VM_MIXEDMAP (vm_mixed_ok)", () => {
    const { mm, mem } = machine();
    expect(
      mm.mmap(
        A,
        P,
        PROT_READ,
        MAP_PRIVATE | MAP_FIXED,
        dev(() => 0),
        0,
      ),
    ).toBe(A);
    expect(mm.vmfInsertMixed(mm.vmas.find(A)!, A, mem.zeroPfn)).toBe(VM_FAULT_NOPAGE);
    mm.exit();
  });

  it("vm_iomap_memory: vm_pgoff pages into the range, -EINVAL past it or when the VMA does not fit", () => {
    const { mm, mt } = machine();
    const base = BAR * P;
    const iomap = (start: number, len: number) => dev((vma) => mm.vmIomapMemory(vma, start, len));
    // Three pages (the unaligned start's page counts), mapped from page 1 for two pages.
    expect(mm.mmap(A, 2 * P, PROT_READ, MAP_SHARED | MAP_FIXED, iomap(base + 0x10, 3 * P - 0x10), P)).toBe(A);
    expect(mm.pgd.getPte(A + P) % 2 ** 52 >= (BAR + 2) * P).toBe(true);
    expect(mt.list()).toEqual([{ start: base + P, end: base + 3 * P, type: _PAGE_CACHE_MODE_UC_MINUS }]);
    expect(mm.mmap(A + 4 * P, 3 * P, PROT_READ, MAP_SHARED | MAP_FIXED, iomap(base, 3 * P), P)).toBe(-EINVAL);
    expect(mm.mmap(A + 4 * P, P, PROT_READ, MAP_SHARED | MAP_FIXED, iomap(base, 3 * P), 4 * P)).toBe(-EINVAL);
    expect(mm.mmap(A + 4 * P, P, PROT_READ, MAP_SHARED | MAP_FIXED, iomap(2 ** 64 - P, 2 * P), 0)).toBe(
      -EINVAL,
    );
    // vm_pgoff equal to the range's pages leaves nothing, so only an empty VMA would fit: -EINVAL.
    expect(mm.mmap(A + 4 * P, P, PROT_READ, MAP_SHARED | MAP_FIXED, iomap(base, 3 * P), 3 * P)).toBe(-EINVAL);
    mm.exit();
    expect(mt.list()).toHaveLength(0);
  });
});

describe("the page-table dump (/sys/kernel/debug/page_tables/current_user)", () => {
  it("prints runs with their flags and cache bits, holes at the level they were found", () => {
    const { mm } = machine();
    const uc = dev((vma) => mm.remapPfnRange(vma, vma.vmStart, BAR, P, pgprotNoncached(vma.vmPageProt)));
    const addr = 0x7f0000000000;
    expect(mm.mmap(addr, P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, uc, 0)).toBe(addr);
    const out = renderPtdumpUser(mm.pgd);
    expect(out).toBe(
      "---[ User Space ]---\n" +
        "0x0000000000000000-0x00007f0000000000         127T                               p4d\n" +
        "0x00007f0000000000-0x00007f0000001000           4K USR RW     PCD             x  pte\n" +
        "0x00007f0000001000-0x00007f0000200000        2044K                               pte\n" +
        "0x00007f0000200000-0x00007f0040000000        1022M                               pmd\n" +
        "0x00007f0040000000-0x00007f8000000000         511G                               pud\n" +
        "0x00007f8000000000-0xffff800000000000   17179607552G                               p4d\n",
    );
    expect(pgprotCacheBits(pgprotNoncached(0))).toBe(_PAGE_PCD);
    mm.exit();
  });
});

describe("memtype tree state (machine snapshots)", () => {
  it("saves entries in order and RAM pages' types; a restore gives the same list and lookups", () => {
    const a = new Memtypes(PhysMemory.create({ ramBytes: 2 << 20 }));
    const dev = 0xe000_0000;
    expect(a.reserve(dev + 0x2000, dev + 0x3000, _PAGE_CACHE_MODE_WC, false)).toBe(_PAGE_CACHE_MODE_WC);
    expect(a.reserve(dev, dev + 0x1000, _PAGE_CACHE_MODE_UC_MINUS, false)).toBe(_PAGE_CACHE_MODE_UC_MINUS);
    expect(a.reserve(dev, dev + 0x1000, _PAGE_CACHE_MODE_UC_MINUS, false)).toBe(_PAGE_CACHE_MODE_UC_MINUS);
    expect(a.reserve(0x10_0000, 0x10_1000, _PAGE_CACHE_MODE_WC, false)).toBe(_PAGE_CACHE_MODE_WC); // RAM
    const s = a.saveState();
    const b = new Memtypes(PhysMemory.create({ ramBytes: 2 << 20 }));
    b.restoreState(structuredClone(s));
    expect(b.render()).toBe(a.render());
    for (const p of [dev, dev + 0x2000, 0x10_0000, 0x10_1000]) expect(b.lookup(p)).toBe(a.lookup(p));
    // Each reservation is freed by its own call, on both.
    for (const m of [a, b]) expect(m.free(dev, dev + 0x1000)).toBe(0);
    expect(b.render()).toBe(a.render());
  });

  it("refuses a bad entry whole and keeps the tree", () => {
    const m = new Memtypes(PhysMemory.create({ ramBytes: 2 << 20 }));
    m.reserve(0xe000_0000, 0xe000_1000, _PAGE_CACHE_MODE_WC, false);
    const before = m.render();
    const bad = [
      { entries: [[0xe000_2000, 0xe000_1000, _PAGE_CACHE_MODE_WC]], ram: [] },
      { entries: [[0x1000, 0x2000, _PAGE_CACHE_MODE_WC]], ram: [] }, // RAM has no entry
      { entries: [[0xe000_0000, 0xe000_1000, 42]], ram: [] },
      { entries: [], ram: [0xe0000, _PAGE_CACHE_MODE_WC] }, // not a RAM page
      { entries: [], ram: [1] },
    ];
    for (const s of bad) expect(() => m.restoreState(s as never)).toThrow(/memtype/);
    expect(m.render()).toBe(before);
  });
});
