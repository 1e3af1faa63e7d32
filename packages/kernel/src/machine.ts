import {
  AddressSpaceMapping,
  EACCES,
  EEXIST,
  EINVAL,
  ENOENT,
  ENOTDIR,
  ENXIO,
  type Era,
  FAULT_KILLED,
  FAULT_OOM,
  Mm,
  type PhysAccess,
  renderMaps,
  renderSmaps,
  ShmemFile,
  SignalError,
  type SignalName,
  VM_FAULT_SIGBUS,
  type Vma,
  type VmFault,
  type VmOperations,
} from "@faultline/mm";
import {
  __GFP_ZERO,
  type GuestError,
  PAGE_SIZE,
  type Page,
  PG_anon,
  PG_buddy,
  PG_reserved,
  PG_table,
  type PhysMachine,
  PhysMachine as PhysMachineClass,
  type PhysMemory,
} from "@faultline/phys";
import { MESSAGE_LOGLEVEL_DEFAULT, O_ACCMODE, O_CREAT, O_DIRECTORY, O_EXCL, O_PATH } from "./constants";
import { SUPPORTED_DRIVER_API_VERSIONS, UnsupportedDriverApiVersionError } from "./driver-api";
import type { DriverContext, DriverDefinition, FileOperations } from "./driver-types";
import { ErrnoError } from "./errno-error";
import { CharDevices, DEVTMPFS_DEV, type DevNode, PROC_DEV } from "./internal/chrdev";
import { enterKernel, leaveKernel } from "./internal/current";
import { type FileHost, type FileNode, OpenFile } from "./internal/file";
import { kformat } from "./internal/format";
import { makePhysAccess } from "./internal/phys-access";
import { Process, type SpawnOptions } from "./process";

/**
 * A device model as `@faultline/devices` builds them: it puts itself on a bus of the physical
 * machine when realized.
 */
export interface DeviceModel {
  readonly name: string;
  readonly bus: "isa" | "pci";
  realize(phys: PhysMachine): void;
  reset?(): void;
}

export interface MachineOptions {
  /** Bytes of System RAM (default 256 MiB). */
  readonly ramBytes?: number;
  /** Which kernel's semantics where they differ (docs/driver-api.md, "Two eras"). Default "modern". */
  readonly era?: Era;
  /** Device models, realized in order at boot. */
  readonly devices?: readonly DeviceModel[];
  /** Drivers, loaded in order after the devices (as modules given on the command line). */
  readonly drivers?: readonly DriverDefinition[];
  /** The CPU's features that change what processes see. */
  readonly cpu?: CpuOptions;
  /**
   * Anonymous read faults map the shared zero page (default true). False as on a kernel that forbids
   * it (some hosts boot with `pvm_no_zero_page=1`): a read fault then allocates a private page.
   */
  readonly zeroPage?: boolean;
}

export interface CpuOptions {
  /**
   * Memory protection keys (x86 PKU, with the kernel's OSPKE): PROT_EXEC-only mappings become
   * execute-only (reads fault SEGV_PKUERR), and pkey_alloc/pkey_free/pkey_mprotect and the thread's
   * PKRU (pkeyGet/pkeySet) work as on Linux. Default false, where they fail as on a CPU without PKU.
   */
  readonly pku?: boolean;
}

/** One printk record. */
export interface LogRecord {
  /** 0 (KERN_EMERG) … 7 (KERN_DEBUG). */
  readonly level: number;
  readonly text: string;
  /** Sequence number (dmesg -r's record number). */
  readonly seq: number;
}

/** A driver oops, as recorded (also printed to dmesg). */
export interface OopsRecord {
  readonly driver: string;
  readonly callback: string;
  readonly error: unknown;
  readonly pid: number | null;
}

interface LoadedDriver {
  readonly def: DriverDefinition;
  readonly ctx: DriverContext;
}

const hex = (n: number) => n.toString(16);

/** uname -r of each era. */
const RELEASE: Record<Era, string> = { "2.6.10": "2.6.10-faultline", modern: "6.12.0-faultline" };

/**
 * The machine: physical memory and buses (`phys`), device models, the kernel (char devices, files,
 * processes, the page-fault path, printk) and the loaded drivers.
 */
