import { describe, expect, it } from "vitest";
import {
  BIOS_SIGNATURE,
  BusError,
  GuestLog,
  type IoPortOps,
  IoPortSpace,
  MEMTX_ACCESS_ERROR,
  MemoryRegion,
  PhysMachine,
} from "./index";

const ports = (base: number): { ops: IoPortOps; calls: string[] } => {
  const calls: string[] = [];
  return {
    calls,
    ops: {
      read: (off, size) => {
        calls.push(`in${size}@${off}`);
        return base + off;
      },
      write: (off, size, v) => {
        calls.push(`out${size}@${off}=${v.toString(16)}`);
      },
    },
  };
};

describe("ISA hole", () => {
  it("has VGA memory at 0xa0000 as device RAM and a recognisable System ROM at 0xf0000", () => {
    const m = PhysMachine.create();
    m.physWrite16(0xb8000, 0x0741); // 'A', light grey on black, top-left of the text screen
    expect(m.physRead16(0xb8000)).toBe(0x0741);
    const vga = m.translatePage(0xb8);
    expect(vga).toMatchObject({ kind: "bank", writable: true, bank: m.isa.vga.bank, offset: 0x18000 });
    expect(new TextDecoder().decode(m.readBytes(0xf0000, BIOS_SIGNATURE.length))).toBe(BIOS_SIGNATURE);
    expect([...m.readBytes(0xffff0, 5)]).toEqual([0xea, 0x5b, 0xe0, 0x00, 0xf0]);
    expect(m.physRead8(0xffffe)).toBe(0xfc);
    expect(m.physWrite32(0xf0000, 0)).toBe(MEMTX_ACCESS_ERROR);
    expect(new TextDecoder().decode(m.readBytes(0xf0000, 4))).toBe("Faul");
    expect(m.guestErrors()).toMatchObject([{ kind: "rom-write", addr: 0xf0000, region: "pc.bios" }]);
    expect(m.translatePage(0xf0)).toMatchObject({ kind: "bank", writable: false });
    // Between VGA and the ROM nothing decodes; the hole's pages still have (reserved) struct pages.
    expect(m.physRead8(0xc0000)).toBe(0xff);
    expect(m.translatePage(0xc0).kind).toBe("unassigned");
    expect(m.mem.pfnValid(0xc0)).toBe(true);
    m.checkInvariants();
  });

  it("places ISA devices at fixed addresses, refusing overlap with VGA/ROM unless a priority is given", () => {
    const m = PhysMachine.create();
    const calls: string[] = [];
    const region = (name: string) =>
      MemoryRegion.mmio(name, 0x1000, {
        read: (off) => {
          calls.push(`${name} r@${off.toString(16)}`);
          return 0x77;
        },
        write: () => {},
        valid: { minAccessSize: 1, maxAccessSize: 1 },
      });
    const dev = m.addIsaDevice({ name: "isa-mem", base: 0xd0000, region: region("isa-mem") });
    expect(m.physRead8(0xd0010)).toBe(0x77);
    expect(calls).toEqual(["isa-mem r@10"]);
    const flat = m.as.describeFlatView();
    let err: unknown;
    try {
      m.addIsaDevice({ name: "mda", base: 0xb0000, region: region("mda") });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BusError);
    expect((err as BusError).code).toBe("EOVERLAP");
    expect((err as Error).message).toMatch(
      /mmio "mda" \[0x10000, 0x11000\) overlaps ram-device "vga.vram" \[0x0, 0x20000\)/,
    );
    expect(() => m.addIsaDevice({ name: "rom-shadow", base: 0xff000, region: region("rs") })).toThrow(
      /"pc.bios"/,
    );
    expect(() => m.addIsaDevice({ name: "low", base: 0x9f000, region: region("low") })).toThrow(
      /outside the ISA hole \[0xa0000, 0x100000\)/,
    );
    expect(() => m.addIsaDevice({ name: "over", base: 0xd0000, region: region("over") })).toThrow(
      /"isa-mem"/,
    );
    expect(m.as.describeFlatView()).toEqual(flat);
    expect(m.isa.devices).toHaveLength(1);
    // With a priority, the device shows through VGA where it sits; VGA remains around it.
    m.addIsaDevice({ name: "mda", base: 0xb0000, region: region("mda"), priority: 1 });
    expect(m.physRead8(0xb0000)).toBe(0x77);
    expect(m.translatePage(0xb1).kind).toBe("bank");
    m.removeIsaDevice(dev);
    expect(m.physRead8(0xd0010)).toBe(0xff);
    m.checkInvariants();
  });
});

