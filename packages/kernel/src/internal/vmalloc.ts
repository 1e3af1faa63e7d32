/**
 * mm/vmalloc.c's state: the machine's vmalloc areas (vm_struct, one per area, kept sorted by address
 * as the busy vmap_area tree is) and nr_vmalloc_pages. The driver API over it is ../vmalloc.ts; the
 * snapshot, the invariants and /proc read it here.
 *
 * Faultline has no kernel page table: an area's "mapping" is its list of pfns, and a kernel virtual
 * address in it is translated by that list (vmalloc_to_page), never by arithmetic. The pages are
 * order-0 allocations of the buddy allocator, one reference each, owned by the area until vfree.
 */
import { PAGE_OFFSET, PAGE_SIZE } from "@faultline/phys";
import { hex16 } from "./format";
import type { Kernel } from "./kernel";

/** vm_struct flags (include/linux/vmalloc.h). */
export const VM_IOREMAP = 0x1;
export const VM_ALLOC = 0x2;
export const VM_MAP = 0x4;
export const VM_USERMAP = 0x8;
export const VM_DMA_COHERENT = 0x10;
export const VM_NO_GUARD = 0x40;
/** The flags a vmalloc area here can carry (what a snapshot may name). */
const VM_AREA_FLAGS = VM_ALLOC | VM_USERMAP | VM_DMA_COHERENT | VM_NO_GUARD;

/** The vmalloc area's length: x86-64's with 4-level paging (VMALLOC_SIZE_TB_L4 = 32 TiB). */
const VMALLOC_SIZE = 2 ** 45;

/**
 * VMALLOC_START. x86-64 puts it at 0xffffc90000000000, 1 TiB past the end of a 64 TiB direct map
 * (0xffff888000000000). Faultline's kernel addresses are doubles, exact only below 2^53, and the direct
 * map starts at PAGE_OFFSET = 2^52: so the vmalloc area sits at 2^52 + 2^51, which leaves the direct map
 * the first 2 PiB of physical addresses (far beyond RAM, 64 GiB at most, and the PCI windows above it)
 * and ends (2^52 + 2^51 + 2^45) well below 2^53.
 */
export const VMALLOC_START = PAGE_OFFSET + 2 ** 51;
/** VMALLOC_END: its last byte, as x86's VMALLOC_END (VMALLOC_START + 32 TiB - 1). */
export const VMALLOC_END = VMALLOC_START + VMALLOC_SIZE - 1;
/** VMALLOC_TOTAL, what /proc/meminfo's VmallocTotal shows (in kB, rounded down: 34359738367 kB). */
export const VMALLOC_TOTAL = VMALLOC_END - VMALLOC_START;

/** struct vm_struct of a vmalloc area. */
export interface VmStruct {
  readonly addr: number;
  /** Bytes of address space, the guard page included (vm_struct.size). */
  readonly size: number;
  readonly flags: number;
  /** The pfn behind each page of the area, in address order (vm_struct.pages). */
  readonly pages: readonly number[];
  /**
   * The address of the vmalloc area holding the pages[] array itself, for an area of more than
   * PAGE_SIZE / sizeof(struct page *) = 512 pages (__vmalloc_area_node vmallocs the array; smaller
   * ones are kmalloc'd and have none). /proc/vmallocinfo marks such an area " vpages".
   */
  readonly pagesArea?: number;
}

/** A lazily freed vmap_area (on the purge list): its address range, guard page included. */
export interface VmapRange {
  readonly addr: number;
  readonly size: number;
}

interface VmallocState {
  /** Sorted by address, never overlapping (guard pages included). */
  readonly areas: VmStruct[];
  /** nr_vmalloc_pages. */
  nrPages: number;
  /**
   * The lazily freed ranges (vmap_node.lazy, sorted by address as its list is): address space vfree
   * gave up that no allocation may take until purge_vmap_area_lazy returns it to the free space.
   */
  readonly lazy: VmapRange[];
}

const states = new WeakMap<Kernel, VmallocState>();

/** The machine's vmalloc state, created on first use. */
export function vmallocOf(k: Kernel): VmallocState {
  let s = states.get(k);
  if (!s) {
    s = { areas: [], nrPages: 0, lazy: [] };
    states.set(k, s);
  }
  return s;
}

/** get_vm_area_size(): the area's usable bytes (without its guard page). */
export const getVmAreaSize = (a: VmStruct): number => (a.flags & VM_NO_GUARD ? a.size : a.size - PAGE_SIZE);

/** is_vmalloc_addr(). */
export const isVmallocAddress = (addr: number): boolean => addr >= VMALLOC_START && addr < VMALLOC_END;

