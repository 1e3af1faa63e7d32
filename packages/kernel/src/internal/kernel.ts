/**
 * The kernel's state, as plain structs (include/linux/sched.h's task_struct, and what Linux keeps
 * in globals: the log buffer, the task list, the module list, the open files). The operations live
 * in files named after the kernel's (fork.ts, exit.ts, fs.ts, module.ts, oops.ts, …) and take this
 * state as their first argument; `Machine` is the facade over it. Nothing here imports those files,
 * so the import graph has no cycle.
 */
import {
  AddressSpaceMapping,
  type Era,
  type Mm,
  type Mmu,
  memtypesOf,
  type PhysAccess,
  type SignalName,
  type VmOperations,
} from "@faultline/mm";
import {
  __GFP_ZERO,
  type GuestError,
  type PhysMachine,
  PhysMachine as PhysMachineClass,
  type PhysMemory,
} from "@faultline/phys";
import type { DriverContext, DriverDefinition } from "../driver-types";
import type { DeviceModel, MachineConfig } from "../options";
import { CharDevices, DEVTMPFS_DEV } from "./chrdev";
import type { FileHost, FileNode, OpenFile } from "./file";
import { iommuInit, iommuInitPassthrough } from "./iommu";
import { makePhysAccess } from "./phys-access";
import { LogBuffer } from "./printk";
import type { SigHand, TaskSignals } from "./sighand";
import { TmpfsSb } from "./tmpfs";

/** A process runs, is a zombie (exited, not yet waited for), or is dead (reaped). */
export type ProcessState = "running" | "zombie" | "dead";

/** task_struct: what the kernel knows of a process. */
export interface Task {
  readonly pid: number;
  /** comm (what dmesg and OOM messages call it). */
  readonly comm: string;
  readonly mm: Mm;
  /** The MMU the process runs on (in-thread; a simulator worker runs its own over the same mm). */
  readonly mmu: Mmu;
  state: ProcessState;
  parent: Task | null;
  /** Exit status: the exit code, or 128 + signal number when a signal killed it. */
  exitCode: number | null;
  exitSignal: SignalName | null;
  /** The raw wait status (what waitpid reports). */
  waitStatus: number | null;
  /**
   * task_struct->exit_signal: what the parent is sent when this process ends (exit_notify): SIGCHLD
   * after fork, clone's CSIGNAL byte (0: nothing), -1 for a thread (CLONE_THREAD: never notifies).
   */
  exitNotifySignal: number;
  /** An oops happened on this task's behalf: it dies when the kernel returns to it. */
  killPending: boolean;
  /** fd → struct file */
  readonly fds: Map<number, OpenFile>;
  /** Signal actions (sighand_struct: shared by threads, copied by fork). */
  readonly sighand: SigHand;
  /** Blocked and pending signals, queued siginfo, what handlers caught (signal.ts). */
  readonly sig: TaskSignals;
  /** Resource limits (signal->rlim; resource.ts), inherited by fork. */
  readonly rlim: { readonly cur: number; readonly max: number }[];
  /** CAP_IPC_LOCK: true for root's processes (the default); RLIMIT_MEMLOCK binds only without it. */
  capIpcLock: boolean;
  /** CAP_SYS_TIME: true for root's processes (the default); clock_settime(CLOCK_REALTIME) needs it. */
  capSysTime: boolean;
  /** The thread group id (getpid): the leader's pid. `pid` is the thread's id (gettid). */
  readonly tgid: number;
  /** The threads of the group (one Set shared by all of them, the leader included; clone.ts). */
  readonly group: Set<Task>;
  /** Faults this thread took (task_struct min_flt / maj_flt; the mm counts the whole process's). */
  minflt: number;
  majflt: number;
  /** Syscalls this thread entered (with its faults, what its CPU time counts: posix-cpu-timers.ts). */
  nsyscalls: number;
}

/** A driver oops or kernel bug, as recorded (also printed to dmesg). */
export interface OopsRecord {
  /** The driver whose code threw, or "kernel" for a bug in the kernel's own code. */
  readonly driver: string;
  readonly callback: string;
  readonly error: unknown;
  readonly pid: number | null;
}

export interface LoadedDriver {
  readonly def: DriverDefinition;
  readonly ctx: DriverContext;
}

/** uname -r of each era. */
export const RELEASE: Record<Era, string> = { "2.6.10": "2.6.10-faultline", modern: "6.18.0-faultline" };

/** First inode number procfs hands out (PROC_DYNAMIC_FIRST). */
const PROC_DYNAMIC_FIRST = 0xf0000000;

/** The state of one machine's kernel. */
/** A page found in a bad state by a teardown (bad-page.ts). */
export interface BadPageRecord {
  readonly pfn: number;
  /** The process being torn down when the page was found, or null. */
  readonly pid: number | null;
  readonly comm: string;
  /** The driver whose fault handler installed the page without a reference, when known. */
  readonly driver: string | null;
  /** "page dumped because: …" */
  readonly reason: string;
}

