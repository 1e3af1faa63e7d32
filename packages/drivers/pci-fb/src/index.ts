/**
 * fl_fb: the driver of the fl-fb PCI framebuffer (@faultline/devices pciFramebuffer), written as a
 * PCI driver is: it never looks for its device, the PCI core probes it for each function its id
 * table matches, at load and when one is plugged in.
 *
 * probe: enable the device, claim its BARs ("fl_fb" nested under the BARs in /proc/iomem), reserve the
 * VRAM write-combining (archIoReserveMemtypeWc, as DRM drivers reserve their aperture), map the
 * registers (pciIomap: uncached-minus), take the (shared) INTx line and enable the vblank interrupt.
 * remove undoes it.
 *
 * /dev/flfb<N> (one minor per bound device):
 * - mmap at offset 0: VRAM, VM_IO | VM_PFNMAP, write-combining (pgprotWritecombine), mapped page by
 *   page from the fault handler with vmfInsertPfn (the BAR has no struct page), whose PTEs take the WC
 *   type reserved at probe; a fault past the VRAM is SIGBUS.
 * - mmap at offset = VRAM size: the register page, uncached (pgprotNoncached), mapped at once with
 *   remapPfnRange, which reserves it UC- for as long as the mapping lives.
 * - ioctl FLFB_GET_VBLANKS: vblank interrupts the driver has handled; FLFB_GET_INFO: width << 16 | height.
 * - -ENODEV once the device is gone.
 */
import { PCI_FB_DEVICE_ID, PCI_FB_VENDOR_ID } from "@faultline/devices";
import {
  archIoFreeMemtypeWc,
  archIoReserveMemtypeWc,
  type DriverContext,
  type DriverDefinition,
  defineDriver,
  EINVAL,
  ENODEV,
  ENOTTY,
  freeIrq,
  IRQ_HANDLED,
  IRQ_NONE,
  IRQF_SHARED,
  ioread32,
  iowrite32,
  PCI_DEVICE,
  type PciDev,
  type PciDriver,
  type PciIomem,
  pciDisableDevice,
  pciEnableDevice,
  pciIomap,
  pciIounmap,
  pciRegisterDriver,
  pciReleaseRegions,
  pciRequestRegions,
  pciResourceLen,
  pciResourceStart,
  pciUnregisterDriver,
  pgprotNoncached,
  pgprotWritecombine,
  prInfo,
  remapPfnRange,
  requestIrq,
  VM_DONTDUMP,
  VM_DONTEXPAND,
  VM_FAULT_SIGBUS,
  VM_IO,
  VM_PFNMAP,
  type VmOperations,
  vmFlagsSet,
  vmfInsertPfn,
} from "@faultline/kernel";

export const FLFB_GET_VBLANKS = 0x4601;
export const FLFB_GET_INFO = 0x4602;

/** Register offsets (the device's register map). */
const REG_WIDTH = 0x00;
const REG_HEIGHT = 0x04;
const REG_IRQ_STATUS = 0x0c;
const REG_IRQ_ENABLE = 0x10;
const VBLANK = 0x1;
const PAGE = 4096;

interface Fb {
  readonly dev: PciDev;
  readonly minor: number;
  readonly regs: PciIomem;
  readonly vram: number;
  readonly vramLen: number;
  readonly width: number;
  readonly height: number;
  vblanks: number;
  gone: boolean;
}

/** Options of the `pciFb` driver. */
export interface PciFbOptions {
  /** Fixed major (register_chrdev_region); default dynamic. */
  readonly major?: number;
}

