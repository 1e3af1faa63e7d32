/**
 * scullv (LDD3 ch. 15 "Remapping Kernel Virtual Addresses", martinezjavier/ldd3 scullv/{main,mmap}.c):
 * scullp with its quanta from vmalloc. A quantum is PAGE_SIZE << order bytes, virtually contiguous in
 * the vmalloc area but made of separate order-0 pages, so read() and write() move a whole quantum at a
 * time and mmap works for any order (scullp refuses order > 0): the fault handler turns the kernel
 * virtual address of the faulting page into its struct page with vmalloc_to_page and hands it out with
 * a reference, one page per fault. Live mappings are counted in `vmas` so the device is never trimmed
 * under a mapping.
 */
import {
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
  getPage,
  type Inode,
  isVmallocAddr,
  kmapPage,
  O_ACCMODE,
  O_TRUNC,
  O_WRONLY,
  PAGE_SIZE,
  SEEK_CUR,
  SEEK_END,
  SEEK_SET,
  VM_FAULT_SIGBUS,
  VM_RESERVED,
  type Vma,
  type VmFault,
  type VmOperations,
  vfree,
  vmalloc,
  vmallocToPage,
  vmFlagsSet,
} from "@faultline/kernel";

/** SCULLV_ORDER and SCULLV_QSET of scullv.h: 16 pages at a time, 500 quanta per set. */
export const SCULLV_ORDER = 4;
export const SCULLV_QSET = 500;
export const SCULLV_DEVS = 4;

/** ioctl numbers (_IO('K', n) of scullv.h; TRIM is Faultline's, as scullp's: scullv trims on open for writing). */
const SCULLV_IOC_MAGIC = 0x4b;
const _IO = (nr: number) => (SCULLV_IOC_MAGIC << 8) | nr;
/** Resets order and qset to the module parameters. */
export const SCULLV_IOCRESET = _IO(0);
/** "Tell": sets the order used from the next trim on (arg is the value). */
export const SCULLV_IOCTORDER = _IO(2);
/** "Query": returns the current order. */
export const SCULLV_IOCQORDER = _IO(4);
/** Frees the device's data now; -EBUSY while it is mapped. */
export const SCULLV_IOCTRIM = _IO(15);

/** Options of the `scullv` driver. */
export interface ScullvOptions {
  /** scullv_order: each quantum is vmalloc(PAGE_SIZE << order) (default 4; any order can be mapped). */
  readonly order?: number;
  /** scullv_qset: quanta per set. */
  readonly qset?: number;
  /** scullv_devs: how many /dev/scullvN. */
  readonly devices?: number;
}

/** One quantum set (struct scullv_dev used as list node): vmalloc addresses of the quanta. */
interface Qset {
  data: Array<number | null> | null;
  next: Qset | null;
}

