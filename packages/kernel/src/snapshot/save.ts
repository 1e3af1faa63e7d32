/**
 * The kernel's part of `m.snapshot()`: walks the machine's state (tasks, their mms and fd tables, the
 * struct files, the tmpfs mounts and shmem inodes, the log, the page references drivers and the kernel
 * hold, the drivers' own state through their snapshot hooks) into plain data (state.ts describes it).
 * Physical memory saves itself (PhysMemory.saveState), each mm through mm's saveMm. What it cannot
 * save (a JS-function signal handler, a driver VMA whose vm_ops the driver does not name, a driver
 * without snapshot hooks) is a SnapshotError naming it. The hardware-facing state (clock, timers,
 * PAT memtypes, interrupts, ISA DMA, PCI functions and their DMA) is hw.ts's.
 */
import {
  AnonVmaTable,
  HUGETLB_VM_OPS,
  HugetlbFile,
  type Mm,
  type MmFile,
  ShmemFile,
  type ShmemInode,
  saveMm,
  saveShmemFile,
  saveShmemInode,
  shmemInoCounter,
  type Vma,
  type VmOperations,
} from "@faultline/mm";
import type { DriverDefinition } from "../driver-types";
import { gupPins } from "../gup";
import { closeOnExecOf } from "../internal/fdtable";
import { OpenFile } from "../internal/file";
import { ShmAttachFile } from "../internal/ipc-shm";
import { type ShmSegment, shmIds } from "../internal/ipc-shm-state";
import type { Kernel, Task } from "../internal/kernel";
import { isAsleep } from "../internal/nanosleep";
import { KERNEL, withKernel } from "../internal/oops";
import { saveCputime } from "../internal/posix-cpu-timers";
import type { ShmemFileNode, TmpfsDirNode } from "../internal/shmem-file";
import type { TmpfsDir, TmpfsReg, TmpfsSb } from "../internal/tmpfs";
import { vmallocOf } from "../internal/vmalloc";
import { SnapshotError } from "./container";
import type {
  DirState,
  DriverState,
  FileState,
  InodeState,
  KernelState,
  NodeRef,
  RegState,
  SegState,
  ShmState,
  TaskState,
} from "./state";

const bigintOut = (b: bigint): string => b.toString();

/** The kernel's state as plain data. */
export function saveKernel(k: Kernel): { kernel: KernelState; drivers: DriverState[] } {
  const s = new Saver(k);
  return s.run();
}

class Saver {
  private readonly inodes = new Map<ShmemInode, number>();
  private readonly inodeStates: InodeState[] = [];
  private readonly files = new Map<MmFile, number>();
  private readonly fileStates: FileState[] = [];
  private readonly dirs = new Map<TmpfsDir, number>();
  private readonly dirStates: DirState[] = [];
  private readonly regs = new Map<TmpfsReg, number>();
  private readonly regStates: RegState[] = [];
  private readonly anon = new AnonVmaTable();
  private readonly segs = new Map<ShmSegment, number>();
  private readonly segStates: SegState[] = [];
  /** Wrapped vm_ops a driver named → its driver and name. */
  private readonly driverOps = new Map<VmOperations, { driver: string; name: string }>();

  constructor(private readonly k: Kernel) {
    for (const [name, ld] of k.drivers) {
      const cache = k.wrappedOps.get(name);
      for (const [opsName, raw] of Object.entries(ld.def.snapshot?.vmOps ?? {})) {
        const w = cache?.get(raw);
        if (w) this.driverOps.set(w, { driver: name, name: opsName });
        this.driverOps.set(raw, { driver: name, name: opsName });
      }
    }
  }

