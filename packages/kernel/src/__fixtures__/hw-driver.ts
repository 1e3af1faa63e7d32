// A PCI device and its driver that use everything a machine snapshot must keep on the hardware side:
// BAR claims, a write-combining ioremap (a PAT memtype made at probe), a user mapping of its RAM BAR
// by remap_pfn_range (a memtype tracked with the VMA), an MSI vector and its handler, a coherent DMA
// buffer, a dma pool with blocks taken at run time, streaming DMA (map, device write, unmap within
// one ioctl), an ISA DMA channel and its 8237 registers, a timer_list and an hrtimer re-arming
// themselves, and a device timer on the virtual clock raising MSIs. Written against the public API.
import { definePciDevice, type PciDeviceModel } from "@faultline/devices";
import {
  allocPage,
  DMA_BIT_MASK,
  DMA_FROM_DEVICE,
  type DmaPool,
  type DriverDefinition,
  defineDriver,
  dmaAllocCoherent,
  dmaMapSingle,
  dmaPoolAlloc,
  dmaPoolCreate,
  dmaPoolFree,
  dmaSetMaskAndCoherent,
  dmaUnmapSingle,
  EINVAL,
  ENOTTY,
  getDmaResidue,
  HRTIMER_MODE_REL,
  HRTIMER_RESTART,
  type Hrtimer,
  hrtimerForwardNow,
  hrtimerSetup,
  hrtimerStart,
  IRQ_HANDLED,
  iowrite32,
  jiffies,
  modTimer,
  msecsToJiffies,
  type Page,
  PCI_IRQ_MSI,
  type PciDev,
  type PciIomem,
  pageAddress,
  pageBytes,
  pciAllocIrqVectors,
  pciClearMaster,
  pciEnableDevice,
  pciIomap,
  pciIomapWc,
  pciIrqVector,
  pciReadConfigWord,
  pciRegisterDriver,
  pciRequestRegions,
  pciResourceLen,
  pciResourceStart,
  pciSetMaster,
  remapPfnRange,
  requestDma,
  requestIrq,
  setDmaAddr,
  setDmaCount,
  type TimerList,
  timerDelete,
  timerSetup,
  VM_IO,
  VM_PFNMAP,
  vmFlagsSet,
} from "../index";

export const HW_RAM = 64 * 1024;
/** ioctls of /dev/hw0. */
export const HW_MSIS = 1;
export const HW_POLLS = 2;
export const HW_WATCHDOGS = 3;
export const HW_KICK = 4;
export const HW_POLL_TOGGLE = 5;
/** Streaming DMA: the device writes `arg` into a driver page; returns the page's first byte. */
export const HW_DMA = 6;
export const HW_POOL_ALLOC = 7;
export const HW_ISA_PROGRAM = 8;
export const HW_ISA_RESIDUE = 9;
/** Bus mastering off (arg 0) or on (pci_clear_master / pci_set_master); returns the command register. */
export const HW_MASTER = 10;

const CLOCK_MONOTONIC = 1;

/** The device: RAM in BAR 0, registers in BAR 2 (0x0 kick an MSI, 0x8 DMA-write a byte to the bus address at 0xc), one MSI vector, a 10 ms tick. */
export function hwDevice(): PciDeviceModel {
  return definePciDevice({
    name: "hwdev",
    vendorId: 0x1b36,
    deviceId: 0x0f0d,
    classCode: 0x088000,
    msiVectors: 1,
    interruptPin: 1,
    state: { name: "hwdev", version: 1, fields: { ticks: 0, target: 0 } },
    bars: [
      { index: 0, type: "mem32", prefetchable: true, size: HW_RAM, ram: true },
      {
        index: 2,
        type: "mem32",
        size: 0x1000,
        ops: {
          read: (s, off) => (off === 0x4 ? s.ticks : 0),
          write(s, off, _size, v, ctx) {
            const n = Number(v);
            if (off === 0x0) ctx.msiNotify(0);
            else if (off === 0xc) s.target = n;
            else if (off === 0x8) ctx.dmaWrite(s.target, Uint8Array.of(n & 0xff));
          },
        },
      },
    ],
    realize(s, ctx) {
      const tick = ctx.newTimer(() => {
        s.ticks++;
        if (s.ticks % 3 === 0) ctx.msiNotify(0);
        tick.mod(ctx.now + 10_000_000);
      }, "tick");
      tick.mod(ctx.now + 10_000_000);
    },
  });
}

interface Hw {
  readonly dev: PciDev;
  readonly regs: PciIomem;
  readonly pool: DmaPool;
  readonly page: Page;
  msis: number;
  readonly blocks: Array<{ vaddr: number; dma: number }>;
}

