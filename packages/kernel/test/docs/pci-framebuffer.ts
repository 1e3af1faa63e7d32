// A PCI framebuffer, device and driver (docs/write-a-pci-driver.md).
import { definePciDevice } from "@faultline/devices";
import {
  defineDriver,
  EBUSY,
  freeIrq,
  IRQ_HANDLED,
  IRQ_NONE,
  IRQF_SHARED,
  ioread32,
  iowrite32,
  MAP_SHARED,
  Machine,
  O_RDWR,
  PCI_DEVICE,
  type PciDev,
  type PciIomem,
  PROT_READ,
  PROT_WRITE,
  pciEnableDevice,
  pciIomap,
  pciRegisterDriver,
  pciReleaseRegions,
  pciRequestRegions,
  pciResourceLen,
  pciResourceStart,
  pciUnregisterDriver,
  remapPfnRange,
  requestIrq,
  VM_DONTDUMP,
  VM_DONTEXPAND,
  VM_FAULT_SIGBUS,
  VM_IO,
  VM_PFNMAP,
  vmfInsertPfn,
} from "@faultline/kernel";
import { NANOSECONDS_PER_SECOND } from "@faultline/phys";

// ---- the device: VRAM in BAR 0, registers in BAR 2, a 60 Hz vblank on INTA ----------------------

export const FB_WIDTH = 64;
export const FB_HEIGHT = 48;
const VRAM_SIZE = 0x4000; // 64 × 48 × 4 bytes = 12 KiB, in a 16 KiB BAR
const REG_WIDTH = 0x00;
const REG_HEIGHT = 0x04;
const REG_VBLANKS = 0x08;
const REG_IRQ_STATUS = 0x0c; // write 1 to clear
const REG_IRQ_ENABLE = 0x10;

export const flFb = () =>
  definePciDevice({
    name: "fl-fb",
    vendorId: 0x1b36,
    deviceId: 0x0f0b,
    classCode: 0x030000, // display controller, VGA compatible
    interruptPin: 1,
    state: { name: "fl-fb", version: 1, fields: { vblanks: 0, status: 0, enable: 0 } },
    bars: [
      { index: 0, type: "mem32", prefetchable: true, size: VRAM_SIZE, ram: true },
      {
        index: 2,
        type: "mem32",
        size: 0x1000,
        ops: {
          read(s, offset) {
            if (offset === REG_WIDTH) return FB_WIDTH;
            if (offset === REG_HEIGHT) return FB_HEIGHT;
            if (offset === REG_VBLANKS) return s.vblanks;
            if (offset === REG_IRQ_STATUS) return s.status;
            if (offset === REG_IRQ_ENABLE) return s.enable;
            return 0;
          },
          write(s, offset, _size, value, ctx) {
            if (offset === REG_IRQ_STATUS) s.status &= ~Number(value);
            if (offset === REG_IRQ_ENABLE) s.enable = Number(value) & 1;
            ctx.setIrq((s.status & s.enable) !== 0);
          },
        },
      },
    ],
    // The vblank: a timer on the virtual clock, no register poke needed.
    realize(s, ctx) {
      const period = Math.round(NANOSECONDS_PER_SECOND / 60);
      const vblank = ctx.newTimer(() => {
        s.vblanks++;
        s.status |= 1;
        ctx.setIrq((s.status & s.enable) !== 0);
        vblank.mod(ctx.now + period);
      });
      vblank.mod(ctx.now + period);
    },
  });

// ---- the driver: probe, claim, map; /dev/flfb0 maps VRAM at offset 0 and the registers after it --

interface FbState {
  dev: PciDev;
  regs: PciIomem;
  vram: number;
  vramLen: number;
  vblanks: number;
}

