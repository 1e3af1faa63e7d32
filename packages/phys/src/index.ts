export {
  type AccessRules,
  type AccessSize,
  AddressSpace,
  type AddressSpaceOptions,
  BusError,
  type BusErrorCode,
  type BusErrorDetails,
  type FlatRange,
  type FlatRangeDescriptor,
  type GuestError,
  type GuestErrorKind,
  GuestLog,
  MEMTX_ACCESS_ERROR,
  MEMTX_DECODE_ERROR,
  MEMTX_ERROR,
  MEMTX_OK,
  MemoryRegion,
  type MemoryRegionOps,
  type MemTxResult,
  type PageKind,
  type PageTranslation,
  PHYS_ADDR_LIMIT,
  pageEntryBank,
  pageEntryOffset,
  pageEntryWritable,
  REGION_ALIGN,
  type RegionKind,
} from "./address-space";
export * from "./banks";
export * from "./constants";
export { PhysError } from "./errors";
export { type Resource, ResourceTree } from "./iomem";
export {
  BIOS_ROM_BASE,
  BIOS_ROM_SIZE,
  BIOS_SIGNATURE,
  IO_SPACE_SIZE,
  type IoPortOps,
  type IoPortRange,
  IoPortSpace,
  IsaBus,
  type IsaMemoryDevice,
  type PortAccessSize,
  VGA_BASE,
  VGA_SIZE,
} from "./isa";
export { makeRamFrameLookup, pfnOf, physOf, type RamRange, ramImageBytes, ramLayout } from "./layout";
export {
  type DeviceContext,
  type IsaDeviceInput,
  type IsaDeviceSpec,
  type PciDeviceInput,
  PhysMachine,
  type PhysMachineDescriptor,
  type PhysMachineOptions,
} from "./machine";
export { PAGE_OFFSET, Page, PhysMemory, type PhysMemoryDescriptor, type PhysMemoryOptions } from "./memory";
export * from "./pci";
