// Zones: the boot-time numbers of mm/page_alloc.c (checked against a real kernel's /proc/zoneinfo) and
// the allocator's zonelist walk (fallback from the highest allowed zone down, lowmem_reserve and the
// low/min watermarks), against a reference model of get_page_from_freelist's zone choice.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  __GFP_DMA,
  __GFP_DMA32,
  __GFP_MEMALLOC,
  GFP_HIGHUSER_MOVABLE,
  GFP_KERNEL,
  PhysError,
  PhysMemory,
} from "./index";
import { nodeZones, pfnZone, ZONE_DMA, ZONE_DMA32, ZONE_NORMAL, type Zone, zoneParams } from "./mmzone";

const MiB = 1024 * 1024;

describe("zone numbers (mm/page_alloc.c)", () => {
  it("match Linux 6.18's /proc/zoneinfo for the same managed pages, min_free_kbytes and CPUs", () => {
    // Observed on an x86-64 6.18 kernel (2 CPUs, min_free_kbytes 67584 as khugepaged set it): DMA
    // managed 3840, DMA32 772798, Normal 3047424, Movable and Device empty.
    const z = zoneParams([3840, 772798, 3047424, 0, 0], { minFreeKbytes: 67584, cpus: 2 });
    const pick = (i: number) => {
      const { min, low, high, promo, lowmemReserve, pcpBatch, pcpHighMin, pcpHighMax, statThreshold } = z[i]!;
      return [min, low, high, promo, lowmemReserve, pcpBatch, pcpHighMin, pcpHighMax, statThreshold];
    };
    expect(pick(0)).toEqual([16, 20, 24, 28, [0, 3018, 14922, 14922, 14922], 1, 10, 240, 4]);
    expect(pick(1)).toEqual([3414, 4267, 5120, 5973, [0, 0, 11904, 11904, 11904], 63, 2133, 48299, 24]);
    expect(pick(2)).toEqual([13464, 16830, 20196, 23562, [0, 0, 0, 0, 0], 63, 8415, 190464, 32]);
    expect([z[3]!.min, z[3]!.low, z[3]!.high, z[3]!.promo]).toEqual([32, 32, 32, 32]);
    expect([z[4]!.min, z[4]!.low, z[4]!.high, z[4]!.promo]).toEqual([0, 0, 0, 0]);
  });

  it("min_free_kbytes is sqrt(16 * lowmem KiB), clamped to 128", () => {
    // 256 MiB of lowmem: 2048 KiB = 512 pages of min, all in the one zone.
    expect(zoneParams([0, 65536, 0, 0, 0])[1]!.min).toBe(512);
    // 1 MiB: sqrt(16384) = 128 KiB = 32 pages.
    expect(zoneParams([256, 0, 0, 0, 0])[0]!.min).toBe(32);
    expect(zoneParams([100, 0, 0, 0, 0])[0]!.min).toBe(32);
  });

  it("zone spans: DMA from pfn 1 (the BIOS page is not RAM), DMA32 from 16 MiB, Normal from 4 GiB", () => {
    const mem = PhysMemory.create({ ramBytes: 64 * MiB });
    const [dma, dma32, normal] = mem.zones();
    // 640 KiB below the ISA hole less pfn 0, then 1 MiB..16 MiB; the zero page is not managed.
    expect([dma!.startPfn, dma!.spannedPages, dma!.presentPages]).toEqual([1, 4095, 159 + 3840]);
    expect([dma32!.startPfn, dma32!.spannedPages, dma32!.presentPages]).toEqual([4096, 12288, 12288]);
    expect(normal!.spannedPages).toBe(0);
    expect(dma!.managedPages + dma32!.managedPages).toBe(mem.totalRamPages);
    const big = nodeZones(PhysMemory.create({ ramBytes: 4 * 1024 * MiB }).ramRanges, []);
    // 4 GiB of RAM: 3 GiB below the PCI hole, 1 GiB above 4 GiB.
    expect([big[1]!.startPfn, big[1]!.spannedPages, big[1]!.presentPages]).toEqual([
      4096,
      0x100000 - 4096,
      0xc0000 - 4096,
    ]);
    expect([big[2]!.startPfn, big[2]!.spannedPages, big[2]!.presentPages]).toEqual([
      0x100000, 0x40000, 0x40000,
    ]);
  });
});

/** The zone of an allocated pfn, or -1. */
const zoneOfPfn = (pfn: number) => (pfn < 0 ? -1 : pfnZone(pfn));

