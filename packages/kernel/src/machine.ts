/**
 * The machine: physical memory and buses (`phys`), device models, the kernel and the loaded
 * drivers. A facade: the kernel's state is `Kernel` (internal/kernel.ts) and each concern lives in
 * the file named after the kernel's — printk.ts, module.ts, oops.ts, vm-ops.ts, fork.ts, exit.ts,
 * fault.ts, fs.ts, read-write.ts, proc.ts, mman.ts, syscall.ts (with syscall_64.tbl.ts), invariants.ts.
 */
import type { Era, Mm, PhysAccess, SignalError, SignalName, Vma } from "@faultline/mm";
import { PAGE_SIZE, type PhysMachine, type PhysMemory } from "@faultline/phys";
import { ENOENT } from "./constants";
import type { DriverDefinition } from "./driver-types";
import { ErrnoError } from "./errno-error";
import type { BadPageRecord } from "./internal/bad-page";
import { installBadPageHandler } from "./internal/bad-page";
import type { CharDevices } from "./internal/chrdev";
import { type ClockEvent, installClock, startClockEvents, stopClockEvents } from "./internal/clock-events";
import { CLONE_PTHREAD, cloneThread } from "./internal/clone";
import { doExit, fatalSignal, releaseTask } from "./internal/exit";
import { pageFault } from "./internal/fault";
import type { OpenFile } from "./internal/file";
import { copyProcess, spawnTask } from "./internal/fork";
import { openFile } from "./internal/fs";
import { checkInvariants } from "./internal/invariants";
import { Kernel, type OopsRecord, RELEASE } from "./internal/kernel";
import { loadDriver, unloadDriver } from "./internal/module";
import { callDriver, withKernel } from "./internal/oops";
import { type LogRecord, printkArgs } from "./internal/printk";
import { procText } from "./internal/proc";
import type { SignalFrame } from "./internal/sighand";
import { forceSigFault, takeFrames } from "./internal/signal";
import { inSyscall } from "./internal/syscall";
import { timekeepingInit } from "./internal/timekeeping";
import { adoptVma, driverRef } from "./internal/vm-ops";
import {
  type CpuOptions,
  checkDriver,
  checkMachineOptions,
  type DeviceModel,
  type MachineOptions,
} from "./options";
import { type Process, processOf, type SpawnOptions } from "./process";
import { SnapshotError } from "./snapshot/container";
import {
  decodeMachineSnapshot,
  type RestoreOptions,
  restoreOnto,
  snapshotMachine,
} from "./snapshot/machine-snapshot";

export type { BadPageRecord } from "./internal/bad-page";
export type { OopsRecord } from "./internal/kernel";
export type { LogRecord } from "./internal/printk";
export type { CpuOptions, DeviceModel, MachineOptions } from "./options";
export type { RestoreOptions } from "./snapshot/machine-snapshot";

/**
 * One emulated computer: physical memory and buses, device models, the kernel with its processes and loaded
 * drivers. Build it with `Machine.create`.
 */
export class Machine {
  /** @internal the kernel's state */
  readonly kernel: Kernel;

  private constructor(kernel: Kernel) {
    this.kernel = kernel;
  }

  /**
   * Boots a machine: RAM and buses, the device models (realized in order), then the drivers (loaded
   * in order; a driver whose init fails or oopses is logged and left out; an unsupported apiVersion
   * throws UnsupportedDriverApiVersionError). Options are checked first: a TypeError or RangeError
   * names the option, what was expected and what was given.
   */
  static async create(options: MachineOptions = {}): Promise<Machine> {
    const config = checkMachineOptions(options);
    const k = new Kernel(config);
    installBadPageHandler(k);
    installClock(k);
    if (config.bootTime !== undefined) timekeepingInit(k, config.bootTime);
    k.log.printk(5, `Linux version ${RELEASE[k.era]} (faultline) #1 SMP`);
    k.log.printk(6, `Memory: ${k.mem.nrFreePages * 4}K/${k.mem.totalRamPages * 4}K available`);
    for (const d of config.devices) {
      d.realize(k.phys);
      k.log.printk(6, `faultline: ${d.bus} device ${d.name} realized`);
    }
    for (const d of config.drivers) loadDriver(k, d);
    return new Machine(k);
  }

  // ---- snapshots (snapshot/*.ts) -------------------------------------------------------------

