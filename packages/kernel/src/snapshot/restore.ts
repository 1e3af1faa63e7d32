/**
 * The kernel's part of `Machine.restore`: on a machine freshly booted with the same options, devices
 * and drivers (their init already run), rebuilds the saved kernel objects (tmpfs trees and shmem
 * inodes, struct files, mms and VMAs, tasks with fd tables and signal state, the log and the page
 * references), hands each driver its saved state back, then writes physical memory and lets each mm
 * adopt its saved page tables. Every field is checked as it is read; a bad one throws an Error naming
 * it (Machine.restore turns it into a SnapshotError and drops the half-built machine).
 */
import {
  AnonVmaTable,
  adoptPageTables,
  HPAGE_SIZE,
  HUGETLB_VM_OPS,
  HugetlbFile,
  type Mm,
  type MmFile,
  type MmState,
  restoreMm,
  restoreShmemFile,
  restoreShmemInode,
  ShmemFile,
  type ShmemInode,
  ShmemSb,
  type SignalName,
  setShmemInoCounter,
  type Vma,
  type VmOperations,
} from "@faultline/mm";
import type { FileOperations } from "../driver-types";
import { gupPins } from "../gup";
import { DEVTMPFS_DEV } from "../internal/chrdev";
import { setCloseOnExec } from "../internal/fdtable";
import type { FileNode, OpenFile } from "../internal/file";
import { newTask } from "../internal/fork";
import { newFile, openConsole } from "../internal/fs";
import { ShmAttachFile, shmVmOps } from "../internal/ipc-shm";
import { ShmSegment, shmIds } from "../internal/ipc-shm-state";
import type { Kernel, Task } from "../internal/kernel";
import { zeroFops, zeroNode } from "../internal/mem";
import { KERNEL, withKernel } from "../internal/oops";
import { restoreCputime } from "../internal/posix-cpu-timers";
import { procFops, procIno, procMapping, procText } from "../internal/proc";
import { anonShmemNode, DIR_FOPS, dirNode, regNode, SHMEM_FOPS, shmemOf } from "../internal/shmem-file";
import { TmpfsDir, TmpfsReg, type TmpfsSb } from "../internal/tmpfs";
import { adoptVma } from "../internal/vm-ops";
import {
  badVmAreas,
  setVmAreas,
  VMALLOC_END,
  VMALLOC_START,
  type VmapRange,
  type VmStruct,
} from "../internal/vmalloc";
import type {
  DirState,
  FileState,
  KernelState,
  NodeRef,
  SegState,
  TaskState,
  VmAreaState,
  VmapRangeState,
} from "./state";

const fail = (msg: string): never => {
  throw new Error(msg);
};
export const int = (v: unknown, what: string, min = 0, max = 2 ** 53): number =>
  typeof v === "number" && Number.isInteger(v) && v >= min && v <= max
    ? v
    : fail(`${what}: expected an integer from ${min} to ${max}, got ${String(v)}`);
export const str = (v: unknown, what: string): string =>
  typeof v === "string" ? v : fail(`${what}: expected a string`);
export const list = <T = unknown>(v: unknown, what: string): T[] =>
  Array.isArray(v) ? (v as T[]) : fail(`${what}: expected a list`);
const big = (v: unknown, what: string): bigint =>
  typeof v === "string" && /^\d{1,20}$/.test(v) ? BigInt(v) : fail(`${what}: expected a signal set`);
const at = <T>(arr: readonly T[], i: unknown, what: string): T => arr[int(i, what, 0, arr.length - 1)]!;

type Counted = { count: number };

/**
 * Rebuilds the kernel objects of `s` on `k`. Returns the mms with their saved states: once physical
 * memory is restored, adoptAll lets them find their page tables.
 */
