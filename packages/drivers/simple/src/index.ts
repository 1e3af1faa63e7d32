/**
 * LDD3 chapter 15's "simple" module (martinezjavier/ldd3 simple/simple.c): two minors of one major.
 * Minor 0, /dev/simpler, maps physical memory eagerly with remapPfnRange (the mmap offset is the
 * physical address). Minor 1, /dev/simplen, serves it page by page from a fault (2.6: nopage)
 * handler, which only works where pfns have a struct page (RAM, the ISA hole): on a PCI BAR the
 * handler answers SIGBUS, as the book says. Both log VMA open/close at KERN_NOTICE.
 */
import {
  DRIVER_API_VERSION,
  type DriverContext,
  type DriverDefinition,
  defineDriver,
  EAGAIN,
  type File,
  type FileOperations,
  getPage,
  highMemory,
  KERN_NOTICE,
  NOPAGE_SIGBUS,
  O_SYNC,
  PAGE_SHIFT,
  PAGE_SIZE,
  type Page,
  pfnToPage,
  pfnValid,
  printk,
  remapPfnRange,
  VM_FAULT_MINOR,
  VM_FAULT_SIGBUS,
  VM_IO,
  VM_RESERVED,
  type Vma,
  type VmFault,
  type VmOperations,
  virtToPhys,
  vmFlagsSet,
} from "@faultline/kernel";

/** Options of the `simple` driver. */
export interface SimpleOptions {
  /** simple_major: a fixed major (register_chrdev_region); default 0 = dynamic (alloc_chrdev_region). */
  readonly major?: number;
  /**
   * How /dev/simplen's handler is written: today's `fault(vmf)`, or the 2.6-era `nopage(vma, address,
   * type)` returning a page or NOPAGE_SIGBUS, which the core adapts. Default: the machine's era's.
   */
  readonly handler?: "fault" | "nopage";
}

/** %lx: lowercase hex without 0x. */
const lx = (n: number) => n.toString(16);

/** vm_pgoff << PAGE_SHIFT without 32-bit shift overflow (offsets reach 2^52). */
const pgoffBytes = (vma: Vma) => vma.vmPgoff * PAGE_SIZE;

/** simple_vma_open: the kernel calls it for copies of a VMA (fork, split, mremap move), mmap itself. */
function simpleVmaOpen(vma: Vma): void {
  printk(KERN_NOTICE, `Simple VMA open, virt ${lx(vma.vmStart)}, phys ${lx(pgoffBytes(vma))}\n`);
}

function simpleVmaClose(_vma: Vma): void {
  printk(KERN_NOTICE, "Simple VMA close.\n");
}

/** Physical frame behind a faulting address: the mmap offset is a physical address. */
function pageframeOf(vma: Vma, address: number): number {
  const offset = pgoffBytes(vma);
  const physaddr = address - vma.vmStart + offset;
  return Math.floor(physaddr / 2 ** PAGE_SHIFT);
}

/** simple_vma_nopage, as it is today (vm_fault_t (*fault)(struct vm_fault *)). */
function simpleVmaFault(vmf: VmFault): number {
  const pageframe = pageframeOf(vmf.vma, vmf.address);
  // No struct page (PCI memory above RAM): nopage cannot work there; use remapPfnRange instead.
  if (!pfnValid(pageframe)) return VM_FAULT_SIGBUS;
  const pageptr = pfnToPage(pageframe);
  // Mandatory: unmapping the page drops one reference per mapped page.
  getPage(pageptr);
  vmf.page = pageptr;
  return 0;
}

/** The same handler as written for 2.6.10: struct page *(*nopage)(vma, address, int *type). */
function simpleVmaNopage(vma: Vma, address: number, type?: { value: number }): Page | null {
  const pageframe = pageframeOf(vma, address);
  if (!pfnValid(pageframe)) return NOPAGE_SIGBUS;
  const pageptr = pfnToPage(pageframe);
  getPage(pageptr);
  if (type) type.value = VM_FAULT_MINOR;
  return pageptr;
}

const simpleRemapVmOps: VmOperations = { open: simpleVmaOpen, close: simpleVmaClose };

