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
  PCI_DMA_DESC_SIZE,
  PCI_DMA_DEVICE_ID,
  PCI_DMA_REG_DESC_HI,
  PCI_DMA_REG_DESC_LO,
  PCI_DMA_REG_DONE,
  PCI_DMA_REG_DOORBELL,
  PCI_DMA_REG_STATUS,
  PCI_DMA_STATUS_ERROR,
  PCI_DMA_VENDOR_ID,
  pciDmaEngine,
} from "./pci-dma-engine";
export {
  PCI_FB_DEVICE_ID,
  PCI_FB_IRQ_VBLANK,
  PCI_FB_REG_HEIGHT,
  PCI_FB_REG_IRQ_ENABLE,
  PCI_FB_REG_IRQ_STATUS,
  PCI_FB_REG_VBLANKS,
  PCI_FB_REG_WIDTH,
  PCI_FB_VENDOR_ID,
  type PciFramebufferOptions,
  pciFramebuffer,
} from "./pci-fb";
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