/**
 * Reference model of the zone choice: walk the zones from the highest the gfp allows down; take the
 * first whose free pages less 2^order - 1 exceed low + lowmem_reserve[highest] and that has a block of
 * at least `order`; failing that, the same at the min mark; failing that, for __GFP_MEMALLOC only, the
 * first zone with such a block whatever its marks; failing that, nothing.
 */
function expectedZone(
  mem: PhysMemory,
  zones: Zone[],
  order: number,
  highest: number,
  memalloc: boolean,
): number {
  const free = mem.zoneFreePages();
  const info = mem.buddyinfoByZone();
  const blocks = [0, 1, 2].map((z) => {
    const line = info.find((b) => b.zone === zones[z]!.name);
    return line ? line.counts.slice(order).some((n) => n > 0) : false;
  });
  const marks = memalloc ? (["low", "min", "none"] as const) : (["low", "min"] as const);
  for (const mark of marks) {
    for (let z = Math.min(highest, 2); z >= 0; z--) {
      const need =
        mark === "none" ? Number.NEGATIVE_INFINITY : zones[z]![mark] + zones[z]!.lowmemReserve[highest]!;
      if (free[z]! > 0 && free[z]! - ((1 << order) - 1) > need && blocks[z]) return z;
    }
  }
  return -1;
}

