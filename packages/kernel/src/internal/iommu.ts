/**
 * An Intel-style IOMMU in front of the PCI bus (drivers/iommu/intel, drivers/iommu/dma-iommu.c,
 * drivers/iommu/iova.c), as the DMA API sees it once it is on (`intel_iommu=on`): every PCI function
 * has its own DMA domain, an I/O page table from bus addresses (IOVAs) to physical pages with read and
 * write permissions. The DMA API maps what a driver hands the device and unmaps it after; a device
 * access to an IOVA that is not mapped, or mapped without the permission it needs, is blocked and
 * reported as VT-d reports it ("DMAR: [DMA Write NO_PASID] Request device [00:02.0] fault addr …
 * [fault reason 0x05] PTE Write access is not set").
 *
 * IOVAs are allocated as iova.c does: top-down below the device's mask (below 4 GiB first for a PCI
 * device whose mask is wider, iommu_dma_alloc_iova), sizes rounded up to a power of two and aligned to
 * it (the rcache sizes), page 0, the MSI window 0xfee00000-0xfeefffff and the PCI host bridge windows
 * reserved (iova_reserve_iommu_regions, iova_reserve_pci_windows). Freed IOVAs go back to the tree at
 * once; the per-CPU rcaches, which hand a freed range out again first, are not modelled.
 */
import type { PciBus, PciFunction, PciIommu } from "@faultline/phys";
import { PAGE_SIZE } from "@faultline/phys";

/**
 * What the IOMMU needs of its kernel: the log its faults go to and the bus it sits in front of. A
 * structural type, so that kernel.ts (which creates it at boot) and this file import in one direction.
 */
export interface IommuHost {
  readonly log: { printk(level: number, text: string): void };
  readonly phys: { readonly pci: PciBus };
}

/** IOMMU_READ / IOMMU_WRITE (include/linux/iommu.h): what the device may do to the page. */
export const IOMMU_READ = 1;
export const IOMMU_WRITE = 2;

const TWO32_PFN = 2 ** 32 / PAGE_SIZE;

interface IovaRange {
  readonly lo: number;
  /** Exclusive. */
  readonly hi: number;
}

/** struct dmar_domain with its iova_domain: the I/O page table and the allocated IOVA ranges. */
class Domain {
  /** iova pfn → pfn * 4 + (IOMMU_READ | IOMMU_WRITE). */
  readonly ptes = new Map<number, number>();
  /** Allocated and reserved IOVA ranges, by low pfn. */
  readonly ranges = new Map<number, IovaRange>();

  constructor(reserved: readonly IovaRange[]) {
    for (const r of reserved) this.ranges.set(r.lo, r);
  }

  /** alloc_iova(size_aligned): the highest free range of `n` pages below limit (inclusive pfn), or -1. */
  allocIova(n: number, limitPfn: number): number {
    const len = 2 ** Math.ceil(Math.log2(n));
    let high = limitPfn + 1;
    const below = [...this.ranges.values()].filter((r) => r.lo < high).sort((a, b) => b.lo - a.lo);
    for (const r of below) {
      const cand = Math.floor((high - len) / len) * len;
      if (cand >= r.hi) return this.take(cand, len);
      high = Math.min(high, r.lo);
    }
    const cand = Math.floor((high - len) / len) * len;
    return cand >= 1 ? this.take(cand, len) : -1;
  }

  private take(lo: number, len: number): number {
    this.ranges.set(lo, { lo, hi: lo + len });
    return lo;
  }
}

/** The machine's IOMMU: the PciIommu the bus calls for each bus-master access, and the domains. */
export class Iommu implements PciIommu {
  private readonly domains = new Map<PciFunction, Domain>();
  /** Faults reported so far (the DMAR lines, as in dmesg). */
  readonly faults: string[] = [];

  constructor(
    private readonly k: IommuHost,
    private readonly reserved: readonly IovaRange[],
  ) {}

  private domain(fn: PciFunction): Domain {
    let d = this.domains.get(fn);
    if (!d) {
      d = new Domain(this.reserved);
      this.domains.set(fn, d);
    }
    return d;
  }

  /** intel_iommu_iova_to_phys() plus the hardware's permission check; -1 after reporting a fault. */
  translate(fn: PciFunction, busAddr: number, isWrite: boolean): number {
    const e = this.domains.get(fn)?.ptes.get(Math.floor(busAddr / PAGE_SIZE));
    const need = isWrite ? IOMMU_WRITE : IOMMU_READ;
    if (e === undefined || !(e & need)) {
      const bdf = fn.name.replace(/^[0-9a-f]{4}:/, "");
      const line = `DMAR: [DMA ${isWrite ? "Write" : "Read"} NO_PASID] Request device [${bdf}] fault addr 0x${(Math.floor(busAddr / PAGE_SIZE) * PAGE_SIZE).toString(16)} [fault reason ${isWrite ? "0x05] PTE Write" : "0x06] PTE Read"} access is not set`;
      this.faults.push(line);
      this.k.log.printk(3, line);
      return -1;
    }
    return Math.floor(e / 4) * PAGE_SIZE + (busAddr % PAGE_SIZE);
  }

