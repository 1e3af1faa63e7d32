// A DMA engine, device and driver (docs/dma-and-direct-io.md): descriptors in coherent memory,
// copies between user buffers pinned with pinUserPages, completion by MSI.
import { definePciDevice } from "@faultline/devices";
import {
  DMA_BIT_MASK,
  type DmaCoherent,
  defineDriver,
  dmaAllocCoherent,
  dmaFreeCoherent,
  dmaSetMaskAndCoherent,
  EBUSY,
  EFAULT,
  EINVAL,
  ENOMEM,
  FOLL_WRITE,
  freeIrq,
  gupPinnedPageCount,
  IRQ_HANDLED,
  iowrite32,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  Machine,
  O_RDWR,
  type Page,
  PCI_DEVICE,
  PCI_IRQ_MSI,
  type PciDev,
  type PciIomem,
  PROT_READ,
  PROT_WRITE,
  pciAllocIrqVectors,
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

const REG_DESC_LO = 0x00;
const REG_DESC_HI = 0x04;
const REG_DOORBELL = 0x08; // write n: run n descriptors
const REG_DONE = 0x0c;
const DESC_SIZE = 24; // u64 src, u64 dst, u32 len, u32 flags (bus addresses, little-endian)

// ---- the device -------------------------------------------------------------------------------------

export const flDma = () =>
  definePciDevice({
    name: "fl-dma",
    vendorId: 0x1b36,
    deviceId: 0x0d3a,
    classCode: 0x088000, // system peripheral
    msiVectors: 1,
    state: { name: "fl-dma", version: 1, fields: { descLo: 0, descHi: 0, done: 0 } },
    bars: [
      {
        index: 0,
        type: "mem32",
        size: 0x1000,
        ops: {
          read: (s, offset) => (offset === REG_DONE ? s.done : offset === REG_DESC_LO ? s.descLo : s.descHi),
          write(s, offset, _size, value, ctx) {
            const v = Number(value);
            if (offset === REG_DESC_LO) s.descLo = v;
            else if (offset === REG_DESC_HI) s.descHi = v;
            else if (offset === REG_DOORBELL) {
              const ring = s.descHi * 2 ** 32 + s.descLo;
              for (let i = 0; i < v; i++) {
                const d = new Uint8Array(DESC_SIZE);
                if (!ctx.dmaRead(ring + i * DESC_SIZE, d))
                  return ctx.guestError("descriptor read failed", offset, 4, true);
                const dv = new DataView(d.buffer);
                const src = Number(dv.getBigUint64(0, true));
                const dst = Number(dv.getBigUint64(8, true));
                const buf = new Uint8Array(dv.getUint32(16, true));
                if (!ctx.dmaRead(src, buf) || !ctx.dmaWrite(dst, buf))
                  return ctx.guestError("copy failed", offset, 4, true);
                s.done++;
              }
              ctx.msiNotify(0);
            }
          },
        },
      },
    ],
  });

// ---- the driver: /dev/fldma; write() takes { src, dst, len } (three u64) and copies src → dst ------

interface DmaState {
  dev: PciDev;
  regs: PciIomem;
  ring: DmaCoherent;
  completions: number;
}

export function flDmaDriver() {
  let st: DmaState | null = null;
  let major = 0;
  const pdrv = {
    name: "fl_dma",
    idTable: [PCI_DEVICE(0x1b36, 0x0d3a)],
    probe(dev: PciDev) {
      pciEnableDevice(dev);
      pciSetMaster(dev);
      if (dmaSetMaskAndCoherent(dev, DMA_BIT_MASK(32))) return -EINVAL;
      if (pciRequestRegions(dev, "fl_dma")) return -EBUSY;
      const ring = dmaAllocCoherent(dev, 4096);
      if (!ring) return -ENOMEM;
      if (pciAllocIrqVectors(dev, 1, 1, PCI_IRQ_MSI) !== 1) return -EINVAL;
      const s: DmaState = { dev, regs: pciIomap(dev, 0)!, ring, completions: 0 };
      const r = requestIrq(
        pciIrqVector(dev, 0),
        (_irq, id) => {
          (id as DmaState).completions++;
          return IRQ_HANDLED;
        },
        0,
        "fl_dma",
        s,
      );
      if (r) return r;
      iowrite32(ring.dmaHandle % 2 ** 32, s.regs, REG_DESC_LO);
      iowrite32(Math.floor(ring.dmaHandle / 2 ** 32), s.regs, REG_DESC_HI);
      st = s;
      return 0;
    },
    remove(dev: PciDev) {
      if (!st) return;
      freeIrq(pciIrqVector(dev, 0), st);
      pciFreeIrqVectors(dev);
      dmaFreeCoherent(dev, 4096, st.ring.vaddr, st.ring.dmaHandle);
      pciReleaseRegions(dev);
      st = null;
    },
  };

  /** One copy: pin both buffers, one descriptor per run that stays inside a page on both sides. */
  function copy(s: DmaState, src: number, dst: number, len: number): number {
    const npages = (a: number) => Math.ceil(((a % 4096) + len) / 4096);
    const from: Page[] = [];
    const to: Page[] = [];
    const ns = pinUserPages(src, npages(src), 0, from);
    const nd = ns === npages(src) ? pinUserPages(dst, npages(dst), FOLL_WRITE, to) : 0;
    if (ns !== npages(src) || nd !== npages(dst)) {
      unpinUserPages(from);
      unpinUserPages(to);
      return -EFAULT;
    }
    const ring = new DataView(s.ring.bytes.buffer, s.ring.bytes.byteOffset, s.ring.bytes.byteLength);
    const bus = (pages: Page[], base: number, off: number) =>
      pages[Math.floor(((base % 4096) + off) / 4096)]!.pfn * 4096 + (((base % 4096) + off) % 4096);
    let n = 0;
    for (let off = 0; off < len; n++) {
      const run = Math.min(len - off, 4096 - ((src + off) % 4096), 4096 - ((dst + off) % 4096));
      ring.setBigUint64(n * DESC_SIZE, BigInt(bus(from, src, off)), true);
      ring.setBigUint64(n * DESC_SIZE + 8, BigInt(bus(to, dst, off)), true);
      ring.setUint32(n * DESC_SIZE + 16, run, true);
      off += run;
    }
    iowrite32(n, s.regs, REG_DOORBELL);
    unpinUserPages(from);
    unpinUserPagesDirtyLock(to, to.length, true);
    return 0;
  }

  const driver = defineDriver({
    name: "fl_dma",
    apiVersion: 1,
    init(ctx) {
      major = ctx.allocChrdevRegion(0, 1, "fl_dma");
      ctx.cdevAdd(major, 0, 1, {
        write(_file, buf) {
          if (!st) return -19;
          if (buf.length !== 24) return -EINVAL;
          const v = new DataView(buf.buffer, buf.byteOffset, 24);
          const r = copy(
            st,
            Number(v.getBigUint64(0, true)),
            Number(v.getBigUint64(8, true)),
            Number(v.getBigUint64(16, true)),
          );
          return r < 0 ? r : 24;
        },
        unlockedIoctl: () => st?.completions ?? -19,
      });
      ctx.createDevNode("fldma", major, 0);
      return pciRegisterDriver(pdrv);
    },
    exit(ctx) {
      pciUnregisterDriver(pdrv);
      ctx.removeDevNode("fldma");
      ctx.cdevDel(major, 0, 1);
      ctx.unregisterChrdevRegion(major, 0, 1);
    },
  });
  return driver;
}

// ---- the story: a process copies 6000 bytes across a page boundary by DMA -------------------------

export async function main() {
  const m = await Machine.create({ ramBytes: 16 << 20, devices: [flDma()], drivers: [flDmaDriver()] });
  const p = m.spawn({ name: "dmacopy" });
  const mem = p.libc.mmap(0, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  const src = mem + 100;
  const dst = mem + 2 * 4096 + 7;
  const text = new TextEncoder().encode("direct I/O by DMA ".repeat(333).slice(0, 6000));
  p.mmu.write(src, text);
  const req = new DataView(new ArrayBuffer(24));
  req.setBigUint64(0, BigInt(src), true);
  req.setBigUint64(8, BigInt(dst), true);
  req.setBigUint64(16, BigInt(text.length), true);
  const fd = p.libc.open("/dev/fldma", O_RDWR);
  const written = p.libc.write(fd, new Uint8Array(req.buffer));
  const copied = new TextDecoder().decode(p.mmu.read(dst, text.length));
  return {
    expected: new TextDecoder().decode(text),
    copied,
    written,
    completions: p.libc.ioctl(fd, 0, 0),
    interrupts: m.procText("/proc/interrupts"),
    pinnedAfter: gupPinnedPageCount(m),
    machine: m,
  };
}