  run(): { kernel: KernelState; drivers: DriverState[] } {
    const k = this.k;
    if (k.current)
      throw new SnapshotError("snapshot: the kernel is running (take a snapshot between syscalls)");
    const sbs = [k.tmpfs[0]!, k.tmpfs[1]!, k.shmMnt];
    // The trees first, so directory and file numbers follow the mounts' order.
    const roots = sbs.map((sb) => this.dir(sb.root));
    const mms = new Map<Mm, number>();
    const mmStates: ReturnType<typeof saveMm>[] = [];
    const tasks: TaskState[] = [];
    const sighands = new Map<unknown, number>();
    for (const t of [...k.tasks.values()].sort((a, b) => a.pid - b.pid)) {
      let mm = mms.get(t.mm);
      if (mm === undefined) {
        mm = mmStates.length;
        mms.set(t.mm, mm);
        mmStates.push(this.mm(t.mm));
      }
      let sighand = sighands.get(t.sighand);
      if (sighand === undefined) {
        sighand = sighands.size;
        sighands.set(t.sighand, sighand);
      }
      tasks.push(this.task(t, mm, sighand));
    }
    for (const f of k.files) this.file(f);
    const inodeSets = sbs.map((sb) => [...sb.inodes].map((i) => this.inode(i)));
    const drivers = this.drivers();
    const kernel: KernelState = {
      nextPid: k.nextPid,
      consoleText: k.consoleText,
      log: {
        records: k.log.records().map((r) => [r.level, r.seq, r.text] as const),
        nextSeq: k.log.seq,
        dropped: k.log.dropped,
      },
      oopses: k.oopses.map((o) => ({
        driver: o.driver,
        callback: o.callback,
        error: String((o.error as { message?: unknown })?.message ?? o.error),
        pid: o.pid,
      })),
      badPages: k.badPages.map((b) => ({ ...b })),
      driverRefs: [...k.driverRefs].flat(),
      pins: [...gupPins(k)].flat(),
      kernelRefs: [...k.kernelRefs].flat(),
      vmalloc: vmallocOf(k).areas.map((a) => ({
        addr: a.addr,
        size: a.size,
        flags: a.flags,
        pages: [...a.pages],
        ...(a.pagesArea !== undefined ? { pagesArea: a.pagesArea } : {}),
      })),
      vmallocLazy: vmallocOf(k).lazy.map((r) => ({ addr: r.addr, size: r.size })),
      unreferencedFaultPages: [...k.unreferencedFaultPages].map(
        ([pfn, v]) => [pfn, v.driver, v.callback] as const,
      ),
      procInos: [...k.procInos].flat(),
      nextProcIno: k.nextProcIno,
      shmemIno: shmemInoCounter(k.mem),
      sbs: sbs.map((sb, i) => ({ usedBlocks: sb.blocks.usedBlocks, root: roots[i]!, inodes: inodeSets[i]! })),
      dirs: this.dirStates,
      regs: this.regStates,
      inodes: this.inodeStates,
      files: this.fileStates,
      anonVmas: 0,
      shm: this.shm(),
      mms: mmStates,
      tasks,
      sighands: [...sighands.keys()].map((h) => this.sighand(h as Task["sighand"])),
    };
    return { kernel, drivers };
  }

  private seg(s: ShmSegment): number {
    let id = this.segs.get(s);
    if (id !== undefined) return id;
    id = this.segStates.length;
    this.segs.set(s, id);
    this.segStates.push({
      id: s.id,
      origKey: s.origKey,
      seq: s.seq,
      segsz: s.segsz,
      inode: this.inode(s.inode),
      cpid: s.cpid,
      fields: [s.key, s.mode, s.uid, s.gid, s.nattch, s.lpid, s.atime, s.dtime, s.ctime],
      destroyed: s.destroyed,
      ...(s.hugetlbPageSize ? { hugetlbPageSize: s.hugetlbPageSize } : {}),
    });
    return id;
  }

  /** The namespace's segments (after the files: attached, IPC_RMID'd segments are listed by them). */
  private shm(): ShmState {
    const ns = shmIds(this.k);
    for (const s of ns.byIndex.values()) this.seg(s);
    return {
      fields: [ns.seq, ns.lastIdx, ns.nextIndex, ns.totPages, ns.clock, ns.shmmax, ns.shmall, ns.shmmni],
      segs: this.segStates,
    };
  }

  private drivers(): DriverState[] {
    const out: DriverState[] = [];
    for (const [name, ld] of this.k.drivers) {
      const snap = ld.def.snapshot;
      // A driver that says nothing about its state may hold pages or counters no one can restore.
      if (!snap)
        throw new SnapshotError(
          `snapshot: driver ${name} declares no snapshot hooks (DriverSnapshot): its state cannot be saved`,
        );
      let state: unknown = null;
      if (snap?.save) state = this.inDriver(ld.def, "snapshot.save", () => snap.save!());
      out.push({
        name,
        version: ld.def.version ?? "0",
        stateVersion: snap?.version ?? 0,
        state: state ?? null,
      });
    }
    return out;
  }

  private inDriver<T>(def: DriverDefinition, what: string, fn: () => T): T {
    const k = this.k;
    const outer = k.currentDriver;
    k.currentDriver = def.name;
    try {
      return withKernel(k, fn);
    } catch (e) {
      throw new SnapshotError(
        `snapshot: driver ${def.name}'s ${what} threw: ${(e as Error)?.message ?? String(e)}`,
      );
    } finally {
      k.currentDriver = outer;
    }
  }