/**
 * num_online_cpus(): Faultline's machine has one CPU (@faultline/phys's mmzone.ts sizes the per-cpu
 * lists for ONLINE_CPUS = 1, which it does not export; nothing in the kernel package counts CPUs).
 */
const ONLINE_CPUS = 1;

/** fls(): the 1-based index of the highest set bit, 0 for 0. */
const fls = (x: number): number => (x <= 0 ? 0 : Math.floor(Math.log2(x)) + 1);

/**
 * lazy_max_pages(): fls(num_online_cpus()) * (32 MiB / PAGE_SIZE) pages of lazily freed address space
 * may build up; free_vmap_area_noflush purges once vmap_lazy_nr exceeds it (8192 pages on one CPU).
 */
export const LAZY_MAX_PAGES = fls(ONLINE_CPUS) * ((32 * 1024 * 1024) / PAGE_SIZE);

/** vmap_lazy_nr: the pages of the lazily freed ranges. */
const lazyPages = (lazy: readonly VmapRange[]): number => lazy.reduce((n, r) => n + r.size / PAGE_SIZE, 0);

/** The lowest address where `size` bytes fit between the busy areas and the lazily freed ranges, or -1. */
function lowestFit(s: VmallocState, size: number): number {
  let addr = VMALLOC_START;
  let i = 0;
  let j = 0;
  // Both lists are sorted by address; walk them merged.
  while (i < s.areas.length || j < s.lazy.length) {
    const a = s.areas[i];
    const l = s.lazy[j];
    let r: VmapRange;
    if (l && (!a || l.addr < a.addr)) {
      r = l;
      j++;
    } else {
      r = a!;
      i++;
    }
    if (addr + size <= r.addr) break;
    addr = Math.max(addr, r.addr + r.size);
  }
  return addr + size > VMALLOC_END ? -1 : addr;
}

/**
 * purge_vmap_area_lazy() (reclaim_and_purge_vmap_areas): every lazily freed range goes back to the
 * free space. Faultline has no kernel page table, so there is no TLB to flush.
 */
export function purgeVmapAreaLazy(k: Kernel): void {
  vmallocOf(k).lazy.length = 0;
}

/**
 * alloc_vmap_area(): the lowest address in [VMALLOC_START, VMALLOC_END] where `size` bytes fit in the
 * free space (the free-space tree's lowest match: busy areas and lazily freed ranges are not in it).
 * When none does, the lazily freed ranges are purged and the search runs once more (the overflow
 * label's `if (!purged)` retry); -1 when that fails too.
 */
export function allocVmapArea(k: Kernel, size: number): number {
  const s = vmallocOf(k);
  const addr = lowestFit(s, size);
  if (addr >= 0 || s.lazy.length === 0) return addr;
  purgeVmapAreaLazy(k);
  return lowestFit(s, size);
}

/**
 * free_vmap_area_noflush(): the range goes on the lazy list (sorted by address) and its pages are
 * added to vmap_lazy_nr; past lazy_max_pages the drain work purges (Linux schedules it; it runs here
 * at once).
 */
function freeVmapAreaNoflush(k: Kernel, range: VmapRange): void {
  const lazy = vmallocOf(k).lazy;
  let i = lazy.length;
  while (i > 0 && lazy[i - 1]!.addr > range.addr) i--;
  lazy.splice(i, 0, { addr: range.addr, size: range.size });
  if (lazyPages(lazy) > LAZY_MAX_PAGES) purgeVmapAreaLazy(k);
}

/** Adds `n` pages to nr_vmalloc_pages (an area's pages, allocated once it is linked). */
export function countVmallocPages(k: Kernel, n: number): void {
  vmallocOf(k).nrPages += n;
}

/** Links a new area into the sorted list and counts its pages (nr_vmalloc_pages). */
export function insertVmArea(k: Kernel, area: VmStruct): void {
  const s = vmallocOf(k);
  let i = s.areas.length;
  while (i > 0 && s.areas[i - 1]!.addr > area.addr) i--;
  s.areas.splice(i, 0, area);
  s.nrPages += area.pages.length;
}

/**
 * find_vm_area() / __find_vmap_area(): the area whose address range (guard page included) holds
 * `addr`, or null. Linux looks up by containment, not by start address.
 */
export function findVmArea(k: Kernel, addr: number): VmStruct | null {
  const areas = vmallocOf(k).areas;
  let lo = 0;
  let hi = areas.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const a = areas[mid]!;
    if (addr < a.addr) hi = mid - 1;
    else if (addr >= a.addr + a.size) lo = mid + 1;
    else return a;
  }
  return null;
}

