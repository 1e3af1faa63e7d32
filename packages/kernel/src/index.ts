/**
 * @faultline/kernel: the machine (physical memory, buses, devices, processes) and the driver API.
 * This file is the package's whole public surface.
 */

export {
  AddressSpaceMapping,
  type Era,
  FAULT_KILLED,
  Mmu,
  type SiCodeName,
  SignalError,
  type SignalName,
  type VmFault,
} from "@faultline/mm";
export * from "./constants";
export {
  __pa,
  __va,
  allocPage,
  allocPages,
  current,
  type DriverDefinitionInput,
  defineDriver,
  freePage,
  freePages,
  getPage,
  highMemory,
  type IoMem,
  ioRemapPfnRange,
  ioremap,
  iounmap,
  kmapPage,
  kunmapPage,
  pageAddress,
  pageBytes,
  pageToPfn,
  pfnToPage,
  pfnValid,
  physToVirt,
  prAlert,
  prCrit,
  prDebug,
  prEmerg,
  prErr,
  prInfo,
  printk,
  prNotice,
  prWarn,
  putPage,
  remapPfnRange,
  SUPPORTED_DRIVER_API_VERSIONS,
  splitPage,
  UnsupportedDriverApiVersionError,
  unmapMappingRange,
  virtToPage,
  virtToPhys,
  vmfInsertPfn,
  vmInsertPage,
  zapVmaPtes,
} from "./driver-api";
export {
  DRIVER_API_VERSION,
  type DriverContext,
  type DriverDefinition,
  type File,
  type FileOperations,
  type Inode,
  type Page,
  type Vma,
  type VmOperations,
} from "./driver-types";
export { ErrnoError, strerror } from "./errno-error";
export {
  type CpuOptions,
  type DeviceModel,
  type LogRecord,
  Machine,
  type MachineOptions,
  type OopsRecord,
} from "./machine";
export { Libc, Process, type ProcessState, type SpawnOptions, Syscalls, type WaitResult } from "./process";
