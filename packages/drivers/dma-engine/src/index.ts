/**
 * fl_dma: the driver of the fl-dma copy engine (@faultline/devices pciDmaEngine).
 *
 * probe: enable, bus mastering on, 32-bit DMA masks, claim BAR 0, a coherent page for the descriptor
 * array (its bus address goes to the engine), one MSI vector and its handler.
 *
 * /dev/fldma: write() takes a request of three little-endian u64 — source address, destination
 * address, length — in the caller's address space. The driver pins both buffers (the destination
 * with FOLL_WRITE, so copy-on-write is broken before the device writes), writes one descriptor per
 * run that stays within a page on both sides, rings the doorbell and, once the completion MSI has
 * arrived, unpins (the destination marked dirty). It returns 24, or -EFAULT when a buffer cannot be
 * pinned whole (unmapped, PROT_NONE, VM_IO/VM_PFNMAP memory), -EINVAL for a request that is not 24
 * bytes or asks for more than the descriptor page holds, -EIO when the engine reports an error.
 * ioctl FLDMA_GET_COMPLETIONS: MSI completions handled.
 */
import { PCI_DMA_DEVICE_ID, PCI_DMA_VENDOR_ID } from "@faultline/devices";
import {
  DMA_BIT_MASK,
  type DmaCoherent,
  type DriverDefinition,
  defineDriver,
  dmaAllocCoherent,
  dmaFreeCoherent,
  dmaSetMaskAndCoherent,
  EFAULT,
  EINVAL,
  EIO,
  ENODEV,
  ENOMEM,
  ENOTTY,
  FOLL_WRITE,
  freeIrq,
  IRQ_HANDLED,
  ioread32,
  iowrite32,
  type Page,
  PCI_DEVICE,
  PCI_IRQ_MSI,
  type PciDev,
  type PciDriver,
  type PciIomem,
  pciAllocIrqVectors,
  pciDisableDevice,
  pciEnableDevice,
  pciFreeIrqVectors,
  pciIomap,
  pciIrqVector,
  pciRegisterDriver,
  pciReleaseRegions,
  pciRequestRegions,
  pciSetMaster,
  pciUnregisterDriver,
  pinUserPages,
  requestIrq,
  unpinUserPages,
  unpinUserPagesDirtyLock,
} from "@faultline/kernel";

export const FLDMA_GET_COMPLETIONS = 0x4401;

const REG_DESC_LO = 0x00;
const REG_DESC_HI = 0x04;
const REG_DOORBELL = 0x08;
const REG_STATUS = 0x10;
const DESC_SIZE = 24;
const PAGE = 4096;
const RING_BYTES = PAGE;

interface Engine {
  readonly dev: PciDev;
  readonly regs: PciIomem;
  readonly ring: DmaCoherent;
  readonly irq: number;
  completions: number;
}