export class Kernel {
  readonly phys: PhysMachine;
  readonly mem: PhysMemory;
  readonly era: Era;
  readonly cpu: Readonly<{ pku: boolean }>;
  readonly zeroPage: boolean;
  readonly devices: readonly DeviceModel[];
  /** What the mm layer uses to reach pages: banks directly, MMIO through the bus. */
  readonly physAccess: PhysAccess;
  /** The char-device tables and devtmpfs. */
  readonly chrdev = new CharDevices();
  /** printk's ring buffer. */
  readonly log = new LogBuffer();
  readonly oopses: OopsRecord[] = [];
  /** Pages found in a bad state by a teardown and quarantined (bad-page.ts). */
  readonly badPages: BadPageRecord[] = [];
  /**
   * Pages a fault handler installed without taking a reference (pfn → driver and callback), so a
   * bad page report can blame the driver (vm-ops.ts: inFault).
   */
  readonly unreferencedFaultPages = new Map<number, { readonly driver: string; readonly callback: string }>();
  /** Driver-held page references (pfn → count), for the refcount invariant. */
  readonly driverRefs = new Map<number, number>();
  /** References the running fault handler took (vm-ops.ts: inFault), or null outside one. */
  faultRefs: Map<number, number> | null = null;
  /** The kernel's own page references (the dead PGD). */
  readonly kernelRefs = new Map<number, number>();
  /** The task on whose behalf the kernel runs (`current`). */
  current: Task | null = null;
  /** The driver whose code is running. */
  currentDriver: string | null = null;
  /** The driver callback running now ("fops->mmap", "vm_ops->fault" …), for the checks that depend on it (vm-flags.ts). */
  currentCallback: string | null = null;
  /** The task list (running and zombie; reaped tasks leave it). */
  readonly tasks = new Map<number, Task>();
  nextPid = 1;
  readonly drivers = new Map<string, LoadedDriver>();
  /** Every struct file not yet released. */
  readonly files = new Set<OpenFile>();
  /** What files call back into (fs.ts builds it once). */
  fileHost: FileHost | null = null;
  /** vm_ops a driver installed → the oops-catching wrapper, per driver (vm-ops.ts). */
  readonly wrappedOps = new Map<string, WeakMap<VmOperations, VmOperations>>();
  readonly wrappers = new WeakSet<VmOperations>();
  /** What processes wrote to /dev/console. */
  consoleText = "";
  readonly consoleNode: FileNode;
  /** procfs inode numbers and i_mappings, per path (per machine, so output never depends on test order). */
  readonly procInos = new Map<string, number>();
  nextProcIno = PROC_DYNAMIC_FIRST;
  readonly procMappings = new Map<string, AddressSpaceMapping>();
  /** An empty PGD for processes that are gone: their MMU walks it and faults, never a freed table. */
  readonly deadPgd: number;
  /** The tmpfs mounts (/dev/shm, /tmp): size= half of RAM, tmpfs's default (tmpfs.ts). */
  readonly tmpfs: readonly TmpfsSb[];
  /** shm_mnt, the internal tmpfs of memfd and SysV shm (s_dev 00:01, no size limit). */
  readonly shmMnt: TmpfsSb;

  constructor(config: MachineConfig) {
    this.era = config.era;
    this.cpu = config.cpu;
    this.zeroPage = config.zeroPage;
    this.devices = config.devices;
    this.phys = PhysMachineClass.create({
      ...(config.ramBytes === undefined ? {} : { ramBytes: config.ramBytes }),
      onGuestError: (e: GuestError) => this.log.printk(4, `faultline: guest error: ${describeGuestError(e)}`),
    });
    this.mem = this.phys.mem;
    this.physAccess = makePhysAccess(this.phys);
    // arch/x86/mm/pat/memtype.c's pr_info/pr_warn/pr_err go to this machine's log, with current's comm:pid.
    memtypesOf(this.mem).log = {
      printk: (level, text) => this.log.printk(level, text),
      current: () => this.current,
    };
    if (config.iommu === "passthrough") iommuInitPassthrough(this);
    else if (config.iommu) {
      // The IOVAs a device must not be given: the MSI window and the host bridge's memory windows.
      const pci = this.phys.pci;
      const pages = (start: number, end: number) => ({
        lo: Math.floor(start / 4096),
        hi: Math.ceil(end / 4096),
      });
      iommuInit(this, [
        pages(0xfee00000, 0xfef00000),
        pages(pci.window32.start, pci.window32.end),
        pages(pci.window64.start, pci.window64.end),
      ]);
    }
    const dead = this.mem.allocPfn(0, __GFP_ZERO);
    if (dead < 0) throw new Error("out of memory at boot");
    this.deadPgd = dead;
    this.kernelRefs.set(dead, 1);
    // A TLB may cache a translation to a BAR or device RAM page: drop everything when the FlatView changes.
    this.phys.as.onChange(() => {
      for (const t of this.tasks.values()) if (t.state === "running") t.mm.flushTlbAll();
    });
    const half = Math.floor((this.mem.totalRamPages * 4096) / 2);
    this.tmpfs = [
      new TmpfsSb(this.mem, "/dev/shm", [0, 0x19], half, "rw,nosuid,nodev,inode64"),
      new TmpfsSb(this.mem, "/tmp", [0, 0x1a], half, "rw,nosuid,nodev,inode64"),
    ];
    this.shmMnt = new TmpfsSb(this.mem, "", [0, 1], Number.POSITIVE_INFINITY, "rw");
    this.consoleNode = {
      path: "/dev/console",
      sDev: DEVTMPFS_DEV,
      ino: 5,
      major: 5,
      minor: 1,
      mapping: new AddressSpaceMapping("/dev/console"),
    };
  }
}

function describeGuestError(e: GuestError): string {
  return typeof e === "object" && e !== null && "message" in e
    ? String((e as { message: unknown }).message)
    : String(e);
}
