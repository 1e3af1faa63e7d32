// The two kernel-log excerpts docs/driver-api.md shows, produced for real: a driver that computes a
// BAR's pfn with `>>` (the WARNING of a bad pfn) and a fault handler that throws (an oops).

import { simple } from "@faultline/driver-simple";
import {
  defineDriver,
  MAP_SHARED,
  Machine,
  type Machine as MachineType,
  O_RDWR,
  PAGE_SHIFT,
  PROT_READ,
  remapPfnRange,
  SignalError,
} from "@faultline/kernel";

/** A driver whose mmap maps "its BAR" at 0xfebf0000 with the C idiom `bar >> PAGE_SHIFT`. */
const fb = () =>
  defineDriver({
    name: "fb",
    apiVersion: 1,
    init(ctx) {
      const major = ctx.allocChrdevRegion(0, 1, "fb");
      ctx.cdevAdd(major, 0, 1, {
        mmap(_file, vma) {
          const bar = 0xfebf0000;
          return remapPfnRange(vma, vma.vmStart, bar >> PAGE_SHIFT, vma.vmEnd - vma.vmStart, vma.vmPageProt);
        },
      });
      ctx.createDevNode("fb0", major, 0);
      return 0;
    },
  });

/** A driver whose fault handler throws. */
const pages = () =>
  defineDriver({
    name: "pages",
    apiVersion: 1,
    init(ctx) {
      const major = ctx.allocChrdevRegion(0, 1, "pages");
      ctx.cdevAdd(major, 0, 1, {
        mmap(_file, vma) {
          vma.vmOps = {
            fault() {
              throw new Error("fault exploded");
            },
          };
          return 0;
        },
      });
      ctx.createDevNode("pages", major, 0);
      return 0;
    },
  });

/** The lines from the first one that starts with `first` to the first one that starts with `last`. */
function excerpt(m: MachineType, first: string, last: string): string[] {
  const log = m.dmesg();
  const a = log.findIndex((l) => l.startsWith(first));
  const b = log.findIndex((l, i) => i > a && l.startsWith(last));
  return a < 0 || b < 0 ? [] : log.slice(a, b + 1);
}

export async function warningExcerpt(): Promise<string[]> {
  const m = await Machine.create({ ramBytes: 64 << 20, drivers: [simple(), fb()] });
  const p = m.spawn();
  const fd = p.libc.open("/dev/fb0", O_RDWR);
  p.sys.mmap(0, 4096, PROT_READ, MAP_SHARED, fd, 0);
  return excerpt(m, "------------[ cut here ]", "---[ end trace");
}

export async function oopsExcerpt(): Promise<string[]> {
  const m = await Machine.create({ ramBytes: 64 << 20, drivers: [pages()] });
  const p = m.spawn();
  const fd = p.libc.open("/dev/pages", O_RDWR);
  const a = p.libc.mmap(0, 4096, PROT_READ, MAP_SHARED, fd, 0);
  try {
    p.mmu.load8(a);
  } catch (e) {
    if (!SignalError.is(e)) throw e;
  }
  const lines = excerpt(m, "BUG: driver pages oops", "---[ end trace");
  return lines;
}
