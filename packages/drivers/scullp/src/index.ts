/**
 * scullp (LDD3 ch. 8 and 15, martinezjavier/ldd3 scullp/{main,mmap}.c): a memory device made of
 * whole pages. Its data is a list of quantum sets; each set holds `qset` pointers to quanta of
 * PAGE_SIZE << order bytes from the page allocator. write() fills it, read() reads it, and mmap
 * serves the same pages to user space from a fault handler, counting live mappings in `vmas` so the
 * device is never trimmed under a mapping.
 */
import {
  allocPages,
  DRIVER_API_VERSION,
  type DriverContext,
  type DriverDefinition,
  defineDriver,
  EBUSY,
  EFAULT,
  EINVAL,
  ENODEV,
  ENOMEM,
  ENOTTY,
  type File,
  type FileOperations,
  freePages,
  GFP_KERNEL,
  getPage,
  type Inode,
  O_ACCMODE,
  O_TRUNC,
  O_WRONLY,
  PAGE_SIZE,
  pageAddress,
  pageBytes,
  pageToPfn,
  pfnToPage,
  SEEK_CUR,
  SEEK_END,
  SEEK_SET,
  VM_FAULT_SIGBUS,
  VM_RESERVED,
  type Vma,
  type VmFault,
  type VmOperations,
  virtToPage,
  vmFlagsSet,
} from "@faultline/kernel";

/** SCULLP_ORDER and SCULLP_QSET of scullp.h. */
export const SCULLP_ORDER = 0;
export const SCULLP_QSET = 500;
export const SCULLP_DEVS = 4;

/** ioctl numbers (_IO('K', n) of scullp.h; TRIM is Faultline's, scullp trims on open for writing). */
const SCULLP_IOC_MAGIC = 0x4b;
const _IO = (nr: number) => (SCULLP_IOC_MAGIC << 8) | nr;
/** Resets order and qset to the module parameters. */
export const SCULLP_IOCRESET = _IO(0);
/** "Tell": sets the order used from the next trim on (arg is the value). */
export const SCULLP_IOCTORDER = _IO(2);
/** "Query": returns the current order. */
export const SCULLP_IOCQORDER = _IO(4);
/** Frees the device's data now; -EBUSY while it is mapped. */
export const SCULLP_IOCTRIM = _IO(15);

/** Options of the `scullp` driver. */
export interface ScullpOptions {
  /** scullp_order: allocation order of each quantum (mmap refuses anything but 0 with -ENODEV). */
  readonly order?: number;
  /** scullp_qset: quanta per set. */
  readonly qset?: number;
  /** scullp_devs: how many /dev/scullpN. */
  readonly devices?: number;
}

/** One quantum set (struct scullp_dev used as list node): kernel addresses of the quanta. */
interface Qset {
  data: Array<number | null> | null;
  next: Qset | null;
}

/** struct scullp_dev. */
export interface ScullpDev {
  readonly index: number;
  /** Order of the quanta the data was allocated with. */
  order: number;
  qset: number;
  /** Bytes of data. */
  size: number;
  /** Live mappings (vm_ops open minus close). */
  vmas: number;
  /** @internal the list of quantum sets */
  list: Qset | null;
}

export interface ScullpDriver extends DriverDefinition {
  /** The devices, for tests and for the curious. */
  readonly devices: readonly ScullpDev[];
}

