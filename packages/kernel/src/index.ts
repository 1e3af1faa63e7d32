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
export { driveClockExternally, endSleep, sleepWake, takeSleep } from "./clock";
export * from "./constants";
export * from "./dma-mapping";
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
  vmfInsertMixed,
  vmfInsertPfn,
  vmfInsertPfnProt,
  vmInsertPage,
  vmInsertPages,
  vmIomapMemory,
  vmMapPages,
  vmMapPagesZero,
  zapVmaPtes,
} from "./driver-api";
export {
  DRIVER_API_VERSION,
  type DriverContext,
  type DriverDefinition,
  type DriverSnapshot,
  type File,
  type FileOperations,
  type Inode,
  type Page,
  type Vma,
  type VmOperations,
} from "./driver-types";
export { ErrnoError, strerror } from "./errno-error";
export * from "./gup";
export {
  CLONE_CHILD_CLEARTID,
  CLONE_CHILD_SETTID,
  CLONE_FILES,
  CLONE_FS,
  CLONE_NEWNS,
  CLONE_NEWPID,
  CLONE_NEWUSER,
  CLONE_PARENT,
  CLONE_PARENT_SETTID,
  CLONE_PTHREAD,
  CLONE_SETTLS,
  CLONE_SIGHAND,
  CLONE_SYSVSEM,
  CLONE_THREAD,
  CLONE_VFORK,
  CLONE_VM,
  CSIGNAL,
} from "./internal/clone";
export { MLOCK_ONFAULT } from "./internal/mlock";
export { LOG_BUF_LEN, LOG_BUF_RECORDS, type LogRecord } from "./internal/printk";
export {
  RLIM_INFINITY,
  RLIM_NLIMITS,
  RLIMIT_AS,
  RLIMIT_CORE,
  RLIMIT_CPU,
  RLIMIT_DATA,
  RLIMIT_FSIZE,
  RLIMIT_LOCKS,
  RLIMIT_MEMLOCK,
  RLIMIT_MSGQUEUE,
  RLIMIT_NICE,
  RLIMIT_NOFILE,
  RLIMIT_NPROC,
  RLIMIT_RSS,
  RLIMIT_RTPRIO,
  RLIMIT_RTTIME,
  RLIMIT_SIGPENDING,
  RLIMIT_STACK,
  type Rlimit,
} from "./internal/resource";
export type { ArgKind, ArgKinds } from "./internal/syscall";
export {
  IOMMU_READ,
  IOMMU_WRITE,
  type IommuMapping,
  iommuDomainType,
  iommuFaults,
  iommuMappings,
} from "./iommu";
export * from "./isa-dma";
export { Libc } from "./libc";
export type { BadPageRecord, OopsRecord } from "./machine";
export { Machine, type RestoreOptions } from "./machine";
export {
  type CpuOptions,
  type DeviceModel,
  MAX_RAM_BYTES,
  type MachineOptions,
  MIN_RAM_BYTES,
} from "./options";
export * from "./pat";
export * from "./pci";
export { lspci, pciDevOf, plugPciDevice, unplugPciDevice } from "./pci-machine";
export { PFN_DOWN, PFN_PHYS, PFN_UP } from "./pfn";
export { Process, type ProcessState, type SpawnOptions } from "./process";
export * from "./signal";
export {
  type DecodeSnapshotOptions,
  decodeSnapshotContainer,
  encodeSnapshotContainer,
  isSnapshot,
  SNAPSHOT_FORMAT_VERSION,
  SNAPSHOT_MAGIC,
  SNAPSHOT_MAX_PAYLOAD,
  type SnapshotContainer,
  SnapshotError,
} from "./snapshot/container";
export {
  KERNEL_VERSION,
  MACHINE_SNAPSHOT_KIND,
  MACHINE_SNAPSHOT_OLDEST_FORMAT,
} from "./snapshot/machine-snapshot";
export {
  SYS_fallocate,
  SYS_fcntl,
  SYS_fdatasync,
  SYS_fstat,
  SYS_fsync,
  SYS_ftruncate,
  SYS_getdents64,
  SYS_memfd_create,
  SYS_mkdir,
  SYS_pread64,
  SYS_pwrite64,
  SYS_rename,
  SYS_rmdir,
  SYS_shmat,
  SYS_shmctl,
  SYS_shmdt,
  SYS_shmget,
  SYS_stat,
  SYS_truncate,
  SYS_unlink,
} from "./syscall_64.files.tbl";
export {
  describeSyscall,
  SYS_brk,
  SYS_clone,
  SYS_close,
  SYS_dup,
  SYS_exit,
  SYS_exit_group,
  SYS_fork,
  SYS_getpid,
  SYS_getppid,
  SYS_getrlimit,
  SYS_gettid,
  SYS_ioctl,
  SYS_kill,
  SYS_lseek,
  SYS_madvise,
  SYS_mincore,
  SYS_mlock,
  SYS_mlock2,
  SYS_mlockall,
  SYS_mmap,
  SYS_mprotect,
  SYS_mremap,
  SYS_mseal,
  SYS_msync,
  SYS_munlock,
  SYS_munlockall,
  SYS_munmap,
  SYS_open,
  SYS_pkey_alloc,
  SYS_pkey_free,
  SYS_pkey_mprotect,
  SYS_prlimit64,
  SYS_read,
  SYS_rt_sigaction,
  SYS_rt_sigpending,
  SYS_rt_sigprocmask,
  SYS_rt_sigreturn,
  SYS_setrlimit,
  SYS_tgkill,
  SYS_wait4,
  SYS_write,
  type SyscallDescription,
  syscallNames,
} from "./syscall_64.tbl";
export {
  SYS_alarm,
  SYS_clock_getres,
  SYS_clock_gettime,
  SYS_clock_nanosleep,
  SYS_clock_settime,
  SYS_nanosleep,
} from "./syscall_64.time.tbl";
export { Syscalls, type WaitResult } from "./syscalls";
export type { Dirent, IpcPerm, ShmInfo, ShmidDs, Stat } from "./syscalls-files";
export * from "./timer";
export * from "./vm-flags";
export {
  isVmallocAddr,
  remapVmallocRange,
  remapVmallocRangePartial,
  VMALLOC_END,
  VMALLOC_START,
  vfree,
  vmalloc,
  vmallocToPage,
  vmallocToPfn,
  vmallocUser,
  vzalloc,
} from "./vmalloc";