  /**
   * The machine's state as bytes (a versioned, checksummed msgpack container; docs/snapshots.md):
   * physical memory (touched frames only, the memmap, the buddy allocator), every process with its
   * mm, VMAs, fds and signal state, files and their page cache, the log, device and driver state.
   * Take it between syscalls. Throws SnapshotError naming anything that cannot be saved.
   */
  snapshot(): Uint8Array {
    return snapshotMachine(this.kernel);
  }

  /**
   * A machine rebuilt from `m.snapshot()`'s bytes. Devices and drivers are code: give new instances of
   * the same ones again (devices in the same order; drivers by name, at the saved version or newer).
   * Every bad snapshot (truncated, corrupt, hostile, inconsistent, from a newer format) is a
   * SnapshotError saying why; no half-built machine escapes, and the devices and drivers given are left
   * as they were (a failed restore unloads its drivers and unrealizes its devices). The result passes
   * checkInvariants().
   */
  static async restore(bytes: Uint8Array, options: RestoreOptions = {}): Promise<Machine> {
    const decoded = decodeMachineSnapshot(bytes, options);
    let m: Machine;
    try {
      m = await Machine.create(decoded.boot);
    } catch (e) {
      throw new SnapshotError(
        `cannot restore: the snapshot's machine does not boot: ${(e as Error).message}`,
      );
    }
    try {
      restoreOnto(m.kernel, decoded, () => m.checkInvariants());
    } catch (e) {
      if (e instanceof SnapshotError) throw e;
      throw new SnapshotError(`snapshot: inconsistent content: ${(e as Error)?.message ?? String(e)}`);
    }
    return m;
  }

  get phys(): PhysMachine {
    return this.kernel.phys;
  }
  get mem(): PhysMemory {
    return this.kernel.mem;
  }
  get era(): Era {
    return this.kernel.era;
  }
  /** CPU features (MachineOptions.cpu, defaults filled in). */
  get cpu(): Required<CpuOptions> {
    return this.kernel.cpu;
  }
  /** Whether anonymous read faults map the zero page (MachineOptions.zeroPage). */
  get zeroPage(): boolean {
    return this.kernel.zeroPage;
  }
  get devices(): readonly DeviceModel[] {
    return this.kernel.devices;
  }
  /** What the mm layer uses to reach pages: banks directly, MMIO through the bus. */
  get physAccess(): PhysAccess {
    return this.kernel.physAccess;
  }
  /** @internal char-device tables and devtmpfs */
  get chrdev(): CharDevices {
    return this.kernel.chrdev;
  }
  /** @internal driver-held page references (pfn → count), for the refcount invariant */
  get driverRefs(): Map<number, number> {
    return this.kernel.driverRefs;
  }
  /** @internal the process on whose behalf the kernel runs */
  get currentProcess(): Process | null {
    const t = this.kernel.current;
    return t ? processOf(this.kernel, t) : null;
  }
  /** @internal the driver whose code is running */
  get currentDriver(): string | null {
    return this.kernel.currentDriver;
  }
  /** Page size of this machine (always 4096). */
  get pageSize(): number {
    return PAGE_SIZE;
  }

  // ---- printk / dmesg (internal/printk.ts) --------------------------------------------------

  /** @internal Appends one record (or one per line). */
  printk(level: number, text: string): void {
    this.kernel.log.printk(level, text);
  }

  /** @internal printk(fmt, ...args) with a KERN_* prefix or first argument. */
  printkArgs(args: readonly unknown[]): void {
    printkArgs(this.kernel.log, args);
  }

  /**
   * The kernel log, one message per line (no timestamps, no level prefix). The log is a ring of
   * LOG_BUF_RECORDS records and LOG_BUF_LEN bytes of text: once full, the oldest records are dropped
   * (counted by dmesgDropped).
   */
  dmesg(): string[] {
    return this.kernel.log.records().map((r) => r.text);
  }

  /** The kernel log with levels (dmesg -r). */
  dmesgRecords(): readonly LogRecord[] {
    return this.kernel.log.records();
  }

  /** How many of the oldest records the log ring dropped to make room. */
  dmesgDropped(): number {
    return this.kernel.log.dropped;
  }

  /** Every oops so far: drivers', and kernel bugs (driver "kernel"). */
  oopses(): readonly OopsRecord[] {
    return this.kernel.oopses;
  }

