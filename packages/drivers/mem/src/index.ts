/**
 * /dev/mem (drivers/char/mem.c, char 1:1): physical memory by offset. mmap_mem() checks the range,
 * asks range_is_allowed() (CONFIG_STRICT_DEVMEM's devmem_is_allowed(), arch/x86/mm/init.c: the first
 * MiB and anything that is not System RAM may be mapped, other RAM may not) and calls remapPfnRange.
 * A MAP_PRIVATE mapping is allowed on an MMU kernel (private_mapping_ok); writing one gives the
 * process a private copy that no longer tracks the device. read() and write() reach only what lies
 * below high_memory (valid_phys_addr_range), page by page under the same devmem_is_allowed rule.
 */
import {
  __pa,
  DRIVER_API_VERSION,
  type DriverContext,
  type DriverDefinition,
  defineDriver,
  EAGAIN,
  EFAULT,
  EINVAL,
  EPERM,
  type File,
  type FileOperations,
  highMemory,
  type IoMem,
  ioremap,
  iounmap,
  PAGE_SIZE,
  pfnValid,
  remapPfnRange,
  SEEK_CUR,
  SEEK_SET,
  type Vma,
} from "@faultline/kernel";

/** Options of the `mem` driver. */
export interface MemOptions {
  /**
   * CONFIG_STRICT_DEVMEM (default true, as every distribution builds it). false gives 2.6.10's
   * /dev/mem, where root could map all of RAM.
   */
  readonly strict?: boolean;
}

/** Physical address bits of the emulated CPU (boot_cpu_data.x86_phys_bits). */
const PHYS_ADDR_BITS = 52;
const MEM_MAJOR = 1;
const MEM_MINOR = 1;

/** The first MiB: BIOS data, VGA and ROMs that X servers and dmidecode read (arch/x86/mm/init.c). */
const FIRST_MIB_PFNS = 256;

/**
 * devmem_is_allowed(pagenr): 1 for the first MiB, else !page_is_ram(pagenr). A pfn with a struct page
 * above 1 MiB is System RAM on this machine (only RAM and the ISA hole have struct pages), so
 * pfnValid stands in for page_is_ram.
 */
export function devmemIsAllowed(pfn: number): boolean {
  if (pfn < FIRST_MIB_PFNS) return true;
  return !pfnValid(pfn);
}

/** valid_mmap_phys_addr_range(): the range fits the CPU's physical address width. */
function validMmapPhysAddrRange(pfn: number, size: number): boolean {
  return pfn * PAGE_SIZE + size <= 2 ** PHYS_ADDR_BITS;
}

/** The /dev/mem driver (drivers/char/mem.c): read, write and mmap of physical memory. */
export function mem(options: MemOptions = {}): DriverDefinition {
  const strict = options.strict ?? true;

  /** range_is_allowed(): every page of the range passes devmem_is_allowed. */
  const rangeIsAllowed = (pfn: number, size: number): boolean => {
    if (!strict) return true;
    for (let cursor = 0; cursor < size; cursor += PAGE_SIZE, pfn++) {
      if (!devmemIsAllowed(pfn)) return false;
    }
    return true;
  };

  /** read_mem / write_mem: copy page by page, refusing a page devmem_is_allowed refuses. */
  const rw = (
    ppos: { value: number },
    count: number,
    copy: (io: IoMem, off: number, n: number, done: number) => void,
  ): number => {
    const p = ppos.value;
    // valid_phys_addr_range(): only memory below high_memory (the direct map) is read or written.
    if (p + count > __pa(highMemory())) return -EFAULT;
    let done = 0;
    while (done < count) {
      const at = p + done;
      const sz = Math.min(PAGE_SIZE - (at % PAGE_SIZE), count - done);
      if (strict && !devmemIsAllowed(Math.floor(at / PAGE_SIZE))) return -EPERM;
      const io = ioremap(at, sz);
      if (!io) return -EFAULT; // xlate_dev_mem_ptr() failed
      copy(io, 0, sz, done);
      iounmap(io);
      done += sz;
    }
    ppos.value = p + done;
    return done;
  };

  const fops: FileOperations = {
    open: () => 0,
    release: () => 0,
    /** memory_lseek(): SEEK_SET and SEEK_CUR only. */
    llseek(file: File, offset: number, whence: number): number {
      const pos = whence === SEEK_SET ? offset : whence === SEEK_CUR ? file.fPos + offset : -1;
      if (whence !== SEEK_SET && whence !== SEEK_CUR) return -EINVAL;
      if (pos < 0) return -EINVAL;
      file.fPos = pos;
      return pos;
    },
    read(_file: File, buf: Uint8Array, ppos: { value: number }): number {
      return rw(ppos, buf.length, (io, off, n, done) => {
        for (let i = 0; i < n; i++) buf[done + i] = io.readb(off + i);
      });
    },
    write(_file: File, buf: Uint8Array, ppos: { value: number }): number {
      return rw(ppos, buf.length, (io, off, n, done) => {
        for (let i = 0; i < n; i++) io.writeb(buf[done + i]!, off + i);
      });
    },
    mmap(_file: File, vma: Vma): number {
      const size = vma.vmEnd - vma.vmStart;
      const offset = vma.vmPgoff * PAGE_SIZE;
      // Does it even fit in phys_addr_t? It's illegal to wrap around the end of the physical space.
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(offset + size - 1)) return -EINVAL;
      if (!validMmapPhysAddrRange(vma.vmPgoff, size)) return -EINVAL;
      if (!rangeIsAllowed(vma.vmPgoff, size)) return -EPERM;
      // Remap-pfn-range will mark the range VM_IO.
      if (remapPfnRange(vma, vma.vmStart, vma.vmPgoff, size, vma.vmPageProt)) return -EAGAIN;
      return 0;
    },
  };

  return defineDriver({
    name: "mem",
    apiVersion: DRIVER_API_VERSION,
    version: "1.0.0",
    // Machine snapshots: /dev/mem keeps no state of its own and installs no vm_ops.
    snapshot: { version: 1 },
    init(ctx: DriverContext) {
      const r = ctx.registerChrdevRegion(MEM_MAJOR, MEM_MINOR, 1, "mem");
      if (r < 0) return r;
      ctx.cdevAdd(MEM_MAJOR, MEM_MINOR, 1, fops);
      ctx.createDevNode("mem", MEM_MAJOR, MEM_MINOR, 0o640);
      return 0;
    },
    exit(ctx: DriverContext) {
      ctx.removeDevNode("mem");
      ctx.cdevDel(MEM_MAJOR, MEM_MINOR, 1);
      ctx.unregisterChrdevRegion(MEM_MAJOR, MEM_MINOR, 1);
    },
  });
}
