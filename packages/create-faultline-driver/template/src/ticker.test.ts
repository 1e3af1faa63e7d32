import {
  EINVAL,
  MREMAP_MAYMOVE,
  O_RDONLY,
  PAGE_SIZE,
  PROT_READ,
  SEGV_ACCERR,
  SIGSEGV,
} from "@faultline/kernel";
import { expectSignal, mapDevice, snapshot, tryMapDevice, useMachine } from "@faultline/testkit/vitest";
import { describe, expect, it } from "vitest";
import { TICKER_COUNT, TICKER_ID, TICKER_ID_VALUE, TICKER_STEP, tickerDevice, tickerDriver } from "./index";

// Every test boots a machine with the ticker and its driver; after each test the kit checks that no
// oops happened, that checkInvariants() holds, and that every page is back once all processes exit.
const kit = useMachine({
  ramBytes: 32 * 2 ** 20,
  devices: () => [tickerDevice()],
  drivers: () => [tickerDriver()],
});

describe.each(["modern", "2.6.10"] as const)("ticker (%s)", (era) => {
  it("a process maps the registers: it reads the ID, and the count goes up by STEP per read", async () => {
    const { m, p } = await kit.boot({ era });
    const regs = mapDevice(p, "/dev/ticker", { length: PAGE_SIZE });
    expect(p.mmu.load32(regs + TICKER_ID)).toBe(TICKER_ID_VALUE);
    expect([0, 1, 2].map(() => p.mmu.load32(regs + TICKER_COUNT))).toEqual([0, 1, 2]);
    p.mmu.store32(regs + TICKER_STEP, 10);
    expect([0, 1].map(() => p.mmu.load32(regs + TICKER_COUNT))).toEqual([3, 13]);
    m.checkInvariants();
  });

  it("refuses a mapping longer than the page, or at an offset: -EINVAL", async () => {
    const { p } = await kit.boot({ era });
    expect(tryMapDevice(p, "/dev/ticker", { length: 2 * PAGE_SIZE })).toBe(-EINVAL);
    expect(tryMapDevice(p, "/dev/ticker", { length: PAGE_SIZE, offset: PAGE_SIZE })).toBe(-EINVAL);
  });

  it("a store through a read-only mapping is SIGSEGV (SEGV_ACCERR) at that address", async () => {
    const { p } = await kit.boot({ era });
    const regs = mapDevice(p, "/dev/ticker", { length: PAGE_SIZE, prot: PROT_READ, openFlags: O_RDONLY });
    expectSignal(() => p.mmu.store32(regs + TICKER_STEP, 5), {
      signo: SIGSEGV,
      code: SEGV_ACCERR,
      addr: regs + TICKER_STEP,
    });
    expect(p.alive).toBe(false);
  });
});

it("modern: remapPfnRange makes the mapping VM_DONTEXPAND, so mremap cannot grow it (-EFAULT)", async () => {
  const { p } = await kit.boot({ era: "modern" });
  const regs = mapDevice(p, "/dev/ticker", { length: PAGE_SIZE });
  expect(p.sys.mremap(regs, PAGE_SIZE, 2 * PAGE_SIZE, MREMAP_MAYMOVE)).toBe(-14);
});

it("/proc/iomem shows the device, the process's maps show the mapping, dmesg the driver", async () => {
  const { m, p } = await kit.boot();
  mapDevice(p, "/dev/ticker", { length: PAGE_SIZE, prot: PROT_READ, openFlags: O_RDONLY });
  expect(snapshot(m, { dmesg: "ticker" })).toMatchInlineSnapshot(`
    "## /proc/iomem
    00000000-00000fff : Reserved
    00001000-0009ffff : System RAM
    000a0000-000bffff : PCI Bus 0000:00
      000a0000-000bffff : Video RAM area
    000d0000-000d0fff : ticker
    000f0000-000fffff : System ROM
    00100000-01ffffff : System RAM
    c0000000-febfffff : PCI Bus 0000:00
    100000000-8ffffffff : PCI Bus 0000:00

    ## /proc/1/maps (test)
    7ffff7ffe000-7ffff7fff000 r--s 00000000 00:05 400                        /dev/ticker

    ## dmesg
    ticker: registers at 0xd0000, major 254
    "
  `);
});
