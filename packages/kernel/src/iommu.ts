/**
 * The IOMMU as the machine's owner sees it (MachineOptions.iommu): what a device's DMA domain maps now
 * and the faults it reported, for tests and tools (the kernel's side is internal/iommu.ts).
 */
import type { PciFunction } from "@faultline/phys";
import { iommuDomainTypeOf, iommuOf } from "./internal/iommu";
import type { Machine } from "./machine";
import type { DeviceModel } from "./options";

export { IOMMU_READ, IOMMU_WRITE } from "./internal/iommu";

/** One page of a DMA domain: the IOVA, the physical address behind it, IOMMU_READ | IOMMU_WRITE. */
export interface IommuMapping {
  readonly iova: number;
  readonly phys: number;
  readonly prot: number;
}

/** The pages `device`'s domain maps, by IOVA; empty without an IOMMU. */
export function iommuMappings(m: Machine, device: DeviceModel): IommuMapping[] {
  const fn = (device as { pci?: PciFunction }).pci;
  const io = iommuOf(m.kernel);
  if (!fn || !io) return [];
  return io.mappings(fn).map(([iova, pfn, prot]) => ({ iova: iova * 4096, phys: pfn * 4096, prot }));
}

/** The DMAR fault lines reported so far (also in dmesg). */
export function iommuFaults(m: Machine): readonly string[] {
  return iommuOf(m.kernel)?.faults ?? [];
}

/**
 * The type of `device`'s IOMMU domain, as /sys/kernel/iommu_groups/N/type shows it: "identity" with
 * `iommu: "passthrough"` (iommu=pt), "DMA" with `iommu: true`, null without an IOMMU or for a device
 * that is not on the PCI bus.
 */
export function iommuDomainType(m: Machine, device: DeviceModel): "identity" | "DMA" | null {
  if (!(device as { pci?: PciFunction }).pci) return null;
  return iommuDomainTypeOf(m.kernel);
}