export class Machine implements FileHost {
  readonly phys: PhysMachine;
  readonly mem: PhysMemory;
  readonly era: Era;
  /** CPU features (MachineOptions.cpu, defaults filled in). */
  readonly cpu: Required<CpuOptions>;
  /** Whether anonymous read faults map the zero page (MachineOptions.zeroPage). */
  readonly zeroPage: boolean;
  readonly devices: readonly DeviceModel[];
  /** What the mm layer uses to reach pages: banks directly, MMIO through the bus. */
  readonly physAccess: PhysAccess;
  /** @internal char-device tables and devtmpfs */
  readonly chrdev = new CharDevices();
  /** @internal driver-held page references (pfn → count), for the refcount invariant */
  readonly driverRefs = new Map<number, number>();
  /** @internal the process on whose behalf the kernel runs */
  currentProcess: Process | null = null;
  /** @internal the driver whose code is running */
  currentDriver: string | null = null;
  private readonly records: LogRecord[] = [];
  private seq = 0;
  private readonly oopsList: OopsRecord[] = [];
  private readonly procs = new Map<number, Process>();
  private nextPid = 1;
  private readonly drivers = new Map<string, LoadedDriver>();
  private readonly kernelRefs = new Map<number, number>();
  private readonly files = new Set<OpenFile>();
  private readonly wrappedOps = new Map<string, WeakMap<VmOperations, VmOperations>>();
  private readonly wrappers = new WeakSet<VmOperations>();
  private consoleText = "";
  /** An empty PGD for processes that are gone: their MMU walks it and faults, never a freed table. */
  private readonly deadPgd: number;
  private readonly consoleNode: FileNode;

  private constructor(options: MachineOptions) {
    this.era = options.era ?? "modern";
    if (this.era !== "modern" && this.era !== "2.6.10")
      throw new TypeError(`unknown era ${String(this.era)}`);
    const cpu = options.cpu ?? {};
    if (typeof cpu !== "object" || cpu === null)
      throw new TypeError(`cpu: expected an object such as { pku: true }, got ${String(cpu)}`);
    for (const k of Object.keys(cpu))
      if (k !== "pku") throw new TypeError(`cpu: unknown option ${JSON.stringify(k)} (known: pku)`);
    if (cpu.pku !== undefined && typeof cpu.pku !== "boolean")
      throw new TypeError(`cpu.pku: expected a boolean, got ${String(cpu.pku)}`);
    this.cpu = { pku: cpu.pku ?? false };
    if (options.zeroPage !== undefined && typeof options.zeroPage !== "boolean")
      throw new TypeError(`zeroPage: expected a boolean, got ${String(options.zeroPage)}`);
    this.zeroPage = options.zeroPage ?? true;
    const ramOpt = options.ramBytes === undefined ? {} : { ramBytes: options.ramBytes };
    this.phys = PhysMachineClass.create({
      ...ramOpt,
      onGuestError: (e: GuestError) => this.printk(4, `faultline: guest error: ${describeGuestError(e)}`),
    });
    this.mem = this.phys.mem;
    this.physAccess = makePhysAccess(this.phys);
    this.devices = options.devices ?? [];
    const dead = this.mem.allocPfn(0, __GFP_ZERO);
    if (dead < 0) throw new Error("out of memory at boot");
    this.deadPgd = dead;
    this.kernelRefs.set(dead, 1);
    // A TLB may cache a translation to a BAR or device RAM page: drop everything when the FlatView changes.
    this.phys.as.onChange(() => {
      for (const p of this.procs.values()) if (p.state === "running") p.mm.flushTlbAll();
    });
    this.consoleNode = {
      path: "/dev/console",
      sDev: DEVTMPFS_DEV,
      ino: 5,
      major: 5,
      minor: 1,
      mapping: new AddressSpaceMapping("/dev/console"),
    };
  }

  /**
   * Boots a machine: RAM and buses, the device models (realized in order), then the drivers (loaded
   * in order; a driver whose init fails or oopses is logged and left out; an unsupported apiVersion
   * throws UnsupportedDriverApiVersionError).
   */
  static async create(options: MachineOptions = {}): Promise<Machine> {
    const m = new Machine(options);
    m.boot(options);
    return m;
  }

  private boot(options: MachineOptions): void {
    this.printk(5, `Linux version ${RELEASE[this.era]} (faultline) #1 SMP`);
    this.printk(6, `Memory: ${this.mem.nrFreePages * 4}K/${this.mem.totalRamPages * 4}K available`);
    for (const d of this.devices) {
      d.realize(this.phys);
      this.printk(6, `faultline: ${d.bus} device ${d.name} realized`);
    }
    for (const d of options.drivers ?? []) {
      this.loadDriver(d);
    }
  }

  // ---- printk / dmesg -----------------------------------------------------------------------

  /** @internal Appends one record (or one per line). */
  printk(level: number, text: string): void {
    const lines = text.endsWith("\n") ? text.slice(0, -1) : text;
    for (const line of lines.split("\n")) {
      this.records.push({ level, text: line, seq: this.seq++ });
    }
  }