  private task(t: Task, mm: number, sighand: number): TaskState {
    const sig = t.sig;
    for (const f of [...sig.frames, ...sig.active])
      if (typeof f.handler === "function")
        throw new SnapshotError(
          `snapshot: process ${t.pid} is running a signal handler that is a JS function`,
        );
    // A sleep the simulator parked: the process's worker waits inside nanosleep/clock_nanosleep.
    if (t.state === "running" && isAsleep(t))
      throw new SnapshotError(
        `snapshot: process ${t.pid} is asleep in nanosleep/clock_nanosleep (parked by the simulator, its thread inside the syscall): a snapshot cannot hold a syscall in progress; take it when no process sleeps`,
      );
    const fds: number[] = [];
    for (const [fd, f] of [...t.fds].sort((a, b) => a[0] - b[0]))
      fds.push(fd, this.file(f), closeOnExecOf(t, fd) ? 1 : 0);
    return {
      pid: t.pid,
      tgid: t.tgid,
      comm: t.comm,
      mm,
      state: t.state,
      parent: t.parent?.pid ?? -1,
      exitCode: t.exitCode,
      exitSignal: t.exitSignal,
      waitStatus: t.waitStatus,
      exitNotifySignal: t.exitNotifySignal,
      killPending: t.killPending,
      fds,
      sighand,
      blocked: bigintOut(sig.blocked),
      pending: bigintOut(sig.pending),
      queue: sig.queue.map((q) => ({ ...q })),
      frames: sig.frames.map((f) => ({ ...f, saved: bigintOut(f.saved), handler: f.handler as number })),
      active: sig.active.map((f) => ({ ...f, saved: bigintOut(f.saved), handler: f.handler as number })),
      handled: sig.handled.map((h) => ({ ...h })),
      handledCount: sig.handledCount,
      quietFault: sig.quietFault,
      rlim: t.rlim.flatMap((r) => [r.cur, r.max]),
      capIpcLock: t.capIpcLock,
      capSysTime: t.capSysTime,
      minflt: t.minflt,
      majflt: t.majflt,
      cpu: saveCputime(t),
    };
  }

  private sighand(h: Task["sighand"]) {
    return h.action.map((a, signo) => {
      if (typeof a.handler === "function")
        throw new SnapshotError(
          `snapshot: signal ${signo} has a handler that is a JS function (only addresses, SIG_DFL and SIG_IGN can be saved)`,
        );
      return [a.handler as number, a.flags, bigintOut(a.mask)] as const;
    });
  }

  private mm(mm: Mm) {
    return saveMm(mm, this.anon, {
      file: (f) => this.file(f),
      ops: (vma, ops) => this.ops(vma, ops),
      priv: (vma, data) => this.priv(vma, data),
    });
  }

  private ops(vma: Vma, ops: VmOperations): unknown {
    const f = vma.vmFile;
    const inode =
      f instanceof ShmemFile
        ? f.inode
        : f instanceof OpenFile
          ? (f.node as Partial<ShmemFileNode>).shmem
          : undefined;
    if (inode && ops === inode.vmOps) return { k: "shmem" };
    if (ops === HUGETLB_VM_OPS) return { k: "hugetlb" };
    if (f instanceof ShmAttachFile) return { k: "shm" };
    const d = this.driverOps.get(ops);
    if (d) return { k: "drv", d: d.driver, n: d.name };
    throw new SnapshotError(
      `snapshot: ${vma} of ${f?.path ?? "anonymous memory"} has vm_ops its driver does not name (DriverSnapshot.vmOps)`,
    );
  }

  private priv(vma: Vma, data: unknown): unknown {
    const d = vma.vmOps ? this.driverOps.get(vma.vmOps) : undefined;
    const def = d ? this.k.drivers.get(d.driver)?.def : undefined;
    if (!def?.snapshot?.savePrivate)
      throw new SnapshotError(
        `snapshot: ${vma} has vm_private_data and no driver savePrivate hook to save it`,
      );
    return {
      d: def.name,
      v: this.inDriver(def, "snapshot.savePrivate", () => def.snapshot!.savePrivate!(data)),
    };
  }

  private dir(d: TmpfsDir): number {
    let id = this.dirs.get(d);
    if (id !== undefined) return id;
    id = this.dirStates.length;
    this.dirs.set(d, id);
    const st: DirState = {
      sb: this.sbIndex(d.sb),
      ino: d.ino,
      mode: d.mode,
      nlink: d.nlink,
      removed: d.removed,
      parent: -1,
      entries: [],
    };
    this.dirStates.push(st);
    st.parent = d.parent ? this.dir(d.parent) : -1;
    for (const [name, n] of d.entries)
      st.entries.push(name, n.kind === "dir" ? this.dir(n) : -1 - this.reg(n));
    return id;
  }