export function flFbDriver() {
  let fb: FbState | null = null;
  let major = 0;
  const pdrv = {
    name: "fl_fb",
    idTable: [PCI_DEVICE(0x1b36, 0x0f0b)],
    probe(dev: PciDev) {
      pciEnableDevice(dev);
      if (pciRequestRegions(dev, "fl_fb")) return -EBUSY;
      const regs = pciIomap(dev, 2)!;
      const st: FbState = {
        dev,
        regs,
        vram: pciResourceStart(dev, 0),
        vramLen: pciResourceLen(dev, 0),
        vblanks: 0,
      };
      const r = requestIrq(dev.irq, vblankIrq, IRQF_SHARED, "fl_fb", st);
      if (r) return r;
      iowrite32(1, regs, REG_IRQ_ENABLE);
      fb = st;
      return 0;
    },
    remove(dev: PciDev) {
      if (!fb) return;
      iowrite32(0, fb.regs, REG_IRQ_ENABLE);
      freeIrq(dev.irq, fb);
      pciReleaseRegions(dev);
      fb = null;
    },
  };
  function vblankIrq(_irq: number, id: unknown): number {
    const st = id as FbState;
    if (!(ioread32(st.regs, REG_IRQ_STATUS) & 1)) return IRQ_NONE; // a shared line: not ours
    iowrite32(1, st.regs, REG_IRQ_STATUS);
    st.vblanks++;
    return IRQ_HANDLED;
  }
  return defineDriver({
    name: "fl_fb",
    apiVersion: 1,
    init(ctx) {
      major = ctx.allocChrdevRegion(0, 1, "fl_fb");
      ctx.cdevAdd(major, 0, 1, {
        unlockedIoctl: () => fb?.vblanks ?? -19,
        mmap(_file, vma) {
          if (!fb) return -19;
          const off = vma.vmPgoff * 4096;
          vma.vmFlags |= VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP;
          if (off >= fb.vramLen) {
            // The register page: mapped up front with remap_pfn_range.
            return remapPfnRange(
              vma,
              vma.vmStart,
              (pciResourceStart(fb.dev, 2) + off - fb.vramLen) / 4096,
              4096,
            );
          }
          // VRAM: page by page from the fault handler.
          const vram = fb.vram;
          vma.vmOps = {
            fault: (vmf) =>
              vmf.pgoff * 4096 >= VRAM_SIZE
                ? VM_FAULT_SIGBUS
                : vmfInsertPfn(vmf.vma, vmf.address, vram / 4096 + vmf.pgoff),
          };
          return 0;
        },
      });
      ctx.createDevNode("flfb0", major, 0);
      return pciRegisterDriver(pdrv);
    },
    exit(ctx) {
      pciUnregisterDriver(pdrv);
      ctx.removeDevNode("flfb0");
      ctx.cdevDel(major, 0, 1);
      ctx.unregisterChrdevRegion(major, 0, 1);
    },
  });
}

// ---- the story: probe, iomem, one process draws while another reads, vblanks count ---------------

export async function main() {
  const m = await Machine.create({ ramBytes: 16 << 20, devices: [flFb()], drivers: [flFbDriver()] });
  const painter = m.spawn({ name: "painter" });
  const viewer = m.spawn({ name: "viewer" });
  const fdP = painter.libc.open("/dev/flfb0", O_RDWR);
  const fdV = viewer.libc.open("/dev/flfb0", O_RDWR);
  const fbP = painter.libc.mmap(0, VRAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fdP, 0);
  const fbV = viewer.libc.mmap(0, VRAM_SIZE, PROT_READ, MAP_SHARED, fdV, 0);
  const regsV = viewer.libc.mmap(0, 4096, PROT_READ, MAP_SHARED, fdV, VRAM_SIZE);
  // Pixel (10, 5), 32-bit ARGB.
  painter.mmu.store32(fbP + (5 * FB_WIDTH + 10) * 4, 0xff00ff00);
  const seen = viewer.mmu.load32(fbV + (5 * FB_WIDTH + 10) * 4);
  const width = viewer.mmu.load32(regsV + REG_WIDTH);
  m.phys.clock.advance(NANOSECONDS_PER_SECOND / 10 + 1_000_000); // 101 ms: six vblanks
  return {
    seen,
    width,
    vblanks: painter.libc.ioctl(fdP, 0, 0),
    iomem: m.procText("/proc/iomem"),
    interrupts: m.procText("/proc/interrupts"),
    viewerMaps: viewer.procMaps(),
    machine: m,
  };
}
