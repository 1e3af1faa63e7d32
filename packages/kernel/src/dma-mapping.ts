/**
 * The DMA API (include/linux/dma-mapping.h, kernel/dma/direct.c, kernel/dma/debug.c, mm/dmapool.c)
 * (over ~500 lines: it is the driver-facing surface of four kernel files, kept in one module so its
 * checks — masks, directions, debug accounting — are written once; the IOMMU half is internal/iommu.ts)
 * on a machine without an IOMMU: a bus address is the physical address (dma-direct). With one
 * (MachineOptions.iommu; drivers/iommu/dma-iommu.c), every mapping and coherent buffer gets an IOVA
 * below the device's mask, mapped with the direction's permissions (DMA_TO_DEVICE: the device may only
 * read), and unmapping takes it away again (internal/iommu.ts); the memory itself may lie anywhere.
 *
 * - Masks: dma_set_mask/dma_set_coherent_mask are -EIO for a mask below what dma-direct can serve
 *   (dma_direct_supported: the smaller of DMA_BIT_MASK(24), ZONE_DMA's end, and the end of RAM).
 * - Coherent buffers: zeroed pages below the coherent mask, a kernel virtual address (the direct map)
 *   and a bus address; the allocation's page reference is held for the driver (checkInvariants).
 * - Streaming mappings (single, page, scatterlist): the bus address of the buffer, or
 *   DMA_MAPPING_ERROR with dma-direct's overflow warning when it is above the mask (no swiotlb here
 *   to bounce through). Every mapping is tracked as CONFIG_DMA_API_DEBUG does: unmapping or syncing
 *   what was not mapped, or with another size or direction, is reported with dma-debug's words; what a
 *   driver leaves mapped or allocated when it unbinds is reported ("pending DMA allocations") and
 *   released.
 * - dma_pool: fixed-size blocks carved from coherent pages (mm/dmapool.c), never crossing `boundary`.
 *
 * Longer than our ~500 lines on purpose: coherent buffers, streaming mappings, scatterlists and pools
 * share one per-device table (what dma-debug checks every call against and reports at unbind), as
 * kernel/dma/debug.c keeps them in one hash.
 */

import type { Vma } from "@faultline/mm";
import {
  __GFP_DMA,
  __GFP_DMA32,
  PAGE_OFFSET,
  PAGE_SIZE,
  type Page,
  type PciFunction,
  PHYS_ADDR_LIMIT,
} from "@faultline/phys";
import { __GFP_ZERO, EINVAL, EIO, ENOMEM, ENXIO } from "./constants";
import { isUint, warn } from "./internal/bug";
import { currentKernel } from "./internal/current";
import { setDmaStateReader } from "./internal/dma-snapshot";
import { hex16 } from "./internal/format";
import { IOMMU_READ, IOMMU_WRITE, iommuOf } from "./internal/iommu";
import type { Kernel } from "./internal/kernel";
import { devState, onPciInstall, type PciDev, type PciDevState } from "./internal/pci-bus";
import { driverRef } from "./internal/vm-ops";

/** enum dma_data_direction */
export const DMA_BIDIRECTIONAL = 0;
export const DMA_TO_DEVICE = 1;
export const DMA_FROM_DEVICE = 2;
export const DMA_NONE = 3;
const DIR_NAMES = ["DMA_BIDIRECTIONAL", "DMA_TO_DEVICE", "DMA_FROM_DEVICE", "DMA_NONE"];

/** What a failed streaming mapping returns (~(dma_addr_t)0, as far as a number can say it). */
export const DMA_MAPPING_ERROR = Number.MAX_SAFE_INTEGER;

/** GFP_DMA / GFP_DMA32 (zone modifiers); accepted, the zone follows from the device's mask as dma-direct picks it. */
export const GFP_DMA = __GFP_DMA;
export const GFP_DMA32 = __GFP_DMA32;

/** ZONE_DMA's reach on x86 (zone_dma_bits = 24: the first 16 MiB). */
const ZONE_DMA_BITS = 24;

/**
 * DMA_BIT_MASK(n): the mask of the low n bits. Masks of 52 bits and more cover all physical memory
 * here (addresses are numbers below 2^52) and are returned as 2^52 - 1.
 */
export function DMA_BIT_MASK(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > 64) throw new RangeError(`DMA_BIT_MASK(${n}): n must be 0..64`);
  return n >= 52 ? PHYS_ADDR_LIMIT - 1 : 2 ** n - 1;
}

/** A coherent buffer: what dma_alloc_coherent returns (vaddr) and fills in (*dma_handle). */
export interface DmaCoherent {
  /** Kernel virtual address (the direct map). */
  readonly vaddr: number;
  /** Bus address for the device. */
  readonly dmaHandle: number;
  readonly size: number;
  /** The buffer's bytes as the CPU sees them. */
  readonly bytes: Uint8Array;
}

