/**
 * The plain-data form of a machine snapshot (the payload of a container of kind "machine"). Objects
 * that several others point to (files, shmem inodes, tmpfs directories and files, mms, signal handler
 * tables) are listed once and named by their index; negative numbers mean "none" unless said otherwise.
 */
import type { MmState, ShmemFileState, ShmemInodeState } from "@faultline/mm";
import type { PhysMemoryState } from "@faultline/phys";
import type { SparseRam } from "./device-ram";
import type { HwState } from "./hw";

/** The machine options a snapshot was taken with (restore builds the same machine). */
export interface ConfigState {
  readonly ramBytes: number;
  readonly era: "modern" | "2.6.10";
  readonly pku: boolean;
  readonly zeroPage: boolean;
  /** MachineOptions.iommu (absent: false; "passthrough" is iommu=pt). */
  readonly iommu?: boolean | "passthrough";
  /** MachineOptions.bootTime, s since the Epoch (absent: the default). */
  readonly bootTime?: number;
}

/** A loaded driver: its name and version, its state version and what its snapshot.save returned. */
export interface DriverState {
  readonly name: string;
  readonly version: string;
  readonly stateVersion: number;
  readonly state: unknown;
}

/** A device model: name, bus, its state (DeviceSnapshot without its RAM) with the state's version. */
export interface DeviceState {
  readonly name: string;
  readonly bus: string;
  readonly stateVersion: number;
  readonly state: unknown;
  /** The device RAM's touched pages (null: no RAM). */
  readonly ram: SparseRam | null;
}

export interface MachineState {
  readonly config: ConfigState;
  readonly devices: readonly DeviceState[];
  readonly drivers: readonly DriverState[];
  readonly phys: PhysMemoryState;
  readonly kernel: KernelState;
  /** Clock, timers, memtypes, interrupts, ISA DMA, PCI functions (hw.ts). */
  readonly hw: HwState;
}

/** A tmpfs directory. `entries`: name, then a directory index (>= 0) or -1 - a regular file index. */
export interface DirState {
  readonly sb: number;
  readonly ino: number;
  readonly mode: number;
  readonly nlink: number;
  readonly removed: boolean;
  parent: number;
  readonly entries: Array<string | number>;
}

/** A tmpfs regular file (its inode, and where it was last linked). */
export interface RegState {
  readonly sb: number;
  readonly inode: number;
  readonly mode: number;
  parent: number;
  readonly name: string;
}

/** A shmem inode and the superblock it charges (0 /dev/shm, 1 /tmp, 2 shm_mnt, -1 its own). */
export interface InodeState extends ShmemInodeState {
  readonly sb: number;
  /** usedBlocks of its own superblock (sb -1). */
  readonly sbUsed: number;
}

/** What a struct file is open on. */
export type NodeRef =
  | { readonly t: "console" }
  | { readonly t: "zero" }
  | { readonly t: "dev"; readonly path: string }
  | { readonly t: "proc"; readonly path: string; readonly pid: number }
  | { readonly t: "reg"; readonly reg: number; readonly opath: boolean }
  | { readonly t: "dir"; readonly dir: number; readonly path: string }
  | { readonly t: "anon"; readonly inode: number; readonly sb: number; readonly path: string };

/** A struct file (OpenFile), or a file mm made on a shmem inode (shared anonymous memory). */
export type FileState =
  | {
      readonly k: "open";
      readonly node: NodeRef;
      readonly owner: string;
      readonly flags: number;
      readonly pos: number;
      readonly refs: number;
      readonly released: boolean;
      /** null, { b: bytes } (a /proc file's text), or { d: driver, v: what its savePrivate returned }. */
      readonly priv: unknown;
    }
  | ({ readonly k: "shmem" } & ShmemFileState)
  /**
   * A file mm made on the internal hugetlbfs mount for MAP_HUGETLB (HugetlbFile): its inode number,
   * i_size, huge page size and the VMAs holding it. No page: the pool is empty.
   */
  | {
      readonly k: "hugetlb";
      readonly ino: number;
      readonly size: number;
      readonly hpage: number;
      readonly refs: number;
    }
  /** A SysV attach (shm_file_data): its segment (index in KernelState.shm.segs), mode, VMAs holding it. */
  | { readonly k: "shm"; readonly seg: number; readonly writable: boolean; readonly refs: number };

