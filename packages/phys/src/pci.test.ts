import { describe, expect, it } from "vitest";
import {
  BusError,
  type DeviceContext,
  MemoryRegion,
  type MemoryRegionOps,
  PAGE_SIZE,
  PCI_BASE_ADDRESS_0,
  PCI_COMMAND,
  PCI_COMMAND_IO,
  PCI_COMMAND_MEMORY,
  PCI_HEADER_TYPE,
  type PciBarSpec,
  type PciFunctionSpec,
  PhysMachine,
} from "./index";

const MiB = 1024 * 1024;

function mmio(name: string, size: number): { region: MemoryRegion; calls: string[] } {
  const calls: string[] = [];
  const ops: MemoryRegionOps = {
    read: (off, size) => {
      calls.push(`r${size}@${off.toString(16)}`);
      return 0x1000 + off;
    },
    write: (off, size, v) => {
      calls.push(`w${size}@${off.toString(16)}=${v.toString(16)}`);
    },
  };
  return { region: MemoryRegion.mmio(name, size, ops), calls };
}

function device(name: string, bars: ReadonlyArray<PciBarSpec | null>, extra: Partial<PciFunctionSpec> = {}) {
  return { name, vendorId: 0x1234, deviceId: 0x11e8, classCode: 0x058000, revision: 0x10, bars, ...extra };
}

/** A function with a 1 MiB MMIO BAR 0, a 32-port I/O BAR 1 and a 16 MiB 64-bit prefetchable BAR 2. */
function threeBars(ctx: DeviceContext) {
  const ports: string[] = [];
  const spec = device("three", [
    { type: "memory", size: MiB, region: mmio("three.mmio", MiB).region },
    {
      type: "io",
      size: 32,
      ops: {
        read: (off, size) => {
          ports.push(`in${size}@${off}`);
          return 0x40 + off;
        },
        write: (off, size, v) => {
          ports.push(`out${size}@${off}=${v}`);
        },
      },
    },
    {
      type: "memory",
      size: 16 * MiB,
      is64: true,
      prefetchable: true,
      region: MemoryRegion.ramDevice("three.vram", ctx.banks, 16 * MiB),
    },
  ]);
  return { spec, ports };
}

