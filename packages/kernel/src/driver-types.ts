/**
 * The driver API contract (types only): what a driver plugin sees. Drivers import only
 * `@faultline/kernel`; everything here is re-exported from its index.
 *
 * Model: as in Linux, a driver's callbacks run "in the kernel" on behalf of the current process.
 * Free functions of the driver API (`remapPfnRange`, `pfnToPage`, `printk`, …) act on the machine
 * whose kernel is currently running a driver callback (the kernel sets that context before every
 * call into a driver, like `current`).
 */

import type { Vma, VmOperations } from "@faultline/mm";
import type { Page } from "@faultline/phys";
import type { Hrtimer, TimerList } from "./internal/timer-types";

/** Bumped on incompatible changes; the kernel accepts the versions in SUPPORTED_DRIVER_API_VERSIONS. */
export const DRIVER_API_VERSION = 1;

/** struct inode, as much of it as a char driver uses. */
export interface Inode {
  readonly major: number;
  readonly minor: number;
  /** The /dev path it was opened through. */
  readonly path: string;
  readonly ino: number;
}

/** struct file */
export interface File {
  readonly inode: Inode;
  /** O_* flags given to open (O_ACCMODE bits included). */
  readonly fFlags: number;
  /** FMODE_READ | FMODE_WRITE derived from the access mode. */
  readonly fMode: number;
  fPos: number;
  /** Free for the driver (filp->private_data). */
  privateData: unknown;
}

/** file_operations: every method optional; each returns 0 / a count, or -errno. */
export interface FileOperations {
  open?(inode: Inode, file: File): number;
  release?(inode: Inode, file: File): number;
  read?(file: File, buf: Uint8Array, ppos: { value: number }): number;
  write?(file: File, buf: Uint8Array, ppos: { value: number }): number;
  llseek?(file: File, offset: number, whence: number): number;
  unlockedIoctl?(file: File, cmd: number, arg: number): number;
  /** The mmap method: set up `vma` (vm_ops, flags, PTEs) and return 0 or -errno. */
  mmap?(file: File, vma: Vma): number;
  getUnmappedArea?(file: File, addr: number, len: number, pgoff: number, flags: number): number;
}

/** What a driver's init/exit receive: registration services of the machine it is loaded into. */
export interface DriverContext {
  /** alloc_chrdev_region(): a dynamic major with `count` minors from `firstMinor`; returns the major or -errno. */
  allocChrdevRegion(firstMinor: number, count: number, name: string): number;
  /** register_chrdev_region() for a fixed major; 0 or -errno (-EBUSY when taken). */
  registerChrdevRegion(major: number, firstMinor: number, count: number, name: string): number;
  unregisterChrdevRegion(major: number, firstMinor: number, count: number): void;
  /** cdev_add(): file operations for the minors [firstMinor, firstMinor + count) of `major`. */
  cdevAdd(major: number, firstMinor: number, count: number, fops: FileOperations): number;
  cdevDel(major: number, firstMinor: number, count: number): void;
  /** Creates /dev/<name> for (major, minor) with `mode` (default 0o664) (what udev would do). */
  createDevNode(name: string, major: number, minor: number, mode?: number): void;
  removeDevNode(name: string): void;
  /** Module parameters given at load (`drivers: [simple({ ... })]` options end up here). */
  readonly params: Readonly<Record<string, unknown>>;
  /** Which kernel's semantics the machine follows: a driver may behave as its era's code did. */
  readonly era: "2.6.10" | "modern";
}

/**
 * What a driver keeps across a machine snapshot (`m.snapshot()`, `Machine.restore`; docs/driver-api.md,
 * "Snapshots"). A driver is code: restore loads it again (init runs on the new machine), then hands
 * it back what `save` returned. Everything saved must be plain data msgpack can hold (numbers,
 * strings, booleans, null, arrays, plain objects, Uint8Array): no pages, functions or objects of the
 * kernel's (a page is saved as its pfn, see pageToPfn/pfnToPage).
 */
export interface DriverSnapshot {
  /** The version of the saved state (an integer from 1); bump it when its shape changes. */
  readonly version: number;
  /**
   * Every vm_operations_struct the driver's mmap installs, by a stable name: a VMA's vm_ops is saved
   * as that name. A VMA whose vm_ops are not listed cannot be saved (the snapshot says so).
   */
  readonly vmOps?: Readonly<Record<string, VmOperations>>;
  /** The driver's private state (its device list, counters, pages held as pfns). */
  save?(): unknown;
  /** After init ran on the restored machine: takes the saved state back (already migrated to `version`). */
  restore?(state: unknown): void;
  /** migrate[v] turns a state of version v into one of version v + 1 (states older than `version`). */
  readonly migrate?: Readonly<Record<number, (state: unknown) => unknown>>;
  /** filp->private_data or vm_private_data the driver set, as plain data; and back on restore. */
  savePrivate?(data: unknown): unknown;
  restorePrivate?(saved: unknown): unknown;
  /**
   * The driver's timer_lists and hrtimers, by stable names (a timer's function is driver code, so a
   * snapshot saves a pending timer as its name, its expiry and its place on the wheel, and the restored
   * machine re-arms the timer of that name). Asked when a snapshot is taken (a pending timer not named
   * here refuses it) and at restore after `restore` ran (the timers must be set up again by then).
   * Each value is a `TimerList` (timerSetup) or an `Hrtimer` (hrtimerSetup).
   */
  timers?(): Readonly<Record<string, TimerList | Hrtimer>>;
}

/** The object `defineDriver` returns and `Machine.create({ drivers })` loads. */
export interface DriverDefinition {
  readonly name: string;
  readonly apiVersion: number;
  /**
   * The driver's own version ("1.2.0"; default "0"): a snapshot records it, and restoring needs the
   * same driver at this version or a newer one.
   */
  readonly version?: string;
  /** Snapshot hooks; a driver without them can be saved only while it holds no state (see DriverSnapshot). */
  readonly snapshot?: DriverSnapshot;
  /** Module parameters (module_param), handed to init as `ctx.params`. */
  readonly params?: Readonly<Record<string, unknown>>;
  init(ctx: DriverContext): number | undefined;
  exit?(ctx: DriverContext): void;
}

/** Re-exported for drivers: vm_operations_struct, struct vm_area_struct, struct page. */
export type { Page, Vma, VmOperations };
