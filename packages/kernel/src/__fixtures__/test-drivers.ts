/**
 * Test-local drivers written against the public driver API only, after LDD3's simple.c: minor 0
 * remaps (remap_pfn_range), minor 1 faults pages in (nopage in the 2.6 style, or fault today).
 */
import {
  allocPages,
  type DriverDefinition,
  defineDriver,
  EAGAIN,
  freePages,
  getPage,
  KERN_NOTICE,
  NOPAGE_SIGBUS,
  PAGE_SHIFT,
  type Page,
  pfnToPage,
  pfnValid,
  printk,
  remapPfnRange,
  unmapMappingRange,
  VM_FAULT_OOM,
  VM_FAULT_SIGBUS,
  type Vma,
  type VmOperations,
} from "../index";

export interface SimpleOptions {
  /** Use today's fault(vmf) instead of nopage for minor 1. */
  readonly modernFault?: boolean;
  /** Minor 2: a device without an mmap method. */
  readonly major?: number;
}

export function simple(options: SimpleOptions = {}): DriverDefinition {
  const open = (vma: Vma) =>
    printk(`${KERN_NOTICE}Simple VMA open, virt %lx, phys %lx\n`, vma.vmStart, vma.vmPgoff << PAGE_SHIFT);
  const close = () => printk(KERN_NOTICE, "Simple VMA close.\n");
  const remapOps: VmOperations = { open, close };
  const nopageOps: VmOperations = options.modernFault
    ? {
        open,
        close,
        fault(vmf) {
          const pfn = vmf.pgoff;
          if (!pfnValid(pfn)) return VM_FAULT_SIGBUS;
          const page = pfnToPage(pfn);
          getPage(page);
          vmf.page = page;
          return 0;
        },
      }
    : {
        open,
        close,
        nopage(vma, address) {
          const physaddr = address - vma.vmStart + vma.vmPgoff * 4096;
          const pfn = physaddr >> PAGE_SHIFT;
          printk(KERN_NOTICE, "---- Nopage, off %lx phys %lx\n", vma.vmPgoff * 4096, physaddr);
          if (!pfnValid(pfn)) return NOPAGE_SIGBUS;
          const page = pfnToPage(pfn);
          getPage(page);
          return page;
        },
      };
  return defineDriver({
    name: "simple",
    apiVersion: 1,
    init(ctx) {
      const major = options.major
        ? ctx.registerChrdevRegion(options.major, 0, 3, "simple") || options.major
        : ctx.allocChrdevRegion(0, 3, "simple");
      if (major < 0) return major;
      ctx.cdevAdd(major, 0, 2, {
        mmap(file, vma) {
          if (file.inode.minor === 0) {
            if (remapPfnRange(vma, vma.vmStart, vma.vmPgoff, vma.vmEnd - vma.vmStart, vma.vmPageProt))
              return -EAGAIN;
            vma.vmOps = remapOps;
          } else {
            vma.vmOps = nopageOps;
          }
          open(vma);
          return 0;
        },
      });
      // Minor 2 has no mmap method at all.
      ctx.cdevAdd(major, 2, 1, { read: () => 0 });
      ctx.createDevNode("simpler", major, 0);
      ctx.createDevNode("simplen", major, 1);
      ctx.createDevNode("simplex", major, 2);
      return 0;
    },
  });
}

/** What the "pages" driver does on its next fault, set by tests. */
export interface PagesControl {
  mode: "ok" | "throw" | "oom" | "sigbus";
  /** Which of its pages the driver hands out (to test revocation). */
  generation: number;
  pages: Page[];
  opens: number;
  closes: number;
  releases: number;
  /** Throw from vm_ops->open / fops->mmap / fops->open. */
  throwIn: "none" | "open" | "mmap" | "fopen" | "close";
}

/**
 * A scullp-like device: owns 2 * 4 pages allocated at init (two "generations"); fault(vmf) hands out
 * page pgoff of the current generation.
 */
export function pagesDriver(ctl: PagesControl): DriverDefinition {
  let major = 0;
  const ops: VmOperations = {
    open() {
      if (ctl.throwIn === "open") throw new Error("open exploded");
      ctl.opens++;
    },
    close() {
      if (ctl.throwIn === "close") throw new Error("close exploded");
      ctl.closes++;
    },
    fault(vmf) {
      if (ctl.mode === "throw") throw new Error("fault exploded");
      if (ctl.mode === "oom") return VM_FAULT_OOM;
      if (ctl.mode === "sigbus" || vmf.pgoff >= 4) return VM_FAULT_SIGBUS;
      const page = ctl.pages[ctl.generation * 4 + vmf.pgoff]!;
      getPage(page);
      vmf.page = page;
      return 0;
    },
  };
  return defineDriver({
    name: "pages",
    apiVersion: 1,
    init(ctx) {
      for (let i = 0; i < 8; i++) {
        const p = allocPages(0, 0x100);
        if (!p) return -12;
        p.bytes().fill(i + 1);
        ctl.pages.push(p);
      }
      major = ctx.allocChrdevRegion(0, 1, "pages");
      ctx.cdevAdd(major, 0, 1, {
        open() {
          if (ctl.throwIn === "fopen") throw new Error("fops open exploded");
          return 0;
        },
        release() {
          ctl.releases++;
          return 0;
        },
        /** PAGES_REVOKE: switch to the other generation of pages and revoke every mapping. */
        unlockedIoctl(file, cmd) {
          if (cmd !== PAGES_REVOKE) return -25;
          ctl.generation ^= 1;
          unmapMappingRange(file, 0, 0);
          return 0;
        },
        mmap(_file, vma) {
          if (ctl.throwIn === "mmap") throw new Error("mmap exploded");
          vma.vmOps = ops;
          return 0;
        },
      });
      ctx.createDevNode("pages", major, 0);
      return 0;
    },
    exit() {
      for (const p of ctl.pages) freePages(p, 0);
      ctl.pages.length = 0;
    },
  });
}

export const PAGES_REVOKE = 0x5001;

export function pagesControl(): PagesControl {
  return { mode: "ok", generation: 0, pages: [], opens: 0, closes: 0, releases: 0, throwIn: "none" };
}

/** What the "forgetful" driver holds, for tests. */
export interface ForgetfulControl {
  /** Its order-2 block (4 frames), allocated at init, freed at exit. */
  block: Page | null;
}

/**
 * scullp's classic bug: an order-2 block allocated at init, page pgoff + 1 of it handed to the fault
 * path (pgoff 0..2) without getPage and without splitPage. The tail pages have refcount 0, so the PTE
 * holds a reference nobody took and releasing it underflows: a bad page on every teardown path.
 */
export function forgetfulDriver(ctl: ForgetfulControl): DriverDefinition {
  return defineDriver({
    name: "forgetful",
    apiVersion: 1,
    init(ctx) {
      ctl.block = allocPages(2, 0x100);
      if (!ctl.block) return -12;
      const major = ctx.allocChrdevRegion(0, 1, "forgetful");
      ctx.cdevAdd(major, 0, 1, {
        mmap(_file, vma) {
          vma.vmOps = {
            fault(vmf) {
              if (vmf.pgoff >= 3 || !ctl.block) return VM_FAULT_SIGBUS;
              vmf.page = pfnToPage(ctl.block.pfn + 1 + vmf.pgoff); // no getPage: the bug
              return 0;
            },
          };
          return 0;
        },
      });
      ctx.createDevNode("forgetful", major, 0);
      return 0;
    },
    exit() {
      if (ctl.block) freePages(ctl.block, 2);
      ctl.block = null;
    },
  });
}