describe("zonelist fallback", () => {
  it("GFP_KERNEL takes DMA32 before DMA; GFP_DMA only DMA; ZONE_DMA keeps its reserve against GFP_KERNEL", () => {
    const mem = PhysMemory.create({ ramBytes: 64 * MiB });
    const [dma, dma32] = mem.zones();
    const first = mem.allocPfn(0, GFP_KERNEL);
    expect(zoneOfPfn(first)).toBe(ZONE_DMA32);
    expect(zoneOfPfn(mem.allocPfn(0, __GFP_DMA))).toBe(ZONE_DMA);
    expect(zoneOfPfn(mem.allocPfn(0, __GFP_DMA32))).toBe(ZONE_DMA32);
    // Drain with GFP_KERNEL: DMA32 until its low mark, then DMA down to low + reserve, then DMA32 to min.
    const taken: number[] = [];
    for (let p = mem.allocPfn(0); p >= 0; p = mem.allocPfn(0)) taken.push(p);
    const free = mem.zoneFreePages();
    expect(free[ZONE_DMA]).toBe(dma!.min + dma!.lowmemReserve[ZONE_NORMAL]!);
    expect(free[ZONE_DMA32]).toBe(dma32!.min);
    expect(dma!.lowmemReserve[ZONE_NORMAL]).toBe(Math.floor(dma32!.managedPages / 256));
    // GFP_DMA has no reserve against itself: it goes down to DMA's min mark.
    while (mem.allocPfn(0, __GFP_DMA) >= 0);
    expect(mem.zoneFreePages()[ZONE_DMA]).toBe(dma!.min);
    // __GFP_MEMALLOC (ALLOC_NO_WATERMARKS) takes the rest.
    let rest = 0;
    while (mem.allocPfn(0, __GFP_MEMALLOC) >= 0) rest++;
    expect(rest).toBe(dma!.min + dma32!.min);
    expect(mem.nrFreePages).toBe(0);
    mem.checkInvariants();
  });

  it("__GFP_MEMALLOC tries the low mark, then the min mark, and only then none (__alloc_frozen_pages_noprof, __alloc_pages_slowpath)", () => {
    const mem = PhysMemory.create({ ramBytes: 64 * MiB });
    const [dma, dma32] = mem.zones();
    const reserve = dma!.lowmemReserve[ZONE_NORMAL]!;
    const [dmaFree, dma32Free] = mem.zoneFreePages();
    // Drain with __GFP_MEMALLOC alone, as run lengths of the zone each page came from.
    const runs: Array<[number, number]> = [];
    const got: number[] = [];
    for (let p = mem.allocPfn(0, __GFP_MEMALLOC); p >= 0; p = mem.allocPfn(0, __GFP_MEMALLOC)) {
      got.push(p);
      const last = runs.at(-1);
      if (last?.[0] === pfnZone(p)) last[1]++;
      else runs.push([pfnZone(p), 1]);
    }
    expect(runs).toEqual([
      // ALLOC_WMARK_LOW: DMA32 down to its low mark, then DMA down to low + lowmem_reserve.
      [ZONE_DMA32, dma32Free! - dma32!.low],
      [ZONE_DMA, dmaFree! - dma!.low - reserve],
      // ALLOC_WMARK_MIN: each zone from its low mark to its min.
      [ZONE_DMA32, dma32!.low - dma32!.min],
      [ZONE_DMA, dma!.low - dma!.min],
      // ALLOC_NO_WATERMARKS: the reserves, highest zone first.
      [ZONE_DMA32, dma32!.min],
      [ZONE_DMA, dma!.min + reserve],
    ]);
    expect(mem.nrFreePages).toBe(0);
    for (const p of got) mem.freePages(p, 0);
    mem.checkInvariants();
  });

  it("__GFP_MEMALLOC with Normal below its low mark comes from DMA32 while DMA32 is above low + lowmem_reserve", () => {
    // 3 GiB + 32 MiB: the 32 MiB past the PCI hole are ZONE_NORMAL, above 4 GiB.
    const mem = PhysMemory.create({ ramBytes: 3 * 1024 * MiB + 32 * MiB });
    const [, dma32, normal] = mem.zones();
    expect(normal!.presentPages).toBe(8192);
    while (mem.zoneFreePages()[ZONE_NORMAL]! > normal!.low)
      expect(zoneOfPfn(mem.allocPfn(0))).toBe(ZONE_NORMAL);
    expect(mem.zoneFreePages()[ZONE_DMA32]).toBeGreaterThan(dma32!.low + dma32!.lowmemReserve[ZONE_NORMAL]!);
    expect(zoneOfPfn(mem.allocPfn(0, __GFP_MEMALLOC))).toBe(ZONE_DMA32);
    expect(zoneOfPfn(mem.allocPfn(3, GFP_KERNEL | __GFP_MEMALLOC))).toBe(ZONE_DMA32);
    expect(mem.zoneFreePages()[ZONE_NORMAL]).toBe(normal!.low);
    mem.checkInvariants();
  });

  it("a combination of zone modifiers that names no zone is refused (GFP_ZONE_BAD)", () => {
    const mem = PhysMemory.create({ ramBytes: 8 * MiB });
    expect(() => mem.allocPfn(0, __GFP_DMA | __GFP_DMA32)).toThrow(PhysError);
    mem.checkInvariants();
  });

  it("an 8 MiB machine has only ZONE_DMA; every zonelist ends there", () => {
    const mem = PhysMemory.create({ ramBytes: 8 * MiB });
    expect(zoneOfPfn(mem.allocPfn(0, GFP_HIGHUSER_MOVABLE))).toBe(ZONE_DMA);
    expect(zoneOfPfn(mem.allocPfn(2, __GFP_DMA32))).toBe(ZONE_DMA);
    mem.checkInvariants();
  });

  it("property: every allocation comes from the zone the reference model picks", () => {
    const gfps = [
      GFP_KERNEL,
      __GFP_DMA,
      __GFP_DMA32,
      GFP_HIGHUSER_MOVABLE,
      GFP_KERNEL | __GFP_MEMALLOC,
      __GFP_DMA32 | __GFP_MEMALLOC,
    ];
    const highestOf = [ZONE_NORMAL, ZONE_DMA, ZONE_DMA32, 3, ZONE_NORMAL, ZONE_DMA32];
    const op = fc.oneof(
      fc.record({
        kind: fc.constant("alloc" as const),
        order: fc.nat(4),
        gfp: fc.nat(gfps.length - 1),
        n: fc.integer({ min: 1, max: 400 }),
      }),
      fc.record({ kind: fc.constant("free" as const), pick: fc.nat(), n: fc.integer({ min: 1, max: 400 }) }),
    );
    // 20 MiB: ZONE_DMA 16 MiB and a ZONE_DMA32 of 4 MiB, small enough to drain in a run.
    const mem = PhysMemory.create({ ramBytes: 20 * MiB });
    const zones = mem.zones();
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        const held: Array<[number, number]> = [];
        for (const o of ops) {
          if (o.kind === "alloc") {
            for (let i = 0; i < o.n; i++) {
              const gfp = gfps[o.gfp]!;
              const want = expectedZone(mem, zones, o.order, highestOf[o.gfp]!, (gfp & __GFP_MEMALLOC) !== 0);
              const pfn = mem.allocPfn(o.order, gfp);
              expect(zoneOfPfn(pfn)).toBe(want);
              if (pfn < 0) break;
              held.push([pfn, o.order]);
            }
          } else {
            for (let i = 0; i < o.n && held.length; i++) {
              const [pfn, order] = held.splice(o.pick % held.length, 1)[0]!;
              mem.freePages(pfn, order);
            }
          }
        }
        mem.checkInvariants();
        for (const [pfn, order] of held) mem.freePages(pfn, order);
        mem.checkInvariants();
      }),
      { numRuns: 15 },
    );
  });
});