  /** Pages a teardown found in a bad state ("BUG: Bad page state"), each quarantined. */
  badPages(): readonly BadPageRecord[] {
    return this.kernel.badPages;
  }

  /** What processes wrote to /dev/console (their fds 0-2). */
  console(): string {
    return this.kernel.consoleText;
  }

  // ---- drivers (internal/module.ts, internal/oops.ts, internal/vm-ops.ts) --------------------

  /**
   * insmod: checks the API version, runs init in the driver's context. Returns 0, or the -errno init
   * returned (-EFAULT after an oops); on failure everything the driver registered is undone.
   */
  loadDriver(def: DriverDefinition): number {
    checkDriver(def, "loadDriver");
    return loadDriver(this.kernel, def);
  }

  /** rmmod: runs exit and drops the driver's registrations. -ENOENT when not loaded. */
  unloadDriver(name: string): number {
    return unloadDriver(this.kernel, name);
  }

  /** Names of the loaded drivers (lsmod). */
  loadedDrivers(): string[] {
    return [...this.kernel.drivers.keys()];
  }

  /**
   * @internal Runs driver code with this machine as the current kernel. A throw is an oops: logged,
   * the current process marked for SIGKILL, and `onOops` returned in place of the driver's answer.
   */
  callDriver<T>(owner: string, callback: string, fn: () => T, onOops: T): T {
    return callDriver(this.kernel, owner, callback, fn, onOops);
  }

  // ---- time (phys VirtualClock; kernel timers in internal/timer.ts) ---------------------------

  /** The virtual clock's time: ns since boot (CLOCK_MONOTONIC, ktime_get()). */
  get clockNs(): number {
    return this.kernel.phys.clock.now;
  }

  /**
   * Lets `ns` of virtual time pass: device models' timers, drivers' timers (the timer softirq at its
   * ticks) and hrtimers fire on the way, each at its own instant, with the interrupts they raise.
   * Returns what happened, in order. Time moves only through this call (and nanosleep(2), which
   * advances it on an in-thread machine); the simulator calls it from its schedule.
   */
  advanceClock(ns: number): ClockEvent[] {
    const events = startClockEvents(this.kernel);
    try {
      withKernel(this.kernel, () => this.kernel.phys.clock.advance(ns));
    } finally {
      stopClockEvents(this.kernel);
    }
    return events;
  }

  /** When the next timer of any kind is due (ns), or null when none is armed. */
  nextClockDeadline(): number | null {
    return this.kernel.phys.clock.nextDeadline();
  }

  /** Runs `fn` as kernel code of this machine (for tests and tools that call the driver API directly). */
  withKernel<T>(fn: () => T): T {
    return withKernel(this.kernel, fn);
  }

  /** @internal After fops->mmap succeeded: catch the driver's vm_ops throwing from now on. */
  adoptVma(vma: Vma, owner: string): void {
    adoptVma(this.kernel, vma, owner);
  }

  /** @internal A reference a driver took (+1) or gave away (-1) through the driver API. */
  driverRef(pfn: number, delta: number): void {
    driverRef(this.kernel, pfn, delta);
  }

  /** @internal */
  fileReleased(file: OpenFile): void {
    this.kernel.files.delete(file);
  }

  // ---- processes (internal/fork.ts, internal/exit.ts, internal/fault.ts) ---------------------

  /** A new process with an empty address space and fds 0-2 open on /dev/console. */
  spawn(options: SpawnOptions = {}): Process {
    if (typeof options !== "object" || options === null)
      throw new TypeError(`spawn: options must be an object such as { name: "cat" }, got ${String(options)}`);
    if (options.name !== undefined && (typeof options.name !== "string" || options.name === ""))
      throw new TypeError(
        `spawn: name must be a non-empty string, got ${JSON.stringify(options.name) ?? String(options.name)}`,
      );
    return processOf(this.kernel, spawnTask(this.kernel, options.name ?? "proc"));
  }

  /**
   * A new thread of `p` (clone with CLONE_PTHREAD's flags: glibc's pthread_create): a second Process
   * view on the same mm (its own MMU and TLB), signal handlers, limits and fd table, with its own TID
   * (`pid`; `tgid` and getpid() are the process's). Throws if `p` is not running.
   */
  spawnThread(p: Process): Process {
    if (p.state !== "running") throw new TypeError(`spawnThread: process ${p.pid} is ${p.state}`);
    return processOf(this.kernel, cloneThread(this.kernel, p.task, CLONE_PTHREAD));
  }