/** A SysV segment (struct shmid_kernel), in the namespace or (IPC_RMID'd) still attached. */
export interface SegState {
  readonly id: number;
  readonly origKey: number;
  readonly seq: number;
  readonly segsz: number;
  readonly inode: number;
  readonly cpid: number;
  /** key, mode, uid, gid, nattch, lpid, atime, dtime, ctime. */
  readonly fields: readonly number[];
  readonly destroyed: boolean;
  /** A SHM_HUGETLB segment's huge page size (absent for shmem, and in snapshots older than it). */
  readonly hugetlbPageSize?: number;
}

/** The IPC namespace's shm side. */
export interface ShmState {
  /** seq, lastIdx, nextIndex, totPages, clock, shmmax, shmall, shmmni. */
  readonly fields: readonly number[];
  readonly segs: readonly SegState[];
}

export interface TaskState {
  readonly pid: number;
  readonly tgid: number;
  readonly comm: string;
  readonly mm: number;
  readonly state: "running" | "zombie" | "dead";
  readonly parent: number;
  readonly exitCode: number | null;
  readonly exitSignal: string | null;
  readonly waitStatus: number | null;
  /** exit_signal (absent in snapshots from before it was kept: SIGCHLD, -1 for a thread). */
  readonly exitNotifySignal?: number;
  readonly killPending: boolean;
  /** fd, file index, close-on-exec (0/1) triples. */
  readonly fds: readonly number[];
  readonly sighand: number;
  /** Signal sets as decimal strings of the sigset bits. */
  readonly blocked: string;
  readonly pending: string;
  readonly queue: readonly unknown[];
  readonly frames: readonly unknown[];
  readonly active: readonly unknown[];
  readonly handled: readonly unknown[];
  readonly handledCount: number;
  readonly quietFault: boolean;
  /** cur, max pairs per RLIMIT_*. */
  readonly rlim: readonly number[];
  readonly capIpcLock: boolean;
  /** CAP_SYS_TIME (absent: true). */
  readonly capSysTime?: boolean;
  readonly minflt: number;
  readonly majflt: number;
  /** CPU-time counters: syscall entries, the group's exited threads' CPU time (posix-cpu-timers.ts). */
  readonly cpu: readonly [number, number];
}

/**
 * A vmalloc area (vm_struct): its kernel virtual address, its size with the guard page, its vm_struct
 * flags (VM_ALLOC, VM_USERMAP, VM_NO_GUARD, …) and the pfn behind each page, in address order.
 */
export interface VmAreaState {
  readonly addr: number;
  readonly size: number;
  readonly flags: number;
  readonly pages: readonly number[];
  /** The address of the vmalloc area holding its pages[] array (more than 512 pages), else absent. */
  readonly pagesArea?: number;
}

/** A lazily freed vmap area (on the purge list): its address range, guard page included. */
export interface VmapRangeState {
  readonly addr: number;
  readonly size: number;
}

export interface KernelState {
  readonly nextPid: number;
  readonly consoleText: string;
  readonly log: {
    readonly records: ReadonlyArray<readonly [number, number, string]>;
    readonly nextSeq: number;
    readonly dropped: number;
  };
  readonly oopses: ReadonlyArray<{ driver: string; callback: string; error: string; pid: number | null }>;
  readonly badPages: readonly unknown[];
  /** pfn, count pairs. */
  readonly driverRefs: readonly number[];
  /** FOLL_PIN pins (pfn, count pairs). */
  readonly pins: readonly number[];
  readonly kernelRefs: readonly number[];
  /** The vmalloc areas by address (absent in snapshots from before vmalloc: none). */
  readonly vmalloc?: readonly VmAreaState[];
  /** The lazily freed vmalloc ranges not yet purged, by address (absent in older snapshots: none). */
  readonly vmallocLazy?: readonly VmapRangeState[];
  readonly unreferencedFaultPages: ReadonlyArray<readonly [number, string, string]>;
  /** path, ino pairs. */
  readonly procInos: ReadonlyArray<string | number>;
  readonly nextProcIno: number;
  readonly shmemIno: number;
  /** /dev/shm, /tmp, shm_mnt: used blocks, root directory, live inodes. */
  readonly sbs: ReadonlyArray<{ usedBlocks: number; root: number; inodes: readonly number[] }>;
  readonly dirs: readonly DirState[];
  readonly regs: readonly RegState[];
  readonly inodes: readonly InodeState[];
  readonly files: readonly FileState[];
  readonly anonVmas: number;
  readonly shm: ShmState;
  readonly mms: readonly MmState[];
  readonly tasks: readonly TaskState[];
  /** Per table, per signal: handler (address, SIG_DFL, SIG_IGN), flags, mask (decimal string). */
  readonly sighands: ReadonlyArray<ReadonlyArray<readonly [number, number, string]>>;
}