/** simple_remap_mmap: PTEs built up front, offset = physical address. */
function simpleRemapMmap(_file: File, vma: Vma): number {
  if (remapPfnRange(vma, vma.vmStart, vma.vmPgoff, vma.vmEnd - vma.vmStart, vma.vmPageProt)) return -EAGAIN;
  vma.vmOps = simpleRemapVmOps;
  // The kernel does not call ->open for the initial mmap.
  simpleVmaOpen(vma);
  return 0;
}

/**
 * simple_nopage_mmap. `ldd3Flags` is the book's 2.6.10 code: VM_IO at or past the end of RAM or for an
 * O_SYNC open, and always VM_RESERVED (2.6.10 kept it: the VMA never merges, and mremap may still grow
 * it, do_mremap asking VM_DONTEXPAND only). The modern port sets neither, as martinezjavier/ldd3 did
 * after v3.7 killed VM_RESERVED (commit 290fa172, "ldd3: get rid of deprecated VM_RESERVED vma flag"):
 * its replacement VM_DONTEXPAND would forbid the mremap growth this variant exists to show.
 */
function nopageMmap(vmOps: VmOperations, ldd3Flags: boolean) {
  return (file: File, vma: Vma): number => {
    if (ldd3Flags) {
      if (pgoffBytes(vma) >= virtToPhys(highMemory()) || file.fFlags & O_SYNC) vmFlagsSet(vma, VM_IO);
      vmFlagsSet(vma, VM_RESERVED);
    }
    vma.vmOps = vmOps;
    simpleVmaOpen(vma);
    return 0;
  };
}

/** The simple module; `drivers: [simple()]` loads it. Creates /dev/simpler (minor 0) and /dev/simplen (minor 1). */
export function simple(options: SimpleOptions = {}): DriverDefinition {
  const nopageOps: VmOperations = { open: simpleVmaOpen, close: simpleVmaClose, nopage: simpleVmaNopage };
  const faultOps: VmOperations = { open: simpleVmaOpen, close: simpleVmaClose, fault: simpleVmaFault };
  const remapFops: FileOperations = { open: () => 0, release: () => 0, mmap: simpleRemapMmap };
  let simpleMajor = options.major ?? 0;

  return defineDriver({
    name: "simple",
    apiVersion: DRIVER_API_VERSION,
    version: "1.0.0",
    // Machine snapshots: no private state (the major is the one init gets again); the vm_ops are named.
    snapshot: {
      version: 1,
      vmOps: { remap: simpleRemapVmOps, nopage: nopageOps, fault: faultOps },
    },
    init(ctx: DriverContext) {
      const result = simpleMajor
        ? ctx.registerChrdevRegion(simpleMajor, 0, 2, "simple")
        : ctx.allocChrdevRegion(0, 2, "simple");
      if (result < 0) {
        printk(KERN_NOTICE, `simple: unable to get major ${simpleMajor}\n`);
        return result;
      }
      if (simpleMajor === 0) simpleMajor = result;
      // The handler as its era wrote it, unless the options say: nopage in 2.6.10, fault today.
      const style = options.handler ?? (ctx.era === "2.6.10" ? "nopage" : "fault");
      const nopageFops: FileOperations = {
        open: () => 0,
        release: () => 0,
        mmap: nopageMmap(style === "nopage" ? nopageOps : faultOps, ctx.era === "2.6.10"),
      };
      ctx.cdevAdd(simpleMajor, 0, 1, remapFops);
      ctx.cdevAdd(simpleMajor, 1, 1, nopageFops);
      ctx.createDevNode("simpler", simpleMajor, 0);
      ctx.createDevNode("simplen", simpleMajor, 1);
      return 0;
    },
    exit(ctx: DriverContext) {
      ctx.removeDevNode("simpler");
      ctx.removeDevNode("simplen");
      ctx.cdevDel(simpleMajor, 0, 2);
      ctx.unregisterChrdevRegion(simpleMajor, 0, 2);
      if (options.major === undefined) simpleMajor = 0;
    },
  });
}
