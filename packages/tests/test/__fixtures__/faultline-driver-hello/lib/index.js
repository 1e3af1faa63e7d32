// A third-party driver plugin, published as plain JavaScript: /dev/hello, one page of kernel memory
// with a greeting (options.greeting), mapped by a fault handler. Its scenario entry:
//   { "module": "faultline-driver-hello", "export": "hello", "options": { "greeting": "…" } }
import {
  __GFP_ZERO,
  allocPages,
  DRIVER_API_VERSION,
  defineDriver,
  ENOMEM,
  freePages,
  GFP_KERNEL,
  getPage,
  pageBytes,
  VM_FAULT_SIGBUS,
} from "@faultline/kernel";

export function hello(options = {}) {
  const greeting = options.greeting ?? "Hello from the kernel!";
  if (typeof greeting !== "string" || greeting.length > 4096)
    throw new TypeError("greeting: a string of at most 4096 bytes");
  let page = null;
  let major = 0;
  return defineDriver({
    name: "hello",
    apiVersion: DRIVER_API_VERSION,
    init(ctx) {
      page = allocPages(0, GFP_KERNEL | __GFP_ZERO);
      if (!page) return -ENOMEM;
      pageBytes(page).set(new TextEncoder().encode(greeting));
      major = ctx.allocChrdevRegion(0, 1, "hello");
      ctx.cdevAdd(major, 0, 1, {
        mmap(_file, vma) {
          vma.vmOps = {
            fault(vmf) {
              if (vmf.pgoff !== 0 || !page) return VM_FAULT_SIGBUS;
              getPage(page);
              vmf.page = page;
              return 0;
            },
          };
          return 0;
        },
      });
      ctx.createDevNode("hello", major, 0);
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
