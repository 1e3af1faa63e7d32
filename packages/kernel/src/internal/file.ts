import { type AddressSpaceMapping, EFAULT, type MmFile, type Vma } from "@faultline/mm";
import { FMODE_READ, FMODE_WRITE, O_ACCMODE, O_PATH, O_RDONLY, O_RDWR, O_WRONLY } from "../constants";
import type { File, FileOperations, Inode } from "../driver-types";

/** What a file needs from the kernel: running driver code as an oops-safe call, and its bookkeeping. */
export interface FileHost {
  callDriver<T>(owner: string, callback: string, fn: () => T, onOops: T): T;
  /** Puts the kernel's oops-catching wrappers around the vm_ops a driver's mmap installed. */
  adoptVma(vma: Vma, owner: string, flagsBefore?: number): void;
  fileReleased(file: OpenFile): void;
}

/** The inode behind an open file: a /dev node, a /proc entry, or a tmpfs/shmem inode (shmem-file.ts). */
export interface FileNode {
  readonly path: string;
  /** st_dev of the filesystem (s_dev), shown in /proc/PID/maps. */
  readonly sDev: readonly [number, number];
  readonly ino: number;
  /** The device number (0:0 for /proc files). */
  readonly major: number;
  readonly minor: number;
  readonly mapping: AddressSpaceMapping;
}

/** FMODE_* from the access mode of the open flags (O_ACCMODE 3 gives neither, as Linux's ioctl-only opens). */
export function fmodeOf(flags: number): number {
  // An O_PATH file can be neither read nor written (do_dentry_open sets FMODE_PATH only).
  if (flags & O_PATH) return 0;
  switch (flags & O_ACCMODE) {
    case O_RDONLY:
      return FMODE_READ;
    case O_WRONLY:
      return FMODE_WRITE;
    case O_RDWR:
      return FMODE_READ | FMODE_WRITE;
    default:
      return 0;
  }
}

/**
 * struct file: what open(2) creates and every fd and VMA refers to. It is mm's MmFile (identity,
 * maps columns, shared i_mapping, f_mode, ->mmap) and the driver's `File`. References are counted as
 * fget/fput: the file is released (fops.release) when the last fd and the last VMA are gone.
 */
export class OpenFile implements MmFile, File {
  readonly devMajor: number;
  readonly devMinor: number;
  readonly ino: number;
  readonly mapping: AddressSpaceMapping;
  readonly readable: boolean;
  readonly writable: boolean;
  readonly mmap: ((vma: Vma) => number) | undefined;
  readonly getUnmappedArea: ((addr: number, len: number, pgoff: number, flags: number) => number) | undefined;
  readonly inode: Inode;
  readonly fMode: number;
  fPos = 0;
  privateData: unknown = null;
  private count = 0;
  released = false;

  constructor(
    private readonly host: FileHost,
    readonly node: FileNode,
    readonly fops: FileOperations,
    /** The driver that registered the cdev ("kernel" for built-in files). */
    readonly owner: string,
    readonly fFlags: number,
  ) {
    this.devMajor = node.sDev[0];
    this.devMinor = node.sDev[1];
    this.ino = node.ino;
    this.mapping = node.mapping;
    this.fMode = fmodeOf(fFlags);
    this.readable = (this.fMode & FMODE_READ) !== 0;
    this.writable = (this.fMode & FMODE_WRITE) !== 0;
    this.inode = { major: node.major, minor: node.minor, path: node.path, ino: node.ino };
    const mmap = fops.mmap;
    this.mmap = mmap
      ? (vma: Vma) =>
          host.callDriver(
            owner,
            "fops->mmap",
            () => {
              const before = vma.vmFlags;
              const r = mmap.call(fops, this, vma) | 0;
              if (r === 0) host.adoptVma(vma, owner, before);
              return r;
            },
            -EFAULT,
          )
      : undefined;
    const gua = fops.getUnmappedArea;
    this.getUnmappedArea = gua
      ? (addr, len, pgoff, flags) =>
          host.callDriver(
            owner,
            "fops->get_unmapped_area",
            () => gua.call(fops, this, addr, len, pgoff, flags),
            -EFAULT,
          )
      : undefined;
  }

  /** d_path(): the name it was opened by (a tmpfs file's current name, " (deleted)" once unlinked). */
  get path(): string {
    return this.node.path;
  }

  /** References held (fds + VMAs), for the invariant check. */
  get refs(): number {
    return this.count;
  }

  get(): void {
    if (this.released) throw new Error(`fget on released file ${this.path} (use after free)`);
    this.count++;
  }

  put(): void {
    if (this.count <= 0) throw new Error(`fput on file ${this.path} with no references`);
    if (--this.count > 0) return;
    this.released = true;
    const release = this.fops.release;
    if (release)
      this.host.callDriver(this.owner, "fops->release", () => release.call(this.fops, this.inode, this), 0);
    this.host.fileReleased(this);
  }
}