export function restoreKernel(k: Kernel, s: KernelState): { mms: Mm[]; states: MmState[] } {
  restoreScalars(k, s);
  const sbs = [k.tmpfs[0]!, k.tmpfs[1]!, k.shmMnt];
  const sbOf = (i: unknown, what: string): TmpfsSb => at(sbs, i, what);
  // Shmem inodes.
  const inodes: ShmemInode[] = list<KernelState["inodes"][number]>(s.inodes, "inodes").map((st, i) => {
    const sbi = int(st?.sb, `inode ${i} sb`, -1, 2);
    const blocks = sbi < 0 ? new ShmemSb() : sbs[sbi]!.blocks;
    if (sbi < 0) blocks.usedBlocks = int(st.sbUsed, `inode ${i} sbUsed`);
    return restoreShmemInode(k.mem, blocks, st);
  });
  const inode = (i: unknown, what: string) => at(inodes, i, what);
  // tmpfs trees: the mounts' roots are the fresh machine's, filled in; the rest are new.
  const dirStates = list<DirState>(s.dirs, "dirs");
  const sbStates = list<KernelState["sbs"][number]>(s.sbs, "sbs");
  if (sbStates.length !== 3) fail("sbs: expected the three tmpfs mounts");
  const rootIds = sbStates.map((st, i) => int(st?.root, `sb ${i} root`, 0, dirStates.length - 1));
  const dirs: TmpfsDir[] = dirStates.map((d, i) => {
    const what = `dir ${i}`;
    const sb = sbOf(d?.sb, `${what} sb`);
    const root = rootIds.indexOf(i);
    if (root >= 0) {
      if (sbs[root] !== sb || sb.root.ino !== d.ino)
        fail(`${what}: a mount's root does not match this machine's`);
      sb.root.mode = int(d.mode, `${what} mode`);
      return sb.root;
    }
    return new TmpfsDir(sb, int(d.ino, `${what} ino`, 0, 2 ** 32), null, int(d.mode, `${what} mode`));
  });
  const regs: TmpfsReg[] = list<KernelState["regs"][number]>(s.regs, "regs").map((r, i) => {
    const what = `tmpfs file ${i}`;
    return new TmpfsReg(
      sbOf(r?.sb, `${what} sb`),
      inode(r.inode, `${what} inode`),
      int(r.mode, `${what} mode`),
      null,
      str(r.name, `${what} name`),
    );
  });
  list<KernelState["regs"][number]>(s.regs, "regs").forEach((r, i) => {
    regs[i]!.parent = r.parent === -1 ? null : at(dirs, r.parent, `tmpfs file ${i} parent`);
  });
  dirStates.forEach((d, i) => {
    const dir = dirs[i]!;
    dir.parent = d.parent === -1 ? null : at(dirs, d.parent, `dir ${i} parent`);
    dir.nlink = int(d.nlink, `dir ${i} nlink`);
    dir.removed = d.removed === true;
    dir.entries.clear();
    const e = list<string | number>(d.entries, `dir ${i} entries`);
    for (let j = 0; j + 1 < e.length; j += 2) {
      const ref = int(e[j + 1], `dir ${i} entry`, -regs.length, dirs.length - 1);
      dir.entries.set(str(e[j], `dir ${i} entry name`), ref >= 0 ? dirs[ref]! : regs[-1 - ref]!);
    }
  });
  sbStates.forEach((st, i) => {
    const sb = sbs[i]!;
    sb.blocks.usedBlocks = int(st.usedBlocks, `sb ${i} usedBlocks`);
    sb.inodes.clear();
    for (const n of list(st.inodes, `sb ${i} inodes`)) sb.inodes.add(inode(n, `sb ${i} inode`));
  });
  const segs = restoreShm(k, s, inodes);
  // Files.
  const fileStates = list<FileState>(s.files, "files");
  const files: MmFile[] = fileStates.map((f, i) => restoreFile(k, f, i, { inodes, dirs, regs, sbs, segs }));
  // Address spaces.
  const anon = new AnonVmaTable();
  const mmStates = list<MmState>(s.mms, "mms");
  const mms: Mm[] = mmStates.map((st, i) => {
    try {
      return restoreMm(k.physAccess, st, anon, {
        file: (id) => at(files, id, "vma file"),
        ops: (vma, saved) => restoreOps(k, vma, saved),
        priv: (vma, saved) => restorePrivate(k, saved, `${vma}`),
      });
    } catch (e) {
      throw new Error(`mm ${i}: ${(e as Error).message}`);
    }
  });
  restoreTasks(k, s, mms, files);
  // Limits: newTask applied the tasks' rlimits to their mms; the saved values win.
  mms.forEach((mm, i) => {
    const [mlock, stack, as, dcur, dmax] = mmStates[i]!.limits as number[];
    mm.mlockLimit = mlock!;
    mm.stackLimit = stack!;
    mm.rlimAs = as!;
    mm.rlimData = { cur: dcur!, max: dmax! };
  });
  setShmemInoCounter(k.mem, int(s.shmemIno, "shmemIno", 0, 2 ** 32));
  restoreVmalloc(k, s.vmalloc, s.vmallocLazy);
  return { mms, states: mmStates };
}

