/**
 * Every constant a driver or a program uses, with Linux x86-64 values. The mmap family, vm_flags,
 * fault codes, signals and errno come from @faultline/mm (one definition); open(2) flags, printk levels
 * and wait(2) status helpers are defined here.
 */
export {
  BUS_ADRALN,
  BUS_ADRERR,
  BUS_OBJERR,
  E2BIG,
  EACCES,
  EAGAIN,
  EBADF,
  EBUSY,
  ECHILD,
  EDOM,
  EEXIST,
  EFAULT,
  EFBIG,
  EIDRM,
  EINTR,
  EINVAL,
  EIO,
  EISDIR,
  EMFILE,
  EMLINK,
  ENAMETOOLONG,
  ENFILE,
  ENODEV,
  ENOENT,
  ENOEXEC,
  ENOMEM,
  ENOSPC,
  ENOSYS,
  ENOTBLK,
  ENOTDIR,
  ENOTEMPTY,
  ENOTTY,
  ENXIO,
  EOPNOTSUPP,
  EOVERFLOW,
  EPERM,
  EPIPE,
  ERANGE,
  EROFS,
  ESPIPE,
  ESRCH,
  ETXTBSY,
  EXDEV,
  errnoName,
  FAULT_FLAG_MKWRITE,
  FAULT_FLAG_REMOTE,
  FAULT_FLAG_USER,
  FAULT_FLAG_WRITE,
  LEGACY_MAP_MASK,
  MADV_COLD,
  MADV_DODUMP,
  MADV_DOFORK,
  MADV_DONTDUMP,
  MADV_DONTFORK,
  MADV_DONTNEED,
  MADV_DONTNEED_LOCKED,
  MADV_FREE,
  MADV_GUARD_INSTALL,
  MADV_GUARD_REMOVE,
  MADV_HUGEPAGE,
  MADV_KEEPONFORK,
  MADV_MERGEABLE,
  MADV_NOHUGEPAGE,
  MADV_NORMAL,
  MADV_PAGEOUT,
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
  MADV_RANDOM,
  MADV_REMOVE,
  MADV_SEQUENTIAL,
  MADV_UNMERGEABLE,
  MADV_WILLNEED,
  MADV_WIPEONFORK,
  MAP_32BIT,
  MAP_ABOVE4G,
  MAP_ANON,
  MAP_ANONYMOUS,
  MAP_DENYWRITE,
  MAP_DROPPABLE,
  MAP_EXECUTABLE,
  MAP_FAILED,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_GROWSDOWN,
  MAP_HUGE_1GB,
  MAP_HUGE_2MB,
  MAP_HUGE_MASK,
  MAP_HUGE_SHIFT,
  MAP_HUGETLB,
  MAP_LOCKED,
  MAP_NONBLOCK,
  MAP_NORESERVE,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MAP_STACK,
  MAP_SYNC,
  MAP_TYPE,
  MAP_UNINITIALIZED,
  MCL_CURRENT,
  MCL_FUTURE,
  MCL_ONFAULT,
  MLOCK_ONFAULT,
  MMAP_MIN_ADDR,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  MS_ASYNC,
  MS_INVALIDATE,
  MS_SYNC,
  NOPAGE_OOM,
  NOPAGE_SIGBUS,
  PKEY_DISABLE_ACCESS,
  PKEY_DISABLE_WRITE,
  PROT_EXEC,
  PROT_GROWSDOWN,
  PROT_GROWSUP,
  PROT_NONE,
  PROT_READ,
  PROT_SEM,
  PROT_WRITE,
  SEGV_ACCERR,
  SEGV_MAPERR,
  SEGV_PKUERR,
  SIGBUS,
  SIGKILL,
  SIGSEGV,
  TASK_SIZE,
  VM_ACCESS_FLAGS,
  VM_ACCOUNT,
  VM_ARCH_1,
  VM_DONTCOPY,
  VM_DONTDUMP,
  VM_DONTEXPAND,
  VM_EXEC,
  VM_FAULT_DONE_COW,
  VM_FAULT_ERROR,
  VM_FAULT_FALLBACK,
  VM_FAULT_HWPOISON,
  VM_FAULT_HWPOISON_LARGE,
  VM_FAULT_LOCKED,
  VM_FAULT_MAJOR,
  VM_FAULT_MINOR,
  VM_FAULT_NEEDDSYNC,
  VM_FAULT_NOPAGE,
  VM_FAULT_OOM,
  VM_FAULT_RETRY,
  VM_FAULT_SIGBUS,
  VM_FAULT_SIGSEGV,
  VM_GROWSDOWN,
  VM_HUGEPAGE,
  VM_HUGETLB,
  VM_IO,
  VM_LOCKED,
  VM_LOCKED_MASK,
  VM_LOCKONFAULT,
  VM_MAYEXEC,
  VM_MAYREAD,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_MERGEABLE,
  VM_MIXEDMAP,
  VM_NOHUGEPAGE,
  VM_NONE,
  VM_NORESERVE,
  VM_PFNMAP,
  VM_RAND_READ,
  VM_READ,
  VM_RESERVED,
  VM_SEALED,
  VM_SEQ_READ,
  VM_SHARED,
  VM_SOFTDIRTY,
  VM_SPECIAL,
  VM_SYNC,
  VM_UFFD_WP,
  VM_WIPEONFORK,
  VM_WRITE,
} from "@faultline/mm";
export {
  __GFP_ZERO,
  GFP_HIGHUSER,
  GFP_KERNEL,
  GFP_USER,
  PAGE_MASK,
  PAGE_OFFSET,
  PAGE_SHIFT,
  PAGE_SIZE,
} from "@faultline/phys";

