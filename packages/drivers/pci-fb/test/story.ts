// The framebuffer's story (docs/write-a-pci-driver.md): probe, iomem, one process draws while
// another reads, vblank interrupts from the virtual clock.
import { PCI_FB_REG_WIDTH, pciFramebuffer } from "@faultline/devices";
import { MAP_SHARED, Machine, O_RDWR, PROT_READ, PROT_WRITE } from "@faultline/kernel";
import { NANOSECONDS_PER_SECOND } from "@faultline/phys";
import { FLFB_GET_VBLANKS, pciFb } from "../src/index";

export async function main() {
  const fbDevice = pciFramebuffer({ width: 64, height: 48 }); // 12 KiB of pixels in a 16 KiB BAR
  const m = await Machine.create({ ramBytes: 16 << 20, devices: [fbDevice], drivers: [pciFb()] });
  const vram = 0x4000;
  const painter = m.spawn({ name: "painter" });
  const viewer = m.spawn({ name: "viewer" });
  const fdP = painter.libc.open("/dev/flfb0", O_RDWR);
  const fdV = viewer.libc.open("/dev/flfb0", O_RDWR);
  const fbP = painter.libc.mmap(0, vram, PROT_READ | PROT_WRITE, MAP_SHARED, fdP, 0);
  const fbV = viewer.libc.mmap(0, vram, PROT_READ, MAP_SHARED, fdV, 0);
  const regsV = viewer.libc.mmap(0, 4096, PROT_READ, MAP_SHARED, fdV, vram);
  // Pixel (10, 5), 32-bit ARGB: drawn by one process, seen by the other through its own mapping.
  painter.mmu.store32(fbP + (5 * 64 + 10) * 4, 0xff00ff00);
  const seen = viewer.mmu.load32(fbV + (5 * 64 + 10) * 4);
  const width = viewer.mmu.load32(regsV + PCI_FB_REG_WIDTH);
  m.advanceClock(NANOSECONDS_PER_SECOND / 10 + 1_000_000); // 101 ms: six vblanks at 60 Hz
  return {
    machine: m,
    seen,
    width,
    vblanks: painter.libc.ioctl(fdP, FLFB_GET_VBLANKS, 0),
    iomem: m.procText("/proc/iomem"),
    interrupts: m.procText("/proc/interrupts"),
    viewerMaps: viewer.procMaps(),
  };
}
