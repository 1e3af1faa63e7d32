export * from "./constants";
export * from "./errno";
export {
  type Era,
  FAULT_OK,
  FAULT_OOM,
  FAULT_SEGV_ACCERR,
  FAULT_SEGV_MAPERR,
  FAULT_SEGV_PKUERR,
  FAULT_SIGBUS,
  faultPkey,
  isCowMapping,
  Mm,
  type MmOptions,
  type TlbClient,
} from "./mm";
export {
  FAULT_KILLED,
  type FaultHook,
  faultSignal,
  Mmu,
  type MmuOptions,
  type MmuTarget,
  tlbBufferBytes,
  tlbBufferLayout,
} from "./mmu";
export {
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_NX,
  _PAGE_PFNMAP,
  _PAGE_PRESENT,
  _PAGE_RW,
  _PAGE_SPECIAL,
  _PAGE_USER,
  PageTables,
  ptePfn,
} from "./pgtable";
export { type PhysAccess, ramOnly } from "./phys-access";
export {
  ARCH_DEFAULT_PKEY,
  INIT_PKRU_VALUE,
  MmPkeys,
  PKEY_ACCESS_MASK,
  PKEY_DISABLE_ACCESS,
  PKEY_DISABLE_WRITE,
  PKU_NR_KEYS,
  pkruAllows,
  pkruGet,
  pkruSet,
} from "./pkeys";
export {
  mapsLine,
  renderMaps,
  renderSmaps,
  type SmapsCounters,
  smapsCounters,
  vmaName,
  vmFlagsString,
} from "./procfs";
export { ShmemFile } from "./shmem";
export { type SiCodeName, SignalError, type SignalName } from "./signal";
export {
  AddressSpaceMapping,
  AnonVma,
  type MmFile,
  NOPAGE_OOM,
  NOPAGE_SIGBUS,
  Vma,
  type VmFault,
  type VmOperations,
} from "./vma";
export { VmaTree } from "./vma-tree";