/** LDD3 chapter 15's scullp: a scull device whose memory is whole pages, mappable with a fault handler. */
export function scullp(options: ScullpOptions = {}): ScullpDriver {
  const paramOrder = options.order ?? SCULLP_ORDER;
  const paramQset = options.qset ?? SCULLP_QSET;
  const ndevs = options.devices ?? SCULLP_DEVS;
  let scullpOrder = paramOrder;
  let scullpQset = paramQset;
  let major = 0;
  /**
   * LDD3's scullp_mmap sets VM_RESERVED, as 2.6.10 drivers did (keep the pages out of swap-out; here:
   * the VMA never merges, and mremap may still grow it). v3.7 killed the flag (commit 314e51b9851b) and
   * the modern port dropped the line (martinezjavier/ldd3 commit 290fa172) rather than take
   * VM_DONTEXPAND | VM_DONTDUMP, so a mapping can still grow with mremap today. Set by init, per era.
   */
  let setsReserved = false;
  const devs: ScullpDev[] = [];
  for (let i = 0; i < ndevs; i++) {
    devs.push({ index: i, order: scullpOrder, qset: scullpQset, size: 0, vmas: 0, list: null });
  }

  /** scullp_trim: frees every quantum; refused while mapped. */
  const trim = (dev: ScullpDev): number => {
    if (dev.vmas) return -EBUSY; // don't trim: there are active mappings
    for (let d = dev.list; d; d = d.next) {
      for (const addr of d.data ?? []) if (addr !== null) freePages(virtToPage(addr), dev.order);
    }
    dev.list = null;
    dev.size = 0;
    dev.order = scullpOrder;
    dev.qset = scullpQset;
    return 0;
  };

  /** scullp_follow: the item-th quantum set, allocating list nodes on the way. */
  const follow = (dev: ScullpDev, item: number): Qset => {
    if (!dev.list) dev.list = { data: null, next: null };
    let q = dev.list;
    while (item--) {
      if (!q.next) q.next = { data: null, next: null };
      q = q.next;
    }
    return q;
  };

  /** The quantum holding byte `pos`, or null (a hole, or past the list). */
  const quantumAt = (dev: ScullpDev, pos: number): { addr: number; qPos: number; quantum: number } | null => {
    const quantum = PAGE_SIZE * 2 ** dev.order;
    const itemsize = quantum * dev.qset;
    let item = Math.floor(pos / itemsize);
    const rest = pos % itemsize;
    let q = dev.list;
    while (q && item--) q = q.next;
    const addr = q?.data?.[Math.floor(rest / quantum)] ?? null;
    return addr === null ? null : { addr, qPos: rest % quantum, quantum };
  };

  const vmOps: VmOperations = {
    open(vma: Vma) {
      (vma.vmPrivateData as ScullpDev).vmas++;
    },
    close(vma: Vma) {
      (vma.vmPrivateData as ScullpDev).vmas--;
    },
    /** scullp_vma_nopage: the page holding the faulting offset, with a reference for the mapping. */
    fault(vmf: VmFault): number {
      const vma = vmf.vma;
      const dev = vma.vmPrivateData as ScullpDev;
      const offset = vmf.address - vma.vmStart + vma.vmPgoff * PAGE_SIZE;
      if (offset >= dev.size) return VM_FAULT_SIGBUS; // out of range
      // The device is order 0 (mmap checks), so each quantum is one page.
      const at = quantumAt(dev, offset);
      if (!at) return VM_FAULT_SIGBUS; // a hole in the file
      const page = virtToPage(at.addr);
      getPage(page);
      vmf.page = page;
      return 0;
    },
  };

  /**
   * The driver's state for a machine snapshot: the module parameters in force and each device's
   * order, qset, size, live mappings and quantum sets (each quantum as its page's pfn, -1 for none).
   */
  const saveState = () => ({
    order: scullpOrder,
    qset: scullpQset,
    devs: devs.map((d) => {
      const sets: Array<number[] | null> = [];
      for (let q = d.list; q; q = q.next)
        sets.push(q.data ? q.data.map((a) => (a === null ? -1 : pageToPfn(virtToPage(a)))) : null);
      return { order: d.order, qset: d.qset, size: d.size, vmas: d.vmas, sets };
    }),
  });

  const restoreState = (state: unknown): void => {
    const s = state as ReturnType<typeof saveState>;
    const int = (v: unknown, what: string, min = 0): number => {
      if (typeof v !== "number" || !Number.isInteger(v) || v < min)
        throw new TypeError(`scullp state: ${what}`);
      return v;
    };
    if (!s || !Array.isArray(s.devs) || s.devs.length !== devs.length)
      throw new TypeError(`scullp state: expected ${devs.length} devices`);
    scullpOrder = int(s.order, "order");
    scullpQset = int(s.qset, "qset", 1);
    s.devs.forEach((d, i) => {
      const dev = devs[i]!;
      dev.order = int(d?.order, "device order");
      dev.qset = int(d.qset, "device qset", 1);
      dev.size = int(d.size, "device size");
      dev.vmas = int(d.vmas, "device vmas");
      if (!Array.isArray(d.sets)) throw new TypeError("scullp state: sets");
      let head: Qset | null = null;
      let tail: Qset | null = null;
      for (const set of d.sets) {
        if (set !== null && !Array.isArray(set)) throw new TypeError("scullp state: a quantum set");
        const q: Qset = {
          data:
            set === null
              ? null
              : set.map((pfn) => (int(pfn, "quantum pfn", -1) < 0 ? null : pageAddress(pfnToPage(pfn)))),
          next: null,
        };
        if (tail) tail.next = q;
        else head = q;
        tail = q;
      }
      dev.list = head;
    });
  };

  const fops: FileOperations = {
    open(inode: Inode, file: File): number {
      const dev = devs[inode.minor];
      if (!dev) return -ENODEV;
      file.privateData = dev;
      // Opened write-only (or with O_TRUNC for writing): trim the device to zero length.
      if ((file.fFlags & O_ACCMODE) === O_WRONLY || (file.fFlags & O_TRUNC && file.fFlags & O_ACCMODE)) {
        const r = trim(dev);
        if (r < 0) return r;
      }
      return 0;
    },
    release: () => 0,
    /** scullp_llseek */
    llseek(file: File, off: number, whence: number): number {
      const dev = file.privateData as ScullpDev;
      let newpos: number;
      switch (whence) {
        case SEEK_SET:
          newpos = off;
          break;
        case SEEK_CUR:
          newpos = file.fPos + off;
          break;
        case SEEK_END:
          newpos = dev.size + off;
          break;
        default:
          return -EINVAL;
      }
      if (newpos < 0) return -EINVAL;
      file.fPos = newpos;
      return newpos;
    },
    read(file: File, buf: Uint8Array, ppos: { value: number }): number {
      const dev = file.privateData as ScullpDev;
      if (ppos.value >= dev.size) return 0;
      let count = Math.min(buf.length, dev.size - ppos.value);
      const at = quantumAt(dev, ppos.value);
      if (!at) return 0; // don't fill holes
      // Read only up to the end of this quantum (and of its page: a short read is fine).
      count = Math.min(count, at.quantum - at.qPos, PAGE_SIZE - (at.qPos % PAGE_SIZE));
      buf.set(bytesAt(at.addr, at.qPos, count));
      ppos.value += count;
      return count;
    },
    write(file: File, buf: Uint8Array, ppos: { value: number }): number {
      const dev = file.privateData as ScullpDev;
      const quantum = PAGE_SIZE * 2 ** dev.order;
      const itemsize = quantum * dev.qset;
      const pos = ppos.value;
      const item = Math.floor(pos / itemsize);
      const rest = pos % itemsize;
      const sPos = Math.floor(rest / quantum);
      const qPos = rest % quantum;
      const dptr = follow(dev, item);
      dptr.data ??= new Array<number | null>(dev.qset).fill(null);
      if (dptr.data[sPos] == null) {
        const page = allocPages(dev.order, GFP_KERNEL);
        if (!page) return -ENOMEM;
        pageBytes(page).fill(0);
        dptr.data[sPos] = pageAddress(page);
      }
      // Write only up to the end of this quantum (and of its page: a short write is fine).
      const count = Math.min(buf.length, quantum - qPos, PAGE_SIZE - (qPos % PAGE_SIZE));
      if (count <= 0) return -EFAULT;
      bytesAt(dptr.data[sPos]!, qPos, count).set(buf.subarray(0, count));
      ppos.value = pos + count;
      if (dev.size < ppos.value) dev.size = ppos.value;
      return count;
    },
    unlockedIoctl(file: File, cmd: number, arg: number): number {
      const dev = file.privateData as ScullpDev;
      switch (cmd) {
        case SCULLP_IOCRESET:
          scullpOrder = paramOrder;
          scullpQset = paramQset;
          return 0;
        case SCULLP_IOCTORDER:
          scullpOrder = arg;
          return 0;
        case SCULLP_IOCQORDER:
          return scullpOrder;
        case SCULLP_IOCTRIM:
          return trim(dev);
        default:
          return -ENOTTY;
      }
    },
    /** scullp_mmap: only order-0 devices, since the fault handler hands out single pages. */
    mmap(file: File, vma: Vma): number {
      const dev = file.privateData as ScullpDev;
      if (dev.order) return -ENODEV;
      if (setsReserved) vmFlagsSet(vma, VM_RESERVED);
      vma.vmOps = vmOps;
      vma.vmPrivateData = dev;
      vmOps.open?.(vma);
      return 0;
    },
  };

  const def = defineDriver({
    name: "scullp",
    apiVersion: DRIVER_API_VERSION,
    version: "1.0.0",
    snapshot: {
      version: 1,
      vmOps: { scullp: vmOps },
      save: () => saveState(),
      restore: (state) => restoreState(state),
      // filp->private_data and vm_private_data are a device: saved as its index.
      savePrivate: (data) => devs.indexOf(data as ScullpDev),
      restorePrivate: (saved) => {
        const dev = typeof saved === "number" ? devs[saved] : undefined;
        if (!dev) throw new TypeError(`scullp: no device ${String(saved)}`);
        return dev;
      },
    },
    init(ctx: DriverContext) {
      setsReserved = ctx.era === "2.6.10";
      const r = ctx.allocChrdevRegion(0, ndevs, "scullp");
      if (r < 0) return r;
      major = r;
      ctx.cdevAdd(major, 0, ndevs, fops);
      for (let i = 0; i < ndevs; i++) ctx.createDevNode(`scullp${i}`, major, i);
      return 0;
    },
    exit(ctx: DriverContext) {
      for (let i = 0; i < ndevs; i++) ctx.removeDevNode(`scullp${i}`);
      ctx.cdevDel(major, 0, ndevs);
      ctx.unregisterChrdevRegion(major, 0, ndevs);
      for (const dev of devs) {
        dev.vmas = 0;
        trim(dev);
      }
    },
  });
  return { ...def, devices: devs };
}

/** `count` bytes at offset `off` of the quantum at kernel address `addr`. */
function bytesAt(addr: number, off: number, count: number): Uint8Array {
  const inPage = off % PAGE_SIZE;
  // Callers stop at the end of a page, so the bytes lie in one page of the quantum.
  return pageBytes(virtToPage(addr + off - inPage)).subarray(inPage, inPage + count);
}
