// /dev/buggy: one page of kernel memory mapped by a fault handler (pgoff 0 only, SIGBUS beyond), with
// one bug to order, for the kit's tests: each bug is one that a check after the test must catch.
import {
  __GFP_ZERO,
  allocPages,
  DRIVER_API_VERSION,
  type DriverDefinition,
  defineDriver,
  ENOMEM,
  freePages,
  GFP_KERNEL,
  getPage,
  KERN_INFO,
  type Page,
  pageBytes,
  printk,
  VM_FAULT_SIGBUS,
} from "@faultline/kernel";

export type Bug =
  | "none"
  /** exit forgets freePages: the page is never back. */
  | "leak-on-unload"
  /** the fault handler takes two references for one mapping: one is never dropped. */
  | "extra-ref"
  /** the fault handler forgets getPage: the refcount invariant breaks while mapped. */
  | "no-get-page"
  /** the fault handler throws: an oops. */
  | "throw-in-fault";

export function buggy(bug: Bug = "none"): DriverDefinition {
  let page: Page | null = null;
  let major = 0;
  return defineDriver({
    name: "buggy",
    apiVersion: DRIVER_API_VERSION,
    init(ctx) {
      page = allocPages(0, GFP_KERNEL | __GFP_ZERO);
      if (!page) return -ENOMEM;
      pageBytes(page).set([0x42]);
      major = ctx.allocChrdevRegion(0, 1, "buggy");
      ctx.cdevAdd(major, 0, 1, {
        mmap(_file, vma) {
          vma.vmOps = {
            fault(vmf) {
              if (bug === "throw-in-fault") throw new TypeError("buggy: cannot read properties of null");
              if (vmf.pgoff !== 0 || !page) return VM_FAULT_SIGBUS;
              if (bug !== "no-get-page") getPage(page);
              if (bug === "extra-ref") getPage(page);
              vmf.page = page;
              return 0;
            },
          };
          return 0;
        },
      });
      ctx.createDevNode("buggy", major, 0);
      printk(KERN_INFO, "buggy: loaded with major %d\n", major);
      return 0;
    },
    exit(ctx) {
      ctx.removeDevNode("buggy");
      ctx.cdevDel(major, 0, 1);
      ctx.unregisterChrdevRegion(major, 0, 1);
      if (page && bug !== "leak-on-unload") freePages(page, 0);
      page = null;
    },
  });
}