/**
 * The vmalloc areas, at the addresses they had (a driver's saved state names its buffers by them),
 * and the lazily freed ranges not yet purged (absent: none).
 * They replace the ones the drivers' init made on the fresh machine, whose pages physical memory's
 * restore takes back. Whether each page is allocated and held once is checked with the invariants,
 * once physical memory is restored.
 */
function restoreVmalloc(
  k: Kernel,
  saved: KernelState["vmalloc"],
  savedLazy: KernelState["vmallocLazy"],
): void {
  const areas = list<VmAreaState>(saved ?? [], "vmalloc").map((a, i): VmStruct => {
    const what = `vmalloc area ${i}`;
    if (typeof a !== "object" || a === null) fail(`${what}: not a map`);
    const pages = list<number>(a.pages, `${what} pages`).map((pfn, j) => {
      const p = int(pfn, `${what} page ${j}`, 0, k.mem.maxPfn - 1);
      if (!k.mem.pfnValid(p)) fail(`${what} page ${j}: pfn 0x${p.toString(16)} has no struct page`);
      return p;
    });
    return {
      addr: int(a.addr, `${what} addr`, VMALLOC_START, VMALLOC_END),
      size: int(a.size, `${what} size`, 1, VMALLOC_END - VMALLOC_START + 1),
      flags: int(a.flags, `${what} flags`, 0, 2 ** 31),
      pages,
      ...(a.pagesArea !== undefined
        ? { pagesArea: int(a.pagesArea, `${what} pagesArea`, VMALLOC_START, VMALLOC_END) }
        : {}),
    };
  });
  const lazy = list<VmapRangeState>(savedLazy ?? [], "vmallocLazy").map((r, i): VmapRange => {
    const what = `lazily freed vmalloc range ${i}`;
    if (typeof r !== "object" || r === null) fail(`${what}: not a map`);
    return {
      addr: int(r.addr, `${what} addr`, VMALLOC_START, VMALLOC_END),
      size: int(r.size, `${what} size`, 1, VMALLOC_END - VMALLOC_START + 1),
    };
  });
  const bad = badVmAreas(areas, lazy);
  if (bad) fail(bad);
  setVmAreas(k, areas, lazy);
}

/** Once physical memory is restored: each mm's page tables. */
export function adoptAll(mms: readonly Mm[], states: readonly MmState[]): void {
  for (const [i, mm] of mms.entries()) adoptPageTables(mm, states[i]!);
}

