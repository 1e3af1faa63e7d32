export * from "./constants";
export type { Era } from "./era";
export * from "./errno";
export {
  FAULT_OK,
  FAULT_OOM,
  FAULT_SEGV_ACCERR,
  FAULT_SEGV_MAPERR,
  FAULT_SEGV_PKUERR,
  FAULT_SIGBUS,
  faultPkey,
} from "./fault";
export {
  FOLL_ANON,
  FOLL_FORCE,
  FOLL_GET,
  FOLL_LONGTERM,
  FOLL_NOFAULT,
  FOLL_PIN,
  FOLL_WRITE,
  GUP_PIN_COUNTING_BIAS,
  getUserPagesWalk,
} from "./gup";
export {
  HPAGE_SIZE,
  HUGETLB_VM_OPS,
  HUGETLBFS_DEV_MINOR,
  HugetlbFile,
  hstateSizelog,
  hugeAlign,
  isFileHugepages,
  markHugetlbVma,
} from "./hugetlb";
export { isCowMapping } from "./internal";
export {
  isNewMemtypeAllowed,
  type Memtype,
  type MemtypeLog,
  Memtypes,
  type MemtypesState,
  memtypesOf,
  PfnmapTrackCtx,
} from "./memtype";
export { Mm } from "./mm";
export {
  AddressSpaceMapping,
  AnonVma,
  type MmFile,
  type MmOptions,
  NOPAGE_OOM,
  NOPAGE_SIGBUS,
  type TlbClient,
  Vma,
  type VmFault,
  type VmOperations,
} from "./mm_types";
export {
  FAULT_KILLED,
  type FaultHook,
  faultSignal,
  Mmu,
  type MmuOptions,
  type MmuTarget,
  TLB_MMIO,
  TLB_OTHER_BANK,
  tlbBufferBytes,
  tlbBufferLayout,
  tlbTagPage,
} from "./mmu";
export {
  _PAGE_CACHE_MASK,
  _PAGE_CACHE_MODE_UC,
  _PAGE_CACHE_MODE_UC_MINUS,
  _PAGE_CACHE_MODE_WB,
  _PAGE_CACHE_MODE_WC,
  _PAGE_CACHE_MODE_WP,
  _PAGE_CACHE_MODE_WT,
  _PAGE_PAT,
  cachemode2protval,
  cattrName,
  PAT_CONFIGURATION,
  type PageCacheMode,
  pgprot2cachemode,
  pgprotCacheBits,
  pgprotDevice,
  pgprotNoncached,
  pgprotWritecombine,
  pgprotWritethrough,
  pteCachemode,
} from "./pgprot";
export {
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_NX,
  _PAGE_PCD,
  _PAGE_PFNMAP,
  _PAGE_PRESENT,
  _PAGE_PWT,
  _PAGE_RW,
  _PAGE_SPECIAL,
  _PAGE_USER,
  PageTables,
  pteFlags,
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
  pkruSetAndFlush,
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
export { renderPtdumpUser } from "./ptdump";
/**
 * unmap_mapping_range(): removes, in every process, the PTEs that map bytes [holeBegin, holeBegin +
 * holeLen) of a mapped object (holeLen 0: to its end), so the next access faults and asks the driver
 * again. Private COW copies stay unless `evenCows`. The one copy of this walk; a driver reaches it
 * through the kernel's driver API.
 */
export { type BadPageHandler, setBadPageHandler, unmapMappingRange } from "./rmap";
export {
  MAX_LFS_FILESIZE,
  ShmemFile,
  ShmemInode,
  ShmemMapping,
  ShmemSb,
  setShmemInoCounter,
  shmemInoCounter,
  shmemInodeOf,
  shmemNextIno,
  shmemZeroSetup,
} from "./shmem";
export {
  restoreShmemFile,
  restoreShmemInode,
  type ShmemFileState,
  type ShmemInodeState,
  saveShmemFile,
  saveShmemInode,
} from "./shmem-snapshot";
export {
  NSIG,
  type SiCodeName,
  SignalError,
  type SignalName,
  type StandardSignalName,
  siCodeValue,
  signalName,
  signalNumber,
} from "./signal";
export {
  AnonVmaTable,
  adoptPageTables,
  type MmState,
  type RestoreRefs,
  restoreMm,
  type SaveRefs,
  saveMm,
  type VmaState,
} from "./snapshot";
export { VmaTree } from "./vma-tree";
