/**
 * /proc/zoneinfo (mm/vmstat.c zoneinfo_show): the allocator renders it (phys renderZoneinfo); this
 * file counts what only the page tables and the page cache know, with the same definitions /proc/meminfo
 * uses here: anonymous pages (NR_ANON_MAPPED), other mapped pages with a struct page (NR_FILE_MAPPED:
 * shmem, and driver pages inserted with vm_insert_page), shmem pages (NR_SHMEM, which are also the
 * whole page cache, NR_FILE_PAGES), page-table pages.
 *
 * LRU lists, which the model does not keep, are counted where Linux puts such pages when nothing has
 * reclaimed or activated them: anonymous and shmem pages on the inactive anon list (new anon folios
 * have started inactive since 5.9), pages mapped in a VM_LOCKED VMA on the unevictable list, also
 * counted as nr_mlock (with driver pages mapped there, which are on no LRU list).
 *
 * 2.6.10 had no /proc/zoneinfo (it came with 2.6.13): null there.
 */
import { pfnZone, renderZoneinfo } from "@faultline/phys";
import type { Kernel } from "./kernel";
import { userPageCensus } from "./vmstat";

export function procZoneinfo(k: Kernel): string | null {
  if (k.era === "2.6.10") return null;
  const { anon, mapped, mlocked, shmem, tables } = userPageCensus(k);
  const zone = [0, 1, 2].map(() => ({ nr_zone_inactive_anon: 0, nr_zone_unevictable: 0, nr_mlock: 0 }));
  for (const pfn of new Set([...anon, ...shmem])) {
    const z = zone[pfnZone(pfn)]!;
    if (mlocked.has(pfn)) z.nr_zone_unevictable++;
    else z.nr_zone_inactive_anon++;
  }
  // mlock_folio() counts every locked page; a driver's page (no LRU) stays off the unevictable list.
  for (const pfn of mlocked) zone[pfnZone(pfn)]!.nr_mlock++;
  const sum = (key: keyof (typeof zone)[number]) => zone.reduce((n, z) => n + z[key], 0);
  return renderZoneinfo(k.mem, {
    node: {
      nr_inactive_anon: sum("nr_zone_inactive_anon"),
      nr_unevictable: sum("nr_zone_unevictable"),
      nr_anon_pages: anon.size,
      nr_mapped: mapped.size,
      nr_file_pages: shmem.size,
      nr_shmem: shmem.size,
      nr_page_table_pages: tables,
      // Not modelled, printed as 0: kernel stacks (Linux: 16 KiB a thread), FOLL_PIN event counts
      // (pins exist, their running totals are not kept), slab, reclaim and writeback events.
    },
    zone,
  });
}
