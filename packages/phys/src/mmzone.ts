/**
 * Memory zones of one x86-64 node (include/linux/mmzone.h) and the numbers mm/page_alloc.c derives
 * from their sizes at boot: watermarks (__setup_per_zone_wmarks, calculate_min_free_kbytes), the
 * lowmem reserve ("protection", setup_per_zone_lowmem_reserve), per-CPU pageset batch and high limits
 * (zone_batchsize, zone_highsize) and the vmstat threshold (calculate_normal_threshold). Pure
 * functions of the RAM layout: every thread attached to one PhysMemory computes the same values.
 *
 * The kernel modelled: x86-64 with ZONE_DMA, ZONE_DMA32, ZONE_NORMAL, ZONE_MOVABLE and ZONE_DEVICE
 * (MAX_NR_ZONES 5, as distribution kernels build it), one node, one online CPU, default sysctls
 * (lowmem_reserve_ratio 256 256 32 0 0, watermark_scale_factor 10, percpu_pagelist_high_fraction 0),
 * and no khugepaged raising min_free_kbytes (the model has no transparent huge pages).
 */
import type { RamRange } from "./layout";

/** enum zone_type: below 16 MiB, for ISA-era devices with 24-bit DMA. */
export const ZONE_DMA = 0;
/** enum zone_type: below 4 GiB, for devices with 32-bit DMA. */
export const ZONE_DMA32 = 1;
/** enum zone_type: everything else (x86-64 has no ZONE_HIGHMEM). */
export const ZONE_NORMAL = 2;
/** enum zone_type: movable-only memory (kernelcore=/movablecore=); always empty here. */
export const ZONE_MOVABLE = 3;
/** enum zone_type: device memory (memremap_pages); never RAM, so always empty here. */
export const ZONE_DEVICE = 4;
/** Zones of a node, ZONE_DMA to ZONE_DEVICE. */
export const MAX_NR_ZONES = 5;
/** Zones that can hold RAM here: ZONE_MOVABLE is empty without movablecore=, ZONE_DEVICE has no RAM. */
export const NR_RAM_ZONES = 3;
/** zone_names[] of mm/page_alloc.c. */
export const ZONE_NAMES: readonly string[] = ["DMA", "DMA32", "Normal", "Movable", "Device"];

/** MAX_DMA_PFN: ZONE_DMA ends at 16 MiB. */
export const MAX_DMA_PFN = 0x1000;
/** MAX_DMA32_PFN: ZONE_DMA32 ends at 4 GiB. */
export const MAX_DMA32_PFN = 0x100000;

/**
 * [start, end) pfns of ZONE_DMA, ZONE_DMA32 and ZONE_NORMAL: x86's zone_sizes_init() max_zone_pfns,
 * which free_area_init() turns into arch_zone_lowest_possible_pfn/arch_zone_highest_possible_pfn.
 */
export const ZONE_START_PFN: readonly number[] = [0, MAX_DMA_PFN, MAX_DMA32_PFN];
export const ZONE_END_PFN: readonly number[] = [MAX_DMA_PFN, MAX_DMA32_PFN, Number.POSITIVE_INFINITY];

/** The zone a RAM pfn lies in (page_zonenum()). */
export const pfnZone = (pfn: number): number => (pfn < MAX_DMA_PFN ? 0 : pfn < MAX_DMA32_PFN ? 1 : 2);

/** sysctl_lowmem_reserve_ratio defaults: DMA 256, DMA32 256, Normal 32, Movable 0 (and Device 0). */
const LOWMEM_RESERVE_RATIO = [256, 256, 32, 0, 0];
const WATERMARK_SCALE_FACTOR = 10;
/** MIN_PERCPU_PAGELIST_HIGH_FRACTION: the pcp high_max is a zone's managed pages over this, split by CPU. */
const MIN_PERCPU_PAGELIST_HIGH_FRACTION = 8;
const SWAP_CLUSTER_MAX = 32;
const ONLINE_CPUS = 1;

/** One zone as /proc/zoneinfo describes it. */
export interface Zone {
  readonly name: string;
  /** zone_start_pfn (0 for a zone with no span). */
  readonly startPfn: number;
  readonly spannedPages: number;
  /** RAM pages inside the span. */
  readonly presentPages: number;
  /** Pages handed to the buddy allocator (present less the reserved: pfn 0 is not RAM, the zero page). */
  readonly managedPages: number;
  /** _watermark[WMARK_MIN/LOW/HIGH/PROMO]. */
  readonly min: number;
  readonly low: number;
  readonly high: number;
  readonly promo: number;
  /** lowmem_reserve[]: pages kept free here against allocations whose highest zone is the index. */
  readonly lowmemReserve: readonly number[];
  /** per_cpu_pages batch, high_min and high_max as zone_set_pageset_high_and_batch sets them. */
  readonly pcpBatch: number;
  readonly pcpHighMin: number;
  readonly pcpHighMax: number;
  /** per_cpu_zonestat stat_threshold (calculate_normal_threshold). */
  readonly statThreshold: number;
}

