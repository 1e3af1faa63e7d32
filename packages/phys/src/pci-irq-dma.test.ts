import { describe, expect, it } from "vitest";
import {
  MEMTX_DECODE_ERROR,
  MEMTX_OK,
  MemoryRegion,
  MSI_ADDR_BASE_LO,
  msiCapability,
  PAGE_SIZE,
  PCI_CAP_ID_MSI,
  PCI_CAPABILITY_LIST,
  PCI_COMMAND,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_INTERRUPT_LINE,
  PCI_MSI_ADDRESS_LO,
  PCI_MSI_DATA_32,
  PCI_MSI_FLAGS,
  PCI_MSI_FLAGS_ENABLE,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
  PCI_STATUS_INTERRUPT,
  type PciFunctionSpec,
  PhysMachine,
} from "./index";

const regs = () =>
  MemoryRegion.mmio("dev.regs", 0x1000, { read: () => 0, write: () => {}, valid: { maxAccessSize: 4 } });

function dev(extra: Partial<PciFunctionSpec> = {}): PciFunctionSpec {
  return {
    name: "dev",
    vendorId: 0x1234,
    deviceId: 0x5678,
    classCode: 0x058000,
    interruptPin: 1,
    bars: [{ type: "memory", size: 0x1000, region: regs() }],
    ...extra,
  };
}