/** The SysV namespace and its segments (attached IPC_RMID'd ones included, outside the namespace). */
function restoreShm(k: Kernel, s: KernelState, inodes: readonly ShmemInode[]): ShmSegment[] {
  const st = s.shm ?? fail("shm: missing");
  const ns = shmIds(k);
  const f = list<number>(st.fields, "shm fields");
  if (f.length !== 8) fail("shm fields: expected 8 numbers");
  ns.seq = int(f[0], "shm seq");
  ns.lastIdx = int(f[1], "shm lastIdx", -1);
  ns.nextIndex = int(f[2], "shm nextIndex");
  ns.totPages = int(f[3], "shm totPages");
  ns.clock = int(f[4], "shm clock");
  ns.shmmax = int(f[5], "shm shmmax", 0, 2 ** 64);
  ns.shmall = int(f[6], "shm shmall", 0, 2 ** 64);
  ns.shmmni = int(f[7], "shm shmmni", 0, 2 ** 31);
  ns.byIndex.clear();
  return list<SegState>(st.segs, "shm segs").map((g, i) => {
    const what = `shm segment ${i}`;
    const seg = new ShmSegment(
      int(g?.id, `${what} id`, 0, 2 ** 31),
      int(g.origKey, `${what} key`, -(2 ** 31), 2 ** 32),
      int(g.seq, `${what} seq`),
      int(g.segsz, `${what} size`, 1, 2 ** 64),
      at(inodes, g.inode, `${what} inode`),
      int(g.cpid, `${what} cpid`),
      0,
    );
    const v = list<number>(g.fields, `${what} fields`);
    if (v.length !== 9) fail(`${what}: expected 9 fields`);
    const n = v.map((x, j) => int(x, `${what} field ${j}`, -(2 ** 31), 2 ** 53));
    [seg.key, seg.mode, seg.uid, seg.gid, seg.nattch, seg.lpid, seg.atime, seg.dtime, seg.ctime] = n as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    seg.destroyed = g.destroyed === true;
    if (g.hugetlbPageSize !== undefined) {
      if (g.hugetlbPageSize !== HPAGE_SIZE) fail(`${what}: no hstate of ${String(g.hugetlbPageSize)} bytes`);
      seg.hugetlbPageSize = HPAGE_SIZE;
    }
    if (!seg.destroyed) {
      if (ns.byIndex.has(seg.index)) fail(`${what}: index ${seg.index} taken twice`);
      ns.byIndex.set(seg.index, seg);
    }
    return seg;
  });
}

interface Tables {
  readonly segs: readonly ShmSegment[];
  readonly inodes: readonly ShmemInode[];
  readonly dirs: readonly TmpfsDir[];
  readonly regs: readonly TmpfsReg[];
  readonly sbs: readonly TmpfsSb[];
}

function restoreFile(k: Kernel, f: FileState, i: number, t: Tables): MmFile {
  const what = `file ${i}`;
  if (typeof f !== "object" || f === null) fail(`${what}: not a map`);
  if (f.k === "shmem") return restoreShmemFile(at(t.inodes, f.inode, `${what} inode`), f);
  if (f.k === "hugetlb") {
    if (f.hpage !== HPAGE_SIZE) fail(`${what}: no hstate of ${String(f.hpage)} bytes`);
    const file = new HugetlbFile(
      k.mem,
      int(f.size, `${what} size`, 0, 2 ** 64),
      HPAGE_SIZE,
      int(f.ino, `${what} ino`, 0, 2 ** 32),
    );
    file.refs = int(f.refs, `${what} refs`, 0, 2 ** 31);
    return file;
  }
  if (f.k === "shm") {
    const seg = at(t.segs, f.seg, `${what} segment`);
    const file = new ShmAttachFile(seg, shmVmOps(k, shmIds(k), seg), f.writable === true);
    file.refs = int(f.refs, `${what} refs`, 0, 2 ** 31);
    return file;
  }
  if (f.k !== "open") fail(`${what}: unknown kind ${String((f as { k: unknown }).k)}`);
  const flags = int(f.flags, `${what} flags`, 0, 2 ** 31);
  const owner = str(f.owner, `${what} owner`);
  const node = f.node as NodeRef;
  let file: OpenFile;
  switch (node?.t) {
    case "console":
      file = openConsole(k, flags);
      break;
    case "zero":
      file = newFile(k, zeroNode(k), zeroFops(), KERNEL, flags);
      break;
    case "dev": {
      const dev =
        k.chrdev.nodes.get(str(node.path, `${what} path`)) ??
        fail(`${what}: no /dev node ${node.path} on the restored machine (was its driver given?)`);
      const cdev = k.chrdev.lookup(dev.major, dev.minor) ?? fail(`${what}: no driver serves ${node.path}`);
      if (cdev.owner !== owner)
        fail(`${what}: ${node.path} is served by ${cdev.owner}, the snapshot says ${owner}`);
      const fnode: FileNode = {
        path: dev.path,
        sDev: DEVTMPFS_DEV,
        ino: dev.ino,
        major: dev.major,
        minor: dev.minor,
        mapping: dev.mapping,
      };
      file = newFile(k, fnode, cdev.fops, owner, flags);
      break;
    }
    case "proc": {
      const path = str(node.path, `${what} path`);
      if (!path.startsWith("/proc/")) fail(`${what}: not a /proc path`);
      const pid = int(node.pid, `${what} pid`, -1, 2 ** 31);
      const fops = procFops(() => procText(k, path, pid >= 0 ? (k.tasks.get(pid) ?? null) : null) ?? "");
      file = newFile(
        k,
        { path, sDev: [0, 0x16], ino: procIno(k, path), major: 0, minor: 0, mapping: procMapping(k, path) },
        fops,
        KERNEL,
        flags,
      );
      break;
    }
    case "reg": {
      const reg = at(t.regs, node.reg, `${what} tmpfs file`);
      const fops: FileOperations = node.opath
        ? {
            release: (_i, fl) => {
              shmemOf(fl as OpenFile)?.iput();
              return 0;
            },
          }
        : SHMEM_FOPS;
      file = newFile(k, regNode(reg), fops, KERNEL, flags);
      break;
    }
    case "dir": {
      const dir = at(t.dirs, node.dir, `${what} dir`);
      file = newFile(k, dirNode(dir.sb, dir, str(node.path, `${what} path`)), DIR_FOPS, KERNEL, flags);
      break;
    }
    case "anon": {
      const sb = at(t.sbs, node.sb, `${what} sb`);
      file = newFile(
        k,
        anonShmemNode(sb, at(t.inodes, node.inode, `${what} inode`), str(node.path, `${what} path`)),
        SHMEM_FOPS,
        KERNEL,
        flags,
      );
      break;
    }
    default:
      return fail(`${what}: unknown node ${JSON.stringify((node as { t?: unknown })?.t)}`);
  }
  file.fPos = int(f.pos, `${what} pos`, 0, 2 ** 64);
  (file as unknown as Counted).count = int(f.refs, `${what} refs`, 0, 2 ** 31);
  if (f.released) {
    file.released = true;
    k.files.delete(file);
  }
  const priv = f.priv as { b?: unknown; d?: unknown; v?: unknown } | null;
  if (priv !== null && priv !== undefined) {
    if (priv.b instanceof Uint8Array) file.privateData = priv.b;
    else file.privateData = restorePrivate(k, priv, what);
  }
  return file;
}

