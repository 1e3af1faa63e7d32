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
}

interface VmallocState {
  /** Sorted by address, never overlapping (guard pages included). */
  readonly areas: VmStruct[];
  /** nr_vmalloc_pages. */
  nrPages: number;
}

const states = new WeakMap<Kernel, VmallocState>();

/** The machine's vmalloc state, created on first use. */
export function vmallocOf(k: Kernel): VmallocState {
  let s = states.get(k);
  if (!s) {
    s = { areas: [], nrPages: 0 };
    states.set(k, s);
  }
  return s;
}

/** get_vm_area_size(): the area's usable bytes (without its guard page). */
export const getVmAreaSize = (a: VmStruct): number => (a.flags & VM_NO_GUARD ? a.size : a.size - PAGE_SIZE);

/** is_vmalloc_addr(). */
export const isVmallocAddress = (addr: number): boolean => addr >= VMALLOC_START && addr < VMALLOC_END;

/**
 * alloc_vmap_area(): the lowest address in [VMALLOC_START, VMALLOC_END] where `size` bytes fit between
 * the busy areas (the free-space tree's lowest match), or -1 when none does (addr + size > vend fails).
 */
export function allocVmapArea(k: Kernel, size: number): number {
  let addr = VMALLOC_START;
  for (const a of vmallocOf(k).areas) {
    if (addr + size <= a.addr) break;
    addr = Math.max(addr, a.addr + a.size);
  }
  return addr + size > VMALLOC_END ? -1 : addr;
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

/** Unlinks `area` (remove_vm_area) and uncounts its pages; the pages are the caller's to free. */
export function unlinkVmArea(k: Kernel, area: VmStruct): void {
  const s = vmallocOf(k);
  const i = s.areas.indexOf(area);
  if (i < 0) throw new Error("unlinkVmArea: not a live vmalloc area (kernel BUG)");
  s.areas.splice(i, 1);
  s.nrPages -= area.pages.length;
}

const hex = (n: number) => `0x${n.toString(16)}`;

/**
 * What is wrong with `areas` as a machine's vmalloc areas, or null: each page aligned inside the
 * vmalloc range, with known flags including VM_ALLOC, at least one page and a size that is its pages
 * plus the guard page (unless VM_NO_GUARD); sorted and not overlapping (guard pages included); no pfn
 * in two places. Both checkInvariants and a snapshot's restore ask it.
 */
export function badVmAreas(areas: readonly VmStruct[]): string | null {
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
  return null;
}

/**
 * The invariants' part: the areas are well formed (badVmAreas), nr_vmalloc_pages is their page count,
 * and each page is counted as one reference the kernel holds.
 */
export function checkVmallocInvariants(k: Kernel, add: (pfn: number, n: number, what: string) => void): void {
  const s = vmallocOf(k);
  const bad = badVmAreas(s.areas);
  if (bad) throw new Error(bad);
  const n = s.areas.reduce((sum, a) => sum + a.pages.length, 0);
  if (n !== s.nrPages)
    throw new Error(`nr_vmalloc_pages is ${s.nrPages} but the vmalloc areas hold ${n} pages`);
  for (const a of s.areas) for (const pfn of a.pages) add(pfn, 1, `vmalloc area ${hex(a.addr)}`);
}

/** Replaces the machine's vmalloc areas with `areas` (a snapshot's, checked with badVmAreas first). */
export function setVmAreas(k: Kernel, areas: readonly VmStruct[]): void {
  const s = vmallocOf(k);
  s.areas.splice(0, s.areas.length, ...areas);
  s.nrPages = areas.reduce((sum, a) => sum + a.pages.length, 0);
}

/**
 * /proc/vmallocinfo (s_show in mm/vmalloc.c), for the vmalloc areas only (Linux also lists ioremap and
 * vmap areas, which Faultline does not put in this range): start-end, size with the guard page, pages,
 * the kind, and N0= (one NUMA node). The caller (%pS) is not known here and is left out; Linux shows
 * the file to root only (mode 0400), Faultline's /proc files have no owner.
 */
export function renderVmallocinfo(k: Kernel): string {
  const p = (n: number) => `0x${n.toString(16).padStart(16, "0")}`;
  return vmallocOf(k)
    .areas.map((a) => {
      const kind = `${a.flags & VM_ALLOC ? " vmalloc" : ""}${a.flags & VM_USERMAP ? " user" : ""}${a.flags & VM_DMA_COHERENT ? " dma-coherent" : ""}`;
      return `${p(a.addr)}-${p(a.addr + a.size)} ${String(a.size).padStart(7)} pages=${a.pages.length}${kind} N0=${a.pages.length}\n`;
    })
    .join("");
}
