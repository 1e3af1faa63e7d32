/**
 * ipc/shm.c: shmget(2), shmat(2), shmdt(2), shmctl(2) and /proc/sysvipc/shm. A segment is a shmem
 * inode on shm_mnt (shmem_kernel_file_setup); each attach is a struct file of its own ("/SYSV%08x
 * (deleted)", 00:01, the inode's number) mapped MAP_SHARED, whose vm_ops count shm_nattch: fork adds
 * attaches, exit and munmap remove them, and a segment IPC_RMID marked goes with its last detach.
 */
import {
  type AddressSpaceMapping,
  HUGETLB_VM_OPS,
  HUGETLBFS_DEV_MINOR,
  hstateSizelog,
  hugeAlign,
  type MmFile,
  markHugetlbVma,
  ShmemInode,
  type Vma,
  type VmOperations,
} from "@faultline/mm";
import {
  EEXIST,
  EFAULT,
  EINVAL,
  ENOENT,
  ENOMEM,
  ENOSPC,
  EPERM,
  IPC_CREAT,
  IPC_EXCL,
  IPC_INFO,
  IPC_PRIVATE,
  IPC_RMID,
  IPC_SET,
  IPC_STAT,
  MAP_FIXED,
  MAP_SHARED,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
  SHM_DEST,
  SHM_EXEC,
  SHM_HUGE_MASK,
  SHM_HUGE_SHIFT,
  SHM_HUGETLB,
  SHM_INFO,
  SHM_NORESERVE,
  SHM_RDONLY,
  SHM_REMAP,
  SHM_RND,
  SHM_STAT,
  SHM_STAT_ANY,
  SHMLBA,
  SHMMIN,
} from "../constants";
import { IPC_MIN_CYCLE, IPCID_SEQ_MAX, IPCMNI_SHIFT, type ShmIds, ShmSegment, shmIds } from "./ipc-shm-state";
import type { Kernel, Task } from "./kernel";

const PAGE = 4096;

/** struct ipc64_perm as IPC_STAT reports it. */
export interface IpcPerm {
  readonly key: number;
  readonly uid: number;
  readonly gid: number;
  readonly cuid: number;
  readonly cgid: number;
  readonly mode: number;
  readonly seq: number;
}

/** struct shmid64_ds (times are event counts: the machine has no wall clock). */
export interface ShmidDs {
  readonly shmPerm: IpcPerm;
  readonly shmSegsz: number;
  readonly shmAtime: number;
  readonly shmDtime: number;
  readonly shmCtime: number;
  readonly shmCpid: number;
  readonly shmLpid: number;
  readonly shmNattch: number;
}

/** struct shminfo64 (IPC_INFO). */
export interface ShmInfo {
  readonly shmmax: number;
  readonly shmmin: number;
  readonly shmmni: number;
  readonly shmseg: number;
  readonly shmall: number;
}

const segOps = new WeakMap<ShmSegment, VmOperations>();

/** shm_destroy(): the segment leaves the namespace and drops its inode (pages go with the last holder). */
function shmDestroy(ns: ShmIds, seg: ShmSegment): void {
  if (seg.destroyed) return;
  seg.destroyed = true;
  ns.byIndex.delete(seg.index);
  ns.totPages -= Math.ceil(seg.segsz / PAGE);
  seg.inode.iput();
}

/**
 * shm_vm_ops: open/close count attaches (shm_open, shm_close); faults, splits and the page size are
 * the segment file's (shm_fault, shm_may_split, shm_pagesize): shmem's, or hugetlbfs's for SHM_HUGETLB.
 */
export function shmVmOps(k: Kernel, ns: ShmIds, seg: ShmSegment): VmOperations {
  let ops = segOps.get(seg);
  if (!ops) {
    const counts = {
      open: () => {
        seg.nattch++;
        seg.atime = ++ns.clock;
        seg.lpid = k.current?.pid ?? 0;
      },
      close: () => {
        seg.nattch--;
        seg.dtime = ++ns.clock;
        seg.lpid = k.current?.pid ?? 0;
        // shm_may_destroy(): marked with IPC_RMID and no attach left.
        if (seg.nattch === 0 && seg.mode & SHM_DEST) shmDestroy(ns, seg);
      },
    };
    ops = seg.hugetlbPageSize
      ? { ...HUGETLB_VM_OPS, ...counts }
      : { ...counts, fault: (vmf) => seg.inode.fault(vmf) };
    segOps.set(seg, ops);
  }
  return ops;
}