interface CoherentAlloc extends DmaCoherent {
  readonly pfn: number;
  readonly order: number;
  /** The function whose IOMMU domain maps it (null: dma-direct). */
  readonly iommuFn: PciFunction | null;
}

interface StreamMapping {
  readonly addr: number;
  readonly size: number;
  readonly dir: number;
  readonly kind: "single" | "page" | "scatter-gather";
}

/** struct scatterlist (one entry of an sg table). */
export interface Scatterlist {
  page: Page | null;
  offset: number;
  length: number;
  dmaAddress: number;
  dmaLength: number;
}

/** struct dma_pool */
export interface DmaPool {
  readonly name: string;
  readonly size: number;
  readonly align: number;
  readonly boundary: number;
}

interface PoolState extends DmaPool {
  readonly dev: PciDevState;
  readonly pages: CoherentAlloc[];
  /** Busy blocks by bus address. */
  readonly busy: Set<number>;
}

interface DevDma {
  readonly coherent: CoherentAlloc[];
  readonly streaming: StreamMapping[];
  readonly pools: Set<PoolState>;
}

const dmaStates = new WeakMap<PciDevState, DevDma>();

function devDma(d: PciDevState): DevDma {
  let s = dmaStates.get(d);
  if (!s) {
    s = { coherent: [], streaming: [], pools: new Set() };
    dmaStates.set(d, s);
  }
  return s;
}

onPciInstall((_k, s) => {
  // dma_debug_device_change(BUS_NOTIFY_UNBOUND_DRIVER): what the driver left is reported, then freed.
  s.unbindHooks.push((k, d) => {
    const st = dmaStates.get(d);
    if (!st) return;
    const count = st.coherent.length + st.streaming.length;
    if (count) {
      k.log.printk(
        3,
        `DMA-API: pci ${d.fn.name}: device driver has pending DMA allocations while released from device [count=${count}]`,
      );
    }
    for (const p of st.pools) {
      if (p.busy.size) k.log.printk(3, `dma_pool_destroy ${p.name}, busy`);
    }
    for (const a of st.coherent.splice(0)) freeAlloc(k, a);
    for (const p of st.pools) for (const a of p.pages.splice(0)) freeAlloc(k, a);
    st.pools.clear();
    for (const sm of st.streaming) iommuOf(k)?.unmap(d.fn, sm.addr, sm.size);
    st.streaming.length = 0;
  });
});

function state(dev: PciDev, what: string): { k: Kernel; d: PciDevState; s: DevDma } {
  const k = currentKernel(what);
  const d = devState(k, dev, what);
  return { k, d, s: devDma(d) };
}

/**
 * dma_supported(): the smallest mask the machine can serve. dma-direct: the smaller of ZONE_DMA's end
 * and the end of RAM. Behind an IOMMU any memory is reachable through an IOVA, so only a mask too small
 * for one page fails (iommu-dma has no lower bound of its own; the first mapping would).
 */
function minMask(k: Kernel): number {
  if (iommuOf(k)) return PAGE_SIZE - 1;
  const ramEnd = Math.max(...k.mem.ramRanges.map((r) => r.end));
  return Math.min(DMA_BIT_MASK(ZONE_DMA_BITS), ramEnd - 1);
}

/** dma_set_mask(): 0, or -EIO when dma-direct cannot honour so small a mask. */
export function dmaSetMask(dev: PciDev, mask: number): number {
  const { k, d } = state(dev, "dmaSetMask");
  if (!Number.isSafeInteger(mask) || mask < minMask(k)) return -EIO;
  d.dmaMask = mask;
  return 0;
}

/** dma_set_coherent_mask(). */
export function dmaSetCoherentMask(dev: PciDev, mask: number): number {
  const { k, d } = state(dev, "dmaSetCoherentMask");
  if (!Number.isSafeInteger(mask) || mask < minMask(k)) return -EIO;
  d.coherentDmaMask = mask;
  return 0;
}

/** dma_set_mask_and_coherent(). */
export function dmaSetMaskAndCoherent(dev: PciDev, mask: number): number {
  const r = dmaSetMask(dev, mask);
  return r === 0 ? dmaSetCoherentMask(dev, mask) : r;
}

