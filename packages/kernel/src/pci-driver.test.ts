import { definePciDevice, type PciDeviceContext } from "@faultline/devices";
import { describe, expect, it } from "vitest";
import { defineDriver, EBUSY, EINVAL, ENODEV, ENOSPC, Machine } from "./index";
import {
  freeIrq,
  IORESOURCE_MEM,
  IORESOURCE_MEM_64,
  IORESOURCE_PREFETCH,
  IRQ_HANDLED,
  IRQ_NONE,
  IRQF_SHARED,
  ioread32,
  iowrite32,
  PCI_DEVICE,
  PCI_IRQ_INTX,
  PCI_IRQ_MSI,
  type PciDev,
  type PciDriver,
  pciAllocIrqVectors,
  pciEnableDevice,
  pciFreeIrqVectors,
  pciGetDrvdata,
  pciIomap,
  pciIrqVector,
  pciReadConfigDword,
  pciReadConfigWord,
  pciRegisterDriver,
  pciRequestRegions,
  pciResourceFlags,
  pciResourceLen,
  pciResourceStart,
  pciSetDrvdata,
  pciSetMaster,
  pciUnregisterDriver,
  pciWriteConfigDword,
  readq,
  requestIrq,
  requestMemRegion,
  writeq,
} from "./pci";
import { lspci, pciDevOf, plugPciDevice, unplugPciDevice } from "./pci-machine";

const RAM = 16 * 1024 * 1024;

/** A device with a RAM BAR 0 (prefetchable), a 64-bit register BAR 2, INTA and 2 MSI vectors. */
function testDevice(name = "tdev", deviceId = 0x0042) {
  let ctx: PciDeviceContext | null = null;
  const dev = definePciDevice({
    name,
    vendorId: 0x1b36,
    deviceId,
    classCode: 0x058000,
    interruptPin: 1,
    msiVectors: 2,
    state: { name: "tdev", version: 1, fields: { status: 0, scratch: 0, wide: "0" } },
    bars: [
      { index: 0, type: "mem32", prefetchable: true, size: 0x10000, ram: true },
      {
        index: 2,
        type: "mem64",
        size: 0x1000,
        ops: {
          valid: { min: 4, max: 8 },
          read: (s, off, size) => {
            if (size === 8) return BigInt(s.wide);
            return off === 0 ? s.status : s.scratch;
          },
          write: (s, off, size, v) => {
            if (size === 8) s.wide = BigInt(v).toString();
            else if (off === 0)
              s.status = 0; // write-to-clear: the interrupt is acknowledged
            else s.scratch = Number(v);
            if (off === 0) ctx?.setIrq(false);
          },
        },
      },
    ],
    realize: (_s, c) => {
      ctx = c;
    },
  });
  return {
    dev,
    raise(s = 1) {
      (dev as unknown as { s: { status: number } }).s.status = s;
      ctx!.setIrq(true);
    },
    msi: (v = 0) => ctx!.msiNotify(v),
  };
}

interface Bound {
  dev: PciDev;
  irqs: number;
}

function testDriver(opts: { name?: string; probeResult?: number; useMsi?: boolean } = {}) {
  const name = opts.name ?? "tdrv";
  const log: string[] = [];
  const pdrv: PciDriver = {
    name,
    idTable: [PCI_DEVICE(0x1b36, 0x0042)],
    probe(dev) {
      log.push(`probe ${dev.name}`);
      if (opts.probeResult) return opts.probeResult;
      expect(pciEnableDevice(dev)).toBe(0);
      pciSetMaster(dev);
      const r = pciRequestRegions(dev, name);
      if (r) return r;
      const b: Bound = { dev, irqs: 0 };
      pciSetDrvdata(dev, b);
      const nvec = pciAllocIrqVectors(dev, 1, 2, opts.useMsi ? PCI_IRQ_MSI | PCI_IRQ_INTX : PCI_IRQ_INTX);
      log.push(`nvec ${nvec}`);
      const irq = pciIrqVector(dev, 0);
      const handler = (_irq: number, id: unknown) => {
        const regs = pciIomap(dev, 2)!;
        if (!opts.useMsi && ioread32(regs, 0) === 0) return IRQ_NONE;
        (id as Bound).irqs++;
        iowrite32(1, regs, 0);
        return IRQ_HANDLED;
      };
      return requestIrq(irq, handler, IRQF_SHARED, name, b);
    },
    remove(dev) {
      log.push(`remove ${dev.name}`);
      freeIrq(pciIrqVector(dev, 0), pciGetDrvdata(dev));
      pciFreeIrqVectors(dev);
    },
  };
  const driver = defineDriver({
    name,
    apiVersion: 1,
    init: () => pciRegisterDriver(pdrv),
    exit: () => pciUnregisterDriver(pdrv),
  });
  return { driver, pdrv, log };
}

