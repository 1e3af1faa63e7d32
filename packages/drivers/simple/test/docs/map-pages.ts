// vm_map_pages (docs/driver-api.md): a driver's pages, mapped whole from ->mmap, vm_pgoff pages in.
import {
  allocPage,
  defineDriver,
  MAP_SHARED,
  Machine,
  O_RDWR,
  type Page,
  PROT_READ,
  vmMapPages,
} from "@faultline/kernel";

const pagesDriver = () => {
  const pages: Page[] = [];
  return defineDriver({
    name: "four",
    apiVersion: 1,
    init(ctx) {
      for (let i = 0; i < 4; i++) {
        const page = allocPage();
        if (!page) return -12;
        page.bytes().fill(0x61 + i); // "a", "b", "c", "d"
        pages.push(page);
      }
      const major = ctx.allocChrdevRegion(0, 1, "four");
      // Refcounted PTEs (VM_MIXEDMAP), dropped at munmap/exit; -ENXIO past the fourth page.
      ctx.cdevAdd(major, 0, 1, { mmap: (_file, vma) => vmMapPages(vma, pages) });
      ctx.createDevNode("four", major, 0);
      return 0;
    },
  });
};

export async function mapPages() {
  const m = await Machine.create({ ramBytes: 16 << 20, drivers: [pagesDriver()] });
  const p = m.spawn({ name: "reader" });
  const fd = p.libc.open("/dev/four", O_RDWR);
  const a = p.libc.mmap(0, 2 * 4096, PROT_READ, MAP_SHARED, fd, 2 * 4096); // pages 2 and 3
  const seen = String.fromCharCode(p.mmu.load8(a), p.mmu.load8(a + 4096));
  const tooFar = p.sys.mmap(0, 4096, PROT_READ, MAP_SHARED, fd, 4 * 4096);
  return { machine: m, seen, tooFar, smaps: p.procSmaps() };
}
