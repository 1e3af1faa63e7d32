// A test-local driver: /dev/flip maps one of two pages through its fault handler; ioctl(FLIP)
// switches pages and revokes every mapping with unmapMappingRange, so the next access must fault
// in again and see the new page.
import {
  allocPage,
  type DriverDefinition,
  defineDriver,
  getPage,
  type Page,
  pageBytes,
  unmapMappingRange,
  type VmOperations,
} from "@faultline/kernel";

export const FLIP = 0x4601;
export const flipState = { faults: 0, current: 0 };

export function flip(): DriverDefinition {
  const pages: Page[] = [];
  const ops: VmOperations = {
    fault(vmf) {
      flipState.faults++;
      const page = pages[flipState.current]!;
      getPage(page);
      vmf.page = page;
      return 0;
    },
  };
  return defineDriver({
    name: "flip",
    apiVersion: 1,
    init(ctx) {
      for (const v of [0xaaaa, 0xbbbb]) {
        const p = allocPage()!;
        new DataView(pageBytes(p).buffer, pageBytes(p).byteOffset).setUint32(0, v, true);
        pages.push(p);
      }
      const major = ctx.allocChrdevRegion(0, 1, "flip");
      ctx.cdevAdd(major, 0, 1, {
        mmap(_file, vma) {
          vma.vmOps = ops;
          return 0;
        },
        unlockedIoctl(file, cmd) {
          if (cmd !== FLIP) return -25;
          flipState.current ^= 1;
          unmapMappingRange(file, 0, 0);
          return 0;
        },
      });
      ctx.createDevNode("flip", major, 0);
      return 0;
    },
  });
}
