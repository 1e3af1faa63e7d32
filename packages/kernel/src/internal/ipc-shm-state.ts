/**
 * ipc/shm.c's state: the segments of the machine's IPC namespace (struct shmid_kernel in an idr),
 * each on a shmem inode of shm_mnt, and the namespace's limits (shm_ctlmax, shm_ctlall, shm_ctlmni).
 * State only; the syscalls are in ipc-shm.ts.
 */
import type { ShmemInode } from "@faultline/mm";
import type { Kernel } from "./kernel";

/** IPCMNI_SHIFT: a SysV id is (seq << 15) + index (ipc_buildid). */
export const IPCMNI_SHIFT = 15;
/** ipc_min_cycle (RADIX_TREE_MAP_SIZE): indices cycle through at least this many before reuse. */
export const IPC_MIN_CYCLE = 64;
/** ipcid_seq_max(): INT_MAX >> IPCMNI_SHIFT. */
export const IPCID_SEQ_MAX = Math.floor((2 ** 31 - 1) / 2 ** IPCMNI_SHIFT);

/** struct shmid_kernel */
export class ShmSegment {
  /** shm_perm.key; IPC_PRIVATE once IPC_RMID marked it for destruction. */
  key: number;
  /** shm_perm.mode: the permission bits, SHM_DEST, SHM_LOCKED. */
  mode: number;
  uid = 0;
  gid = 0;
  readonly cuid = 0;
  readonly cgid = 0;
  /** shm_nattch: VMAs attached (each vm_ops->open adds one, each ->close takes one). */
  nattch = 0;
  /** shm_cprid, shm_lprid. */
  lpid = 0;
  /** shm_atim, shm_dtim, shm_ctim: the machine has no wall clock, so these count events instead. */
  atime = 0;
  dtime = 0;
  ctime = 0;
  destroyed = false;
  /**
   * The huge page size of a SHM_HUGETLB segment (its file is hugetlbfs's: attaches are hugetlb VMAs of
   * whole huge pages, and with the machine's empty pool every fault is SIGBUS); 0 for shmem.
   */
  hugetlbPageSize = 0;

  constructor(
    readonly id: number,
    /** The original key (the /SYSV%08x name of its file keeps it after IPC_RMID). */
    readonly origKey: number,
    readonly seq: number,
    /** shm_segsz in bytes. */
    readonly segsz: number,
    readonly inode: ShmemInode,
    readonly cpid: number,
    mode: number,
  ) {
    this.key = origKey;
    this.mode = mode;
  }

  get index(): number {
    return this.id & ((1 << IPCMNI_SHIFT) - 1);
  }
}

/** The IPC namespace's shm side (struct ipc_namespace: ids[IPC_SHM_IDS], shm_ctl*, shm_tot). */
export class ShmIds {
  readonly byIndex = new Map<number, ShmSegment>();
  /** ids->seq: bumped each time the allocated index wraps around (ipc_idr_alloc). */
  seq = 0;
  /** ids->last_idx. */
  lastIdx = -1;
  /** idr_alloc_cyclic's next index. */
  nextIndex = 0;
  /** shm_tot: pages of all segments. */
  totPages = 0;
  /** The event counter the *time fields use. */
  clock = 0;
  shmmax = 2 ** 64 - 2 ** 24;
  shmall = 2 ** 64 - 2 ** 24;
  shmmni = 4096;

  /** The segment `id` names (index and sequence number both match), or undefined (-EINVAL). */
  lookup(id: number): ShmSegment | undefined {
    if (id < 0) return undefined;
    const s = this.byIndex.get(id & ((1 << IPCMNI_SHIFT) - 1));
    return s && s.id === id ? s : undefined;
  }

  byKey(key: number): ShmSegment | undefined {
    for (const s of this.byIndex.values()) if (s.key === key) return s;
    return undefined;
  }
}

const namespaces = new WeakMap<Kernel, ShmIds>();

/** The machine's shm namespace, created on first use. */
export function shmIds(k: Kernel): ShmIds {
  let ns = namespaces.get(k);
  if (!ns) {
    ns = new ShmIds();
    namespaces.set(k, ns);
  }
  return ns;
}

/** The inode references the segments hold (one each), for the audit. */
export function sysvShmHolds(k: Kernel): Map<ShmemInode, number> {
  const out = new Map<ShmemInode, number>();
  const ns = namespaces.get(k);
  if (ns) for (const s of ns.byIndex.values()) out.set(s.inode, (out.get(s.inode) ?? 0) + 1);
  return out;
}