describe("I/O port space", () => {
  it("dispatches in/out to registered ranges with offsets and refuses overlaps", () => {
    const io = new IoPortSpace(new GuestLog());
    const com1 = ports(0x10);
    io.register("serial", 0x3f8, 8, com1.ops);
    expect(io.inb(0x3fd)).toBe(0x15);
    io.outb(0x3f8, 0x141);
    io.outl(0x3f8, -1);
    expect(com1.calls).toEqual(["in1@5", "out1@0=41", "out4@0=ffffffff"]);
    expect(() => io.register("other", 0x3fc, 8, ports(0).ops)).toThrow(
      /"other" \[0x3fc, 0x404\) overlap "serial" \[0x3f8, 0x400\)/,
    );
    expect(() => io.register("bad", 0xfffe, 4, ports(0).ops)).toThrow(/inside 0x0-0xffff/);
    expect(() => io.register("empty", 0x80, 0, ports(0).ops)).toThrow(BusError);
    expect(io.registered).toHaveLength(1);
    // With a priority, overlap is allowed and the higher priority decodes.
    const hi = ports(0x80);
    io.register("shadow", 0x3f8, 2, hi.ops, 1);
    expect(io.inb(0x3f8)).toBe(0x80);
    expect(io.inb(0x3fa)).toBe(0x12);
    expect(io.renderIoports()).toBe("03f8-03ff : serial\n03f8-03f9 : shadow\n");
  });

  it("reads all-ones from unassigned ports and logs them; refuses accesses running past a range", () => {
    const log = new GuestLog();
    const io = new IoPortSpace(log);
    expect(io.inb(0x80)).toBe(0xff);
    expect(io.inw(0x80)).toBe(0xffff);
    expect(io.inl(0x80)).toBe(0xffffffff);
    io.outw(0x80, 0x1234);
    io.register("pic", 0x20, 2, ports(0).ops);
    expect(io.inl(0x20)).toBe(0xffffffff);
    expect(log.list().map((e) => [e.kind, e.addr, e.size])).toEqual([
      ["unassigned-read", 0x80, 1],
      ["unassigned-read", 0x80, 2],
      ["unassigned-read", 0x80, 4],
      ["unassigned-write", 0x80, 2],
      ["invalid-access", 0x20, 4],
    ]);
    expect(log.list()[3]!.message).toBe("outw 0x1234 to unassigned port 0x80 dropped");
    expect(log.list()[4]!.message).toContain('runs past the end of "pic"');
  });
});

describe("ISA DMA controller state (machine snapshots)", () => {
  it("saves every register and puts them back: the next transfer goes where the original's goes", () => {
    const a = PhysMachine.create();
    // Channel 1: mode write (device → memory), address 0x2000, count 3, page 0x01, unmasked.
    for (const [port, v] of [
      [0x0b, 0x45],
      [0x0c, 0],
      [0x02, 0x00],
      [0x02, 0x20],
      [0x03, 3],
      [0x03, 0],
      [0x83, 0x01],
      [0x0a, 0x01],
    ] as const)
      a.io.write(port, 1, v);
    a.io.write(0x02, 1, 0x11); // the flip-flop is now high
    const s = a.isaDma.saveState();
    const b = PhysMachine.create();
    b.isaDma.restoreState(structuredClone(s));
    expect(b.isaDma.saveState()).toEqual(s);
    for (const m of [a, b]) expect(m.isaDma.transfer(1, Uint8Array.of(1, 2, 3, 4), true)).toBe(4);
    expect(b.isaDma.saveState()).toEqual(a.isaDma.saveState());
    expect(b.io.read(0x08, 1)).toBe(a.io.read(0x08, 1)); // status: terminal count on channel 1
  });

  it("refuses bad registers whole, changing nothing", () => {
    const m = PhysMachine.create();
    const before = m.isaDma.saveState();
    const bad = structuredClone(before) as unknown as { ch: number[][] };
    bad.ch[7]![4] = 0x100;
    expect(() => m.isaDma.restoreState(bad as never)).toThrow(/channel 7's registers/);
    expect(() => m.isaDma.restoreState({ ch: [], ff: [], status: [] })).toThrow(/8 channels/);
    expect(m.isaDma.saveState()).toEqual(before);
  });
});