/**
 * Unlinks `area` (remove_vm_area), uncounts its pages and puts its address range, guard page included,
 * on the lazy list (free_vmap_area_noflush); the pages are the caller's to free.
 */
export function unlinkVmArea(k: Kernel, area: VmStruct): void {
  const s = vmallocOf(k);
  const i = s.areas.indexOf(area);
  if (i < 0) throw new Error("unlinkVmArea: not a live vmalloc area (kernel BUG)");
  s.areas.splice(i, 1);
  s.nrPages -= area.pages.length;
  freeVmapAreaNoflush(k, area);
}

/** The number of pages of the vmalloc'd pages[] array of an area of `nrPages` pages, 0 for a kmalloc'd one. */
export const pagesArrayPages = (nrPages: number): number =>
  nrPages * 8 > PAGE_SIZE ? Math.ceil((nrPages * 8) / PAGE_SIZE) : 0;

/** The area whose pages[] array is the area at `addr`, or null. */
export function arrayOwner(k: Kernel, addr: number): VmStruct | null {
  return vmallocOf(k).areas.find((a) => a.pagesArea === addr) ?? null;
}

const hex = (n: number) => `0x${n.toString(16)}`;

/**
 * What is wrong with `areas` and `lazy` as a machine's vmalloc areas and lazily freed ranges, or null:
 * each area page aligned inside the vmalloc range, with known flags including VM_ALLOC, at least one
 * page and a size that is its pages plus the guard page (unless VM_NO_GUARD); sorted and not
 * overlapping (guard pages included); no pfn in two places; an area of more than 512 pages names the
 * area holding its pages[] array (VM_ALLOC only, its size, no other area's), a smaller one none. The
 * lazy ranges: page aligned in the vmalloc range, sorted, overlapping neither each other nor an area,
 * at most lazy_max_pages in all. Both checkInvariants and a snapshot's restore ask it.
 */
export function badVmAreas(areas: readonly VmStruct[], lazy: readonly VmapRange[] = []): string | null {
  const seen = new Map<number, number>();
  let prevEnd = VMALLOC_START;
  for (const [i, a] of areas.entries()) {
    const what = `vmalloc area ${i} at ${hex(a.addr)}`;
    if (!Number.isInteger(a.addr) || a.addr % PAGE_SIZE !== 0 || !isVmallocAddress(a.addr))
      return `${what}: not a page-aligned address in the vmalloc range ${hex(VMALLOC_START)}-${hex(VMALLOC_END)}`;
    if (a.addr < prevEnd)
      return `${what}: overlaps the area before it (or the areas are not sorted by address)`;
    if (!Number.isInteger(a.flags) || a.flags & ~VM_AREA_FLAGS || !(a.flags & VM_ALLOC))
      return `${what}: flags ${String(a.flags)} are not VM_ALLOC with VM_USERMAP, VM_DMA_COHERENT or VM_NO_GUARD`;
    if (a.pages.length === 0) return `${what}: holds no page`;
    const want = (a.pages.length + (a.flags & VM_NO_GUARD ? 0 : 1)) * PAGE_SIZE;
    if (a.size !== want)
      return `${what}: size ${String(a.size)} but ${a.pages.length} page(s)${a.flags & VM_NO_GUARD ? "" : " and a guard page"} take ${want}`;
    if (a.addr + a.size > VMALLOC_END) return `${what}: ends beyond VMALLOC_END`;
    for (const [j, pfn] of a.pages.entries()) {
      if (!Number.isInteger(pfn) || pfn < 0) return `${what}: page ${j} has no pfn (${String(pfn)})`;
      const other = seen.get(pfn);
      if (other !== undefined)
        return `${what}: pfn ${hex(pfn)} (page ${j}) is also page of vmalloc area ${other}`;
      seen.set(pfn, i);
    }
    prevEnd = a.addr + a.size;
  }
  const byAddr = new Map(areas.map((a) => [a.addr, a]));
  const arrays = new Set<number>();
  for (const [i, a] of areas.entries()) {
    const what = `vmalloc area ${i} at ${hex(a.addr)}`;
    const want = pagesArrayPages(a.pages.length);
    if (!want) {
      if (a.pagesArea !== undefined)
        return `${what}: ${a.pages.length} page(s) keep their pages[] array in kmalloc memory, not in a vmalloc area`;
      continue;
    }
    if (a.pagesArea === undefined)
      return `${what}: ${a.pages.length} pages but no vmalloc area holds its pages[] array`;
    const arr = byAddr.get(a.pagesArea);
    if (!arr || arr === a)
      return `${what}: its pages[] array area ${hex(a.pagesArea)} is no other vmalloc area`;
    if (arr.flags !== VM_ALLOC || arr.pages.length !== want)
      return `${what}: its pages[] array area ${hex(arr.addr)} is not a plain vmalloc area of ${want} page(s)`;
    if (arrays.has(arr.addr)) return `${what}: its pages[] array area ${hex(arr.addr)} is another area's too`;
    arrays.add(arr.addr);
  }
  let lazyEnd = VMALLOC_START;
  let ai = 0;
  for (const [i, r] of lazy.entries()) {
    const what = `lazily freed vmalloc range ${i} at ${hex(r.addr)}`;
    if (!Number.isInteger(r.addr) || r.addr % PAGE_SIZE !== 0 || !isVmallocAddress(r.addr))
      return `${what}: not a page-aligned address in the vmalloc range`;
    if (!Number.isInteger(r.size) || r.size <= 0 || r.size % PAGE_SIZE !== 0 || r.addr + r.size > VMALLOC_END)
      return `${what}: size ${String(r.size)} is not a whole number of pages inside the vmalloc range`;
    if (r.addr < lazyEnd)
      return `${what}: overlaps the range before it (or the ranges are not sorted by address)`;
    while (ai < areas.length && areas[ai]!.addr + areas[ai]!.size <= r.addr) ai++;
    const a = areas[ai];
    if (a && a.addr < r.addr + r.size) return `${what}: overlaps the vmalloc area at ${hex(a.addr)}`;
    lazyEnd = r.addr + r.size;
  }
  const nLazy = lazyPages(lazy);
  if (nLazy > LAZY_MAX_PAGES)
    return `the lazily freed vmalloc ranges hold ${nLazy} pages, more than lazy_max_pages (${LAZY_MAX_PAGES}) lets build up`;
  return null;
}