function bytesOf(k: Kernel, pfn: number, size: number): Uint8Array {
  const loc = k.physAccess.locatePage(pfn);
  const bank = Math.floor(loc / 2 ** 32);
  const off = loc % 2 ** 32;
  const npages = Math.ceil(size / PAGE_SIZE);
  const last = k.physAccess.locatePage(pfn + npages - 1);
  if (loc < 0 || last !== loc + (npages - 1) * PAGE_SIZE) {
    throw new Error(`DMA buffer at pfn 0x${pfn.toString(16)} is not contiguous in one memory bank`);
  }
  return k.mem.banks.u8[bank]!.subarray(off, off + size);
}

/** get_order(size). */
const getOrder = (size: number) => Math.max(0, Math.ceil(Math.log2(Math.ceil(size / PAGE_SIZE))));

/**
 * dma_direct_alloc() pages below `mask` (__dma_direct_alloc_pages): first from the zone
 * dma_direct_optimal_gfp_mask() names (ZONE_DMA for a mask within zone_dma_bits, ZONE_DMA32 for one
 * within 32 bits, else any), and when the pages still end above the mask, freed and retried from
 * ZONE_DMA32, then from ZONE_DMA.
 */
function allocBelow(
  k: Kernel,
  size: number,
  mask: number,
  zero: boolean,
  fn: PciFunction,
): CoherentAlloc | null {
  const order = getOrder(size);
  const io = iommuOf(k);
  if (io) {
    // iommu_dma_alloc(): pages from anywhere, an IOVA below the mask for the device (read and write).
    const page = k.mem.allocPages(order, zero ? __GFP_ZERO : 0);
    if (!page) return null;
    const dma = io.map(fn, page.pfn * PAGE_SIZE, size, IOMMU_READ | IOMMU_WRITE, mask);
    if (dma < 0) {
      k.mem.freePages(page.pfn, order);
      return null;
    }
    driverRef(k, page.pfn, 1);
    const p = page.pfn * PAGE_SIZE;
    return {
      pfn: page.pfn,
      order,
      size,
      vaddr: PAGE_OFFSET + p,
      dmaHandle: dma,
      bytes: bytesOf(k, page.pfn, size),
      iommuFn: fn,
    };
  }
  let zone = mask <= DMA_BIT_MASK(ZONE_DMA_BITS) ? GFP_DMA : mask <= DMA_BIT_MASK(32) ? GFP_DMA32 : 0;
  let found: number | null = null;
  for (;;) {
    const page = k.mem.allocPages(order, zone | (zero ? __GFP_ZERO : 0));
    if (!page) return null;
    // dma_coherent_ok(): the whole buffer below the mask.
    if ((page.pfn + (1 << order)) * PAGE_SIZE - 1 <= mask) {
      found = page.pfn;
      break;
    }
    k.mem.freePages(page.pfn, order);
    if (zone === GFP_DMA) return null;
    zone = zone === 0 ? GFP_DMA32 : GFP_DMA;
  }
  driverRef(k, found, 1);
  const phys = found * PAGE_SIZE;
  return {
    pfn: found,
    order,
    size,
    vaddr: PAGE_OFFSET + phys,
    dmaHandle: phys,
    bytes: bytesOf(k, found, size),
    iommuFn: null,
  };
}

function freeAlloc(k: Kernel, a: CoherentAlloc): void {
  if (a.iommuFn) iommuOf(k)?.unmap(a.iommuFn, a.dmaHandle, a.size);
  k.mem.freePages(a.pfn, a.order);
  driverRef(k, a.pfn, -1);
}

/**
 * dma_alloc_coherent(dev, size, gfp): a zeroed buffer below the coherent mask, or null (size 0 or
 * no memory).
 */
export function dmaAllocCoherent(dev: PciDev, size: number, _gfp = 0): DmaCoherent | null {
  const { k, d, s } = state(dev, "dmaAllocCoherent");
  if (!Number.isSafeInteger(size) || size <= 0) return null;
  const a = allocBelow(k, size, d.coherentDmaMask, true, d.fn);
  if (!a) {
    k.log.printk(4, `${dev.driverName ?? "pci"} ${dev.name}: dma_alloc_coherent of ${size} bytes failed`);
    return null;
  }
  s.coherent.push(a);
  return a;
}

/** dma_free_coherent(dev, size, vaddr, dma_handle). */
export function dmaFreeCoherent(dev: PciDev, size: number, vaddr: number, dmaHandle: number): void {
  const { k, d, s } = state(dev, "dmaFreeCoherent");
  const i = s.coherent.findIndex((a) => a.dmaHandle === dmaHandle);
  const a = s.coherent[i];
  if (!a) {
    debugErr(
      k,
      d,
      `device driver tries to free DMA memory it has not allocated [device address=${addr64(dmaHandle)}] [size=${size} bytes]`,
    );
    return;
  }
  if (a.size !== size) {
    debugErr(
      k,
      d,
      `device driver frees DMA memory with different size [device address=${addr64(dmaHandle)}] [map size=${a.size} bytes] [unmap size=${size} bytes]`,
    );
  }
  if (a.vaddr !== vaddr) {
    debugErr(
      k,
      d,
      `device driver frees DMA memory with different CPU address [device address=${addr64(dmaHandle)}] [size=${size} bytes] [cpu alloc address=0x${a.vaddr.toString(16)}] [cpu free address=0x${vaddr.toString(16)}]`,
    );
  }
  s.coherent.splice(i, 1);
  freeAlloc(k, a);
}

