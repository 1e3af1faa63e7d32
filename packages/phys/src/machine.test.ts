import { describe, expect, it } from "vitest";
import {
  MemoryBanks,
  MemoryRegion,
  PAGE_SIZE,
  type PciFunctionSpec,
  PhysMachine,
  PhysMemory,
  pageEntryBank,
  pageEntryOffset,
} from "./index";

const MiB = 1024 * 1024;

/** QEMU's edu-like device: 1 MiB of MMIO registers in BAR 0. */
const edu = (): PciFunctionSpec => ({
  name: "edu",
  vendorId: 0x1234,
  deviceId: 0x11e8,
  classCode: 0x058000,
  revision: 0x10,
  bars: [
    {
      type: "memory",
      size: MiB,
      region: MemoryRegion.mmio("edu-mmio", MiB, {
        read: (off) => (off === 0 ? 0x010000ed : 0),
        write: () => {},
      }),
    },
  ],
});

describe("PhysMachine", () => {
  it("renders /proc/iomem of a default 256 MiB machine with one PCI device", () => {
    const m = PhysMachine.create({ pciDevices: [edu()] });
    expect(m.iomem()).toBe(
      [
        "00000000-00000fff : Reserved",
        "00001000-0009ffff : System RAM",
        "000a0000-000bffff : PCI Bus 0000:00",
        "  000a0000-000bffff : Video RAM area",
        "000f0000-000fffff : System ROM",
        // ramLayout puts the 384 KiB that the ISA hole displaces after the rest of low RAM.
        "00100000-0fffffff : System RAM",
        "c0000000-febfffff : PCI Bus 0000:00",
        "  c0000000-c00fffff : 0000:00:02.0",
        "100000000-8ffffffff : PCI Bus 0000:00",
        "",
      ].join("\n"),
    );
    expect(m.physRead32(0xc0000000)).toBe(0x010000ed);
    expect(m.lspci()).toContain(
      "00:02.0 Class 0580: Vendor 1234 Device 11e8 (rev 10)\n\tFlags: fast devsel\n\tMemory at c0000000 (32-bit, non-prefetchable) [size=1M]\n",
    );
    expect(m.meminfo()).toBe(`MemTotal:         261752 kB\nMemFree:          261752 kB\n`);
    m.checkInvariants();
  });

  it("shows RAM above 4 GiB and the 64-bit window above it on a 6 GiB machine", () => {
    const m = PhysMachine.create({ ramBytes: 6 * 1024 ** 3 });
    expect(m.iomem()).toBe(
      [
        "00000000-00000fff : Reserved",
        "00001000-0009ffff : System RAM",
        "000a0000-000bffff : PCI Bus 0000:00",
        "  000a0000-000bffff : Video RAM area",
        "000f0000-000fffff : System ROM",
        "00100000-bfffffff : System RAM",
        "c0000000-febfffff : PCI Bus 0000:00",
        "100000000-1bfffffff : System RAM",
        "1c0000000-9bfffffff : PCI Bus 0000:00",
        "",
      ].join("\n"),
    );
    // RAM above 4 GiB is reachable and decodes where memory.ts keeps it (banks of 1 GiB).
    const addr = 0x1c0000000 - 8; // the last bytes of RAM
    m.physWrite64(addr, 0x1122334455667788n);
    expect(m.physRead64(addr)).toBe(0x1122334455667788n);
    const e = m.pageEntry(Math.floor(addr / PAGE_SIZE));
    expect(pageEntryBank(e) * 2 ** 32 + pageEntryOffset(e)).toBe(
      m.mem.ramLocate(Math.floor(addr / PAGE_SIZE)),
    );
    m.checkInvariants();
  });

  it("nests a driver's claim under its BAR (pci_request_region)", () => {
    const m = PhysMachine.create({ pciDevices: [edu()] });
    m.pci.get(2)!.requestRegion(0, "edu");
    expect(m.iomem()).toContain(
      "c0000000-febfffff : PCI Bus 0000:00\n  c0000000-c00fffff : 0000:00:02.0\n    c0000000-c00fffff : edu\n",
    );
    m.pci.get(2)!.releaseRegion(0, "edu");
    expect(() => m.pci.get(2)!.releaseRegion(0, "edu")).toThrow(/not claimed by "edu"/);
  });

  it("RAM pages translate to the bank and offset memory.ts uses", () => {
    const m = PhysMachine.create({ ramBytes: 64 * MiB });
    for (const pfn of [0, 1, 0x9f, 0x100, 0x3fff]) {
      const t = m.translatePage(pfn);
      expect(t.kind).toBe("bank");
      expect(t.writable).toBe(true);
      expect(t.bank * 2 ** 32 + t.offset).toBe(m.mem.ramLocate(pfn));
    }
    const pfn = m.mem.allocPfn(0);
    m.mem.frameBytes(pfn).set([1, 2, 3, 4]);
    expect(m.physRead32(pfn * PAGE_SIZE)).toBe(0x04030201);
    m.mem.freePages(pfn, 0);
    // Past the top of RAM nothing decodes.
    expect(m.translatePage(0x4060).kind).toBe("unassigned");
    m.checkInvariants();
  });

  it("device models add ISA and PCI devices before and after creation, with device RAM in shared banks", () => {
    const m = PhysMachine.create({
      isaDevices: [
        (ctx) => ({
          name: "isa-ram",
          base: 0xd0000,
          region: MemoryRegion.ramDevice("isa-ram", ctx.banks, 0x4000),
        }),
      ],
      pciDevices: [edu],
    });
    const f = m.addPciDevice((ctx) => ({
      name: "fb",
      vendorId: 0x1234,
      deviceId: 0x1111,
      classCode: 0x030000,
      bars: [
        {
          type: "memory",
          size: 4 * MiB,
          prefetchable: true,
          region: MemoryRegion.ramDevice("fb", ctx.banks, 4 * MiB),
        },
      ],
    }));
    expect(f.name).toBe("0000:00:03.0");
    expect(f.barAddress(0)).toBe(0xc0400000);
    m.physWrite32(0xd0000, 0xabad1dea);
    m.physWrite32(0xc0400000, 0x600dcafe);
    // A worker attaching the shared descriptor sees the same bytes through the same bank ids.
    const desc = m.share();
    const other = PhysMemory.attach(desc.memory);
    const isa = desc.flatView.find((r) => r.name === "isa-ram")!;
    const fb = desc.flatView.find((r) => r.name === "fb")!;
    expect(other.banks.u32[isa.bank]![0]).toBe(0xabad1dea);
    expect(other.banks.u32[fb.bank]![0]).toBe(0x600dcafe);
    expect(MemoryBanks.attach(desc.memory.banks).names).toContain("vga.vram");
    expect(m.iomem()).toContain("000d0000-000d3fff : isa-ram\n");
    m.checkInvariants();
  });
});