function restoreOps(k: Kernel, vma: Vma, saved: unknown): VmOperations {
  const o = saved as { k?: unknown; d?: unknown; n?: unknown };
  if (o?.k === "shmem") {
    const f = vma.vmFile;
    const inode = f instanceof ShmemFile ? f.inode : f ? shmemOf(f as OpenFile) : null;
    return inode?.vmOps ?? fail(`${vma}: shmem vm_ops on a file that is not shmem`);
  }
  if (o?.k === "hugetlb") {
    if (!(vma.vmFile instanceof HugetlbFile))
      return fail(`${vma}: hugetlb vm_ops on a file that is not hugetlbfs's`);
    return HUGETLB_VM_OPS;
  }
  if (o?.k === "shm") {
    const f = vma.vmFile;
    if (!(f instanceof ShmAttachFile)) return fail(`${vma}: SysV vm_ops on a file that is not a SysV attach`);
    return shmVmOps(k, shmIds(k), f.seg);
  }
  if (o?.k === "drv") {
    const name = str(o.d, `${vma} driver`);
    const def = k.drivers.get(name)?.def ?? fail(`${vma}: driver ${name} is not loaded`);
    const raw = Object.hasOwn(def.snapshot?.vmOps ?? {}, str(o.n, `${vma} vm_ops name`))
      ? def.snapshot!.vmOps![o.n as string]!
      : fail(`${vma}: driver ${name} names no vm_ops ${JSON.stringify(o.n)}`);
    const tmp = { vmOps: raw } as unknown as Vma;
    adoptVma(k, tmp, name);
    return tmp.vmOps!;
  }
  return fail(`${vma}: unknown vm_ops ${JSON.stringify(saved)}`);
}

