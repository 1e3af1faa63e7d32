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

/** /dev/hello: one page of kernel memory holding a greeting, mapped by a fault handler. */
export function hello(greeting = "Hello from the kernel!"): DriverDefinition {
  let page: Page | null = null;
  let major = 0;
  return defineDriver({
    name: "hello",
    apiVersion: DRIVER_API_VERSION,
    init(ctx) {
      page = allocPages(0, GFP_KERNEL | __GFP_ZERO);
      if (!page) return -ENOMEM;
      pageBytes(page).set(new TextEncoder().encode(greeting));
      major = ctx.allocChrdevRegion(0, 1, "hello");
      if (major < 0) {
        freePages(page, 0);
        return major;
      }
      ctx.cdevAdd(major, 0, 1, {
        mmap(_file, vma) {
          vma.vmOps = {
            fault(vmf) {
              if (vmf.pgoff !== 0 || !page) return VM_FAULT_SIGBUS; // one page only
              getPage(page); // the mapping's reference; unmapping drops it
              vmf.page = page;
              return 0;
            },
          };
          return 0;
        },
      });
      ctx.createDevNode("hello", major, 0);
      printk(KERN_INFO, "hello: loaded with major %d\n", major);
      return 0;
    },
    exit(ctx) {
      ctx.removeDevNode("hello");
      ctx.cdevDel(major, 0, 1);
      ctx.unregisterChrdevRegion(major, 0, 1);
      if (page) freePages(page, 0);
      page = null;
    },
  });
}