/** open(2) flags (include/uapi/asm-generic/fcntl.h, x86-64 values). */
export const O_ACCMODE = 0o3;
export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOCTTY = 0o400;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_NONBLOCK = 0o4000;
export const O_NDELAY = O_NONBLOCK;
export const O_DSYNC = 0o10000;
export const FASYNC = 0o20000;
export const O_DIRECT = 0o40000;
export const O_LARGEFILE = 0o100000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const O_NOATIME = 0o1000000;
export const O_CLOEXEC = 0o2000000;
export const __O_SYNC = 0o4000000;
export const O_SYNC = __O_SYNC | O_DSYNC;
export const O_PATH = 0o10000000;

/** f_mode bits (include/linux/fs.h). */
export const FMODE_READ = 0x1;
export const FMODE_WRITE = 0x2;

/** lseek(2) whence. */
export const SEEK_SET = 0;
export const SEEK_CUR = 1;
export const SEEK_END = 2;

/** waitpid(2) options and status decoding (include/uapi/linux/wait.h, bits/waitstatus.h). */
export const WNOHANG = 1;
export const WIFEXITED = (status: number): boolean => (status & 0x7f) === 0;
export const WEXITSTATUS = (status: number): number => (status >> 8) & 0xff;
export const WIFSIGNALED = (status: number): boolean => (status & 0x7f) !== 0 && (status & 0x7f) !== 0x7f;
export const WTERMSIG = (status: number): number => status & 0x7f;
/** The child dumped core (glibc's WCOREDUMP: the 0x80 bit of a signal's status). */
export const WCOREDUMP = (status: number): boolean => (status & 0x80) !== 0;

/**
 * printk levels (include/linux/kern_levels.h): KERN_SOH ("\x01") and a digit, prepended to the format
 * as in C (`printk(KERN_NOTICE + "…")`) or passed as printk's first argument.
 */
export const KERN_SOH = "\x01";
export const KERN_EMERG = "\x010";
export const KERN_ALERT = "\x011";
export const KERN_CRIT = "\x012";
export const KERN_ERR = "\x013";
export const KERN_WARNING = "\x014";
export const KERN_NOTICE = "\x015";
export const KERN_INFO = "\x016";
export const KERN_DEBUG = "\x017";
export const KERN_DEFAULT = "";
export const KERN_CONT = "\x01c";
/** Level of a printk without one (CONFIG_MESSAGE_LOGLEVEL_DEFAULT). */
export const MESSAGE_LOGLEVEL_DEFAULT = 4;