describe("PCI config space: capabilities and hooks", () => {
  it("lays capabilities out from 0x40 with the status bit, and lspci shows MSI", () => {
    const m = PhysMachine.create({ pciDevices: [dev({ capabilities: [msiCapability(4)] })] });
    const f = m.pci.get(2)!;
    expect(f.configRead(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST).toBe(PCI_STATUS_CAP_LIST);
    expect(f.configRead(PCI_CAPABILITY_LIST, 1)).toBe(0x40);
    expect(f.findCapability(PCI_CAP_ID_MSI)).toBe(0x40);
    expect(f.findCapability(0x10)).toBe(0);
    // Multiple Message Capable reads 2 (4 vectors); the capability id and next pointer are read-only.
    expect(f.configRead(0x40 + PCI_MSI_FLAGS, 2)).toBe(0x0004);
    f.configWrite(0x40, 2, 0xffff);
    expect(f.configRead(0x40, 2)).toBe(PCI_CAP_ID_MSI);
    expect(m.lspci()).toContain("\tFlags: fast devsel, IRQ 11\n");
    expect(m.lspci()).toContain("\tCapabilities: [40] MSI: Enable- Count=1/4 Maskable- 64bit-\n");
  });

  it("runs the device's read and write hooks around the default behaviour", () => {
    const writes: string[] = [];
    const m = PhysMachine.create({
      pciDevices: [
        dev({
          configRead: (off, size, v) => (off === 0x44 && size === 4 ? 0xcafe0000 : v),
          configWrite: (off, size, v) => void writes.push(`${off}/${size}=${v.toString(16)}`),
        }),
      ],
    });
    const f = m.pci.get(2)!;
    expect(f.configRead(0x44, 4)).toBe(0xcafe0000);
    expect(f.configRead(0, 2)).toBe(0x1234);
    f.configWrite(0x48, 4, 0x1234);
    expect(writes).toContain("72/4=1234");
  });

  it("refuses capabilities that do not fit", () => {
    const big = { id: 9, body: new Uint8Array(200) };
    expect(() => PhysMachine.create({ pciDevices: [dev({ capabilities: [big] })] })).toThrow(/do not fit/);
  });
});

describe("PCI interrupts", () => {
  it("routes INTx through PIRQ as SeaBIOS does, honours INTx Disable and sets Interrupt Status", () => {
    const m = PhysMachine.create({ pciDevices: [dev({ slot: 3 }), dev({ name: "d4", slot: 4 })] });
    const f = m.pci.get(3)!;
    expect(f.configRead(PCI_INTERRUPT_LINE, 1)).toBe(11);
    expect(m.pci.get(4)!.interruptLine).toBe(10);
    const seen: string[] = [];
    m.pci.intxHandler = (fn, irq, level) => void seen.push(`${fn.name} ${irq} ${level}`);
    f.setIrq(true);
    f.setIrq(true);
    expect(f.configRead(PCI_STATUS, 2) & PCI_STATUS_INTERRUPT).toBe(PCI_STATUS_INTERRUPT);
    f.configWrite(PCI_COMMAND, 2, f.command | PCI_COMMAND_INTX_DISABLE);
    f.configWrite(PCI_COMMAND, 2, f.command & ~PCI_COMMAND_INTX_DISABLE);
    f.setIrq(false);
    expect(f.configRead(PCI_STATUS, 2) & PCI_STATUS_INTERRUPT).toBe(0);
    expect(seen).toEqual([
      "0000:00:03.0 11 true",
      "0000:00:03.0 11 false",
      "0000:00:03.0 11 true",
      "0000:00:03.0 11 false",
    ]);
  });

  it("sends MSI only when enabled and bus master, with the vector in the low data bits", () => {
    const m = PhysMachine.create({ pciDevices: [dev({ capabilities: [msiCapability(2)] })] });
    const f = m.pci.get(2)!;
    const msgs: string[] = [];
    m.pci.msiHandler = (_fn, addr, data) => void msgs.push(`${addr.toString(16)}:${data.toString(16)}`);
    expect(f.msiNotify(0)).toBe(false);
    f.configWrite(0x40 + PCI_MSI_ADDRESS_LO, 4, MSI_ADDR_BASE_LO);
    f.configWrite(0x40 + PCI_MSI_DATA_32, 2, 0x40);
    f.configWrite(0x40 + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE | (1 << 4));
    expect(f.msiNotify(1)).toBe(false); // no bus master yet
    f.configWrite(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    expect(f.msiNotify(1)).toBe(true);
    expect(f.msiNotify(2)).toBe(false);
    expect(msgs).toEqual(["fee00000:41"]);
  });
});

describe("PCI bus-master DMA", () => {
  it("moves bytes only with bus mastering on, marks dirty frames, and goes through an IOMMU", () => {
    const m = PhysMachine.create({ ramBytes: 16 << 20, pciDevices: [dev()] });
    const f = m.pci.get(2)!;
    const buf = new Uint8Array(4);
    expect(f.dmaWrite(0x10000, Uint8Array.of(1, 2, 3, 4))).toBe(MEMTX_DECODE_ERROR);
    expect(f.dmaRead(0x10000, buf)).toBe(MEMTX_DECODE_ERROR);
    expect([...buf]).toEqual([0xff, 0xff, 0xff, 0xff]);
    expect(m.physRead32(0x10000)).toBe(0);
    expect(m.guestErrors().at(-1)!.message).toMatch(/bus mastering is disabled/);
    f.configWrite(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    m.dirtyLog.start();
    expect(f.dmaWrite(0x10ffe, Uint8Array.of(1, 2, 3, 4))).toBe(MEMTX_OK);
    expect(m.physRead32(0x10ffe)).toBe(0x04030201);
    expect(m.dirtyLog.testAndClear(0, 0x20)).toEqual([0x10, 0x11]);
    expect(m.dirtyLog.testAndClear(0, 0x20)).toEqual([]);
    // An IOMMU mapping bus page 0x100 to physical page 0x20, nothing else.
    m.pci.iommu = {
      translate: (_fn, a) => (Math.floor(a / PAGE_SIZE) === 0x100 ? 0x20000 + (a % PAGE_SIZE) : -1),
    };
    expect(f.dmaWrite(0x100010, Uint8Array.of(9))).toBe(MEMTX_OK);
    expect(m.physRead8(0x20010)).toBe(9);
    expect(f.dmaWrite(0x200000, Uint8Array.of(9))).toBe(MEMTX_DECODE_ERROR);
    expect(m.guestErrors().at(-1)!.message).toMatch(/IOMMU fault at 0x200000/);
    m.dirtyLog.stop();
    expect(m.dirtyLog.logging).toBe(false);
    m.checkInvariants();
  });
});

describe("request_mem_region / request_region", () => {
  it("nests a claim under its BAR, refuses a second or straddling one, and releases", () => {
    const m = PhysMachine.create({ pciDevices: [dev()] });
    const bar = m.pci.get(2)!.barValue(0);
    expect(m.requestMemRegion(bar, 0x1000, "drv")).toBe(true);
    expect(m.iomem()).toContain(
      `  ${bar.toString(16)}-${(bar + 0xfff).toString(16)} : 0000:00:02.0\n    ${bar.toString(16)}-${(bar + 0xfff).toString(16)} : drv\n`,
    );
    expect(m.requestMemRegion(bar, 0x1000, "other")).toBe(false);
    expect(m.requestMemRegion(bar + 0x100, 0x10, "inner")).toBe(false);
    expect(m.requestMemRegion(bar + 0x800, 0x1000, "straddle")).toBe(false);
    expect(m.releaseMemRegion(bar, 0x1000)).toBe(true);
    expect(m.releaseMemRegion(bar, 0x1000)).toBe(false);
    expect(m.requestMemRegion(bar + 0x100, 0x10, "inner")).toBe(true);
    expect(m.requestRegion(0x3f8, 8, "serial")).toBe(true);
    expect(m.requestRegion(0x3fc, 1, "x")).toBe(false);
    expect(m.ioports()).toContain("03f8-03ff : serial\n");
    m.checkInvariants();
  });
});