describe("PCI drivers: probe, BARs, config space", () => {
  it("binds at load, claims the BARs under the device in /proc/iomem, maps and reads them", async () => {
    const t = testDevice();
    const d = testDriver();
    const m = await Machine.create({ ramBytes: RAM, devices: [t.dev], drivers: [d.driver] });
    expect(d.log).toEqual(["probe 0000:00:02.0", "nvec 1"]);
    const dev = pciDevOf(m, t.dev)!;
    expect(dev.driverName).toBe("tdrv");
    expect(dev.irq).toBe(11);
    m.withKernel(() => {
      const bar0 = pciResourceStart(dev, 0);
      expect(bar0).toBe(t.dev.barAddress(0));
      expect(pciResourceLen(dev, 0)).toBe(0x10000);
      expect(pciResourceFlags(dev, 0)).toBe(IORESOURCE_MEM | IORESOURCE_PREFETCH | 0x40000 | 0x8);
      expect(pciResourceFlags(dev, 2)).toBe(0x0014_0204);
      expect(pciResourceFlags(dev, 2) & IORESOURCE_MEM_64).toBe(IORESOURCE_MEM_64);
      expect(pciResourceLen(dev, 1)).toBe(0);
      expect(pciResourceStart(dev, 1)).toBe(0);
      const hex = bar0.toString(16);
      expect(m.procText("/proc/iomem")).toContain(
        `  ${hex}-${(bar0 + 0xffff).toString(16)} : 0000:00:02.0\n    ${hex}-${(bar0 + 0xffff).toString(16)} : tdrv\n`,
      );
      // Taken: another claim of the same range is refused.
      expect(requestMemRegion(bar0, 0x1000, "other")).toBeNull();
      const regs = pciIomap(dev, 2)!;
      iowrite32(0x1234, regs, 4);
      expect(ioread32(regs, 4)).toBe(0x1234);
      writeq(0x1122334455667788n, regs, 8);
      expect(readq(regs, 8)).toBe(0x1122334455667788n);
      expect(pciReadConfigWord(dev, 0)).toBe(0x1b36);
      expect(pciReadConfigDword(dev, 0) >>> 16).toBe(0x0042);
      expect(pciWriteConfigDword(dev, 0x42, 0)).toBe(-EINVAL);
    });
    const devices = m.procText("/proc/bus/pci/devices").split("\n");
    const line = devices.find((l) => l.startsWith("0010\t"))!;
    const cols = line.split("\t");
    expect(cols[1]).toBe("1b360042");
    expect(cols[2]).toBe("b");
    expect(cols[3]).toBe((t.dev.barAddress(0)! + 8).toString(16).padStart(16, " "));
    expect(cols[5]).toBe((t.dev.barAddress(2)! + 4).toString(16).padStart(16, " "));
    expect(cols[10]).toBe("           10000");
    expect(cols[12]).toBe("            1000");
    expect(cols[17]).toBe("tdrv");
    expect(devices[0]).toBe(`0000\t80861237\t0${"\t               0".repeat(14)}\t`);
    expect(lspci(m)).toContain("\tFlags: bus master, fast devsel, latency 0, IRQ 11\n");
    expect(lspci(m)).toContain("\tKernel driver in use: tdrv\n");
    m.checkInvariants();
    expect(m.unloadDriver("tdrv")).toBe(0);
    expect(d.log.at(-1)).toBe("remove 0000:00:02.0");
    expect(dev.driverName).toBeNull();
    expect(m.procText("/proc/iomem")).not.toContain("tdrv");
    expect(dev.isBusmaster).toBe(false);
  });

  it("a second driver for the same device is not probed; a failing probe leaves it unbound with the message", async () => {
    const t = testDevice();
    const failing = testDriver({ name: "bad", probeResult: -ENOSPC });
    const m = await Machine.create({ ramBytes: RAM, devices: [t.dev], drivers: [failing.driver] });
    expect(failing.log).toEqual(["probe 0000:00:02.0"]);
    expect(m.dmesg()).toContain("pci 0000:00:02.0: probe with driver bad failed with error -28");
    const quiet = testDriver({ name: "quiet", probeResult: -ENODEV });
    expect(m.loadDriver(quiet.driver)).toBe(0);
    expect(m.dmesg().filter((l) => l.includes("quiet"))).toEqual([]);
    const good = testDriver({ name: "good" });
    expect(m.loadDriver(good.driver)).toBe(0);
    expect(pciDevOf(m, t.dev)!.driverName).toBe("good");
    const again = testDriver({ name: "again" });
    expect(m.loadDriver(again.driver)).toBe(0);
    expect(again.log).toEqual([]);
    // Registering the same pci_driver name twice is -EBUSY.
    const dup = defineDriver({ name: "dup", apiVersion: 1, init: () => pciRegisterDriver(good.pdrv) });
    expect(m.loadDriver(dup)).toBe(-EBUSY);
    m.checkInvariants();
  });

  it("binds a device plugged in later, and runs remove when it is pulled out", async () => {
    const d = testDriver();
    const m = await Machine.create({ ramBytes: RAM, drivers: [d.driver] });
    expect(d.log).toEqual([]);
    const t = testDevice();
    const dev = plugPciDevice(m, t.dev);
    expect(dev.driverName).toBe("tdrv");
    expect(d.log).toEqual(["probe 0000:00:02.0", "nvec 1"]);
    unplugPciDevice(m, t.dev);
    expect(d.log.at(-1)).toBe("remove 0000:00:02.0");
    expect(m.procText("/proc/bus/pci/devices")).not.toContain("1b360042");
    m.checkInvariants();
  });
});