/** The struct file of one attach (shm_file_data): the maps name keeps the segment's original key. */
export class ShmAttachFile implements MmFile {
  readonly path: string;
  readonly devMajor = 0;
  /** shm_mnt's 00:01, or the hugetlbfs mount's for a SHM_HUGETLB segment. */
  readonly devMinor: number;
  readonly ino: number;
  /** is_file_shm_hugepages(): a SHM_HUGETLB segment's attach is a hugetlbfs file to mm. */
  readonly hugetlbPageSize?: number;
  readonly mapping: AddressSpaceMapping;
  readonly readable = true;
  readonly writable: boolean;
  readonly mmap: (vma: Vma) => number;
  /** References held (the VMAs of this attach). */
  refs = 0;

  constructor(
    readonly seg: ShmSegment,
    ops: VmOperations,
    writable: boolean,
  ) {
    this.path = `/SYSV${(seg.origKey >>> 0).toString(16).padStart(8, "0")} (deleted)`;
    this.ino = seg.inode.ino;
    this.mapping = seg.inode.mapping;
    this.writable = writable;
    this.devMinor = seg.hugetlbPageSize ? HUGETLBFS_DEV_MINOR : 1;
    if (seg.hugetlbPageSize) this.hugetlbPageSize = seg.hugetlbPageSize;
    // shm_mmap(): the segment file's mmap (hugetlbfs_file_mmap() makes the VMA VM_HUGETLB |
    // VM_DONTEXPAND and reserves nothing: shmget did, S_PRIVATE), then shm_open() counts the attach.
    this.mmap = (vma) => {
      if (seg.hugetlbPageSize) markHugetlbVma(vma);
      vma.vmOps = ops;
      ops.open?.(vma);
      return 0;
    };
  }
  get(): void {
    this.refs++;
  }
  put(): void {
    this.refs--;
  }
}

/**
 * shmget(2) (ksys_shmget → ipcget): IPC_PRIVATE always makes a segment; a key finds its segment
 * (-EEXIST with IPC_CREAT|IPC_EXCL, -EINVAL when smaller than `size`) or, with IPC_CREAT, makes one
 * (-ENOENT without). newseg(): -EINVAL outside [SHMMIN, SHMMAX], -ENOSPC past SHMALL or SHMMNI.
 */
export function sysShmget(k: Kernel, t: Task, key: number, size: number, shmflg: number): number {
  const ns = shmIds(k);
  if (key !== IPC_PRIVATE) {
    const seg = ns.byKey(key);
    if (seg) {
      if (shmflg & IPC_CREAT && shmflg & IPC_EXCL) return -EEXIST;
      // shm_more_checks()
      if (seg.segsz < size) return -EINVAL;
      return seg.id;
    }
    if (!(shmflg & IPC_CREAT)) return -ENOENT;
  }
  // size is a size_t: a negative value is huge.
  const sz = size < 0 ? size + 2 ** 64 : size;
  if (sz < SHMMIN || sz > ns.shmmax) return -EINVAL;
  const pages = Math.ceil(sz / PAGE);
  if (ns.totPages + pages < ns.totPages || ns.totPages + pages > ns.shmall) return -ENOSPC;
  let hugetlbPageSize = 0;
  if (shmflg & SHM_HUGETLB) {
    // hstate_sizelog() (-EINVAL for a size with no hstate), then hugetlb_file_setup(HUGETLB_SHMFS_INODE):
    // can_do_hugetlb_shm() (CAP_IPC_LOCK; -EPERM), and hugetlb_reserve_pages() for ALIGN(size, huge
    // page), which the machine's empty pool refuses (-ENOMEM) unless SHM_NORESERVE.
    hugetlbPageSize = hstateSizelog((shmflg >>> SHM_HUGE_SHIFT) & SHM_HUGE_MASK);
    if (!hugetlbPageSize) return -EINVAL;
    if (!t.capIpcLock) return -EPERM;
    if (!(shmflg & SHM_NORESERVE)) return -ENOMEM;
  } else if (!(shmflg & SHM_NORESERVE) && pages > k.mem.totalRamPages) {
    // shmem_kernel_file_setup() charges the pages unless SHM_NORESERVE: the heuristic overcommit check
    // refuses one larger than all of RAM (__vm_enough_memory, no swap).
    return -ENOMEM;
  }
  // ipc_addid(), after the file is made: SHMMNI segments at most.
  if (ns.byIndex.size >= ns.shmmni) return -ENOSPC;
  // ipc_idr_alloc(): idr_alloc_cyclic() below max(in_use * 3/2, 64) (capped at SHMMNI); the sequence
  // number moves on when the index wraps around.
  const maxIdx = Math.min(Math.max(Math.floor((ns.byIndex.size * 3) / 2), IPC_MIN_CYCLE), ns.shmmni);
  let index = -1;
  for (let i = 0; i < maxIdx; i++) {
    const cand = (ns.nextIndex + i) % maxIdx;
    if (!ns.byIndex.has(cand)) {
      index = cand;
      break;
    }
  }
  if (index < 0) return -ENOSPC;
  if (index <= ns.lastIdx) ns.seq = (ns.seq + 1) % IPCID_SEQ_MAX;
  ns.lastIdx = index;
  ns.nextIndex = index + 1;
  const seq = ns.seq;
  const id = seq * (1 << IPCMNI_SHIFT) + index;
  // newseg(): the inode number of a segment's file is its id.
  const sb = k.shmMnt;
  const inode = new ShmemInode(k.mem, sb.blocks, "SYSV", id);
  inode.size = sz;
  inode.iget();
  sb.inodes.add(inode);
  const seg = new ShmSegment(id, key, seq, sz, inode, t.pid, shmflg & 0o777);
  seg.hugetlbPageSize = hugetlbPageSize;
  seg.ctime = ++ns.clock;
  ns.byIndex.set(index, seg);
  ns.totPages += pages;
  return id;
}