/** Every zone of node 0, ZONE_DMA to ZONE_DEVICE, for a RAM layout; `reserved` pfns are not managed. */
export function nodeZones(ranges: readonly RamRange[], reserved: readonly number[]): Zone[] {
  // trim_bios_range(): the first page is the BIOS's, not RAM, so the node starts at pfn 1.
  const spans = ranges.map((r) => [Math.max(1, r.start / 4096), r.end / 4096] as const);
  const nodeStart = Math.min(...spans.map(([s]) => s));
  const nodeEnd = Math.max(...spans.map(([, e]) => e));
  const geo = ZONE_START_PFN.map((lo, z) => {
    // zone_spanned_pages_in_node(): the zone's range clipped to the node's.
    const start = Math.max(nodeStart, lo);
    const end = Math.min(nodeEnd, ZONE_END_PFN[z]!);
    if (start >= end) return { startPfn: 0, spanned: 0, present: 0, managed: 0 };
    let present = 0;
    for (const [s, e] of spans) present += Math.max(0, Math.min(e, end) - Math.max(s, start));
    const managed = present - reserved.filter((p) => p >= start && p < end).length;
    return { startPfn: start, spanned: end - start, present, managed };
  });
  const params = zoneParams([...geo.map((g) => g.managed), 0, 0]);
  return params.map((p, z) => {
    const g = geo[z] ?? { startPfn: 0, spanned: 0, present: 0, managed: 0 };
    return { startPfn: g.startPfn, spannedPages: g.spanned, presentPages: g.present, ...p };
  });
}

/** The zone numbers that follow from managed page counts alone. */
export type ZoneParams = Omit<Zone, "startPfn" | "spannedPages" | "presentPages">;

/**
 * Watermarks, lowmem reserves, pageset limits and stat thresholds of the MAX_NR_ZONES zones of a node
 * whose zones manage `managed` pages. `minFreeKbytes` stands for a value set through
 * /proc/sys/vm/min_free_kbytes (or by khugepaged); `cpus` is the number of online CPUs.
 */
export function zoneParams(
  managed: readonly number[],
  opts: { readonly minFreeKbytes?: number; readonly cpus?: number } = {},
): ZoneParams[] {
  const cpus = opts.cpus ?? ONLINE_CPUS;
  // calculate_min_free_kbytes(): sqrt(lowmem_kbytes * 16), clamped to [128, 262144]; lowmem is every
  // managed page below ZONE_HIGHMEM (nr_free_buffer_pages() at boot, watermarks still 0).
  const lowmemKbytes = (managed[0]! + managed[1]! + managed[2]!) * 4;
  const minFreeKbytes =
    opts.minFreeKbytes ?? Math.min(262144, Math.max(128, Math.floor(Math.sqrt(lowmemKbytes * 16))));
  const pagesMin = minFreeKbytes >> 2;
  const lowmemPages = managed.reduce((n, m, z) => (z === ZONE_MOVABLE ? n : n + m), 0);
  return ZONE_NAMES.map((name, z) => {
    const m = managed[z] ?? 0;
    // __setup_per_zone_wmarks(): min in proportion to the zone's share of lowmem; ZONE_MOVABLE gets a
    // small fixed min (clamp(managed / 1024, SWAP_CLUSTER_MAX, 128)); each further mark adds the larger
    // of min/4 and watermark_scale_factor/10000 of the zone.
    const tmp = lowmemPages ? Math.floor((pagesMin * m) / lowmemPages) : 0;
    const min = z === ZONE_MOVABLE ? Math.min(128, Math.max(SWAP_CLUSTER_MAX, Math.floor(m / 1024))) : tmp;
    const step = Math.max(tmp >> 2, multFrac(m, WATERMARK_SCALE_FACTOR, 10000));
    const low = min + step;
    // setup_per_zone_lowmem_reserve(): against an allocation whose highest zone is j > z, keep the
    // managed pages of zones z+1..j divided by this zone's ratio (none when the ratio is 0 or the zone
    // is empty).
    const ratio = LOWMEM_RESERVE_RATIO[z]!;
    const clear = !ratio || !m;
    let upper = 0;
    const lowmemReserve = ZONE_NAMES.map((_n, j) => {
      if (j <= z) return 0;
      upper += managed[j] ?? 0;
      return clear ? 0 : Math.floor(upper / ratio);
    });
    const pcpBatch = Math.max(1, zoneBatchsize(m));
    return {
      name,
      managedPages: m,
      min,
      low,
      high: low + step,
      promo: low + 2 * step,
      lowmemReserve,
      pcpBatch,
      // zone_highsize(): high_min from the low watermark, high_max from managed / 8, each split over
      // the node's CPUs (plus the one coming online: none) and at least 4 batches.
      pcpHighMin: Math.max(Math.floor(low / cpus), pcpBatch << 2),
      pcpHighMax: Math.max(
        Math.floor(Math.floor(m / MIN_PERCPU_PAGELIST_HIGH_FRACTION) / cpus),
        pcpBatch << 2,
      ),
      // calculate_normal_threshold(): 2 * fls(cpus) * (1 + fls(managed in 128 MiB units)), at most 125.
      statThreshold: Math.min(125, 2 * fls(cpus) * (1 + fls(Math.floor(m / 2 ** 15)))),
    };
  });
}

/** mult_frac(x, n, d) as the kernel computes it, without the intermediate overflow. */
function multFrac(x: number, n: number, d: number): number {
  return Math.floor(x / d) * n + Math.floor(((x % d) * n) / d);
}

/** fls(): the 1-based index of the highest set bit, 0 for 0. */
const fls = (x: number): number => (x <= 0 ? 0 : Math.floor(Math.log2(x)) + 1);

/**
 * zone_batchsize(): about a quarter of a zone's managed pages per 1024, at most 1 MiB worth, rounded
 * to 2^n - 1 (the caller makes 0 into 1).
 */
function zoneBatchsize(managed: number): number {
  let batch = Math.floor(Math.min(Math.floor(managed / 1024), 256) / 4);
  if (batch < 1) batch = 1;
  const b = batch + Math.floor(batch / 2);
  return 2 ** Math.floor(Math.log2(b)) - 1;
}