  /** @internal printk(fmt, ...args) with a KERN_* prefix or first argument. */
  printkArgs(args: readonly unknown[]): void {
    let level = MESSAGE_LOGLEVEL_DEFAULT;
    let rest = args;
    const first = rest[0];
    if (typeof first === "string" && first.length === 2 && first[0] === "\x01" && rest.length > 1) {
      level = levelOf(first, level);
      rest = rest.slice(1);
    }
    let fmt = String(rest[0] ?? "");
    while (fmt.length >= 2 && fmt[0] === "\x01") {
      level = levelOf(fmt.slice(0, 2), level);
      fmt = fmt.slice(2);
    }
    this.printk(level, kformat(fmt, rest.slice(1)));
  }

  /** The kernel log, one message per line (no timestamps, no level prefix). */
  dmesg(): string[] {
    return this.records.map((r) => r.text);
  }

  /** The kernel log with levels (dmesg -r). */
  dmesgRecords(): readonly LogRecord[] {
    return this.records;
  }

  /** Every driver oops so far. */
  oopses(): readonly OopsRecord[] {
    return this.oopsList;
  }

  /** What processes wrote to /dev/console (their fds 0-2). */
  console(): string {
    return this.consoleText;
  }

  // ---- drivers ------------------------------------------------------------------------------

  /**
   * insmod: checks the API version, runs init in the driver's context. Returns 0, or the -errno init
   * returned (-EFAULT after an oops); on failure everything the driver registered is undone.
   */
  loadDriver(def: DriverDefinition): number {
    if (!SUPPORTED_DRIVER_API_VERSIONS.includes(def.apiVersion)) {
      throw new UnsupportedDriverApiVersionError(def.name, def.apiVersion);
    }
    if (this.drivers.has(def.name)) {
      this.printk(3, `${def.name}: module is already loaded`);
      return -17;
    }
    const ctx = this.driverContext(def);
    const r = this.callDriver(def.name, "init", () => def.init(ctx) ?? 0, -14);
    if (r !== 0) {
      this.printk(4, `${def.name}: init failed with error ${r < 0 ? r : -r}`);
      this.chrdev.removeOwner(def.name);
      return r < 0 ? r : -r;
    }
    this.drivers.set(def.name, { def, ctx });
    return 0;
  }

  /** rmmod: runs exit and drops the driver's registrations. -ENOENT when not loaded. */
  unloadDriver(name: string): number {
    const d = this.drivers.get(name);
    if (!d) return -ENOENT;
    const exit = d.def.exit;
    if (exit) this.callDriver(name, "exit", () => exit.call(d.def, d.ctx), undefined);
    this.chrdev.removeOwner(name);
    this.drivers.delete(name);
    return 0;
  }

  /** Names of the loaded drivers (lsmod). */
  loadedDrivers(): string[] {
    return [...this.drivers.keys()];
  }

  private driverContext(def: DriverDefinition): DriverContext {
    const owner = def.name;
    const c = this.chrdev;
    return {
      params: def.params ?? {},
      era: this.era,
      allocChrdevRegion: (firstMinor, count, name) => c.register(0, firstMinor, count, name, owner),
      registerChrdevRegion: (major, firstMinor, count, name) => {
        if (major === 0) return -EINVAL;
        const r = c.register(major, firstMinor, count, name, owner);
        return Math.min(r, 0);
      },
      unregisterChrdevRegion: (major, firstMinor, count) => c.unregister(major, firstMinor, count),
      cdevAdd: (major, firstMinor, count, fops) => c.cdevAdd(major, firstMinor, count, fops, owner),
      cdevDel: (major, firstMinor, count) => c.cdevDel(major, firstMinor, count),
      createDevNode: (name, major, minor, mode = 0o664) => {
        c.createNode(name, major, minor, mode, owner);
      },
      removeDevNode: (name) => c.removeNode(name),
    };
  }

  /**
   * @internal Runs driver code with this machine as the current kernel. A throw is an oops: logged,
   * the current process marked for SIGKILL, and `onOops` returned in place of the driver's answer.
   */
  callDriver<T>(owner: string, callback: string, fn: () => T, onOops: T): T {
    const prev = enterKernel(this);
    const prevDriver = this.currentDriver;
    this.currentDriver = owner;
    try {
      return fn();
    } catch (e) {
      this.oops(owner, callback, e);
      return onOops;
    } finally {
      this.currentDriver = prevDriver;
      leaveKernel(prev);
    }
  }

  /** Runs `fn` as kernel code of this machine (for tests and tools that call the driver API directly). */
  withKernel<T>(fn: () => T): T {
    const prev = enterKernel(this);
    try {
      return fn();
    } finally {
      leaveKernel(prev);
    }
  }