/**
 * do_shmat(): an unaligned address is rounded down with SHM_RND and -EINVAL without; SHM_REMAP needs an
 * address; without it the range must be free (-EINVAL); SHM_RDONLY maps PROT_READ only. Returns the
 * address (MAP_SHARED of the whole segment) or -errno.
 */
export function sysShmat(k: Kernel, t: Task, shmid: number, shmaddr: number, shmflg: number): number {
  if (shmid < 0) return -EINVAL;
  let addr = shmaddr;
  let flags = MAP_SHARED;
  if (addr) {
    if (addr % SHMLBA) {
      if (!(shmflg & SHM_RND)) return -EINVAL;
      addr -= addr % SHMLBA;
      if (!addr && shmflg & SHM_REMAP) return -EINVAL;
    }
    if (addr) flags |= MAP_FIXED;
  } else if (shmflg & SHM_REMAP) return -EINVAL;
  const rdonly = (shmflg & SHM_RDONLY) !== 0;
  let prot = rdonly ? PROT_READ : PROT_READ | PROT_WRITE;
  if (shmflg & SHM_EXEC) prot |= PROT_EXEC;
  const ns = shmIds(k);
  const seg = ns.lookup(shmid);
  if (!seg) return -EINVAL;
  // do_shmat() maps the file's i_size: a SHM_HUGETLB segment's is whole huge pages.
  const size = seg.hugetlbPageSize ? hugeAlign(seg.segsz, seg.hugetlbPageSize) : seg.segsz;
  if (addr && !(shmflg & SHM_REMAP)) {
    const v = t.mm.vmas.find(addr);
    if (v && v.vmStart < addr + Math.ceil(size / PAGE) * PAGE) return -EINVAL;
  }
  const file = new ShmAttachFile(seg, shmVmOps(k, ns, seg), !rdonly);
  // do_shmat() holds an attach across do_mmap so a concurrent IPC_RMID cannot destroy the segment.
  seg.nattch++;
  const r = t.mm.mmap(addr, size, prot, flags, file, 0);
  seg.nattch--;
  if (seg.nattch === 0 && seg.mode & SHM_DEST) shmDestroy(ns, seg);
  return r;
}

/**
 * shmdt(2): detaches the attach that starts at `shmaddr` (every VMA of it, also split pieces, within the
 * segment's size); -EINVAL for an unaligned address or when no attach starts there.
 */
export function sysShmdt(_k: Kernel, t: Task, shmaddr: number): number {
  if (shmaddr % PAGE) return -EINVAL;
  const mm = t.mm;
  let file: MmFile | null = null;
  let size = 0;
  const targets: Vma[] = [];
  for (let v = mm.vmas.find(shmaddr); v; v = mm.vmas.find(v.vmEnd)) {
    const isShm = v.vmFile instanceof ShmAttachFile;
    if (!file) {
      if (isShm && (v.vmStart - shmaddr) / PAGE === v.vmPgoff) {
        file = v.vmFile;
        size = (v.vmFile as ShmAttachFile).seg.segsz;
        targets.push(v);
      }
      continue;
    }
    if (v.vmStart >= shmaddr + size) break;
    if (v.vmFile === file && (v.vmStart - shmaddr) / PAGE === v.vmPgoff) targets.push(v);
  }
  if (!file) return -EINVAL;
  for (const v of targets) mm.munmap(v.vmStart, v.vmEnd - v.vmStart);
  return 0;
}