  private reg(r: TmpfsReg): number {
    let id = this.regs.get(r);
    if (id !== undefined) return id;
    id = this.regStates.length;
    this.regs.set(r, id);
    const st: RegState = {
      sb: this.sbIndex(r.sb),
      inode: this.inode(r.inode),
      mode: r.mode,
      parent: -1,
      name: r.name,
    };
    this.regStates.push(st);
    st.parent = r.parent ? this.dir(r.parent) : -1;
    return id;
  }

  private sbIndex(sb: TmpfsSb): number {
    const i = [this.k.tmpfs[0], this.k.tmpfs[1], this.k.shmMnt].indexOf(sb);
    if (i < 0)
      throw new SnapshotError("snapshot: a tmpfs superblock that is not one of the machine's mounts");
    return i;
  }

  private inode(i: ShmemInode): number {
    let id = this.inodes.get(i);
    if (id !== undefined) return id;
    id = this.inodeStates.length;
    this.inodes.set(i, id);
    const k = this.k;
    const sb = [k.tmpfs[0]!.blocks, k.tmpfs[1]!.blocks, k.shmMnt.blocks].indexOf(i.sb);
    this.inodeStates.push({ ...saveShmemInode(i), sb, sbUsed: sb < 0 ? i.sb.usedBlocks : 0 });
    return id;
  }

  private file(f: MmFile): number {
    let id = this.files.get(f);
    if (id !== undefined) return id;
    id = this.fileStates.length;
    this.files.set(f, id);
    if (f instanceof ShmemFile) {
      this.fileStates.push({ k: "shmem", ...saveShmemFile(f, this.inode(f.inode)) });
      return id;
    }
    if (f instanceof ShmAttachFile) {
      this.fileStates.push({ k: "shm", seg: this.seg(f.seg), writable: f.writable, refs: f.refs });
      return id;
    }
    if (f instanceof HugetlbFile) {
      this.fileStates.push({
        k: "hugetlb",
        ino: f.ino,
        size: f.size,
        hpage: f.hugetlbPageSize,
        refs: f.refs,
      });
      return id;
    }
    if (!(f instanceof OpenFile))
      throw new SnapshotError(`snapshot: cannot save ${f.path}: an unknown kind of file`);
    const placeholder = {} as FileState;
    this.fileStates.push(placeholder);
    let priv: unknown = null;
    if (f.privateData !== null && f.privateData !== undefined) {
      if (f.privateData instanceof Uint8Array && f.owner === KERNEL) priv = { b: f.privateData };
      else {
        const def = this.k.drivers.get(f.owner)?.def;
        if (!def?.snapshot?.savePrivate)
          throw new SnapshotError(
            `snapshot: ${f.path} has private data and its driver ${f.owner} has no savePrivate hook`,
          );
        priv = {
          d: f.owner,
          v: this.inDriver(def, "snapshot.savePrivate", () => def.snapshot!.savePrivate!(f.privateData)),
        };
      }
    }
    Object.assign(placeholder, {
      k: "open",
      node: this.node(f),
      owner: f.owner,
      flags: f.fFlags,
      pos: f.fPos,
      refs: f.refs,
      released: f.released,
      priv,
    } satisfies FileState);
    return id;
  }

  private node(f: OpenFile): NodeRef {
    const k = this.k;
    const n = f.node;
    if (n === k.consoleNode) return { t: "console" };
    const shm = n as Partial<ShmemFileNode>;
    if (shm.shmem) {
      if (shm.reg) return { t: "reg", reg: this.reg(shm.reg), opath: f.fops.read === undefined };
      const sb = [k.tmpfs[0]!, k.tmpfs[1]!, k.shmMnt].find((s) => s.dev === n.sDev);
      return { t: "anon", inode: this.inode(shm.shmem), sb: sb ? this.sbIndex(sb) : 2, path: n.path };
    }
    const dir = (n as Partial<TmpfsDirNode>).dir;
    if (dir) return { t: "dir", dir: this.dir(dir), path: n.path };
    if (n.path.startsWith("/proc/")) {
      let opener = -1;
      for (const t of k.tasks.values()) for (const g of t.fds.values()) if (g === f) opener = t.pid;
      return { t: "proc", path: n.path, pid: opener };
    }
    if (n.path === "/dev/zero" && n.major === 1 && n.minor === 5 && f.owner === KERNEL) return { t: "zero" };
    const dev = k.chrdev.nodes.get(n.path);
    if (dev && dev.ino === n.ino) return { t: "dev", path: n.path };
    throw new SnapshotError(`snapshot: cannot save open file ${n.path} (its /dev node is gone)`);
  }
}
