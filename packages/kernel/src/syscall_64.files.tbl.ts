/**
 * The rows of syscall_64.tbl for files, tmpfs, memfd and SysV shm (issue 12 §2). syscall_64.tbl.ts
 * merges them into the one table in number order; they are kept here so the table's two halves can
 * grow without touching each other's lines.
 */
import { sysShmat, sysShmctl, sysShmdt, sysShmget } from "./internal/ipc-shm";
import { sysFcntl, sysMemfdCreate } from "./internal/memfd";
import { sysMkdir, sysRename, sysRmdir, sysUnlink } from "./internal/namei";
import {
  sysFallocate,
  sysFstat,
  sysFsync,
  sysFtruncate,
  sysGetdents64,
  sysStat,
  sysTruncate,
} from "./internal/open";
import { sysPread64, sysPwrite64 } from "./internal/read-write";
import { type SyscallEntry, syscall } from "./internal/syscall";

export const SYS_stat = 4;
export const SYS_fstat = 5;
export const SYS_pread64 = 17;
export const SYS_pwrite64 = 18;
export const SYS_shmget = 29;
export const SYS_shmat = 30;
export const SYS_shmctl = 31;
export const SYS_shmdt = 67;
export const SYS_fcntl = 72;
export const SYS_fsync = 74;
export const SYS_fdatasync = 75;
export const SYS_truncate = 76;
export const SYS_ftruncate = 77;
export const SYS_rename = 82;
export const SYS_mkdir = 83;
export const SYS_rmdir = 84;
export const SYS_unlink = 87;
export const SYS_getdents64 = 217;
export const SYS_fallocate = 285;
export const SYS_memfd_create = 319;

const fd = { name: "fd", kind: "unsigned int" } as const;
const pathname = { name: "pathname", kind: "const char *path" } as const;

/** The file rows, in number order. */
export const FILE_SYSCALLS: readonly SyscallEntry[] = [
  syscall(SYS_stat, "stat", "stat", [pathname], sysStat),
  syscall(SYS_fstat, "fstat", "fstat", [fd], sysFstat),
  // glibc's pread(fd, buf, count, offset) is pread64; the count is the buffer's length (or a count).
  syscall(
    SYS_pread64,
    "pread64",
    "pread",
    [fd, { name: "buf", kind: "char *buf" }, { name: "offset", kind: "off_t" }],
    sysPread64,
  ),
  syscall(
    SYS_pwrite64,
    "pwrite64",
    "pwrite",
    [fd, { name: "buf", kind: "const char *buf" }, { name: "offset", kind: "off_t" }],
    sysPwrite64,
  ),
  syscall(
    SYS_shmget,
    "shmget",
    "shmget",
    [
      { name: "key", kind: "int" },
      { name: "size", kind: "size_t" },
      { name: "shmflg", kind: "int", default: 0 },
    ],
    sysShmget,
  ),
  syscall(
    SYS_shmat,
    "shmat",
    "shmat",
    [
      { name: "shmid", kind: "int" },
      { name: "shmaddr", kind: "unsigned long", default: 0 },
      { name: "shmflg", kind: "int", default: 0 },
    ],
    sysShmat,
  ),
  // IPC_STAT, SHM_STAT and IPC_INFO return the struct (shmid64_ds, shminfo64) instead of filling a
  // buffer; IPC_SET reads { shmPerm: { uid, gid, mode } } from buf.
  syscall(
    SYS_shmctl,
    "shmctl",
    "shmctl",
    [
      { name: "shmid", kind: "int" },
      { name: "cmd", kind: "int" },
      { name: "buf", kind: "struct shmid_ds *", default: null },
    ],
    sysShmctl,
  ),
  syscall(SYS_shmdt, "shmdt", "shmdt", [{ name: "shmaddr", kind: "unsigned long" }], sysShmdt),
  syscall(
    SYS_fcntl,
    "fcntl",
    "fcntl",
    [fd, { name: "cmd", kind: "unsigned int" }, { name: "arg", kind: "unsigned long", default: 0 }],
    sysFcntl,
  ),
  syscall(SYS_fsync, "fsync", "fsync", [fd], sysFsync),
  syscall(SYS_fdatasync, "fdatasync", "fdatasync", [fd], sysFsync),
  syscall(SYS_truncate, "truncate", "truncate", [pathname, { name: "length", kind: "long" }], sysTruncate),
  syscall(SYS_ftruncate, "ftruncate", "ftruncate", [fd, { name: "length", kind: "off_t" }], sysFtruncate),
  syscall(
    SYS_rename,
    "rename",
    "rename",
    [
      { name: "oldpath", kind: "const char *path" },
      { name: "newpath", kind: "const char *path" },
    ],
    sysRename,
  ),
  syscall(
    SYS_mkdir,
    "mkdir",
    "mkdir",
    [pathname, { name: "mode", kind: "umode_t", default: 0o777 }],
    sysMkdir,
  ),
  syscall(SYS_rmdir, "rmdir", "rmdir", [pathname], sysRmdir),
  syscall(SYS_unlink, "unlink", "unlink", [pathname], sysUnlink),
  // The entries come back as objects (struct linux_dirent64 decoded) as many as fit in `count` bytes.
  syscall(
    SYS_getdents64,
    "getdents64",
    "getdents",
    [fd, { name: "count", kind: "unsigned int", default: 32768 }],
    sysGetdents64,
  ),
  syscall(
    SYS_fallocate,
    "fallocate",
    "fallocate",
    [fd, { name: "mode", kind: "int" }, { name: "offset", kind: "off_t" }, { name: "len", kind: "off_t" }],
    sysFallocate,
    "2.6.23",
  ),
  syscall(
    SYS_memfd_create,
    "memfd_create",
    "memfdCreate",
    [
      { name: "name", kind: "const char *path" },
      { name: "flags", kind: "unsigned int", default: 0 },
    ],
    sysMemfdCreate,
    "3.17",
  ),
];