function statOf(seg: ShmSegment): ShmidDs {
  return {
    shmPerm: {
      key: seg.key,
      uid: seg.uid,
      gid: seg.gid,
      cuid: seg.cuid,
      cgid: seg.cgid,
      mode: seg.mode,
      seq: seg.seq,
    },
    shmSegsz: seg.segsz,
    shmAtime: seg.atime,
    shmDtime: seg.dtime,
    shmCtime: seg.ctime,
    shmCpid: seg.cpid,
    shmLpid: seg.lpid,
    shmNattch: seg.nattch,
  };
}

/**
 * shmctl(2): IPC_STAT / SHM_STAT / SHM_STAT_ANY (struct shmid64_ds), IPC_INFO (struct shminfo64),
 * SHM_INFO (the highest index in use), IPC_SET (uid, gid, permission bits), IPC_RMID (destroyed now, or when the last attach goes: the key
 * becomes IPC_PRIVATE and SHM_DEST is set). Others: -EINVAL.
 */
export function sysShmctl(
  k: Kernel,
  _t: Task,
  shmid: number,
  cmd: number,
  buf: { readonly uid: number; readonly gid: number; readonly mode: number } | null,
): ShmidDs | ShmInfo | number {
  const ns = shmIds(k);
  switch (cmd) {
    case IPC_INFO:
      return { shmmax: ns.shmmax, shmmin: SHMMIN, shmmni: ns.shmmni, shmseg: ns.shmmni, shmall: ns.shmall };
    case SHM_INFO: {
      let max = -1;
      for (const i of ns.byIndex.keys()) if (i > max) max = i;
      return Math.max(max, 0);
    }
    case SHM_STAT:
    case SHM_STAT_ANY: {
      // shmid is an index here.
      const seg = ns.byIndex.get(shmid);
      return seg ? statOf(seg) : -EINVAL;
    }
    case IPC_STAT: {
      if (shmid < 0) return -EINVAL;
      const seg = ns.lookup(shmid);
      return seg ? statOf(seg) : -EINVAL;
    }
    case IPC_SET: {
      // shmctl_down(): the buffer is read first (-EFAULT for NULL), then the id looked up;
      // ipc_update_perm() takes uid, gid and the permission bits, keeping SHM_DEST/SHM_LOCKED.
      if (shmid < 0) return -EINVAL;
      if (!buf) return -EFAULT;
      const seg = ns.lookup(shmid);
      if (!seg) return -EINVAL;
      seg.uid = buf.uid;
      seg.gid = buf.gid;
      seg.mode = (seg.mode & ~0o777) | (buf.mode & 0o777);
      seg.ctime = ++ns.clock;
      return 0;
    }
    case IPC_RMID: {
      if (shmid < 0) return -EINVAL;
      const seg = ns.lookup(shmid);
      if (!seg) return -EINVAL;
      if (seg.nattch) {
        seg.mode |= SHM_DEST;
        seg.key = IPC_PRIVATE;
      } else shmDestroy(ns, seg);
      return 0;
    }
    default:
      return -EINVAL;
  }
}

/** /proc/sysvipc/shm (sysvipc_shm_proc_show): one line per segment, in index order. */
export function procSysvipcShm(k: Kernel): string {
  const ns = shmIds(k);
  let out =
    "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n";
  const p = (v: number, w: number) => String(v).padStart(w);
  for (const i of [...ns.byIndex.keys()].sort((a, b) => a - b)) {
    const s = ns.byIndex.get(i)!;
    out += `${p(s.key | 0, 10)} ${p(s.id, 10)}  ${s.mode.toString(8).padStart(4)} ${p(s.segsz, 21)} ${p(s.cpid, 5)} ${p(s.lpid, 5)}  ${p(s.nattch, 5)} ${p(s.uid, 5)} ${p(s.gid, 5)} ${p(s.cuid, 5)} ${p(s.cgid, 5)} ${p(s.atime, 10)} ${p(s.dtime, 10)} ${p(s.ctime, 10)} ${p(s.inode.nrPages * PAGE, 21)} ${p(0, 21)}\n`;
  }
  return out;
}