/** `hwdrv`: binds hwdev (see the file comment); `failRestorePrivate` makes its restorePrivate throw. */
export function hwDriver(opts: { failRestorePrivate?: boolean } = {}): DriverDefinition & {
  restored: number;
} {
  let hw: Hw | null = null;
  let polls = 0;
  let wds = 0;
  let pollOn = true;
  let poll: TimerList | null = null;
  let wd: Hrtimer | null = null;
  const out = {
    restored: 0,
    ...defineDriver({
      name: "hwdrv",
      apiVersion: 1,
      version: "1.0.0",
      snapshot: {
        version: 1,
        save: () => ({ msis: hw?.msis ?? 0, polls, wds, pollOn, blocks: hw?.blocks.length ?? 0 }),
        restore(state) {
          const s = state as { msis: number; polls: number; wds: number; pollOn: boolean; blocks: number };
          polls = s.polls;
          wds = s.wds;
          pollOn = s.pollOn;
          if (hw) {
            hw.msis = s.msis;
            // Pool blocks taken after probe are taken again (the pool is the driver's object).
            while (hw.blocks.length < s.blocks) takeBlock(hw);
            for (const b of hw.blocks.splice(s.blocks)) dmaPoolFree(hw.pool, b.vaddr, b.dma);
          }
          out.restored++;
        },
        savePrivate: () => 0,
        restorePrivate: () => {
          if (opts.failRestorePrivate) throw new TypeError("hwdrv: restorePrivate refuses (test)");
          return hw;
        },
        timers: () => ({ ...(poll ? { poll } : {}), ...(wd ? { watchdog: wd } : {}) }),
      },
      init(c) {
        hw = null;
        polls = 0;
        wds = 0;
        pollOn = true;
        const major = c.allocChrdevRegion(0, 1, "hwdrv");
        c.cdevAdd(major, 0, 1, {
          open(_inode, file) {
            file.privateData = hw;
            return 0;
          },
          mmap(_file, vma) {
            if (!hw) return -EINVAL;
            vmFlagsSet(vma, VM_IO | VM_PFNMAP);
            const len = Math.min(vma.vmEnd - vma.vmStart, pciResourceLen(hw.dev, 0));
            return remapPfnRange(vma, vma.vmStart, pciResourceStart(hw.dev, 0) / 4096, len, vma.vmPageProt);
          },
          unlockedIoctl(_file, cmd, arg) {
            if (!hw) return -EINVAL;
            switch (cmd) {
              case HW_MSIS:
                return hw.msis;
              case HW_POLLS:
                return polls;
              case HW_WATCHDOGS:
                return wds;
              case HW_KICK:
                iowrite32(1, hw.regs, 0);
                return 0;
              case HW_POLL_TOGGLE:
                pollOn = !pollOn;
                if (pollOn) modTimer(poll!, jiffies() + msecsToJiffies(30));
                else timerDelete(poll!);
                return pollOn ? 1 : 0;
              case HW_DMA: {
                const bus = dmaMapSingle(hw.dev, pageAddress(hw.page), 4096, DMA_FROM_DEVICE);
                iowrite32(bus, hw.regs, 0xc);
                iowrite32(Number(arg) & 0xff, hw.regs, 0x8);
                dmaUnmapSingle(hw.dev, bus, 4096, DMA_FROM_DEVICE);
                return pageBytes(hw.page)[0]!;
              }
              case HW_POOL_ALLOC:
                return hw.blocks.length < 8 ? takeBlock(hw) : -EINVAL;
              case HW_ISA_PROGRAM:
                setDmaAddr(3, Number(arg) & 0xffff);
                setDmaCount(3, (Number(arg) >> 4) & 0xfff);
                return 0;
              case HW_ISA_RESIDUE:
                return getDmaResidue(3);
              case HW_MASTER:
                if (Number(arg) & 1) pciSetMaster(hw.dev);
                else pciClearMaster(hw.dev);
                return pciReadConfigWord(hw.dev, 0x04);
              default:
                return -ENOTTY;
            }
          },
        });
        c.createDevNode("hw0", major, 0);
        if (requestDma(3, "hwdrv") !== 0) return -EINVAL;
        poll = timerSetup({}, function poll(t) {
          polls++;
          modTimer(t, jiffies() + msecsToJiffies(30));
        });
        modTimer(poll, jiffies() + msecsToJiffies(30));
        wd = hrtimerSetup(
          {},
          function watchdog(h) {
            wds++;
            hrtimerForwardNow(h, 7_000_000);
            return HRTIMER_RESTART;
          },
          CLOCK_MONOTONIC,
          HRTIMER_MODE_REL,
        );
        hrtimerStart(wd, 7_000_000, HRTIMER_MODE_REL);
        return pciRegisterDriver({
          name: "hwdrv",
          idTable: [{ vendor: 0x1b36, device: 0x0f0d }],
          probe(dev) {
            let r = pciEnableDevice(dev);
            if (r) return r;
            pciSetMaster(dev);
            r = dmaSetMaskAndCoherent(dev, DMA_BIT_MASK(32)) || pciRequestRegions(dev, "hwdrv");
            if (r) return r;
            // The RAM BAR write-combined (its memtype reserved now, for as long as the driver is bound).
            if (!pciIomapWc(dev, 0)) return -EINVAL;
            const regs = pciIomap(dev, 2)!;
            if (!dmaAllocCoherent(dev, 4096)) return -EINVAL;
            const pool = dmaPoolCreate("hwpool", dev, 64, 64, 0)!;
            if (pciAllocIrqVectors(dev, 1, 1, PCI_IRQ_MSI) !== 1) return -EINVAL;
            const h: Hw = { dev, regs, pool, page: allocPage()!, msis: 0, blocks: [] };
            takeBlock(h);
            r = requestIrq(
              pciIrqVector(dev, 0),
              (_irq, id) => {
                (id as Hw).msis++;
                return IRQ_HANDLED;
              },
              0,
              "hwdrv",
              h,
            );
            if (r) return r;
            hw = h;
            return 0;
          },
        });
      },
    }),
  };
  return out;
}

function takeBlock(h: Hw): number {
  const b = dmaPoolAlloc(h.pool);
  if (!b) return -EINVAL;
  h.blocks.push({ vaddr: b.vaddr, dma: b.dma });
  return b.dma % 4096;
}