  private oops(owner: string, callback: string, e: unknown): void {
    const p = this.currentProcess;
    const msg = e instanceof Error ? e.message : String(e);
    this.oopsList.push({ driver: owner, callback, error: e, pid: p?.pid ?? null });
    this.printk(1, `BUG: driver ${owner} oops in ${callback}: ${msg}`);
    this.printk(4, `Oops: 0000 [#${this.oopsList.length}] SMP`);
    this.printk(
      4,
      `CPU: 0 PID: ${p?.pid ?? 0} Comm: ${p?.comm ?? "swapper/0"} Tainted: G      D  O       ${RELEASE[this.era]}`,
    );
    this.printk(4, `---[ end trace ${hex(this.oopsList.length).padStart(16, "0")} ]---`);
    if (p && p.state === "running") p.killPending = true;
  }

  /** @internal After fops->mmap succeeded: catch the driver's vm_ops throwing from now on. */
  adoptVma(vma: Vma, owner: string): void {
    if (vma.vmOps) vma.vmOps = this.wrapVmOps(vma.vmOps, owner);
  }

  private wrapVmOps(ops: VmOperations, owner: string): VmOperations {
    if (this.wrappers.has(ops)) return ops;
    let cache = this.wrappedOps.get(owner);
    if (!cache) {
      cache = new WeakMap();
      this.wrappedOps.set(owner, cache);
    }
    const hit = cache.get(ops);
    if (hit) return hit;
    const w: VmOperations = {};
    const call = <T>(cb: string, fn: () => T, onOops: T) =>
      this.callDriver(owner, `vm_ops->${cb}`, fn, onOops);
    if (ops.open) w.open = (vma) => call("open", () => ops.open!.call(ops, vma), undefined);
    if (ops.close) w.close = (vma) => call("close", () => ops.close!.call(ops, vma), undefined);
    if (ops.fault) {
      w.fault = (vmf: VmFault) =>
        call(
          "fault",
          () =>
            this.inFault(
              () => ops.fault!.call(ops, vmf),
              () => vmf.page,
            ),
          VM_FAULT_SIGBUS,
        );
    }
    if (ops.nopage) {
      const nopage = ops.nopage;
      w.nopage = (vma, address, type) =>
        call(
          "nopage",
          () => {
            let r: ReturnType<typeof nopage> = null;
            this.inFault(
              () => {
                r = nopage.call(ops, vma, address, type);
                return 0;
              },
              () => (r && typeof r === "object" ? r : null),
            );
            return r;
          },
          null,
        );
    }
    if (ops.maySplit)
      w.maySplit = (vma, addr) => call("may_split", () => ops.maySplit!.call(ops, vma, addr), -14);
    if (ops.mremap) w.mremap = (vma) => call("mremap", () => ops.mremap!.call(ops, vma), -14);
    if (ops.pfnMkwrite)
      w.pfnMkwrite = (vmf) => call("pfn_mkwrite", () => ops.pfnMkwrite!.call(ops, vmf), VM_FAULT_SIGBUS);
    if (ops.pageMkwrite)
      w.pageMkwrite = (vmf) => call("page_mkwrite", () => ops.pageMkwrite!.call(ops, vmf), VM_FAULT_SIGBUS);
    if (ops.name) w.name = (vma) => call("name", () => ops.name!.call(ops, vma), null);
    cache.set(ops, w);
    this.wrappers.add(w);
    return w;
  }

  /**
   * Runs a fault handler. The reference on the page it returns passes to the PTE (or mm drops it), so
   * it stops being the driver's, but only if the handler took it during this call (getPage or
   * allocPages): a handler that forgets get_page leaves the count short, and checkInvariants says so.
   */
  private inFault(fn: () => number, result: () => Page | null): number {
    const outer = this.faultRefs;
    const refs = new Map<number, number>();
    this.faultRefs = refs;
    try {
      const r = fn();
      const page = result();
      if (page && (refs.get(page.pfn) ?? 0) > 0) this.driverRef(page.pfn, -1);
      return r;
    } finally {
      this.faultRefs = outer;
    }
  }

  /** References taken by the running fault handler (see inFault). */
  private faultRefs: Map<number, number> | null = null;

  /** @internal A reference a driver took (+1) or gave away (-1) through the driver API. */
  driverRef(pfn: number, delta: number): void {
    if (this.faultRefs && delta > 0) this.faultRefs.set(pfn, (this.faultRefs.get(pfn) ?? 0) + delta);
    const n = (this.driverRefs.get(pfn) ?? 0) + delta;
    if (n === 0) this.driverRefs.delete(pfn);
    else this.driverRefs.set(pfn, n);
  }