/**
 * The invariants' part: the areas are well formed (badVmAreas), nr_vmalloc_pages is their page count,
 * and each page is counted as one reference the kernel holds.
 */
export function checkVmallocInvariants(k: Kernel, add: (pfn: number, n: number, what: string) => void): void {
  const s = vmallocOf(k);
  const bad = badVmAreas(s.areas, s.lazy);
  if (bad) throw new Error(bad);
  const n = s.areas.reduce((sum, a) => sum + a.pages.length, 0);
  if (n !== s.nrPages)
    throw new Error(`nr_vmalloc_pages is ${s.nrPages} but the vmalloc areas hold ${n} pages`);
  for (const a of s.areas) for (const pfn of a.pages) add(pfn, 1, `vmalloc area ${hex(a.addr)}`);
}

/**
 * Replaces the machine's vmalloc areas and lazily freed ranges (a snapshot's, checked with badVmAreas
 * first).
 */
export function setVmAreas(k: Kernel, areas: readonly VmStruct[], lazy: readonly VmapRange[]): void {
  const s = vmallocOf(k);
  s.areas.splice(0, s.areas.length, ...areas);
  s.lazy.splice(0, s.lazy.length, ...lazy);
  s.nrPages = areas.reduce((sum, a) => sum + a.pages.length, 0);
}

/**
 * /proc/vmallocinfo (vmalloc_info_show in mm/vmalloc.c), for the vmalloc areas only (Linux also lists
 * ioremap and vmap areas, which Faultline does not put in this range): start-end, size with the guard
 * page, pages, the kind, " vpages" when the pages[] array is itself vmalloc'd, and N0= (one NUMA node).
 * Then, after every busy area, show_purge_info's line for each lazily freed range ("unpurged vm_area").
 * The caller (%pS) is not known here and is left out (a pages[] array area's is its owner's caller in
 * Linux); Linux shows the file to root only (mode 0400), Faultline's /proc files have no owner.
 */
export function renderVmallocinfo(k: Kernel): string {
  const p = (n: number) => `0x${hex16(n)}`;
  const s = vmallocOf(k);
  const busy = s.areas.map((a) => {
    const kind = `${a.flags & VM_ALLOC ? " vmalloc" : ""}${a.flags & VM_USERMAP ? " user" : ""}${a.flags & VM_DMA_COHERENT ? " dma-coherent" : ""}${a.pagesArea !== undefined ? " vpages" : ""}`;
    return `${p(a.addr)}-${p(a.addr + a.size)} ${String(a.size).padStart(7)} pages=${a.pages.length}${kind} N0=${a.pages.length}\n`;
  });
  const unpurged = s.lazy.map(
    (r) => `${p(r.addr)}-${p(r.addr + r.size)} ${String(r.size).padStart(7)} unpurged vm_area\n`,
  );
  return [...busy, ...unpurged].join("");
}
