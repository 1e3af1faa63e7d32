// Which VMA a driver's ->open and ->close see when the core splits, unmaps, moves or forks a mapping,
// in both eras (era.ts munmapSplitNewStays): what a driver that counts its mappings (LDD3's simple_vma_open)
// relies on. Each row maps two or three pages of a driver file and logs every callback with its range.

import { PhysMemory } from "@faultline/phys";
import { describe, expect, it } from "vitest";
import { A, at, fakeFile, P, RW } from "../test/syscall-tables";
import {
  type Era,
  MAP_FIXED,
  MAP_SHARED,
  Mm,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  PROT_READ,
  type Vma,
} from "./index";
import { ramOnly } from "./phys-access";

type Log = string[];

function driverFile(log: Log) {
  const show = (v: Vma) => `${(v.vmStart - A) / P}-${(v.vmEnd - A) / P}`;
  return fakeFile({
    mmap: (vma) => {
      vma.vmOps = {
        open: (v) => void log.push(`open ${show(v)}`),
        close: (v) => void log.push(`close ${show(v)}`),
      };
      return 0;
    },
  });
}

function boot(era: Era, pages: number): { mm: Mm; log: Log; mem: PhysMemory } {
  const mem = PhysMemory.create({ ramBytes: 8 * 1024 * 1024 });
  const mm = new Mm(ramOnly(mem), { era });
  const log: Log = [];
  expect(mm.mmap(A, pages * P, RW, MAP_SHARED | MAP_FIXED, driverFile(log), 0)).toBe(A);
  return { mm, log, mem };
}

const ERAS: readonly Era[] = ["modern", "2.6.10"];

describe("->open and ->close around splits", () => {
  const cases: readonly {
    name: string;
    pages: number;
    op: (mm: Mm) => number;
    want: Record<Era, readonly string[]>;
  }[] = [
    {
      name: "munmap of the tail: today the new VMA is the piece that stays (vms_gather_munmap_vmas), in 2.6.10 the piece that goes (do_munmap: split_vma(.., start, 0))",
      pages: 2,
      op: (mm) => mm.munmap(at(1), P),
      want: { modern: ["open 0-1", "close 1-2"], "2.6.10": ["open 1-2", "close 1-2"] },
    },
    {
      name: "munmap of the head: today the new VMA is again the piece that stays (split above the end), in 2.6.10 the piece that goes (split_vma(.., end, 1))",
      pages: 2,
      op: (mm) => mm.munmap(A, P),
      want: { modern: ["open 1-2", "close 0-1"], "2.6.10": ["open 0-1", "close 0-1"] },
    },
    {
      name: "munmap of the middle page: two splits, one close",
      pages: 3,
      op: (mm) => mm.munmap(at(1), P),
      want: {
        modern: ["open 0-1", "open 2-3", "close 1-2"],
        "2.6.10": ["open 1-3", "open 1-2", "close 1-2"],
      },
    },
    {
      name: "mprotect of the middle page splits below then above (split_vma(start, 1), split_vma(end, 0)): two opens, no close",
      pages: 3,
      op: (mm) => mm.mprotect(at(1), P, PROT_READ),
      want: { modern: ["open 0-1", "open 2-3"], "2.6.10": ["open 0-1", "open 2-3"] },
    },
    {
      name: "mremap move of the whole mapping: the copy is opened, the old VMA closed",
      pages: 2,
      op: (mm) => (mm.mremap(A, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, at(8)) === at(8) ? 0 : -1),
      want: { modern: ["open 8-10", "close 0-2"], "2.6.10": ["open 8-10", "close 0-2"] },
    },
  ];
  for (const c of cases) {
    for (const era of ERAS) {
      it(`${c.name} [${era}]`, () => {
        const { mm, log, mem } = boot(era, c.pages);
        const free0 = mem.nrFreePages;
        expect(c.op(mm)).toBe(0);
        expect(log).toEqual(c.want[era]);
        mm.checkInvariants();
        mm.exit();
        // Every VMA still mapped is closed exactly once at exit.
        expect(log.filter((l) => l.startsWith("close")).length).toBe(
          c.want[era].filter((l) => l.startsWith("open")).length + 1,
        );
        expect(mem.nrFreePages).toBeGreaterThanOrEqual(free0);
      });
    }
  }
});