/** struct scullv_dev. */
export interface ScullvDev {
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

export interface ScullvDriver extends DriverDefinition {
  /** The devices, for tests and for the curious. */
  readonly devices: readonly ScullvDev[];
}

/** Where byte `pos` of a device lies: its quantum's vmalloc address and the offset in the quantum. */
interface QuantumPos {
  readonly addr: number;
  readonly qPos: number;
  readonly quantum: number;
}

/** LDD3 chapter 15's scullv: a scull device whose quanta are vmalloc'ed, mappable with a fault handler. */
export function scullv(options: ScullvOptions = {}): ScullvDriver {
  const paramOrder = options.order ?? SCULLV_ORDER;
  const paramQset = options.qset ?? SCULLV_QSET;
  const ndevs = options.devices ?? SCULLV_DEVS;
  let scullvOrder = paramOrder;
  let scullvQset = paramQset;
  let major = 0;
  /**
   * LDD3's scullv_mmap sets VM_RESERVED, as 2.6.10 drivers did; v3.7 killed the flag (commit
   * 314e51b9851b) and the modern port dropped the line (martinezjavier/ldd3 commit 290fa172), as for
   * scullp. Set by init, per era.
   */
  let setsReserved = false;
  const devs: ScullvDev[] = [];
  for (let i = 0; i < ndevs; i++) {
    devs.push({ index: i, order: scullvOrder, qset: scullvQset, size: 0, vmas: 0, list: null });
  }

  /** scullv_trim: vfree()s every quantum; refused while mapped. */
  const trim = (dev: ScullvDev): number => {
    if (dev.vmas) return -EBUSY; // don't trim: there are active mappings
    for (let d = dev.list; d; d = d.next) {
      for (const addr of d.data ?? []) if (addr !== null) vfree(addr);
    }
    dev.list = null;
    dev.size = 0;
    dev.order = scullvOrder;
    dev.qset = scullvQset;
    return 0;
  };

  /** scullv_follow: the item-th quantum set, allocating list nodes on the way. */
  const follow = (dev: ScullvDev, item: number): Qset => {
    if (!dev.list) dev.list = { data: null, next: null };
    let q = dev.list;
    while (item--) {
      if (!q.next) q.next = { data: null, next: null };
      q = q.next;
    }
    return q;
  };

  /** The quantum holding byte `pos`, or null (a hole, or past the list). */
  const quantumAt = (dev: ScullvDev, pos: number): QuantumPos | null => {
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
      (vma.vmPrivateData as ScullvDev).vmas++;
    },
    close(vma: Vma) {
      (vma.vmPrivateData as ScullvDev).vmas--;
    },
    /**
     * scullv_vma_nopage: the page holding the faulting offset, with a reference for the mapping.
     * The book walks the list with the offset in pages as if a quantum were one page (`offset >>=
     * PAGE_SHIFT`, then `ptr->data[offset]`), which is scullp's order-0 walk: with scullv's default
     * order 4 it would hand page n of the mapping the first page of quantum n. This walks to the
     * quantum by bytes, as read() does, then to the page within it.
     */
    fault(vmf: VmFault): number {
      const vma = vmf.vma;
      const dev = vma.vmPrivateData as ScullvDev;
      const offset = vmf.address - vma.vmStart + vma.vmPgoff * PAGE_SIZE;
      if (offset >= dev.size) return VM_FAULT_SIGBUS; // out of range
      const at = quantumAt(dev, offset);
      if (!at) return VM_FAULT_SIGBUS; // a hole in the file
      // Not the direct map: no arithmetic leads from a vmalloc address to its page, vmalloc_to_page looks it up.
      const page = vmallocToPage(at.addr + at.qPos - (at.qPos % PAGE_SIZE));
      if (!page) return VM_FAULT_SIGBUS; // cannot happen while the quantum is allocated
      getPage(page);
      vmf.page = page;
      return 0;
    },
  };

  /**
   * The driver's state for a machine snapshot: the module parameters in force and each device's
   * order, qset, size, live mappings and quantum sets (each quantum as its vmalloc address, 0 for
   * none: the kernel restores vmalloc areas at the addresses they had).
   */
  const saveState = () => ({
    order: scullvOrder,
    qset: scullvQset,
    devs: devs.map((d) => {
      const sets: Array<number[] | null> = [];
      for (let q = d.list; q; q = q.next) sets.push(q.data ? q.data.map((a) => a ?? 0) : null);
      return { order: d.order, qset: d.qset, size: d.size, vmas: d.vmas, sets };
    }),
  });