/** lseek(2) whence values beyond SEEK_END (include/uapi/linux/fs.h). */
export const SEEK_DATA = 3;
export const SEEK_HOLE = 4;
/** wait4() options (include/uapi/linux/wait.h). */
export const WUNTRACED = 2;
export const WCONTINUED = 8;
export const __WNOTHREAD = 0x20000000;
export const __WALL = 0x40000000;
export const __WCLONE = 0x80000000 | 0;
/** Generic ioctls handled by do_vfs_ioctl() (include/uapi/asm-generic/ioctls.h). */
export const FIONBIO = 0x5421;
export const FIONCLEX = 0x5450;
export const FIOCLEX = 0x5451;
export const FIOASYNC = 0x5452;
/** A driver's "not my ioctl" (include/linux/errno.h); never reaches user space. */
export const ENOIOCTLCMD = 515;
/** rw_verify_area(): the most one read or write transfers (INT_MAX & PAGE_MASK). */
export const MAX_RW_COUNT = 0x7ffff000;

/** fcntl(2) commands and FD_CLOEXEC (include/uapi/asm-generic/fcntl.h, linux/fcntl.h). */
export const F_DUPFD = 0;
export const F_GETFD = 1;
export const F_SETFD = 2;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const F_DUPFD_CLOEXEC = 1030;
export const F_ADD_SEALS = 1033;
export const F_GET_SEALS = 1034;
export const FD_CLOEXEC = 1;
export {
  F_SEAL_EXEC,
  F_SEAL_FUTURE_WRITE,
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
} from "@faultline/mm";
/** memfd_create(2) flags (include/uapi/linux/memfd.h). */
export const MFD_CLOEXEC = 0x0001;
export const MFD_ALLOW_SEALING = 0x0002;
export const MFD_HUGETLB = 0x0004;
export const MFD_NOEXEC_SEAL = 0x0008;
export const MFD_EXEC = 0x0010;
/** File types of st_mode (include/uapi/linux/stat.h) and getdents64's d_type. */
export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFREG = 0o100000;
export const DT_DIR = 4;
export const DT_REG = 8;
/** SysV IPC (include/uapi/linux/ipc.h, shm.h). */
export const IPC_PRIVATE = 0;
export const IPC_CREAT = 0o1000;
export const IPC_EXCL = 0o2000;
export const IPC_NOWAIT = 0o4000;
export const IPC_RMID = 0;
export const IPC_SET = 1;
export const IPC_STAT = 2;
export const IPC_INFO = 3;
/** shmget flags: huge pages (the size in bits 26..31, as MAP_HUGETLB's), no reservation. */
export const SHM_HUGETLB = 0o4000;
export const SHM_NORESERVE = 0o10000;
export const SHM_HUGE_SHIFT = 26;
export const SHM_HUGE_MASK = 0x3f;
export const SHM_HUGE_2MB = 21 << SHM_HUGE_SHIFT;
export const SHM_HUGE_1GB = 30 << SHM_HUGE_SHIFT;
export const SHM_RDONLY = 0o10000;
export const SHM_RND = 0o20000;
export const SHM_REMAP = 0o40000;
export const SHM_EXEC = 0o100000;
export const SHM_LOCK = 11;
export const SHM_UNLOCK = 12;
export const SHM_STAT = 13;
export const SHM_INFO = 14;
export const SHM_STAT_ANY = 15;
/** shm_perm.mode bits the kernel sets: marked for destruction, locked. */
export const SHM_DEST = 0o1000;
export const SHM_LOCKED = 0o2000;
/** Default limits (include/uapi/linux/shm.h): SHMMIN, SHMMNI, SHMMAX and SHMALL (ULONG_MAX - 2^24). */
export const SHMMIN = 1;
export const SHMMNI = 4096;
export const SHMMAX = 2 ** 64 - 2 ** 24;
export const SHMALL = 2 ** 64 - 2 ** 24;
/** SHMLBA on x86: attach addresses are page aligned (SHM_RND rounds down to it). */
export const SHMLBA = 4096;
