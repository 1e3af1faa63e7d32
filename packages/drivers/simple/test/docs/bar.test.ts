import { pciMemoryDevice } from "@faultline/devices";
import { MAP_SHARED, Machine, O_RDWR, PAGE_SHIFT, PROT_READ, PROT_WRITE } from "@faultline/kernel";
import { expect, it } from "vitest";
import { barDriver, barStats } from "./bar-driver";

it("maps a BAR above 2 GiB through PFN_DOWN, and the test reads the driver's state", async () => {
  const device = pciMemoryDevice({ barSize: 0x10000 });
  const m = await Machine.create({ devices: [device] });
  const bar = device.barAddress(0)!; // firmware placed it at boot
  expect(bar).toBeGreaterThanOrEqual(2 ** 31);
  expect(bar >> PAGE_SHIFT).toBeLessThan(0); // the C idiom, wrong in JavaScript

  const driver = barDriver(bar, 0x10000);
  expect(Object.isFrozen(driver)).toBe(true);
  expect(m.loadDriver(driver)).toBe(0);

  const p = m.spawn();
  const fd = p.libc.open("/dev/bar", O_RDWR);
  const addr = p.libc.mmap(0, 0x2000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0x1000);
  p.mmu.store32(addr, 0xfeedface);
  expect(m.phys.physRead32(bar + 0x1000)).toBe(0xfeedface);
  expect(barStats(driver)).toEqual({ mmaps: 1, bytesMapped: 0x2000 });
  m.checkInvariants();
});