  const restoreState = (state: unknown): void => {
    const s = state as ReturnType<typeof saveState>;
    const int = (v: unknown, what: string, min = 0): number => {
      if (typeof v !== "number" || !Number.isInteger(v) || v < min)
        throw new TypeError(`scullv state: ${what}`);
      return v;
    };
    const seen = new Set<number>();
    /**
     * The kernel's areas are back before the drivers' state: a quantum must be the start of one of
     * them (the page before it unbacked: every area ends with a guard page), backed over its whole
     * PAGE_SIZE << order bytes, and no other quantum's (trim vfree()s each once).
     */
    const quantumAddr = (v: unknown, order: number): number | null => {
      const addr = int(v, "quantum address");
      if (addr === 0) return null;
      const at = `0x${addr.toString(16)}`;
      if (!isVmallocAddr(addr) || addr % PAGE_SIZE !== 0)
        throw new TypeError(`scullv state: ${at} is not a page-aligned vmalloc address`);
      if (isVmallocAddr(addr - PAGE_SIZE) && vmallocToPage(addr - PAGE_SIZE))
        throw new TypeError(`scullv state: ${at} is inside a vmalloc area, not at its start`);
      for (let off = 0; off < PAGE_SIZE * 2 ** order; off += PAGE_SIZE)
        if (!isVmallocAddr(addr + off) || !vmallocToPage(addr + off))
          throw new TypeError(
            `scullv state: no vmalloc memory at ${at} + ${off} (a quantum of order ${order} is ${PAGE_SIZE * 2 ** order} bytes)`,
          );
      if (seen.has(addr)) throw new TypeError(`scullv state: quantum ${at} appears twice`);
      seen.add(addr);
      return addr;
    };
    if (!s || !Array.isArray(s.devs) || s.devs.length !== devs.length)
      throw new TypeError(`scullv state: expected ${devs.length} devices`);
    scullvOrder = int(s.order, "order");
    scullvQset = int(s.qset, "qset", 1);
    s.devs.forEach((d, i) => {
      const dev = devs[i]!;
      dev.order = int(d?.order, "device order");
      dev.qset = int(d.qset, "device qset", 1);
      dev.size = int(d.size, "device size");
      dev.vmas = int(d.vmas, "device vmas");
      if (!Array.isArray(d.sets)) throw new TypeError("scullv state: sets");
      let head: Qset | null = null;
      let tail: Qset | null = null;
      for (const set of d.sets) {
        if (set !== null && !Array.isArray(set)) throw new TypeError("scullv state: a quantum set");
        const q: Qset = { data: set === null ? null : set.map((a) => quantumAddr(a, dev.order)), next: null };
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
      // Opened write-only (or with O_TRUNC for writing): trim the device to zero length. The book
      // ignores trim's -EBUSY here; Faultline's scullp and scullv report it.
      if ((file.fFlags & O_ACCMODE) === O_WRONLY || (file.fFlags & O_TRUNC && file.fFlags & O_ACCMODE)) {
        const r = trim(dev);
        if (r < 0) return r;
      }
      return 0;
    },
    release: () => 0,
    /** scullv_llseek */
    llseek(file: File, off: number, whence: number): number {
      const dev = file.privateData as ScullvDev;
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
      const dev = file.privateData as ScullvDev;
      if (ppos.value >= dev.size) return 0;
      const at = quantumAt(dev, ppos.value);
      if (!at) return 0; // don't fill holes
      // Read only up to the end of this quantum: it is virtually contiguous, so that may cross pages.
      const count = Math.min(buf.length, dev.size - ppos.value, at.quantum - at.qPos);
      copyQuantum(at, count, (bytes, done) => buf.set(bytes, done));
      ppos.value += count;
      return count;
    },
    write(file: File, buf: Uint8Array, ppos: { value: number }): number {
      const dev = file.privateData as ScullvDev;
      const quantum = PAGE_SIZE * 2 ** dev.order;
      const itemsize = quantum * dev.qset;
      const pos = ppos.value;
      const item = Math.floor(pos / itemsize);
      const rest = pos % itemsize;
      const sPos = Math.floor(rest / quantum);
      const qPos = rest % quantum;
      const dptr = follow(dev, item);
      dptr.data ??= new Array<number | null>(dev.qset).fill(null);
      let addr = dptr.data[sPos] ?? null;
      if (addr === null) {
        // The book sizes the quantum by dptr->order, which only the list's head has (later nodes are
        // kzalloc'ed: order 0); the device's order is the quantum write() and read() assume.
        const a = vmalloc(quantum);
        if (!a) return -ENOMEM;
        addr = a;
        for (let off = 0; off < quantum; off += PAGE_SIZE) kmapPage(vmallocToPage(addr + off)!).fill(0);
        dptr.data[sPos] = addr;
      }
      // Write only up to the end of this quantum.
      const count = Math.min(buf.length, quantum - qPos);
      if (count <= 0) return -EFAULT;
      copyQuantum({ addr, qPos, quantum }, count, (bytes, done) =>
        bytes.set(buf.subarray(done, done + bytes.length)),
      );
      ppos.value = pos + count;
      if (dev.size < ppos.value) dev.size = ppos.value;
      return count;
    },
    unlockedIoctl(file: File, cmd: number, arg: number): number {
      const dev = file.privateData as ScullvDev;
      switch (cmd) {
        case SCULLV_IOCRESET:
          scullvOrder = paramOrder;
          scullvQset = paramQset;
          return 0;
        case SCULLV_IOCTORDER:
          scullvOrder = arg;
          return 0;
        case SCULLV_IOCQORDER:
          return scullvOrder;
        case SCULLV_IOCTRIM:
          return trim(dev);
        default:
          return -ENOTTY;
      }
    },
    /**
     * scullv_mmap: nothing to refuse (unlike scullp_mmap's order check: vmalloc builds every quantum
     * from single pages, each with its own count); the fault handler sets up the page table entries.
     */
    mmap(file: File, vma: Vma): number {
      const dev = file.privateData as ScullvDev;
      if (setsReserved) vmFlagsSet(vma, VM_RESERVED);
      vma.vmOps = vmOps;
      vma.vmPrivateData = dev;
      vmOps.open?.(vma);
      return 0;
    },
  };

  const def = defineDriver({
    name: "scullv",
    apiVersion: DRIVER_API_VERSION,
    version: "1.0.0",
    snapshot: {
      version: 1,
      vmOps: { scullv: vmOps },
      save: () => saveState(),
      restore: (state) => restoreState(state),
      // filp->private_data and vm_private_data are a device: saved as its index.
      savePrivate: (data) => devs.indexOf(data as ScullvDev),
      restorePrivate: (saved) => {
        const dev = typeof saved === "number" ? devs[saved] : undefined;
        if (!dev) throw new TypeError(`scullv: no device ${String(saved)}`);
        return dev;
      },
    },
    init(ctx: DriverContext) {
      setsReserved = ctx.era === "2.6.10";
      const r = ctx.allocChrdevRegion(0, ndevs, "scullv");
      if (r < 0) return r;
      major = r;
      ctx.cdevAdd(major, 0, ndevs, fops);
      for (let i = 0; i < ndevs; i++) ctx.createDevNode(`scullv${i}`, major, i);
      return 0;
    },
    exit(ctx: DriverContext) {
      for (let i = 0; i < ndevs; i++) ctx.removeDevNode(`scullv${i}`);
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

/**
 * copy_to_user / copy_from_user on `count` bytes of a quantum from `at.qPos`: the quantum is
 * contiguous only in the vmalloc area, so each page is reached through vmalloc_to_page and kmap.
 * `each` gets the bytes of one page and how many were copied before them.
 */
function copyQuantum(at: QuantumPos, count: number, each: (bytes: Uint8Array, done: number) => void): void {
  for (let done = 0; done < count; ) {
    const pos = at.qPos + done;
    const inPage = pos % PAGE_SIZE;
    const n = Math.min(count - done, PAGE_SIZE - inPage);
    each(kmapPage(vmallocToPage(at.addr + pos - inPage)!).subarray(inPage, inPage + n), done);
    done += n;
  }
}