  /** @internal */
  fileReleased(file: OpenFile): void {
    this.files.delete(file);
  }

  // ---- processes ----------------------------------------------------------------------------

  /** A new process with an empty address space and fds 0-2 open on /dev/console. */
  spawn(options: SpawnOptions = {}): Process {
    const mm = new Mm(this.physAccess, { era: this.era, pku: this.cpu.pku, zeroPage: this.zeroPage });
    const p = new Process(this, this.nextPid++, mm, null, options.name ?? "proc");
    this.procs.set(p.pid, p);
    // console_on_rootfs(): /dev/console opened once O_RDWR, then dup'ed to fds 1 and 2.
    const con = this.openConsole(2);
    for (let fd = 0; fd < 3; fd++) {
      con.get();
      p.fds.set(fd, con);
    }
    return p;
  }

  /** @internal fork's child: its mm is built, the fd table copied by the caller. */
  addChild(parent: Process, mm: Mm): Process {
    const p = new Process(this, this.nextPid++, mm, parent, parent.comm);
    this.procs.set(p.pid, p);
    return p;
  }

  /** The process with this pid (running or a zombie; reaped processes are gone). */
  process(pid: number): Process | undefined {
    return this.procs.get(pid);
  }

  /** Every process not yet reaped. */
  processes(): Process[] {
    return [...this.procs.values()];
  }

  /** @internal */
  reap(p: Process): void {
    p.state = "dead";
    this.procs.delete(p.pid);
  }

  /** @internal The MMU's page-fault hook for `p`. */
  pageFault(p: Process, addr: number, write: boolean): number {
    if (p.state !== "running") return FAULT_KILLED;
    const prevP = this.currentProcess;
    this.currentProcess = p;
    const prev = enterKernel(this);
    let r: number;
    try {
      r = p.mm.handleFault(addr, write);
    } catch (e) {
      // A throw that no driver wrapper caught: a bug in kernel code (or a driver's vm_ops installed
      // outside ->mmap). Still an oops, not a dead machine.
      this.oops(this.currentDriver ?? "kernel", "page fault", e);
      r = FAULT_KILLED;
    } finally {
      leaveKernel(prev);
      this.currentProcess = prevP;
    }
    if (p.killPending || r === FAULT_KILLED) {
      this.terminate(p, { signal: "SIGKILL" });
      return FAULT_KILLED;
    }
    if (r === FAULT_OOM) {
      this.oomKill(p);
      return FAULT_OOM;
    }
    return r;
  }

  /** pagefault_out_of_memory(): the OOM killer picks the faulting process. */
  private oomKill(p: Process): void {
    this.printk(
      3,
      `Out of memory: Killed process ${p.pid} (${p.comm}) total-vm:${vmSizeKb(p.mm)}kB, anon-rss:${p.mm.rssAnon * 4}kB, file-rss:${p.mm.rssFile * 4}kB, shmem-rss:${p.mm.rssShmem * 4}kB`,
    );
    this.terminate(p, { signal: "SIGKILL" });
  }

  /**
   * A fatal signal from an unresolved fault: the "segfault at …" line in dmesg, then the process dies
   * of it. For runtimes that run a process's MMU elsewhere (`@faultline/sim` workers).
   */
  fatalSignal(p: Process, e: SignalError): void {
    if (p.state !== "running") return;
    if (e.signal === "SIGSEGV") {
      this.printk(
        6,
        `${p.comm}[${p.pid}]: segfault at ${hex(e.addr)} ip 0000000000401000 sp 00007ffffffde000 error ${e.code === "SEGV_ACCERR" ? 7 : 4}`,
      );
    }
    this.terminate(p, { signal: e.signal });
  }

  /**
   * @internal Runs a syscall of `p` in kernel context. A dead process gets -ESRCH; a process an oops
   * marked for death is killed when the call returns, and the call throws SignalError(SIGKILL).
   */
  syscall<T>(p: Process, name: string, fn: () => T): T | number {
    if (p.state !== "running") return -3; // -ESRCH
    const prevP = this.currentProcess;
    this.currentProcess = p;
    const prev = enterKernel(this);
    let r: T | number;
    try {
      r = fn();
    } catch (e) {
      if (SignalError.is(e)) throw e;
      this.oops(this.currentDriver ?? "kernel", `sys_${name}`, e);
      r = -14;
    } finally {
      leaveKernel(prev);
      this.currentProcess = prevP;
    }
    if (p.killPending) {
      this.terminate(p, { signal: "SIGKILL" });
      throw new SignalError("SIGKILL", "SI_KERNEL", 0, `killed during ${name}() after a driver oops`);
    }
    return r;
  }

