/**
 * /proc/zoneinfo (mm/vmstat.c: zoneinfo_show, zoneinfo_show_print): every zone of node 0, populated or
 * not, with the node's stats printed once, under the first populated zone.
 *
 * The lines and their order are those of an x86-64 Linux 6.18 built as distributions build it
 * (CONFIG_NUMA, CONFIG_ZSMALLOC, CONFIG_SWAP, CONFIG_IOMMU_SUPPORT, CONFIG_NUMA_BALANCING,
 * CONFIG_HUGETLB_PAGE, CONFIG_ZONE_DEVICE; no CONFIG_CMA pages, no CONFIG_UNACCEPTED_MEMORY), checked
 * line by line against such a kernel. Values: the allocator's own (free pages and blocks, watermarks,
 * spans, protection, NUMA hits), the counters the caller takes from the page tables and page cache
 * (`ZoneinfoCounters`), and 0 for what the model has no such thing as (slab, reclaim, writeback,
 * swap, THP, CMA, zsmalloc, promotion/demotion, kernel stacks): what Linux prints while they are unused.
 */
import { MAX_ORDER } from "./constants";
import type { PhysMemory } from "./memory";
import { NR_RAM_ZONES } from "./mmzone";

/** enum node_stat_item, as vmstat_text names them. */
export const NODE_STAT_ITEMS: readonly string[] = [
  "nr_inactive_anon",
  "nr_active_anon",
  "nr_inactive_file",
  "nr_active_file",
  "nr_unevictable",
  "nr_slab_reclaimable",
  "nr_slab_unreclaimable",
  "nr_isolated_anon",
  "nr_isolated_file",
  "workingset_nodes",
  "workingset_refault_anon",
  "workingset_refault_file",
  "workingset_activate_anon",
  "workingset_activate_file",
  "workingset_restore_anon",
  "workingset_restore_file",
  "workingset_nodereclaim",
  "nr_anon_pages",
  "nr_mapped",
  "nr_file_pages",
  "nr_dirty",
  "nr_writeback",
  "nr_shmem",
  "nr_shmem_hugepages",
  "nr_shmem_pmdmapped",
  "nr_file_hugepages",
  "nr_file_pmdmapped",
  "nr_anon_transparent_hugepages",
  "nr_vmscan_write",
  "nr_vmscan_immediate_reclaim",
  "nr_dirtied",
  "nr_written",
  "nr_throttled_written",
  "nr_kernel_misc_reclaimable",
  "nr_foll_pin_acquired",
  "nr_foll_pin_released",
  "nr_kernel_stack",
  "nr_page_table_pages",
  "nr_sec_page_table_pages",
  "nr_iommu_pages",
  "nr_swapcached",
  "pgpromote_success",
  "pgpromote_candidate",
  "pgpromote_candidate_nrl",
  "pgdemote_kswapd",
  "pgdemote_direct",
  "pgdemote_khugepaged",
  "pgdemote_proactive",
  "nr_hugetlb",
  "nr_balloon_pages",
  "nr_kernel_file_pages",
];

/** enum zone_stat_item after the two free-page counters the allocator keeps itself. */
const ZONE_LRU_ITEMS = [
  "nr_zone_inactive_anon",
  "nr_zone_active_anon",
  "nr_zone_inactive_file",
  "nr_zone_active_file",
  "nr_zone_unevictable",
  "nr_zone_write_pending",
  "nr_mlock",
  "nr_zspages",
  "nr_free_cma",
] as const;

/** pageblock_order on x86-64 (HPAGE_PMD_ORDER): NR_FREE_PAGES_BLOCKS counts free blocks this big. */
const PAGEBLOCK_ORDER = 9;

/** What the page tables and page cache say, for the lines the allocator cannot fill in. */
export interface ZoneinfoCounters {
  /** node_stat_item values by vmstat_text name; a name left out prints 0. */
  readonly node: Readonly<Partial<Record<string, number>>>;
  /** Per RAM zone (DMA, DMA32, Normal): zone_stat_item values by name; a name left out prints 0. */
  readonly zone: readonly Readonly<Partial<Record<(typeof ZONE_LRU_ITEMS)[number], number>>>[];
}

/** The text of /proc/zoneinfo for `mem`, with the node and zone counters the caller counted. */
export function renderZoneinfo(mem: PhysMemory, counters: ZoneinfoCounters): string {
  const zones = mem.zones();
  const free = mem.zoneFreePages();
  const hits = mem.zoneNumaHits();
  const blocks = new Map(mem.buddyinfoByZone().map((b) => [b.zone, b.counts]));
  const first = zones.findIndex((z) => z.presentPages > 0);
  const stat = (name: string, value: number) => `\n      ${name.padEnd(12)} ${value}`;
  let out = "";
  zones.forEach((zone, z) => {
    out += `Node 0, zone ${zone.name.padStart(8)}`;
    if (z === first) {
      out += "\n  per-node stats";
      for (const name of NODE_STAT_ITEMS) out += stat(name, counters.node[name] ?? 0);
    }
    const nrFree = z < NR_RAM_ZONES ? free[z]! : 0;
    out +=
      `\n  pages free     ${nrFree}` +
      // watermark_boost: raised only by fragmentation events (boost_watermark), which need migratetypes.
      "\n        boost    0" +
      `\n        min      ${zone.min}` +
      `\n        low      ${zone.low}` +
      `\n        high     ${zone.high}` +
      `\n        promo    ${zone.promo}` +
      `\n        spanned  ${zone.spannedPages}` +
      `\n        present  ${zone.presentPages}` +
      `\n        managed  ${zone.managedPages}` +
      "\n        cma      0" +
      `\n        protection: (${zone.lowmemReserve.join(", ")})`;
    // populated_zone(): nothing else is useful about a zone without pages.
    if (zone.presentPages === 0) {
      out += "\n";
      return;
    }
    const counts = blocks.get(zone.name) ?? [];
    let freeBlocks = 0;
    for (let o = PAGEBLOCK_ORDER; o <= MAX_ORDER; o++) freeBlocks += (counts[o] ?? 0) << o;
    out += stat("nr_free_pages", nrFree) + stat("nr_free_pages_blocks", freeBlocks);
    const zc = counters.zone[z] ?? {};
    for (const name of ZONE_LRU_ITEMS) out += stat(name, zc[name] ?? 0);
    // One node: every allocation is a local hit; no misses, no foreign or interleaved pages.
    out +=
      stat("numa_hit", hits[z]!) +
      stat("numa_miss", 0) +
      stat("numa_foreign", 0) +
      stat("numa_interleave", 0) +
      stat("numa_local", hits[z]!) +
      stat("numa_other", 0);
    // One CPU. The model frees straight to the buddy lists, keeping no per-CPU pages: count 0, and
    // pcp->high still at its boot value 0 (it only grows as frees fill the per-CPU list).
    out +=
      "\n  pagesets" +
      "\n    cpu: 0" +
      "\n              count:    0" +
      "\n              high:     0" +
      `\n              batch:    ${zone.pcpBatch}` +
      `\n              high_min: ${zone.pcpHighMin}` +
      `\n              high_max: ${zone.pcpHighMax}` +
      `\n  vm stats threshold: ${zone.statThreshold}` +
      // kswapd never ran, so it never failed: the node is reclaimable.
      "\n  node_unreclaimable:  0" +
      `\n  start_pfn:           ${zone.startPfn}\n`;
  });
  return out;
}