const addr64 = (a: number) => `0x${hex16(a)}`;

// ---- mapping coherent buffers to user space -------------------------------------------------------

/**
 * DMA_ATTR_WRITE_COMBINE: asks dma_pgprot() for a write-combining user mapping. Only architectures with
 * CONFIG_ARCH_HAS_DMA_WRITE_COMBINE and a non-coherent device honour it; x86 DMA is cache-coherent,
 * so here (as on a real x86) the mapping keeps the VMA's cache mode.
 */
export const DMA_ATTR_WRITE_COMBINE = 1 << 2;
/**
 * DMA_ATTR_FORCE_CONTIGUOUS: physically contiguous pages even behind an IOMMU. Faultline's coherent
 * buffers always are (see dmaMmapAttrs), so it changes nothing here.
 */
export const DMA_ATTR_FORCE_CONTIGUOUS = 1 << 6;

/**
 * dma_can_mmap(): whether dma_mmap_attrs() can map the device's coherent buffers. dma-direct:
 * dma_direct_can_mmap() is true for a cache-coherent device (every x86 device); iommu-dma: always true.
 */
export function dmaCanMmap(dev: PciDev): boolean {
  state(dev, "dmaCanMmap");
  return true;
}

/** dma_mmap_coherent(dev, vma, cpu_addr, dma_addr, size): dma_mmap_attrs() with no attributes. */
export function dmaMmapCoherent(
  dev: PciDev,
  vma: Vma,
  cpuAddr: number,
  dmaAddr: number,
  size: number,
): number {
  return mmapAttrs("dmaMmapCoherent", dev, vma, cpuAddr, dmaAddr, size, 0);
}

/**
 * dma_mmap_attrs(dev, vma, cpu_addr, dma_addr, size, attrs): maps a coherent buffer from
 * dmaAllocCoherent into a user VMA from ->mmap, vm_pgoff pages into the buffer, with remap_pfn_range
 * (VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP; no page references taken).
 *
 * - vm_page_prot becomes dma_pgprot(): unchanged for a cache-coherent device, so x86 ignores
 *   DMA_ATTR_WRITE_COMBINE.
 * - -ENXIO when vm_pgoff >= PAGE_ALIGN(size) / PAGE_SIZE or the VMA has more pages than are left past
 *   vm_pgoff (dma_direct_mmap, iommu_dma_mmap); else remap_pfn_range()'s result.
 * - dma-direct maps from the pfn of `dmaAddr` (the bus address is the physical one), iommu-dma from the
 *   page behind `cpuAddr` (virt_to_page). Faultline's coherent buffers are physically contiguous in
 *   the direct map under an IOMMU too (iommu_dma_alloc's contiguous path, as for GFP_ATOMIC or
 *   DMA_ATTR_FORCE_CONTIGUOUS), so both paths remap_pfn_range the one block. Linux's usual blocking
 *   allocation behind an IOMMU (iommu_dma_alloc_remap: scattered pages behind a vmalloc address) is
 *   mapped with vm_map_pages instead (VM_MIXEDMAP, referenced pages); Faultline never makes one.
 *
 * Hardening (Linux maps whatever lies at those addresses): a cpuAddr/dmaAddr pair that is not a live
 * coherent buffer of `dev`, or a size beyond the buffer's pages, is a WARNING and -ENXIO, the error
 * dma_mmap_attrs() itself gives when there is no such object to map (its bounds check, a missing
 * ->mmap); arguments that are not non-negative integers are a WARNING and -EINVAL, as the driver API's
 * other argument checks answer.
 */
export function dmaMmapAttrs(
  dev: PciDev,
  vma: Vma,
  cpuAddr: number,
  dmaAddr: number,
  size: number,
  attrs: number,
): number {
  return mmapAttrs("dmaMmapAttrs", dev, vma, cpuAddr, dmaAddr, size, attrs);
}

