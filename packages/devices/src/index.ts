export {
  type BusKind,
  type DeviceDefinition,
  type DeviceModel,
  type DeviceOps,
  type DeviceOpsContext,
  type DeviceSnapshot,
  type DeviceState,
  defineDevice,
  type FieldValue,
  type IsaDeviceDefinition,
  type IsaDeviceModel,
  type PciDeviceDefinition,
  type PciDeviceModel,
  type StateDescription,
} from "./device";
export { DeviceError, type DeviceErrorCode } from "./errors";
export { ISA_FREE_END, ISA_FREE_START, type IsaMemoryOptions, isaMemory } from "./isa-memory";
export {
  definePciDevice,
  type PciBarDefinition,
  type PciBarOps,
  type PciDeviceContext,
  type PciDeviceSpec,
} from "./pci-device";
export {
  PCI_MEMORY_ID,
  PCI_MEMORY_MMIO_SIZE,
  PCI_MEMORY_REG_FILL,
  PCI_MEMORY_REG_ID,
  PCI_MEMORY_REG_LIVENESS,
  PCI_MEMORY_REG_RAM_SIZE,
  PCI_MEMORY_REG_SCRATCH,
  type PciMemoryOptions,
  pciMemoryDevice,
} from "./pci-memory";