  /**
   * do_exit(): fds closed (files released when their last reference goes), the mm torn down (every
   * VMA closed once, every frame released), children reparented; a zombie until waited for. Public
   * for runtimes that must end a process from outside (a crashed or hung worker).
   */
  terminate(p: Process, how: { signal?: SignalName; code?: number }): void {
    if (p.state !== "running") return;
    p.state = "zombie";
    p.killPending = false;
    if (how.signal) {
      const signo = SIGNO[how.signal];
      p.exitSignal = how.signal;
      p.exitCode = 128 + signo;
      p.waitStatus = signo;
    } else {
      const code = (how.code ?? 0) & 0xff;
      p.exitSignal = null;
      p.exitCode = code;
      p.waitStatus = code << 8;
    }
    const prevP = this.currentProcess;
    this.currentProcess = p;
    const prev = enterKernel(this);
    try {
      for (const [fd, f] of [...p.fds]) {
        p.fds.delete(fd);
        f.put();
      }
      p.mm.exit();
      p.mm.tlbClients.delete(p.mmu);
      p.mmu.flushAll();
    } finally {
      leaveKernel(prev);
      this.currentProcess = prevP;
    }
    for (const c of this.procs.values()) if (c.parent === p) c.parent = null;
  }

  /** @internal */
  get deadPgdRoot(): number {
    return this.deadPgd;
  }

  // ---- files --------------------------------------------------------------------------------

  /** @internal open(2) after the fd table: a /dev node or a /proc file. Returns the file or -errno. */
  openFile(p: Process, pathIn: string, flags: number): OpenFile | number {
    // path_lookupat() collapses repeated slashes and "." components.
    const path = pathIn.replace(/\/+/g, "/").replace(/\/\.(?=\/|$)/g, "") || "/";
    if (path.startsWith("/proc/")) {
      if ((flags & O_ACCMODE) !== 0) return -EACCES;
      if (this.procTextFor(path, p) === null) return -ENOENT;
      return this.newFile(
        { path, sDev: PROC_DEV, ino: procIno(path), major: 0, minor: 0, mapping: this.procMapping(path) },
        procFops(() => this.procTextFor(path, p) ?? ""),
        "kernel",
        flags,
      );
    }
    const node = path === "/dev/console" ? null : this.chrdev.nodes.get(path);
    const exists = path === "/dev/console" || node !== undefined;
    // do_open(): O_CREAT|O_EXCL on an existing name, O_DIRECTORY on a device node.
    if (exists && flags & O_CREAT && flags & O_EXCL) return -EEXIST;
    if (exists && flags & O_DIRECTORY) return -ENOTDIR;
    if (path === "/dev/console") return this.openConsole(flags);
    // Creating files is not modelled: there is no writable filesystem here (Linux's devtmpfs would
    // create a regular file).
    if (!node) return flags & O_CREAT ? -30 /* EROFS */ : -ENOENT;
    const cdev = this.chrdev.lookup(node.major, node.minor);
    if (!cdev) return -ENXIO;
    const f = this.newFile(fileNodeOf(node), cdev.fops, cdev.owner, flags);
    // O_PATH: a handle on the name only, the driver is not opened.
    const open = flags & O_PATH ? undefined : cdev.fops.open;
    if (open) {
      const r = this.callDriver(cdev.owner, "fops->open", () => open.call(cdev.fops, f.inode, f) | 0, -14);
      if (r < 0) {
        f.released = true;
        this.files.delete(f);
        return r;
      }
    }
    return f;
  }

  private readonly procMappings = new Map<string, AddressSpaceMapping>();
  private procMapping(path: string): AddressSpaceMapping {
    let m = this.procMappings.get(path);
    if (!m) {
      m = new AddressSpaceMapping(path);
      this.procMappings.set(path, m);
    }
    return m;
  }

  private newFile(node: FileNode, fops: FileOperations, owner: string, flags: number): OpenFile {
    const f = new OpenFile(this, node, fops, owner, flags);
    this.files.add(f);
    return f;
  }

  private openConsole(flags: number): OpenFile {
    const fops: FileOperations = {
      read: () => 0,
      write: (_f, buf) => {
        this.consoleText += new TextDecoder().decode(buf);
        return buf.length;
      },
    };
    return this.newFile(this.consoleNode, fops, "kernel", flags);
  }

  // ---- /proc --------------------------------------------------------------------------------