function mmapAttrs(
  what: string,
  dev: PciDev,
  vma: Vma,
  cpuAddr: number,
  dmaAddr: number,
  size: number,
  attrs: number,
): number {
  const { k, s } = state(dev, what);
  const site = "dma_mmap_attrs (kernel/dma/mapping.c)";
  const bad = ([cpuAddr, dmaAddr, size, attrs] as unknown[]).findIndex((n) => !isUint(n));
  if (bad >= 0) {
    const name = ["cpuAddr", "dmaAddr", "size", "attrs"][bad]!;
    warn(
      k,
      site,
      `${what}: ${name} ${String([cpuAddr, dmaAddr, size, attrs][bad])} is not a non-negative integer`,
    );
    return -EINVAL;
  }
  const a = s.coherent.find((x) => x.dmaHandle === dmaAddr);
  const pages = (n: number) => Math.ceil(n / PAGE_SIZE);
  let why: string | null = null;
  if (!a || a.vaddr !== cpuAddr)
    why = `cpu_addr 0x${cpuAddr.toString(16)} / dma_addr ${addr64(dmaAddr)} is not a coherent buffer of ${dev.name}${a ? ` (that dma_addr's buffer is at 0x${a.vaddr.toString(16)})` : ""}`;
  else if (pages(size) > pages(a.size))
    why = `size ${size} is larger than the ${a.size}-byte buffer at ${addr64(dmaAddr)}`;
  if (why !== null || !a) {
    warn(k, site, `${what}: ${why}`);
    return -ENXIO;
  }
  // dma_pgprot(): a cache-coherent device keeps vm_page_prot (the attrs matter only to non-coherent ones).
  const count = pages(size);
  const userCount = (vma.vmEnd - vma.vmStart) / PAGE_SIZE;
  if (vma.vmPgoff >= count || userCount > count - vma.vmPgoff) return -ENXIO;
  // dma_direct_mmap: PHYS_PFN(dma_to_phys(dma_addr)); iommu_dma_mmap: page_to_pfn(virt_to_page(cpu_addr)).
  const pfn = a.iommuFn ? (cpuAddr - PAGE_OFFSET) / PAGE_SIZE : dmaAddr / PAGE_SIZE;
  return vma.vmMm.remapPfnRange(vma, vma.vmStart, pfn + vma.vmPgoff, userCount * PAGE_SIZE, vma.vmPageProt);
}

/** err_printk() of kernel/dma/debug.c. */
function debugErr(k: Kernel, d: PciDevState, msg: string): void {
  k.log.printk(4, `DMA-API: ${d.driver?.drv.name ?? "pci"} ${d.fn.name}: ${msg}`);
}

function checkDir(dir: number, what: string): void {
  // BUG_ON(!valid_dma_direction(dir)): a driver bug, an oops.
  if (dir !== DMA_BIDIRECTIONAL && dir !== DMA_TO_DEVICE && dir !== DMA_FROM_DEVICE) {
    throw new Error(`${what}: invalid DMA direction ${dir}`);
  }
}

function mapPhys(
  dev: PciDev,
  phys: number,
  size: number,
  dir: number,
  kind: StreamMapping["kind"],
  what: string,
): number {
  checkDir(dir, what);
  const { k, d, s } = state(dev, what);
  if (!Number.isSafeInteger(size) || size <= 0) return DMA_MAPPING_ERROR;
  const io = iommuOf(k);
  if (io) {
    // iommu_dma_map_phys(): an IOVA below the mask, with dma_info_to_prot(dir)'s permissions.
    const prot =
      dir === DMA_TO_DEVICE ? IOMMU_READ : dir === DMA_FROM_DEVICE ? IOMMU_WRITE : IOMMU_READ | IOMMU_WRITE;
    const dma = io.map(d.fn, phys, size, prot, d.dmaMask);
    if (dma < 0) return DMA_MAPPING_ERROR;
    s.streaming.push({ addr: dma, size, dir, kind });
    return dma;
  }
  // dma_capable(): the whole buffer must be below the mask, else (no swiotlb) the mapping fails.
  if (phys + size - 1 > d.dmaMask) {
    k.log.printk(
      4,
      `${dev.driverName ?? "pci"} ${dev.name}: DMA addr 0x${hex16(phys)}+${size} overflow (mask ${d.dmaMask.toString(16)}, bus limit 0).`,
    );
    return DMA_MAPPING_ERROR;
  }
  s.streaming.push({ addr: phys, size, dir, kind });
  return phys;
}

function unmap(
  dev: PciDev,
  addr: number,
  size: number,
  dir: number,
  kind: StreamMapping["kind"],
  what: string,
): void {
  checkDir(dir, what);
  const { k, d, s } = state(dev, what);
  const i = s.streaming.findIndex((m) => m.addr === addr && m.kind === kind);
  const m = s.streaming[i];
  if (!m) {
    debugErr(
      k,
      d,
      `device driver tries to free DMA memory it has not allocated [device address=${addr64(addr)}] [size=${size} bytes]`,
    );
    return;
  }
  if (m.size !== size) {
    debugErr(
      k,
      d,
      `device driver frees DMA memory with different size [device address=${addr64(addr)}] [map size=${m.size} bytes] [unmap size=${size} bytes]`,
    );
  }
  if (m.dir !== dir) {
    debugErr(
      k,
      d,
      `device driver frees DMA memory with different direction [device address=${addr64(addr)}] [size=${size} bytes] [mapped with ${DIR_NAMES[m.dir]}] [unmapped with ${DIR_NAMES[dir]}]`,
    );
  }
  s.streaming.splice(i, 1);
  iommuOf(k)?.unmap(d.fn, m.addr, m.size);
}

/** dma_map_single(dev, cpu_addr, size, dir): the bus address of a direct-map buffer, or DMA_MAPPING_ERROR. */
export function dmaMapSingle(dev: PciDev, cpuAddr: number, size: number, dir: number): number {
  return mapPhys(dev, cpuAddr - PAGE_OFFSET, size, dir, "single", "dmaMapSingle");
}

/** dma_unmap_single(). */
export function dmaUnmapSingle(dev: PciDev, addr: number, size: number, dir: number): void {
  unmap(dev, addr, size, dir, "single", "dmaUnmapSingle");
}

/** dma_map_page(dev, page, offset, size, dir). */
export function dmaMapPage(dev: PciDev, page: Page, offset: number, size: number, dir: number): number {
  return mapPhys(dev, page.pfn * PAGE_SIZE + offset, size, dir, "page", "dmaMapPage");
}

/** dma_unmap_page(). */
export function dmaUnmapPage(dev: PciDev, addr: number, size: number, dir: number): void {
  unmap(dev, addr, size, dir, "page", "dmaUnmapPage");
}

/** dma_mapping_error(): -ENOMEM for DMA_MAPPING_ERROR, else 0. */
export function dmaMappingError(_dev: PciDev, addr: number): number {
  return addr === DMA_MAPPING_ERROR ? -ENOMEM : 0;
}

function sync(dev: PciDev, addr: number, size: number, dir: number, what: string): void {
  checkDir(dir, what);
  const { k, d, s } = state(dev, what);
  const m = s.streaming.find((x) => addr >= x.addr && addr + size <= x.addr + x.size);
  if (!m) {
    debugErr(
      k,
      d,
      `device driver tries to sync DMA memory it has not allocated [device address=${addr64(addr)}] [size=${size} bytes]`,
    );
    return;
  }
  if (m.dir !== DMA_BIDIRECTIONAL && m.dir !== dir) {
    debugErr(
      k,
      d,
      `device driver syncs DMA memory with different direction [device address=${addr64(addr)}] [size=${size} bytes] [mapped with ${DIR_NAMES[m.dir]}] [synced with ${DIR_NAMES[dir]}]`,
    );
  }
  // x86 is cache-coherent for DMA: nothing to flush or invalidate.
}

/** dma_sync_single_for_cpu(): the CPU may read what the device wrote. */
export function dmaSyncSingleForCpu(dev: PciDev, addr: number, size: number, dir: number): void {
  sync(dev, addr, size, dir, "dmaSyncSingleForCpu");
}

/** dma_sync_single_for_device(): the device may read what the CPU wrote. */
export function dmaSyncSingleForDevice(dev: PciDev, addr: number, size: number, dir: number): void {
  sync(dev, addr, size, dir, "dmaSyncSingleForDevice");
}

/** sg_init_table(): `n` empty entries. */
export function sgInitTable(n: number): Scatterlist[] {
  return Array.from({ length: n }, () => ({ page: null, offset: 0, length: 0, dmaAddress: 0, dmaLength: 0 }));
}

/** sg_set_page(). */
export function sgSetPage(sg: Scatterlist, page: Page, len: number, offset: number): void {
  sg.page = page;
  sg.length = len;
  sg.offset = offset;
}

/**
 * dma_map_sg(dev, sg, nents, dir): each entry's dmaAddress/dmaLength filled; the number of mapped
 * entries (dma-direct maps them one for one), or 0 when one fails (those mapped are undone). Behind an
 * IOMMU the entries share one IOVA range and merge (see iommuMapSg): fewer DMA segments may come back.
 */
export function dmaMapSg(dev: PciDev, sg: Scatterlist[], nents: number, dir: number): number {
  if (!Number.isInteger(nents) || nents <= 0 || nents > sg.length) return 0;
  if (iommuOf(currentKernel("dmaMapSg"))) return iommuMapSg(dev, sg, nents, dir);
  for (let i = 0; i < nents; i++) {
    const e = sg[i]!;
    if (!e.page) return undoSg(dev, sg, i, dir);
    const a = mapPhys(dev, e.page.pfn * PAGE_SIZE + e.offset, e.length, dir, "scatter-gather", "dmaMapSg");
    if (a === DMA_MAPPING_ERROR) return undoSg(dev, sg, i, dir);
    e.dmaAddress = a;
    e.dmaLength = e.length;
  }
  return nents;
}

function undoSg(dev: PciDev, sg: Scatterlist[], n: number, dir: number): number {
  for (let i = 0; i < n; i++)
    unmap(dev, sg[i]!.dmaAddress, sg[i]!.dmaLength, dir, "scatter-gather", "dmaMapSg");
  return 0;
}

/** max_segment_size of a PCI device (pci_device_add: dma_set_max_seg_size(dev, 65536)). */
const PCI_MAX_SEG_SIZE = 65536;

/**
 * iommu_dma_map_sg() + __finalise_sg(): every entry's pages laid one after the other in a single IOVA
 * range (each entry padded to whole pages), then DMA segments built as the kernel builds them: an
 * entry joins the previous segment when that one ended on a page boundary, the entry starts at offset
 * 0 of its page and the sum stays within the device's max segment size (64 KiB for PCI). Returns the
 * number of DMA segments; entries past it get DMA_MAPPING_ERROR and length 0.
 */
function iommuMapSg(dev: PciDev, sg: Scatterlist[], nents: number, dir: number): number {
  checkDir(dir, "dmaMapSg");
  const { k, d, s } = state(dev, "dmaMapSg");
  const runs: { phys: number; bytes: number }[] = [];
  for (let i = 0; i < nents; i++) {
    const e = sg[i]!;
    if (!e.page || !Number.isSafeInteger(e.length) || e.length <= 0) return 0;
    const off = e.offset % PAGE_SIZE;
    const phys = e.page.pfn * PAGE_SIZE + e.offset - off;
    runs.push({ phys, bytes: Math.ceil((off + e.length) / PAGE_SIZE) * PAGE_SIZE });
  }
  const prot =
    dir === DMA_TO_DEVICE ? IOMMU_READ : dir === DMA_FROM_DEVICE ? IOMMU_WRITE : IOMMU_READ | IOMMU_WRITE;
  let dma = iommuOf(k)!.mapRuns(d.fn, runs, prot, d.dmaMask);
  if (dma < 0) return 0;
  let count = 0;
  let cur: Scatterlist | null = null;
  let curLen = 0;
  for (let i = 0; i < nents; i++) {
    const e = sg[i]!;
    const off = e.offset % PAGE_SIZE;
    const span = runs[i]!.bytes;
    if (cur && curLen && !off && PCI_MAX_SEG_SIZE - curLen >= e.length) {
      curLen += e.length;
    } else {
      cur = sg[count++]!;
      cur.dmaAddress = dma + off;
      curLen = e.length;
    }
    cur.dmaLength = curLen;
    dma += span;
    if (e.length + off < span) curLen = 0;
  }
  for (let i = count; i < nents; i++) {
    sg[i]!.dmaAddress = DMA_MAPPING_ERROR;
    sg[i]!.dmaLength = 0;
  }
  for (let i = 0; i < count; i++)
    s.streaming.push({ addr: sg[i]!.dmaAddress, size: sg[i]!.dmaLength, dir, kind: "scatter-gather" });
  return count;
}

/**
 * dma_unmap_sg(dev, sg, nents, dir): nents as given to dma_map_sg; entries past the mapped segments
 * (length 0, after an IOMMU merged them) are skipped, as dma-debug skips them.
 */
export function dmaUnmapSg(dev: PciDev, sg: Scatterlist[], nents: number, dir: number): void {
  for (let i = 0; i < nents && i < sg.length; i++) {
    if (sg[i]!.dmaLength === 0 && sg[i]!.dmaAddress === DMA_MAPPING_ERROR) break;
    unmap(dev, sg[i]!.dmaAddress, sg[i]!.dmaLength, dir, "scatter-gather", "dmaUnmapSg");
  }
}

// ---- dma_pool ---------------------------------------------------------------------------------------

const isPow2 = (n: number) => Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;

/**
 * dma_pool_create(name, dev, size, align, boundary): null for size 0, an align or boundary that is
 * not a power of two, or a boundary smaller than a block.
 */
export function dmaPoolCreate(
  name: string,
  dev: PciDev,
  size: number,
  align: number,
  boundary: number,
): DmaPool | null {
  const { d, s } = state(dev, "dmaPoolCreate");
  if (align === 0) align = 1;
  if (!Number.isSafeInteger(size) || size <= 0 || !isPow2(align)) return null;
  if (size < align) size = align;
  size = Math.ceil(size / align) * align;
  const allocation = Math.max(size, PAGE_SIZE);
  if (boundary === 0) boundary = allocation;
  else if (!isPow2(boundary) || boundary < size) return null;
  const pool: PoolState = {
    name,
    size,
    align,
    boundary: Math.min(boundary, allocation),
    dev: d,
    pages: [],
    busy: new Set(),
  };
  s.pools.add(pool);
  return pool;
}

function poolOf(pool: DmaPool, what: string): PoolState {
  const p = pool as PoolState;
  if (!p.busy || !p.pages) throw new TypeError(`${what}: not a dma_pool`);
  return p;
}

/** The block addresses a pool page offers (pool_initialise_page: blocks never cross `boundary`). */
function blocksOf(p: PoolState, page: CoherentAlloc): number[] {
  const out: number[] = [];
  for (let off = 0; off + p.size <= page.size; off += p.size) {
    const startB = Math.floor(off / p.boundary);
    const endB = Math.floor((off + p.size - 1) / p.boundary);
    if (startB !== endB) {
      off = endB * p.boundary - p.size;
      continue;
    }
    out.push(page.dmaHandle + off);
  }
  return out;
}

/** dma_pool_alloc(pool, gfp): a block (zeroed with __GFP_ZERO), or null. */
export function dmaPoolAlloc(
  pool: DmaPool,
  gfp = 0,
): { vaddr: number; dma: number; bytes: Uint8Array } | null {
  const p = poolOf(pool, "dmaPoolAlloc");
  const k = currentKernel("dmaPoolAlloc");
  const pick = (page: CoherentAlloc) => blocksOf(p, page).find((a) => !p.busy.has(a));
  let page = p.pages.find((pg) => pick(pg) !== undefined);
  if (!page) {
    const a = allocBelow(k, Math.max(p.size, PAGE_SIZE), p.dev.coherentDmaMask, false, p.dev.fn);
    if (!a) return null;
    p.pages.push(a);
    page = a;
  }
  const dma = pick(page)!;
  p.busy.add(dma);
  const off = dma - page.dmaHandle;
  const bytes = page.bytes.subarray(off, off + p.size);
  if (gfp & __GFP_ZERO) bytes.fill(0);
  return { vaddr: page.vaddr + off, dma, bytes };
}

/** dma_pool_free(pool, vaddr, dma). */
export function dmaPoolFree(pool: DmaPool, vaddr: number, dma: number): void {
  const p = poolOf(pool, "dmaPoolFree");
  const k = currentKernel("dmaPoolFree");
  const page = p.pages.find((pg) => dma >= pg.dmaHandle && dma < pg.dmaHandle + pg.size);
  if (!page || !p.busy.has(dma) || page.vaddr + (dma - page.dmaHandle) !== vaddr) {
    k.log.printk(
      3,
      `${p.dev.fn.name}: dma_pool_free ${p.name}, 0x${vaddr.toString(16)}/${addr64(dma)} (bad dma)`,
    );
    return;
  }
  p.busy.delete(dma);
}

/** dma_pool_destroy(): a pool with busy blocks is reported and its pages kept (as Linux leaks them). */
export function dmaPoolDestroy(pool: DmaPool | null): void {
  if (!pool) return;
  const p = poolOf(pool, "dmaPoolDestroy");
  const k = currentKernel("dmaPoolDestroy");
  if (p.busy.size) {
    k.log.printk(3, `${p.dev.fn.name}: dma_pool_destroy ${p.name}, busy`);
    return;
  }
  for (const a of p.pages.splice(0)) freeAlloc(k, a);
  devDma(p.dev).pools.delete(p);
}

/** How many coherent buffers and streaming mappings `dev` holds (what dma-debug counts). */
export function dmaDebugCounts(dev: PciDev): { coherent: number; streaming: number; pools: number } {
  const { s } = state(dev, "dmaDebugCounts");
  return { coherent: s.coherent.length, streaming: s.streaming.length, pools: s.pools.size };
}

// A device's DMA state as a machine snapshot compares it (snapshot/hw.ts reads it through
// internal/dma-snapshot.ts, so it is no part of the driver API).
setDmaStateReader((d) => {
  const s = dmaStates.get(d);
  return {
    coherent: (s?.coherent ?? []).map((a) => [a.dmaHandle, a.size]),
    streaming: (s?.streaming ?? []).map((m) => [m.addr, m.size, m.dir]),
    pools: [...(s?.pools ?? [])].map((p) => [p.name, p.size, p.pages.length, p.busy.size]),
  };
});