describe("interrupts", () => {
  it("INTx: the handler runs, /proc/interrupts counts, a shared line needs IRQF_SHARED on both", async () => {
    const t = testDevice();
    const d = testDriver();
    const m = await Machine.create({ ramBytes: RAM, devices: [t.dev], drivers: [d.driver] });
    const dev = pciDevOf(m, t.dev)!;
    const bound = m.withKernel(() => pciGetDrvdata<Bound>(dev));
    t.raise();
    t.raise();
    expect(bound.irqs).toBe(2);
    expect(m.procText("/proc/interrupts")).toBe(
      [
        "           CPU0       ",
        " 11:          2   IO-APIC  11-fasteoi   tdrv",
        "ERR:          0",
        "MIS:          0",
        "",
      ].join("\n"),
    );
    m.withKernel(() => {
      expect(requestIrq(11, () => IRQ_NONE, 0, "exclusive", {})).toBe(-EBUSY);
      const other = {};
      expect(requestIrq(11, () => IRQ_NONE, IRQF_SHARED, "other", other)).toBe(0);
      expect(requestIrq(11, () => IRQ_NONE, IRQF_SHARED, "noid")).toBe(-EINVAL);
      expect(requestIrq(200, () => IRQ_NONE, 0, "nodesc", {})).toBe(-EINVAL);
      expect(freeIrq(11, other)).toBe("other");
      expect(freeIrq(11, other)).toBeNull();
    });
    expect(m.dmesg()).toContain("genirq: Flags mismatch irq 11. 00000000 (exclusive) vs. 00000080 (tdrv)");
    expect(m.dmesg()).toContain("Trying to free already-free IRQ 11");
    m.checkInvariants();
  });

  it("a line nobody handles is disabled as note_interrupt does", async () => {
    const t = testDevice();
    const m = await Machine.create({ ramBytes: RAM, devices: [t.dev] });
    m.withKernel(() => {
      expect(requestIrq(11, () => IRQ_NONE, IRQF_SHARED, "deaf", {})).toBe(0);
    });
    t.raise();
    expect(m.dmesg()).toContain("Disabling IRQ #11");
    expect(m.procText("/proc/interrupts")).toContain(" 11:       1000   IO-APIC  11-fasteoi   deaf\n");
  });

  it("a handler that throws is an oops, not a dead machine", async () => {
    const t = testDevice();
    const boom = defineDriver({
      name: "boom",
      apiVersion: 1,
      init: () =>
        requestIrq(
          11,
          () => {
            throw new Error("bad handler");
          },
          IRQF_SHARED,
          "boom",
          {},
        ),
    });
    const m = await Machine.create({ ramBytes: RAM, devices: [t.dev], drivers: [boom] });
    t.raise();
    expect(m.oopses()[0]).toMatchObject({ driver: "boom", pid: null });
    expect(m.dmesg().join("\n")).toMatch(/BUG: driver boom oops in irq 11 handler boom: bad handler/);
  });

  it("MSI: vectors from 24 up, data programmed in the capability, counted per vector", async () => {
    const t = testDevice();
    const d = testDriver({ useMsi: true });
    const m = await Machine.create({ ramBytes: RAM, devices: [t.dev], drivers: [d.driver] });
    expect(d.log).toContain("nvec 2");
    const dev = pciDevOf(m, t.dev)!;
    expect(dev.irq).toBe(24);
    expect(t.msi(0)).toBe(true);
    expect(t.msi(1)).toBe(true);
    expect(t.msi(2)).toBe(false);
    const bound = m.withKernel(() => pciGetDrvdata<Bound>(dev));
    expect(bound.irqs).toBe(1);
    expect(m.procText("/proc/interrupts")).toContain(" 24:          1   PCI-MSI 32768-edge      tdrv\n");
    // Vector 1 has no action: counted (it fired) but nobody handled it.
    expect(m.procText("/proc/interrupts")).not.toContain(" 25:");
    expect(lspci(m)).toContain("Capabilities: [40] MSI: Enable+ Count=2/2 Maskable- 64bit-");
    expect(m.unloadDriver("tdrv")).toBe(0);
    expect(m.procText("/proc/interrupts")).not.toContain("PCI-MSI");
    m.checkInvariants();
  });
});