  /**
   * The text of a /proc file: /proc/iomem, /proc/ioports, /proc/meminfo, /proc/buddyinfo,
   * /proc/devices, /proc/PID/maps, /proc/PID/smaps. Throws ErrnoError(ENOENT) for anything else.
   */
  procText(path: string): string {
    const t = this.procTextFor(path, null);
    if (t === null) throw new ErrnoError(ENOENT, `procText(${path})`);
    return t;
  }

  private procTextFor(path: string, self: Process | null): string | null {
    switch (path) {
      case "/proc/iomem":
        return this.phys.iomem();
      case "/proc/ioports":
        return this.phys.ioports();
      case "/proc/meminfo":
        return this.meminfo();
      case "/proc/buddyinfo":
        return this.mem.renderBuddyinfo();
      case "/proc/devices":
        return `${this.chrdev.renderDevices()}\nBlock devices:\n`;
      case "/proc/version":
        return `Linux version ${RELEASE[this.era]} (faultline) #1 SMP\n`;
      default:
        break;
    }
    const m = /^\/proc\/(self|\d+)\/(maps|smaps)$/.exec(path);
    if (!m) return null;
    const p = m[1] === "self" ? self : this.procs.get(Number(m[1]));
    if (!p) return null;
    if (p.state !== "running") return "";
    return m[2] === "maps" ? renderMaps(p.mm) : renderSmaps(p.mm);
  }

  /** /proc/meminfo: MemTotal and MemFree from the allocator, the rest counted from the page tables. */
  private meminfo(): string {
    const anon = new Set<number>();
    const mapped = new Set<number>();
    const shmems = new Set<ShmemFile>();
    let tables = 0;
    for (const p of this.procs.values()) {
      if (p.state !== "running") continue;
      const mm = p.mm;
      tables += mm.pgd.tablePages;
      for (const v of mm) if (v.vmFile instanceof ShmemFile) shmems.add(v.vmFile);
      mm.pgd.forEach(0, 2 ** 47, (_a, _slot, pte) => {
        const pfn = mm.normalPfn(pte);
        if (pfn < 0) return;
        if (Atomics.load(this.mem.flags, pfn) & PG_anon) anon.add(pfn);
        else mapped.add(pfn);
      });
    }
    let shmem = 0;
    for (const s of shmems) for (const _ of s.heldPages()) shmem++;
    const free = this.mem.nrFreePages * 4;
    return this.mem.renderMeminfo([
      ["MemAvailable", free],
      ["Buffers", 0],
      ["Cached", shmem * 4],
      ["SwapCached", 0],
      ["SwapTotal", 0],
      ["SwapFree", 0],
      ["AnonPages", anon.size * 4],
      ["Mapped", mapped.size * 4],
      ["Shmem", shmem * 4],
      ["PageTables", tables * 4],
    ]);
  }

  // ---- invariants ---------------------------------------------------------------------------

