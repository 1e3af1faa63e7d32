import {
  DRIVER_API_VERSION,
  type DriverDefinition,
  defineDriver,
  EINVAL,
  KERN_INFO,
  PAGE_SIZE,
  printk,
  remapPfnRange,
} from "@faultline/kernel";
import { TICKER_BASE } from "./ticker-device";

export interface TickerDriverOptions {
  /** Physical address of the ticker's register page (the device's `base`). */
  readonly base?: number;
}

/**
 * /dev/ticker: maps the ticker's register page into a process, as a UIO driver does
 * (drivers/uio/uio.c, uio_mmap_physical): one page at offset 0, mapped with remapPfnRange.
 * A scenario names it `{ "export": "tickerDriver", "options": { "base": … } }`.
 */
export function tickerDriver(options: TickerDriverOptions = {}): DriverDefinition {
  const base = options.base ?? TICKER_BASE;
  if (!Number.isSafeInteger(base) || base % PAGE_SIZE !== 0)
    throw new TypeError(`ticker: base must be a page-aligned physical address, got ${String(base)}`);
  let major = 0;
  return defineDriver({
    name: "ticker",
    apiVersion: DRIVER_API_VERSION,
    init(ctx) {
      major = ctx.allocChrdevRegion(0, 1, "ticker");
      if (major < 0) return major;
      ctx.cdevAdd(major, 0, 1, {
        mmap(_file, vma) {
          // One page of registers: a longer mapping or any offset would reach what is not ours.
          if (vma.vmPgoff !== 0 || vma.vmEnd - vma.vmStart > PAGE_SIZE) return -EINVAL;
          // A pfn, not an address (base / PAGE_SIZE: a shift would break above 2 GiB in JavaScript).
          return remapPfnRange(vma, vma.vmStart, base / PAGE_SIZE, PAGE_SIZE, vma.vmPageProt);
        },
      });
      ctx.createDevNode("ticker", major, 0);
      printk(KERN_INFO, "ticker: registers at 0x%x, major %d\n", base, major);
      return 0;
    },
    exit(ctx) {
      ctx.removeDevNode("ticker");
      ctx.cdevDel(major, 0, 1);
      ctx.unregisterChrdevRegion(major, 0, 1);
    },
  });
}
