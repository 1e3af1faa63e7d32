import { pciFramebuffer } from "@faultline/devices";
import {
  EINVAL,
  ENODEV,
  lspci,
  MAP_SHARED,
  Machine,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  pciDevOf,
  plugPciDevice,
  requestMemRegion,
  unplugPciDevice,
} from "@faultline/kernel";
import { NANOSECONDS_PER_SECOND } from "@faultline/phys";
import { describe, expect, it } from "vitest";
import { FLFB_GET_INFO, FLFB_GET_VBLANKS, pciFb } from "./index";

const RAM = 16 << 20;

describe("fl_fb", () => {
  it("binds, claims both BARs, shows in lspci and /proc/bus/pci/devices", async () => {
    const dev = pciFramebuffer();
    const m = await Machine.create({ ramBytes: RAM, devices: [dev], drivers: [pciFb()] });
    const pdev = pciDevOf(m, dev)!;
    expect(pdev.driverName).toBe("fl_fb");
    expect(m.dmesg()).toContain(
      `fl_fb 0000:00:02.0: 64x48 framebuffer, VRAM at 0x${dev.barAddress(0)!.toString(16)}`,
    );
    expect(lspci(m)).toMatch(
      /Memory at [0-9a-f]+ \(32-bit, prefetchable\) \[size=16K\]\n\tMemory at [0-9a-f]+ \(32-bit, non-prefetchable\) \[size=4K\]\n\tKernel driver in use: fl_fb\n/,
    );
    expect(m.procText("/proc/bus/pci/devices")).toMatch(/^0010\t1b360f0b\tb\t.*\tfl_fb$/m);
    // Someone else claiming the VRAM now gets nothing.
    expect(m.withKernel(() => requestMemRegion(dev.barAddress(0)!, 4096, "other"))).toBeNull();
    const p = m.spawn();
    const fd = p.libc.open("/dev/flfb0", O_RDWR);
    expect(p.libc.ioctl(fd, FLFB_GET_INFO, 0)).toBe(64 * 65536 + 48);
    m.checkInvariants();
  });

  it("VRAM faults in page by page; the register page is mapped at once; bad offsets are -EINVAL", async () => {
    const dev = pciFramebuffer({ width: 128, height: 64 }); // 32 KiB
    const m = await Machine.create({ ramBytes: RAM, devices: [dev], drivers: [pciFb()] });
    const p = m.spawn();
    const fd = p.libc.open("/dev/flfb0", O_RDWR);
    const fb = p.libc.mmap(0, 0x8000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const pte = (a: number) => p.mm.pgd.getPte(a);
    expect(pte(fb)).toBe(0);
    p.mmu.store32(fb + 0x5004, 0x12345678);
    expect(pte(fb)).toBe(0);
    expect(pte(fb + 0x5000)).not.toBe(0);
    expect(dev.ram[0x5004]).toBe(0x78);
    expect(p.sys.mmap(0, 0x9000, PROT_READ, MAP_SHARED, fd, 0)).toBe(-EINVAL);
    expect(p.sys.mmap(0, 0x2000, PROT_READ, MAP_SHARED, fd, 0x8000)).toBe(-EINVAL);
    const regs = p.libc.mmap(0, 0x1000, PROT_READ, MAP_SHARED, fd, 0x8000);
    expect(pte(regs)).not.toBe(0);
    expect(p.mmu.load32(regs)).toBe(128);
    expect(p.procMaps()).toContain("/dev/flfb0");
    m.checkInvariants();
  });

  it("counts vblanks only while bound, shares its line politely, and goes away on unplug and rmmod", async () => {
    const m = await Machine.create({ ramBytes: RAM, drivers: [pciFb()] });
    const a = pciFramebuffer();
    plugPciDevice(m, a);
    const b = pciFramebuffer({ name: "fl-fb-2", slot: 6, refreshHz: 30 });
    plugPciDevice(m, b);
    // slot 2 pin A and slot 6 pin A share PIRQ C: IRQ 11.
    expect(pciDevOf(m, b)!.irq).toBe(11);
    const p = m.spawn();
    const fd0 = p.libc.open("/dev/flfb0", O_RDWR);
    const fd1 = p.libc.open("/dev/flfb1", O_RDWR);
    m.phys.clock.advance(NANOSECONDS_PER_SECOND + 1000);
    expect(p.libc.ioctl(fd0, FLFB_GET_VBLANKS, 0)).toBe(60);
    expect(p.libc.ioctl(fd1, FLFB_GET_VBLANKS, 0)).toBe(30);
    expect(m.procText("/proc/interrupts")).toContain(
      " 11:         90   IO-APIC  11-fasteoi   fl_fb, fl_fb\n",
    );
    unplugPciDevice(m, b);
    expect(p.sys.ioctl(fd1, FLFB_GET_VBLANKS, 0)).toBe(-ENODEV);
    expect(m.unloadDriver("fl_fb")).toBe(0);
    expect(m.procText("/proc/iomem")).not.toContain("fl_fb");
    expect(m.procText("/proc/interrupts")).not.toContain("fl_fb");
    m.checkInvariants();
  });
});