describe("PCI configuration space", () => {
  it("has a type-0 header with ids, class, revision and subsystem", () => {
    const m = PhysMachine.create();
    const host = m.pci.get(0)!;
    expect(host.name).toBe("0000:00:00.0");
    expect(host.configRead(0, 4)).toBe(0x12378086);
    const f = m.addPciDevice(
      device("d", [], {
        subsystemVendorId: 0x1af4,
        subsystemId: 0x1100,
        classCode: 0x058001,
        interruptPin: 1,
      }),
    );
    expect(f.name).toBe("0000:00:02.0");
    expect(f.configRead(0x00, 2)).toBe(0x1234);
    expect(f.configRead(0x02, 2)).toBe(0x11e8);
    expect(f.configRead(0x08, 4)).toBe(0x05800110);
    expect(f.configRead(PCI_HEADER_TYPE, 1)).toBe(0);
    expect(f.configRead(0x2c, 4)).toBe(0x11001af4);
    expect(f.configRead(0x3d, 1)).toBe(1);
    // Read-only fields ignore writes; the interrupt line is writable.
    f.configWrite(0x00, 4, 0);
    expect(f.configRead(0x00, 4)).toBe(0x11e81234);
    f.configWrite(0x3c, 1, 11);
    expect(f.configRead(0x3c, 1)).toBe(11);
    // Misaligned or out-of-range config accesses are refused and logged.
    expect(f.configRead(0x01, 2)).toBe(0xffff);
    f.configWrite(0xfe, 4, 0);
    expect(m.log.list().map((e) => e.kind)).toEqual(["config-access", "config-access"]);
    // Empty slots read all-ones.
    expect(m.pci.configRead(7, 0, 0, 4)).toBe(0xffffffff);
    m.checkInvariants();
  });

  it("is reachable through configuration mechanism #1 (ports 0xcf8/0xcfc)", () => {
    const m = PhysMachine.create();
    m.outl(0xcf8, 0x80000000 | (1 << 11));
    expect(m.inl(0xcfc)).toBe(0x70008086);
    expect(m.inw(0xcfe)).toBe(0x7000);
    m.outl(0xcf8, 0x80000000 | (9 << 11));
    expect(m.inl(0xcfc)).toBe(0xffffffff);
    m.outl(0xcf8, 1 << 11); // enable bit clear
    expect(m.inl(0xcfc)).toBe(0xffffffff);
  });

  it("sizes BARs exactly as the spec: all-ones in, size mask and type bits out", () => {
    const m = PhysMachine.create();
    const { spec } = threeBars(m.context);
    const f = m.pci.attach(spec); // not yet assigned: BARs read their type bits only
    expect(f.configRead(0x10, 4)).toBe(0x0);
    expect(f.configRead(0x14, 4)).toBe(0x1);
    expect(f.configRead(0x18, 4)).toBe(0xc);
    expect(f.configRead(0x1c, 4)).toBe(0x0);
    for (let reg = 0x10; reg < 0x28; reg += 4) f.configWrite(reg, 4, 0xffffffff);
    expect(f.configRead(0x10, 4)).toBe(0xfff00000); // 1 MiB, 32-bit, non-prefetchable
    expect(f.configRead(0x14, 4)).toBe(0xffffffe1); // 32 ports, I/O
    expect(f.configRead(0x18, 4)).toBe(0xff00000c); // 16 MiB, 64-bit, prefetchable
    expect(f.configRead(0x1c, 4)).toBe(0xffffffff); // upper half: all writable
    expect(f.configRead(0x20, 4)).toBe(0); // unimplemented BARs are hard-wired to zero
    expect(m.pci.probeBar(f, 0)).toBe(MiB);
    expect(m.pci.probeBar(f, 1)).toBe(32);
    expect(m.pci.probeBar(f, 2)).toBe(16 * MiB);
    // Byte-wise writes merge into the BAR through the same masks.
    f.configWrite(0x10, 4, 0);
    f.configWrite(0x13, 1, 0xd0);
    f.configWrite(0x12, 1, 0x1f);
    expect(f.configRead(0x10, 4)).toBe(0xd0100000);
    // Nothing decodes while the command register keeps decode off.
    expect(f.barAddress(0)).toBeNull();
    m.checkInvariants();
  });

  it("refuses bad BARs with an error that says which and why, leaving the bus unchanged", () => {
    const m = PhysMachine.create();
    const before = m.pci.functions.length;
    const flat = m.as.describeFlatView();
    const bad: Array<[PciBarSpec[], RegExp]> = [
      [
        [{ type: "memory", size: 0x3000, region: mmio("x", 0x3000).region }],
        /BAR 0: size 0x3000 is not a power of two/,
      ],
      [[{ type: "memory", size: 8, region: mmio("x", 8).region }], /below the 16 bytes/],
      [[{ type: "io", size: 512, ops: { read: () => 0, write: () => {} } }], /outside 4..256 ports/],
      [
        [{ type: "memory", size: 0x2000, region: mmio("x", 0x1000).region }],
        /has 0x1000 bytes, the BAR 0x2000/,
      ],
    ];
    for (const [bars, re] of bad) {
      let err: unknown;
      try {
        m.addPciDevice(device("bad", bars));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(BusError);
      expect((err as Error).message).toMatch(re);
      expect((err as Error).message).toContain('PCI 0000:00:02.0 "bad"');
    }
    const r = mmio("x", 0x1000).region;
    const last: Array<PciBarSpec | null> = [
      null,
      null,
      null,
      null,
      null,
      { type: "memory", size: 0x1000, is64: true, region: r },
    ];
    expect(() => m.addPciDevice(device("bad64", last))).toThrow(/BAR 5: a 64-bit BAR needs the next BAR/);
    expect(() =>
      m.addPciDevice(
        device("clash", [
          { type: "memory", size: 0x1000, is64: true, region: r },
          { type: "memory", size: 0x1000, region: mmio("y", 0x1000).region },
        ]),
      ),
    ).toThrow(/needs BAR 1 free/);
    expect(() => m.addPciDevice(device("taken", [], { slot: 0 }))).toThrow(
      /0000:00:00.0 is taken by "i440FX"/,
    );
    expect(m.pci.functions.length).toBe(before);
    expect(m.as.describeFlatView()).toEqual(flat);
    m.checkInvariants();
  });
});

describe("PCI decode and firmware assignment", () => {
  it("assigns 32-bit BARs in the PCI hole, largest first, naturally aligned", () => {
    const small = mmio("small", MiB);
    const big = mmio("big", 16 * MiB);
    const m = PhysMachine.create({
      pciDevices: [
        device("small", [{ type: "memory", size: MiB, region: small.region }]),
        device("big", [{ type: "memory", size: 16 * MiB, region: big.region }]),
      ],
    });
    const [fs, fb] = [m.pci.get(2)!, m.pci.get(3)!];
    expect(fb.barAddress(0)).toBe(0xc0000000);
    expect(fs.barAddress(0)).toBe(0xc1000000);
    expect(fs.command & PCI_COMMAND_MEMORY).toBeTruthy();
    expect(m.physRead32(0xc1000010)).toBe(0x1010);
    expect(small.calls).toEqual(["r4@10"]);
    expect(m.translatePage(0xc1000)).toMatchObject({ kind: "mmio", regionOffset: 0 });
    // No struct page anywhere in the window.
    for (const addr of [0xc0000000, 0xc1000000, 0xfebff000])
      expect(m.mem.pfnValid(addr / PAGE_SIZE)).toBe(false);
    expect(() => m.mem.pfnToPage(0xc1000)).toThrow(/no struct page: not system memory \(PCI MMIO\)/);
    m.checkInvariants();
  });

  it("maps a BAR only while decode is enabled and the BAR holds an address", () => {
    const { region, calls } = mmio("dev", 0x1000);
    const m = PhysMachine.create({ pciDevices: [device("dev", [{ type: "memory", size: 0x1000, region }])] });
    const f = m.pci.get(2)!;
    const at = f.barAddress(0)!;
    expect(at).toBe(0xc0000000);
    m.physWrite32(at + 8, 7);
    expect(calls).toEqual(["w4@8=7"]);
    f.configWrite(PCI_COMMAND, 2, f.command & ~PCI_COMMAND_MEMORY);
    expect(f.barAddress(0)).toBeNull();
    expect(m.physRead32(at)).toBe(0xffffffff);
    expect(m.translatePage(at / PAGE_SIZE).kind).toBe("unassigned");
    expect(m.log.list().at(-1)).toMatchObject({ kind: "unassigned-read", addr: at });
    f.configWrite(PCI_COMMAND, 2, f.command | PCI_COMMAND_MEMORY);
    expect(m.physRead32(at)).toBe(0x1000);
    // Moving the BAR moves the decode; an all-ones (probing) value does not decode.
    f.configWrite(PCI_BASE_ADDRESS_0, 4, 0xd0000000);
    expect(m.as.find(0xd0000000)?.region).toBe(region);
    expect(m.as.find(at)).toBeNull();
    f.configWrite(PCI_BASE_ADDRESS_0, 4, 0xffffffff);
    expect(f.barAddress(0)).toBeNull();
    f.configWrite(PCI_BASE_ADDRESS_0, 4, 0);
    expect(f.barAddress(0)).toBeNull();
    m.checkInvariants();
  });

  it("puts 64-bit BARs above the top of RAM and I/O BARs at 0xc000", () => {
    const m = PhysMachine.create();
    const { spec, ports } = threeBars(m.context);
    const f = m.addPciDevice(spec);
    expect(f.barAddress(2)).toBe(2 ** 32); // 256 MiB of RAM: the 64-bit window opens at 4 GiB
    expect(f.configRead(0x18, 4)).toBe(0x0000000c);
    expect(f.configRead(0x1c, 4)).toBe(1);
    expect(f.barAddress(0)).toBe(0xc0000000);
    expect(f.barAddress(1)).toBe(0xc000);
    expect(f.command & (PCI_COMMAND_IO | PCI_COMMAND_MEMORY)).toBe(3);
    // The 64-bit BAR is device RAM: directly bank-backed, writable, and shared.
    const t = m.translatePage(2 ** 32 / PAGE_SIZE + 1);
    expect(t).toMatchObject({ kind: "bank", offset: PAGE_SIZE, writable: true });
    m.physWrite32(2 ** 32 + PAGE_SIZE, 0xfeedface);
    expect(m.banks.u32[t.bank]![PAGE_SIZE / 4]).toBe(0xfeedface);
    expect(m.mem.pfnValid(2 ** 32 / PAGE_SIZE)).toBe(false);
    expect(m.inb(0xc003)).toBe(0x43);
    m.outw(0xc004, 0x1234);
    expect(ports).toEqual(["in1@3", "out2@4=4660"]);
    f.configWrite(PCI_COMMAND, 2, f.command & ~PCI_COMMAND_IO);
    expect(m.inb(0xc003)).toBe(0xff);
    m.checkInvariants();
  });

  it("places 64-bit BARs above RAM that was moved above 4 GiB (6 GiB machine)", () => {
    const m = PhysMachine.create({
      ramBytes: 6 * 1024 ** 3,
      pciDevices: [(ctx) => threeBars(ctx).spec],
    });
    const top = Math.max(...m.mem.ramRanges.map((r) => r.end));
    const f = m.pci.get(2)!;
    expect(f.barAddress(2)).toBe(0x1c0000000); // first aligned address above the top of RAM (7 GiB)
    expect(f.barAddress(2)!).toBeGreaterThanOrEqual(top);
    expect(m.mem.pfnValid(0x1c0000000 / PAGE_SIZE)).toBe(false);
    expect(m.mem.pfnValid(0xc0000000 / PAGE_SIZE)).toBe(false);
    m.checkInvariants();
  });

  it("refuses a hot-plug that does not fit and leaves the machine as it was", () => {
    const m = PhysMachine.create();
    const before = m.lspci();
    const huge: PciBarSpec = {
      type: "memory",
      size: 2 ** 36,
      is64: true,
      region: mmio("huge", 2 ** 36).region,
    };
    expect(() => m.addPciDevice(device("huge", [huge]))).toThrow(
      /BAR 0: no 0x1000000000-byte aligned room in the mem64 window/,
    );
    expect(m.lspci()).toBe(before);
    m.checkInvariants();
  });

  it("detaching a function unmaps its BARs", () => {
    const { region } = mmio("dev", 0x1000);
    const m = PhysMachine.create({ pciDevices: [device("dev", [{ type: "memory", size: 0x1000, region }])] });
    m.removePciDevice(m.pci.get(2)!);
    expect(m.as.find(0xc0000000)).toBeNull();
    expect(region.parent).toBeNull();
    m.checkInvariants();
  });
});

describe("lspci", () => {
  it("lists functions with their regions", () => {
    const m = PhysMachine.create({ pciDevices: [(ctx) => threeBars(ctx).spec] });
    m.pci.get(2)!.configWrite(PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    expect(m.lspci()).toBe(
      [
        "00:00.0 Class 0600: Vendor 8086 Device 1237 (rev 02)",
        "\tSubsystem: Vendor 1af4 Device 1100",
        "\tFlags: fast devsel",
        "",
        "00:01.0 Class 0601: Vendor 8086 Device 7000",
        "\tSubsystem: Vendor 1af4 Device 1100",
        "\tFlags: fast devsel",
        "",
        "00:02.0 Class 0580: Vendor 1234 Device 11e8 (rev 10)",
        "\tFlags: fast devsel",
        "\tMemory at c0000000 (32-bit, non-prefetchable) [size=1M]",
        "\tI/O ports at c000 [disabled] [size=32]",
        "\tMemory at 100000000 (64-bit, prefetchable) [size=16M]",
        "",
      ].join("\n"),
    );
  });
});