  /**
   * iommu_dma_map_phys(): maps [phys, phys + size) for `fn` with `prot` at an IOVA below `mask`
   * (below 4 GiB first when the mask is wider); the bus address (IOVA plus phys's page offset), or -1
   * when no IOVA range is free.
   */
  map(fn: PciFunction, phys: number, size: number, prot: number, mask: number): number {
    const d = this.domain(fn);
    const off = phys % PAGE_SIZE;
    const n = Math.ceil((off + size) / PAGE_SIZE);
    const limit = Math.floor(mask / PAGE_SIZE);
    let lo = limit >= TWO32_PFN ? d.allocIova(n, TWO32_PFN - 1) : -1;
    if (lo < 0) lo = d.allocIova(n, limit);
    if (lo < 0) return -1;
    const first = Math.floor(phys / PAGE_SIZE);
    for (let i = 0; i < n; i++) d.ptes.set(lo + i, (first + i) * 4 + prot);
    return lo * PAGE_SIZE + off;
  }

  /**
   * The IOVA side of iommu_dma_map_sg(): one IOVA range for all `runs` (each a page-aligned physical
   * start and a whole number of pages), mapped one after the other; its base, or -1.
   */
  mapRuns(
    fn: PciFunction,
    runs: readonly { phys: number; bytes: number }[],
    prot: number,
    mask: number,
  ): number {
    const d = this.domain(fn);
    const n = runs.reduce((t, r) => t + r.bytes / PAGE_SIZE, 0);
    const limit = Math.floor(mask / PAGE_SIZE);
    let lo = limit >= TWO32_PFN ? d.allocIova(n, TWO32_PFN - 1) : -1;
    if (lo < 0) lo = d.allocIova(n, limit);
    if (lo < 0) return -1;
    let at = lo;
    for (const r of runs)
      for (let i = 0; i < r.bytes / PAGE_SIZE; i++) d.ptes.set(at++, (r.phys / PAGE_SIZE + i) * 4 + prot);
    return lo * PAGE_SIZE;
  }

  /** __iommu_dma_unmap(): removes the PTEs of the mapping at `dma` and frees its IOVA range. */
  unmap(fn: PciFunction, dma: number, size: number): void {
    const d = this.domains.get(fn);
    if (!d) return;
    const lo = Math.floor(dma / PAGE_SIZE);
    const n = Math.ceil(((dma % PAGE_SIZE) + size) / PAGE_SIZE);
    for (let i = 0; i < n; i++) d.ptes.delete(lo + i);
    d.ranges.delete(lo);
  }

  /** The pages mapped for `fn` now (iova pfn → [pfn, prot]), for tests and tools. */
  mappings(fn: PciFunction): [number, number, number][] {
    const d = this.domains.get(fn);
    if (!d) return [];
    return [...d.ptes].sort((a, b) => a[0] - b[0]).map(([iova, e]) => [iova, Math.floor(e / 4), e % 4]);
  }
}

/**
 * The IOMMU with every device in the identity domain (iommu=pt; IOMMU_DOMAIN_IDENTITY, the VT-d
 * context entries in pass-through translation type): a bus address is the physical address, nothing
 * is mapped and nothing faults. The DMA API does not see it (iommuOf is null): dma-direct serves it.
 */
class PassthroughIommu implements PciIommu {
  translate(_fn: PciFunction, busAddr: number): number {
    return busAddr;
  }
}

const iommus = new WeakMap<IommuHost, Iommu>();

/** The kernel's IOMMU, or null when DMA goes straight to physical addresses (dma-direct). */
export function iommuOf(k: IommuHost): Iommu | null {
  return iommus.get(k) ?? null;
}

/**
 * intel_iommu_init(): puts an IOMMU in front of the bus. From now on the DMA API maps through it; the
 * bus asks it for every bus-master access.
 */
export function iommuInit(k: IommuHost, reserved: readonly IovaRange[]): Iommu {
  const io = new Iommu(k, [{ lo: 0, hi: 1 }, ...reserved]);
  iommus.set(k, io);
  k.phys.pci.iommu = io;
  return io;
}

/**
 * intel_iommu_init() with iommu=pt: the IOMMU sits in front of the bus, every device in the identity
 * domain, as iommu_subsys_init() reports it.
 */
export function iommuInitPassthrough(k: IommuHost): void {
  k.phys.pci.iommu = new PassthroughIommu();
  k.log.printk(6, "iommu: Default domain type: Passthrough (set via kernel command line)");
}

/**
 * The type of `fn`'s default domain as /sys/kernel/iommu_groups/N/type names it: "identity" with
 * iommu=pt, "DMA" with translation (strict: an unmap takes the IOVA away at once), null without IOMMU.
 */
export function iommuDomainTypeOf(k: IommuHost): "identity" | "DMA" | null {
  if (iommus.has(k)) return "DMA";
  return k.phys.pci.iommu instanceof PassthroughIommu ? "identity" : null;
}
