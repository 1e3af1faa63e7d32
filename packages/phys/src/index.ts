export { AddressSpace, type AddressSpaceOptions } from "./address-space";
export * from "./banks";
export { NANOSECONDS_PER_SECOND, VirtualClock, type VirtualClockState, type VirtualTimer } from "./clock";
export * from "./constants";
export { DirtyLog } from "./dirty-log";
export {
  directMapAddress,
  directMapPhys,
  fromHalves,
  high32,
  LOCATION_NONE,
  locationBank,
  locationOf,
  locationOffset,
  low32,
  offsetInPage,
  PAGE_ENTRY_NONE,
  PAGE_OFFSET,
  PHYS_ADDR_LIMIT,
  pageEntryBank,
  pageEntryLocation,
  pageEntryOf,
  pageEntryOffset,
  pageEntryWritable,
  pfnOf,
  pfnUp,
  physOf,
} from "./encoding";
export { PhysError } from "./errors";
export type { FlatRange, FlatRangeDescriptor, PageKind, PageTranslation } from "./flatview";
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
export {
  DMA_AUTOINIT,
  DMA_MODE_CASCADE,
  DMA_MODE_READ,
  DMA_MODE_WRITE,
  ISA_DMA_LIMIT,
  IsaDmaController,
  type IsaDmaState,
  MAX_DMA_CHANNELS,
} from "./isa-dma";
export { makeRamFrameLookup, type RamRange, ramImageBytes, ramLayout } from "./layout";
export {
  type DeviceContext,
  type IsaDeviceInput,
  type IsaDeviceSpec,
  type PciDeviceInput,
  PhysMachine,
  type PhysMachineDescriptor,
  type PhysMachineOptions,
} from "./machine";
export { Page, PhysMemory, type PhysMemoryDescriptor, type PhysMemoryOptions } from "./memory";
export {
  type AccessRules,
  MemoryRegion,
  type MemoryRegionOps,
  REGION_ALIGN,
  type RegionKind,
  type TopologyListener,
} from "./memory-region";
export { MEMMAP_CHUNK, type MemmapArrayState, type PhysMemoryState } from "./memory-state";
export {
  type AccessSize,
  BusError,
  type BusErrorCode,
  type BusErrorDetails,
  type GuestError,
  type GuestErrorKind,
  GuestLog,
  MEMTX_ACCESS_ERROR,
  MEMTX_DECODE_ERROR,
  MEMTX_ERROR,
  MEMTX_OK,
  type MemTxResult,
  type MemTxValue,
} from "./memtx";
export { byteSwap, type DeviceEndianness, type ImplRules } from "./mmio-access";
export type { MmioPage } from "./mmio-page";
export {
  MAX_DMA_PFN,
  MAX_DMA32_PFN,
  MAX_NR_ZONES,
  nodeZones,
  pfnZone,
  ZONE_DEVICE,
  ZONE_DMA,
  ZONE_DMA32,
  ZONE_MOVABLE,
  ZONE_NAMES,
  ZONE_NORMAL,
  type Zone,
  type ZoneParams,
  zoneParams,
} from "./mmzone";
export * from "./pci";
export { NODE_STAT_ITEMS, renderZoneinfo, type ZoneinfoCounters } from "./zoneinfo";