  /** @internal fork's child: its mm is built, the fd table copied. */
  addChild(parent: Process, mm: Mm): Process {
    return processOf(this.kernel, copyProcess(this.kernel, parent.task, mm));
  }

  /** The process with this pid (running or a zombie; reaped processes are gone). */
  process(pid: number): Process | undefined {
    const t = this.kernel.tasks.get(pid);
    return t ? processOf(this.kernel, t) : undefined;
  }

  /** Every process not yet reaped. */
  processes(): Process[] {
    return [...this.kernel.tasks.values()].map((t) => processOf(this.kernel, t));
  }

  /** @internal */
  reap(p: Process): void {
    releaseTask(this.kernel, p.task);
  }

  /** @internal The MMU's page-fault hook for `p`. */
  pageFault(p: Process, addr: number, write: boolean): number {
    return pageFault(this.kernel, p.task, addr, write);
  }

  /**
   * A fatal signal from an unresolved fault: the "segfault at …" line in dmesg, then the process dies
   * of it. For runtimes that run a process's MMU elsewhere (`@faultline/sim` workers).
   */
  fatalSignal(p: Process, e: SignalError): void {
    fatalSignal(this.kernel, p.task, e);
  }

  /**
   * @internal force_sig_fault() for a fault raised by an MMU that runs elsewhere (a simulator worker):
   * the handler's frame to run there (its mask already in force; end it as siglongjmp would, with
   * sigprocmask(SIG_SETMASK, frame.saved)), or null when the signal is fatal (then call fatalSignal).
   */
  forceSigFault(p: Process, e: SignalError): SignalFrame | null {
    return forceSigFault(p.task, e);
  }

  /** @internal Handler frames (user-address handlers) a runtime must run, each ended by rt_sigreturn. */
  takeSignalFrames(p: Process): SignalFrame[] {
    return takeFrames(p.task);
  }

  /**
   * @internal Runs `fn` as a syscall of `p` in kernel context. A dead process gets -ESRCH; a process
   * an oops marked for death is killed when the call returns, and the call throws SignalError(SIGKILL).
   */
  syscall<T>(p: Process, name: string, fn: () => T): T | number {
    return inSyscall(this.kernel, p.task, name, fn);
  }

  /**
   * do_exit(): fds closed (files released when their last reference goes), the mm torn down (every
   * VMA closed once, every frame released), children reparented; a zombie until waited for. Public
   * for runtimes that must end a process from outside (a crashed or hung worker).
   */
  terminate(p: Process, how: { signal?: SignalName; code?: number }): void {
    doExit(this.kernel, p.task, how);
  }

  /** @internal */
  get deadPgdRoot(): number {
    return this.kernel.deadPgd;
  }

  // ---- files and /proc (internal/fs.ts, internal/proc.ts) -----------------------------------

  /** @internal open(2) after the fd table: a /dev node or a /proc file. Returns the file or -errno. */
  openFile(p: Process, path: string, flags: number): OpenFile | number {
    return openFile(this.kernel, p.task, path, flags);
  }

  /**
   * The text of a /proc file: /proc/iomem, /proc/ioports, /proc/meminfo, /proc/buddyinfo,
   * /proc/devices, /proc/version, /proc/PID/maps, /proc/PID/smaps. Throws ErrnoError(ENOENT) for
   * anything else.
   */
  procText(path: string): string {
    const t = procText(this.kernel, path, null);
    if (t === null) throw new ErrnoError(ENOENT, `procText(${path})`);
    return t;
  }

  // ---- invariants (internal/invariants.ts) --------------------------------------------------

  /**
   * phys invariants, every live mm's invariants, and the global ones: every frame's refcount equals the
   * references that exist (PTEs of every mm, shmem page caches, page tables, driver-held references
   * taken through the driver API, the kernel's own, and the boot reference of reserved frames); no
   * free frame referenced; every open file's count equals the fds and VMAs naming it; a dead process
   * holds nothing. Throws an Error naming the first violation.
   */
  checkInvariants(): void {
    checkInvariants(this.kernel);
  }
}
