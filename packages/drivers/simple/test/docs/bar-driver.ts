import {
  DRIVER_API_VERSION,
  type DriverDefinition,
  defineDriver,
  EAGAIN,
  EINVAL,
  PAGE_SIZE,
  PFN_DOWN,
  remapPfnRange,
} from "@faultline/kernel";

/** What the driver counts while it runs. */
export interface BarStats {
  mmaps: number;
  bytesMapped: number;
}

// defineDriver() returns a frozen object: the driver's state cannot hang off it. It lives in the
// factory's closure, and this map hands it to whoever holds the driver (a test, a tool).
const statsOf = new WeakMap<DriverDefinition, Readonly<BarStats>>();

/** The state of a driver made by barDriver(). */
export function barStats(driver: DriverDefinition): Readonly<BarStats> {
  const stats = statsOf.get(driver);
  if (!stats) throw new TypeError(`${driver.name}: not made by barDriver()`);
  return stats;
}

/** /dev/bar: maps bytes of a PCI BAR (at `bar`, `size` bytes long) into processes, as /dev/mem would. */
export function barDriver(bar: number, size: number): DriverDefinition {
  const stats: BarStats = { mmaps: 0, bytesMapped: 0 };
  const driver = defineDriver({
    name: "bar",
    apiVersion: DRIVER_API_VERSION,
    init(ctx) {
      const major = ctx.allocChrdevRegion(0, 1, "bar");
      if (major < 0) return major;
      ctx.cdevAdd(major, 0, 1, {
        mmap(_file, vma) {
          const off = vma.vmPgoff * PAGE_SIZE; // C: vma->vm_pgoff << PAGE_SHIFT
          const len = vma.vmEnd - vma.vmStart;
          if (off + len > size) return -EINVAL;
          // C: (bar + off) >> PAGE_SHIFT. JavaScript's >> is a signed 32-bit shift: for a BAR at or
          // above 2 GiB it gives a negative pfn, which remapPfnRange refuses with a WARNING.
          const pfn = PFN_DOWN(bar + off);
          if (remapPfnRange(vma, vma.vmStart, pfn, len, vma.vmPageProt)) return -EAGAIN;
          stats.mmaps++;
          stats.bytesMapped += len;
          return 0;
        },
      });
      ctx.createDevNode("bar", major, 0);
      return 0;
    },
  });
  statsOf.set(driver, stats);
  return driver;
}