/** `fl_dma`, the driver of the fl-dma PCI copy engine: descriptors in a coherent DMA buffer, copies between pinned user buffers, completion by MSI. */
export function dmaEngine(): DriverDefinition {
  let eng: Engine | null = null;
  let major = 0;

  const pdrv: PciDriver = {
    name: "fl_dma",
    idTable: [PCI_DEVICE(PCI_DMA_VENDOR_ID, PCI_DMA_DEVICE_ID)],
    probe(dev) {
      if (eng) return -ENODEV; // one engine per driver instance
      let r = pciEnableDevice(dev);
      if (r) return r;
      pciSetMaster(dev);
      r = dmaSetMaskAndCoherent(dev, DMA_BIT_MASK(32)) || pciRequestRegions(dev, "fl_dma");
      if (r) {
        pciDisableDevice(dev);
        return r;
      }
      const undo = (err: number) => {
        pciReleaseRegions(dev);
        pciDisableDevice(dev);
        return err;
      };
      const ring = dmaAllocCoherent(dev, RING_BYTES);
      if (!ring) return undo(-ENOMEM);
      if (pciAllocIrqVectors(dev, 1, 1, PCI_IRQ_MSI) !== 1) {
        dmaFreeCoherent(dev, RING_BYTES, ring.vaddr, ring.dmaHandle);
        return undo(-ENODEV);
      }
      const e: Engine = { dev, regs: pciIomap(dev, 0)!, ring, irq: pciIrqVector(dev, 0), completions: 0 };
      r = requestIrq(
        e.irq,
        (_irq, id) => {
          (id as Engine).completions++;
          return IRQ_HANDLED;
        },
        0,
        "fl_dma",
        e,
      );
      if (r) {
        pciFreeIrqVectors(dev);
        dmaFreeCoherent(dev, RING_BYTES, ring.vaddr, ring.dmaHandle);
        return undo(r);
      }
      iowrite32(ring.dmaHandle % 2 ** 32, e.regs, REG_DESC_LO);
      iowrite32(Math.floor(ring.dmaHandle / 2 ** 32), e.regs, REG_DESC_HI);
      eng = e;
      return 0;
    },
    remove(dev) {
      const e = eng;
      if (!e || e.dev !== dev) return;
      freeIrq(e.irq, e);
      pciFreeIrqVectors(dev);
      dmaFreeCoherent(dev, RING_BYTES, e.ring.vaddr, e.ring.dmaHandle);
      pciReleaseRegions(dev);
      pciDisableDevice(dev);
      eng = null;
    },
  };

  /** The bus address of byte `off` of a buffer at user address `base`, pinned as `pages`. */
  const busAddr = (pages: readonly Page[], base: number, off: number) => {
    const at = (base % PAGE) + off;
    return pages[Math.floor(at / PAGE)]!.pfn * PAGE + (at % PAGE);
  };

  function copy(e: Engine, src: number, dst: number, len: number): number {
    if (!Number.isSafeInteger(len) || len <= 0) return -EINVAL;
    const npages = (a: number) => Math.ceil(((a % PAGE) + len) / PAGE);
    // Runs: at most one per page boundary crossed on either side, plus one.
    if ((npages(src) + npages(dst)) * DESC_SIZE > RING_BYTES) return -EINVAL;
    const from: Page[] = [];
    const to: Page[] = [];
    const ok =
      pinUserPages(src, npages(src), 0, from) === npages(src) &&
      pinUserPages(dst, npages(dst), FOLL_WRITE, to) === npages(dst);
    if (!ok) {
      unpinUserPages(from);
      unpinUserPages(to);
      return -EFAULT;
    }
    const ring = new DataView(e.ring.bytes.buffer, e.ring.bytes.byteOffset, e.ring.bytes.byteLength);
    let n = 0;
    for (let off = 0; off < len; n++) {
      const run = Math.min(len - off, PAGE - ((src + off) % PAGE), PAGE - ((dst + off) % PAGE));
      ring.setBigUint64(n * DESC_SIZE, BigInt(busAddr(from, src, off)), true);
      ring.setBigUint64(n * DESC_SIZE + 8, BigInt(busAddr(to, dst, off)), true);
      ring.setUint32(n * DESC_SIZE + 16, run, true);
      ring.setUint32(n * DESC_SIZE + 20, 0, true);
      off += run;
    }
    const before = e.completions;
    iowrite32(n, e.regs, REG_DOORBELL);
    const failed = e.completions === before || (ioread32(e.regs, REG_STATUS) & 1) !== 0;
    unpinUserPages(from);
    unpinUserPagesDirtyLock(to, to.length, !failed);
    return failed ? -EIO : 0;
  }

  return defineDriver({
    name: "fl_dma",
    apiVersion: 1,
    version: "1.0.0",
    // Machine snapshots: the completion count, and the ring's bus address, which probe (run again at
    // restore on the same machine) must have placed where it was. Pins live only inside a copy.
    snapshot: {
      version: 1,
      save: () => (eng ? { completions: eng.completions, ring: eng.ring.dmaHandle } : null),
      restore(state) {
        const s = state as { completions: number; ring: number } | null;
        if (s === null) {
          if (eng) throw new TypeError("fl_dma: the snapshot's machine had no engine, this one probed one");
          return;
        }
        if (!eng) throw new TypeError("fl_dma: the snapshot's machine had an engine, this one probed none");
        if (eng.ring.dmaHandle !== s.ring)
          throw new TypeError(
            `fl_dma: the ring is at 0x${eng.ring.dmaHandle.toString(16)}, the snapshot's was at 0x${Number(s.ring).toString(16)}`,
          );
        if (!Number.isInteger(s.completions) || s.completions < 0)
          throw new TypeError("fl_dma: a completion count");
        eng.completions = s.completions;
      },
    },
    init(c) {
      major = c.allocChrdevRegion(0, 1, "fl_dma");
      if (major < 0) return major;
      c.cdevAdd(major, 0, 1, {
        write(_file, buf) {
          if (!eng) return -ENODEV;
          if (buf.length !== 24) return -EINVAL;
          const v = new DataView(buf.buffer, buf.byteOffset, 24);
          const r = copy(
            eng,
            Number(v.getBigUint64(0, true)),
            Number(v.getBigUint64(8, true)),
            Number(v.getBigUint64(16, true)),
          );
          return r < 0 ? r : 24;
        },
        unlockedIoctl(_file, cmd) {
          if (!eng) return -ENODEV;
          return cmd === FLDMA_GET_COMPLETIONS ? eng.completions : -ENOTTY;
        },
      });
      c.createDevNode("fldma", major, 0);
      const r = pciRegisterDriver(pdrv);
      return r;
    },
    exit(c) {
      pciUnregisterDriver(pdrv);
      c.removeDevNode("fldma");
      c.cdevDel(major, 0, 1);
      c.unregisterChrdevRegion(major, 0, 1);
    },
  });
}