  /**
   * phys invariants, every live mm's invariants, and the global ones: every frame's refcount equals the
   * references that exist (PTEs of every mm, shmem page caches, page tables, driver-held references
   * taken through the driver API, the kernel's own, and the boot reference of reserved frames); no
   * free frame referenced; every open file's count equals the fds and VMAs naming it; a dead process
   * holds nothing. Throws an Error naming the first violation.
   */
  checkInvariants(): void {
    this.phys.checkInvariants();
    const want = new Map<number, number>();
    const why = new Map<number, string[]>();
    const add = (pfn: number, n: number, what: string) => {
      want.set(pfn, (want.get(pfn) ?? 0) + n);
      let w = why.get(pfn);
      if (!w) {
        w = [];
        why.set(pfn, w);
      }
      w.push(n === 1 ? what : `${what} x${n}`);
    };
    const shmems = new Set<ShmemFile>();
    const fileRefs = new Map<OpenFile, number>();
    const addFile = (f: OpenFile) => fileRefs.set(f, (fileRefs.get(f) ?? 0) + 1);
    for (const p of this.procs.values()) {
      if (p.state !== "running") {
        if (!p.mm.dead) throw new Error(`process ${p.pid} is ${p.state} but its mm is alive`);
        if (p.fds.size) throw new Error(`process ${p.pid} is ${p.state} but has ${p.fds.size} open fds`);
        continue;
      }
      let held: Map<number, number>;
      try {
        held = p.mm.checkInvariants();
      } catch (e) {
        throw new Error(`process ${p.pid}: ${e instanceof Error ? e.message : String(e)}`);
      }
      for (const [pfn, n] of held) add(pfn, n, `PTE of pid ${p.pid}`);
      for (const pfn of p.mm.pgd.tableFrames()) add(pfn, 1, `page table of pid ${p.pid}`);
      for (const v of p.mm) {
        if (v.vmFile instanceof ShmemFile) shmems.add(v.vmFile);
        else if (v.vmFile instanceof OpenFile) addFile(v.vmFile);
      }
      for (const f of p.fds.values()) addFile(f);
    }
    for (const s of shmems) for (const pfn of s.heldPages()) add(pfn, 1, `shmem page cache ${s.ino}`);
    for (const [pfn, n] of this.driverRefs) {
      // A driver that handed a page to the fault path without taking a reference (get_page) owes one.
      if (n < 0)
        throw new Error(
          `pfn 0x${hex(pfn)}: drivers dropped ${-n} more reference(s) than they took (a fault handler that skipped getPage?)`,
        );
      add(pfn, n, "driver");
    }
    for (const [pfn, n] of this.kernelRefs) add(pfn, n, "kernel");
    const mem = this.mem;
    for (const pfn of want.keys()) {
      if (!mem.pfnValid(pfn)) throw new Error(`reference to pfn 0x${hex(pfn)} without a struct page`);
      if (Atomics.load(mem.flags, pfn) & PG_buddy)
        throw new Error(`pfn 0x${hex(pfn)} is free but referenced by ${why.get(pfn)!.join(", ")}`);
    }
    for (let pfn = 0; pfn < mem.maxPfn; pfn++) {
      const rc = Atomics.load(mem.refcount, pfn);
      const expected = want.get(pfn);
      if (rc === 0 && expected === undefined) continue;
      if (!mem.pfnValid(pfn)) continue;
      const flags = Atomics.load(mem.flags, pfn);
      const base = flags & PG_reserved ? 1 : 0;
      const total = base + (expected ?? 0);
      if (rc !== total) {
        const refs = why.get(pfn)?.join(", ") ?? "nothing";
        throw new Error(
          `pfn 0x${hex(pfn)}: refcount ${rc} but ${total} references exist (${base ? "reserved, " : ""}${refs})${flags & PG_table ? " [page table]" : ""}`,
        );
      }
    }
    for (const f of this.files) {
      const n = fileRefs.get(f) ?? 0;
      if (f.refs !== n)
        throw new Error(`file ${f.path}: ${f.refs} references counted, ${n} exist (fds + VMAs)`);
    }
    for (const f of fileRefs.keys()) {
      if (f.released) throw new Error(`released file ${f.path} still referenced`);
    }
  }

  /** Page size of this machine (always 4096). */
  get pageSize(): number {
    return PAGE_SIZE;
  }
}

const SIGNO: Record<SignalName, number> = { SIGSEGV: 11, SIGBUS: 7, SIGKILL: 9 };

function levelOf(prefix: string, dflt: number): number {
  const c = prefix[1];
  if (c === undefined || c === "c") return dflt;
  const n = Number(c);
  return Number.isInteger(n) && n >= 0 && n <= 7 ? n : dflt;
}

function vmSizeKb(mm: Mm): number {
  let n = 0;
  for (const v of mm) n += v.vmEnd - v.vmStart;
  return n / 1024;
}

function describeGuestError(e: GuestError): string {
  return typeof e === "object" && e !== null && "message" in e
    ? String((e as { message: unknown }).message)
    : String(e);
}

function fileNodeOf(node: DevNode): FileNode {
  return {
    path: node.path,
    sDev: DEVTMPFS_DEV,
    ino: node.ino,
    major: node.major,
    minor: node.minor,
    mapping: node.mapping,
  };
}

let procInos = 4026531840;
const procInoMap = new Map<string, number>();
function procIno(path: string): number {
  let n = procInoMap.get(path);
  if (n === undefined) {
    n = procInos++;
    procInoMap.set(path, n);
  }
  return n;
}

/**
 * A seq_file-like read-only file: the text is built by the read that starts at offset 0 and kept for
 * the reads that follow (seq_read); seeking back to 0 builds it again. seq_lseek() knows SEEK_SET and
 * SEEK_CUR only.
 */
function procFops(build: () => string): FileOperations {
  return {
    read: (f, buf, ppos) => {
      if (ppos.value === 0 || !(f.privateData instanceof Uint8Array))
        f.privateData = new TextEncoder().encode(build());
      const bytes = f.privateData as Uint8Array;
      const start = Math.min(ppos.value, bytes.length);
      const n = Math.min(buf.length, bytes.length - start);
      buf.set(bytes.subarray(start, start + n));
      ppos.value = start + n;
      return n;
    },
    llseek: (f, offset, whence) => {
      if (whence !== 0 && whence !== 1) return -EINVAL;
      const pos = (whence === 0 ? 0 : f.fPos) + offset;
      if (pos < 0) return -EINVAL;
      f.fPos = pos;
      return pos;
    },
  };
}