function restorePrivate(k: Kernel, saved: unknown, what: string): unknown {
  const p = saved as { d?: unknown; v?: unknown };
  const name = str(p?.d, `${what} private data driver`);
  const def = k.drivers.get(name)?.def ?? fail(`${what}: driver ${name} is not loaded`);
  const hook = def.snapshot?.restorePrivate ?? fail(`${what}: driver ${name} has no restorePrivate hook`);
  return withKernel(k, () => hook(p.v));
}

function restoreTasks(k: Kernel, s: KernelState, mms: readonly Mm[], files: readonly MmFile[]): void {
  const states = list<TaskState>(s.tasks, "tasks");
  const byPid = new Map<number, Task>();
  const sighandStates = list<KernelState["sighands"][number]>(s.sighands, "sighands");
  const sighandDone = new Set<number>();
  let last = 0;
  for (const [i, st] of states.entries()) {
    const what = `task ${i}`;
    const pid = int(st?.pid, `${what} pid`, 1, 2 ** 22);
    if (pid <= last) fail(`${what}: pids must ascend`);
    last = pid;
    const tgid = int(st.tgid, `${what} tgid`, 1, pid);
    const leader =
      tgid === pid ? undefined : (byPid.get(tgid) ?? fail(`${what}: thread group leader ${tgid} missing`));
    const mm = at(mms, st.mm, `${what} mm`);
    if (leader && leader.mm !== mm) fail(`${what}: a thread with another mm than its leader`);
    k.nextPid = pid;
    const t = newTask(k, mm, null, str(st.comm, `${what} comm`), leader);
    byPid.set(pid, t);
    if (!["running", "zombie", "dead"].includes(st.state)) fail(`${what}: bad state`);
    t.state = st.state;
    t.exitCode = st.exitCode === null ? null : int(st.exitCode, `${what} exitCode`, -(2 ** 31), 2 ** 31);
    t.exitSignal = st.exitSignal === null ? null : (str(st.exitSignal, `${what} exitSignal`) as SignalName);
    t.waitStatus =
      st.waitStatus === null ? null : int(st.waitStatus, `${what} waitStatus`, -(2 ** 31), 2 ** 32);
    if (st.exitNotifySignal !== undefined)
      t.exitNotifySignal = int(st.exitNotifySignal, `${what} exitNotifySignal`, -1, 255);
    t.killPending = st.killPending === true;
    t.capIpcLock = st.capIpcLock !== false;
    t.capSysTime = st.capSysTime !== false;
    t.minflt = int(st.minflt, `${what} minflt`);
    t.majflt = int(st.majflt, `${what} majflt`);
    restoreCputime(t, st.cpu);
    if (t.state !== "running") mm.tlbClients.delete(t.mmu);
    const fds = list<number>(st.fds, `${what} fds`);
    if (fds.length % 3) fail(`${what}: fds must be triples`);
    if (!leader) {
      for (let j = 0; j < fds.length; j += 3) {
        const fd = int(fds[j], `${what} fd`, 0, 1023);
        t.fds.set(fd, at(files, fds[j + 1], `${what} fd ${fd} file`) as OpenFile);
        setCloseOnExec(t, fd, fds[j + 2] === 1);
      }
      const rlim = list<number>(st.rlim, `${what} rlim`);
      if (rlim.length !== t.rlim.length * 2) fail(`${what}: rlim must have ${t.rlim.length} pairs`);
      const r = t.rlim as { cur: number; max: number }[];
      for (let j = 0; j < r.length; j++)
        r[j] = Object.freeze({
          cur: int(rlim[2 * j], `${what} rlim`, -1),
          max: int(rlim[2 * j + 1], `${what} rlim`, -1),
        });
    }
    const sh = int(st.sighand, `${what} sighand`, 0, sighandStates.length - 1);
    if (!sighandDone.has(sh)) {
      sighandDone.add(sh);
      const actions = list<readonly [number, number, string]>(sighandStates[sh], `sighand ${sh}`);
      if (actions.length !== t.sighand.action.length)
        fail(`sighand ${sh}: expected ${t.sighand.action.length} actions`);
      actions.forEach((a, signo) => {
        t.sighand.action[signo] = Object.freeze({
          handler: int(a?.[0], `sighand ${sh} handler`, 0, 2 ** 64),
          flags: int(a[1], `sighand ${sh} flags`, -(2 ** 31), 2 ** 32),
          mask: big(a[2], `sighand ${sh} mask`),
        });
      });
    }
    const sig = t.sig;
    sig.blocked = big(st.blocked, `${what} blocked`);
    sig.pending = big(st.pending, `${what} pending`);
    sig.queue.push(...(list(st.queue, `${what} queue`) as typeof sig.queue));
    const frame = (f: unknown) => {
      const fr = f as { signo: unknown; handler: unknown; info: unknown; saved: unknown };
      return {
        signo: int(fr?.signo, `${what} frame`),
        handler: int(fr.handler, `${what} frame handler`),
        info: fr.info as never,
        saved: big(fr.saved, `${what} frame mask`),
      };
    };
    sig.frames.push(...list(st.frames, `${what} frames`).map(frame));
    sig.active.push(...list(st.active, `${what} active`).map(frame));
    sig.handled.push(...(list(st.handled, `${what} handled`) as typeof sig.handled));
    sig.handledCount = int(st.handledCount, `${what} handledCount`);
    sig.quietFault = st.quietFault === true;
  }
  for (const [i, st] of states.entries()) {
    const t = byPid.get(st.pid)!;
    t.parent =
      st.parent === -1 ? null : (byPid.get(st.parent) ?? fail(`task ${i}: parent ${st.parent} missing`));
  }
  k.nextPid = int(s.nextPid, "nextPid", last + 1, 2 ** 22 + 1);
}