/** The PCI framebuffer driver: probes the device, maps VRAM page by page and its registers, counts vblanks. */
export function pciFb(options: PciFbOptions = {}): DriverDefinition {
  let ctx: DriverContext | null = null;
  let major = 0;
  const fbs: Fb[] = [];

  function vblankIrq(_irq: number, devId: unknown): number {
    const fb = devId as Fb;
    // A shared line: only a vblank of this device is ours.
    if (!(ioread32(fb.regs, REG_IRQ_STATUS) & VBLANK)) return IRQ_NONE;
    iowrite32(VBLANK, fb.regs, REG_IRQ_STATUS);
    fb.vblanks++;
    return IRQ_HANDLED;
  }

  /**
   * A VRAM mapping's vm_ops, one table for every mapping (a snapshot saves a VMA's vm_ops by name):
   * the framebuffer is the VMA's vm_private_data, set by mmap.
   */
  const vramOps: VmOperations = {
    fault(vmf) {
      const fb = vmf.vma.vmPrivateData as Fb;
      if (fb.gone || vmf.pgoff * PAGE >= fb.vramLen) return VM_FAULT_SIGBUS;
      return vmfInsertPfn(vmf.vma, vmf.address, fb.vram / PAGE + vmf.pgoff);
    },
  };

  const pdrv: PciDriver = {
    name: "fl_fb",
    idTable: [PCI_DEVICE(PCI_FB_VENDOR_ID, PCI_FB_DEVICE_ID)],
    probe(dev) {
      let r = pciEnableDevice(dev);
      if (r) return r;
      r = pciRequestRegions(dev, "fl_fb");
      if (r) {
        pciDisableDevice(dev);
        return r;
      }
      const vram = pciResourceStart(dev, 0);
      const vramLen = pciResourceLen(dev, 0);
      r = archIoReserveMemtypeWc(vram, vramLen);
      if (r) {
        pciReleaseRegions(dev);
        pciDisableDevice(dev);
        return r;
      }
      const regs = pciIomap(dev, 2);
      if (!regs) {
        archIoFreeMemtypeWc(vram, vramLen);
        pciReleaseRegions(dev);
        pciDisableDevice(dev);
        return -ENODEV;
      }
      const minor = fbs.length;
      const fb: Fb = {
        dev,
        minor,
        regs,
        vram,
        vramLen,
        width: ioread32(regs, REG_WIDTH),
        height: ioread32(regs, REG_HEIGHT),
        vblanks: 0,
        gone: false,
      };
      r = requestIrq(dev.irq, vblankIrq, IRQF_SHARED, "fl_fb", fb);
      if (r) {
        pciIounmap(dev, regs);
        archIoFreeMemtypeWc(vram, vramLen);
        pciReleaseRegions(dev);
        pciDisableDevice(dev);
        return r;
      }
      iowrite32(VBLANK, regs, REG_IRQ_ENABLE);
      fbs.push(fb);
      ctx?.createDevNode(`flfb${minor}`, major, minor);
      prInfo("fl_fb %s: %dx%d framebuffer, VRAM at 0x%x\n", dev.name, fb.width, fb.height, fb.vram);
      return 0;
    },
    remove(dev) {
      const fb = fbs.find((f) => f.dev === dev && !f.gone);
      if (!fb) return;
      iowrite32(0, fb.regs, REG_IRQ_ENABLE);
      freeIrq(dev.irq, fb);
      pciIounmap(dev, fb.regs);
      archIoFreeMemtypeWc(fb.vram, fb.vramLen);
      pciReleaseRegions(dev);
      pciDisableDevice(dev);
      fb.gone = true;
      ctx?.removeDevNode(`flfb${fb.minor}`);
    },
  };

  return defineDriver({
    name: "fl_fb",
    apiVersion: 1,
    version: "1.0.0",
    // Machine snapshots: each framebuffer's vblank count and whether it is gone (probe, run again at
    // restore, rebuilds the rest); a file's private data and a VRAM mapping's vm_private_data are a
    // framebuffer, saved as its index; a VRAM mapping's vm_ops are `vram` (the register page is a
    // remap_pfn_range: no vm_ops).
    snapshot: {
      version: 1,
      vmOps: { vram: vramOps },
      save: () => fbs.map((fb) => ({ vblanks: fb.vblanks, gone: fb.gone })),
      restore(state) {
        const s = state as Array<{ vblanks: number; gone: boolean }>;
        if (!Array.isArray(s) || s.length !== fbs.length)
          throw new TypeError(
            `fl_fb: the snapshot has ${String(s?.length)} framebuffers, this machine probed ${fbs.length}`,
          );
        s.forEach((x, i) => {
          if (!Number.isInteger(x?.vblanks) || x.vblanks < 0) throw new TypeError("fl_fb: a vblank count");
          fbs[i]!.vblanks = x.vblanks;
          fbs[i]!.gone = x.gone === true;
        });
      },
      savePrivate: (data) => fbs.indexOf(data as Fb),
      restorePrivate(saved) {
        const fb = typeof saved === "number" ? fbs[saved] : undefined;
        if (!fb) throw new TypeError(`fl_fb: no framebuffer ${String(saved)}`);
        return fb;
      },
    },
    init(c) {
      ctx = c;
      // A module's globals start afresh at each load (a failed Machine.restore unloads it).
      fbs.length = 0;
      major =
        options.major === undefined
          ? c.allocChrdevRegion(0, 8, "fl_fb")
          : c.registerChrdevRegion(options.major, 0, 8, "fl_fb") || options.major;
      if (major < 0) return major;
      c.cdevAdd(major, 0, 8, {
        open(inode, file) {
          const fb = fbs[inode.minor];
          if (!fb || fb.gone) return -ENODEV;
          file.privateData = fb;
          return 0;
        },
        unlockedIoctl(file, cmd) {
          const fb = file.privateData as Fb;
          if (fb.gone) return -ENODEV;
          if (cmd === FLFB_GET_VBLANKS) return fb.vblanks;
          if (cmd === FLFB_GET_INFO) return fb.width * 65536 + fb.height;
          return -ENOTTY;
        },
        mmap(file, vma) {
          const fb = file.privateData as Fb;
          if (fb.gone) return -ENODEV;
          const off = vma.vmPgoff * PAGE;
          const len = vma.vmEnd - vma.vmStart;
          vmFlagsSet(vma, VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP);
          if (off === fb.vramLen) {
            if (len > PAGE) return -EINVAL;
            // Registers: uncached, so every load and store reaches the device in order.
            vma.vmPageProt = pgprotNoncached(vma.vmPageProt);
            return remapPfnRange(vma, vma.vmStart, pciResourceStart(fb.dev, 2) / PAGE, PAGE, vma.vmPageProt);
          }
          if (off + len > fb.vramLen) return -EINVAL;
          // Pixels: write-combined. vmfInsertPfn takes the type reserved at probe (WC); without that
          // reservation its PTEs would be uncached-minus, whatever vm_page_prot asks.
          vma.vmPageProt = pgprotWritecombine(vma.vmPageProt);
          vma.vmPrivateData = fb;
          vma.vmOps = vramOps;
          return 0;
        },
      });
      return pciRegisterDriver(pdrv);
    },
    exit(c) {
      pciUnregisterDriver(pdrv);
      c.cdevDel(major, 0, 8);
      c.unregisterChrdevRegion(major, 0, 8);
    },
  });
}