function restoreScalars(k: Kernel, s: KernelState): void {
  k.consoleText = str(s.consoleText, "consoleText");
  const log = s.log ?? fail("log: missing");
  const records = list<readonly [number, number, string]>(log.records, "log records").map((r) => ({
    level: int(r?.[0], "log level", 0, 7),
    seq: int(r[1], "log seq"),
    text: str(r[2], "log text"),
  }));
  k.log.restore(records, int(log.nextSeq, "log nextSeq"), int(log.dropped, "log dropped"));
  k.oopses.length = 0;
  for (const o of list<KernelState["oopses"][number]>(s.oopses, "oopses"))
    k.oopses.push({
      driver: str(o?.driver, "oops driver"),
      callback: str(o.callback, "oops callback"),
      error: new Error(str(o.error, "oops error")),
      pid: o.pid === null ? null : int(o.pid, "oops pid"),
    });
  k.badPages.length = 0;
  k.badPages.push(...(list(s.badPages, "badPages") as typeof k.badPages));
  const pairs = (v: unknown, what: string, into: Map<number, number>) => {
    into.clear();
    const a = list<number>(v, what);
    if (a.length % 2) fail(`${what}: expected pfn, count pairs`);
    for (let i = 0; i < a.length; i += 2)
      into.set(
        int(a[i], `${what} pfn`, 0, k.mem.maxPfn - 1),
        int(a[i + 1], `${what} count`, -(2 ** 31), 2 ** 31),
      );
  };
  pairs(s.driverRefs, "driverRefs", k.driverRefs);
  pairs(s.pins, "pins", gupPins(k));
  const deadPgdRefs = k.kernelRefs.get(k.deadPgd);
  pairs(s.kernelRefs, "kernelRefs", k.kernelRefs);
  if (k.kernelRefs.get(k.deadPgd) !== deadPgdRefs)
    fail("kernelRefs: the dead PGD is not where this machine boots it");
  k.unreferencedFaultPages.clear();
  for (const u of list<readonly [number, string, string]>(s.unreferencedFaultPages, "unreferencedFaultPages"))
    k.unreferencedFaultPages.set(int(u?.[0], "unreferenced page pfn"), {
      driver: str(u[1], "driver"),
      callback: str(u[2], "callback"),
    });
  const inos = list<string | number>(s.procInos, "procInos");
  k.procInos.clear();
  for (let i = 0; i + 1 < inos.length; i += 2)
    k.procInos.set(str(inos[i], "proc path"), int(inos[i + 1], "proc ino", 0, 2 ** 32));
  k.nextProcIno = int(s.nextProcIno, "nextProcIno", 0, 2 ** 32);
}
