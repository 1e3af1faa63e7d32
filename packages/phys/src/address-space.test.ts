import { describe, expect, it } from "vitest";
import { KiB, regs, setup } from "../test/fakes";
import {
  AddressSpace,
  GuestLog,
  MEMTX_ACCESS_ERROR,
  MEMTX_DECODE_ERROR,
  MEMTX_OK,
  MemoryBanks,
  MemoryRegion,
  type MemTxValue,
  PAGE_SIZE,
  PHYS_ADDR_LIMIT,
} from "./index";

describe("loads and stores", () => {
  it("RAM is little-endian at every size", () => {
    const { as, banks, ramBank } = setup();
    expect(as.physWrite64(0x100, 0x0102030405060708n)).toBe(MEMTX_OK);
    expect(banks.u8[ramBank]![0x100]).toBe(0x08);
    expect(as.physRead8(0x107)).toBe(0x01);
    expect(as.physRead16(0x100)).toBe(0x0708);
    expect(as.physRead32(0x104)).toBe(0x01020304);
    expect(as.physRead64(0x100)).toBe(0x0102030405060708n);
    const out = new Uint32Array(2);
    as.physRead64Split(0x100, out);
    expect([...out]).toEqual([0x05060708, 0x01020304]);
    // Unaligned and straddling accesses on RAM work as on x86.
    expect(as.physRead32(0x101)).toBe(0x04050607);
    as.physWrite32(0xffff, 0xaabbccdd);
    expect(as.physRead8(0xffff)).toBe(0xdd);
    expect(as.physRead(0x100, 2)).toBe(0x0708);
  });

  it("the most-recent-range fast path reads and writes what the slow path does, at every edge", () => {
    // One bank holds two RAM ranges at different bank offsets, mapped out of order with holes after
    // them, so a fast path that used the wrong bank index, or a bound one byte too far, would read the
    // other range's bytes where the bus has nothing (all-ones) or straddles into a hole.
    const banks = new MemoryBanks();
    const bank = banks.allocate(64 * KiB, "ram");
    const system = MemoryRegion.container("system", 1 << 20);
    system.addSubregion(0x40000, MemoryRegion.ram("a", banks, bank, 0, 16 * KiB));
    system.addSubregion(0x10000, MemoryRegion.ram("b", banks, bank, 16 * KiB, 32 * KiB));
    const as = new AddressSpace("memory", system, banks, { log: new GuestLog(1) });
    const u8 = banks.u8[bank]!;
    for (let i = 0; i < u8.length; i++) u8[i] = (i * 7 + 3) & 0xff;
    const tx: MemTxValue = { value: 0 };
    const slow = (addr: number, size: 1 | 4 | 8) => {
      as.physReadTx(addr, size, tx);
      return tx.value;
    };
    const out = new Uint32Array(2);
    const edges = [0x40000, 0x40000 + 16 * KiB, 0x10000, 0x10000 + 32 * KiB];
    for (const edge of edges)
      for (let d = -9; d <= 9; d++) {
        const a = edge + d;
        // Make the other range the most recent one, then this one (through a read inside it).
        as.physRead8(edge === 0x10000 || edge === 0x10000 + 32 * KiB ? 0x40000 : 0x10000);
        as.physRead8(edge === 0x10000 || edge === 0x10000 + 32 * KiB ? 0x10008 : 0x40008);
        expect([a, as.physRead8(a)]).toEqual([a, slow(a, 1)]);
        expect([a, as.physRead32(a)]).toEqual([a, slow(a, 4)]);
        as.physRead64Split(a, out);
        const v = slow(a, 8) as bigint;
        expect([a, out[0], out[1]]).toEqual([a, Number(v & 0xffffffffn), Number(v >> 32n)]);
      }
    // Writes: through the fast path where it applies, checked byte by byte in the bank.
    const bankIndex = (addr: number) =>
      addr >= 0x40000 && addr < 0x40000 + 16 * KiB
        ? addr - 0x40000
        : addr >= 0x10000 && addr < 0x10000 + 32 * KiB
          ? addr - 0x10000 + 16 * KiB
          : -1;
    for (const edge of edges)
      for (let d = -9; d <= 9; d++) {
        const a = edge + d;
        u8.fill(0);
        as.physWrite8(edge === 0x10000 || edge === 0x10000 + 32 * KiB ? 0x10008 : 0x40008, 0);
        as.physWrite32(a, 0x44332211);
        as.physWrite8(a + 4, 0x55);
        // Every byte of the bank that changed, against the bytes of a+0..a+4 that are RAM (a 32-bit
        // write that straddles into a hole decodes partly: its RAM bytes are written).
        const seen: Array<[number, number]> = [];
        for (const [i, x] of u8.entries()) if (x) seen.push([i, x]);
        const want: Array<[number, number]> = [];
        for (const [k, x] of [0x11, 0x22, 0x33, 0x44, 0x55].entries())
          if (bankIndex(a + k) >= 0) want.push([bankIndex(a + k), x]);
        want.sort((x, y) => x[0] - y[0]);
        expect([a, seen]).toEqual([a, want]);
      }
  });

  it("unassigned reads are all-ones and logged with the address; writes are dropped and logged", () => {
    const { as } = setup();
    expect(as.physRead8(0x50000)).toBe(0xff);
    expect(as.physRead16(0x50000)).toBe(0xffff);
    expect(as.physRead32(0x50000)).toBe(0xffffffff);
    expect(as.physRead64(0x50000)).toBe(0xffffffffffffffffn);
    expect(as.physWrite32(0x50000, 1)).toBe(MEMTX_DECODE_ERROR);
    const log = as.log.list();
    expect(log).toHaveLength(5);
    expect(log[0]).toMatchObject({ kind: "unassigned-read", addr: 0x50000, size: 1, region: null });
    expect(log[0]!.message).toContain("0x50000");
    expect(log[4]).toMatchObject({ kind: "unassigned-write", addr: 0x50000, isWrite: true });
    const tx = { value: 0 as number | bigint };
    expect(as.physReadTx(0x50000, 4, tx)).toBe(MEMTX_DECODE_ERROR);
    expect(as.physReadTx(0x10, 4, tx)).toBe(MEMTX_OK);
  });

  it("ROM reads like RAM; writes are logged and dropped", () => {
    const { system, as, banks } = setup();
    const bank = banks.allocate(PAGE_SIZE, "rom");
    banks.u8[bank]!.set([0x55, 0xaa]);
    system.addSubregion(0x60000, MemoryRegion.rom("option-rom", banks, bank, 0, PAGE_SIZE));
    expect(as.physRead16(0x60000)).toBe(0xaa55);
    expect(as.physWrite16(0x60000, 0)).toBe(MEMTX_ACCESS_ERROR);
    expect(as.physWrite8(0x60001, 0)).toBe(MEMTX_ACCESS_ERROR);
    expect(as.writeBytes(0x60000, new Uint8Array(4))).toBe(MEMTX_ACCESS_ERROR);
    expect(as.physRead16(0x60000)).toBe(0xaa55);
    expect(as.log.list().map((e) => e.kind)).toEqual(["rom-write", "rom-write", "rom-write"]);
    expect(as.log.list()[0]!.message).toMatch(/ROM option-rom at 0x60000 dropped/);
    const t = as.translatePage(0x60);
    expect(t).toMatchObject({ kind: "bank", bank, offset: 0, writable: false });
  });

  it("bulk reads and writes cross RAM, MMIO and holes", () => {
    const { system, as } = setup();
    const r = regs({ minAccessSize: 1, maxAccessSize: 4 });
    system.addSubregion(0x10000, MemoryRegion.mmio("dev", 0x10, r.ops));
    // RAM ends at 0x10000, then 16 bytes of MMIO, then a hole.
    as.writeBytes(0xfffc, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    expect(r.calls).toEqual(["w4@0=8070605"]);
    const bytes = as.readBytes(0xfffe, 0x14);
    expect([...bytes.subarray(0, 2)]).toEqual([3, 4]);
    expect([...bytes.subarray(2, 6)]).toEqual([5, 6, 7, 8]);
    expect(bytes[18]).toBe(0xff);
    expect(as.log.list().at(-1)).toMatchObject({ kind: "unassigned-read", addr: 0x10010, size: 2 });
  });
});

describe("transaction results (address_space_read: result returned, value handed out)", () => {
  it("physReadTx returns what the access did, whatever else the log records", () => {
    const { system, as } = setup();
    // A device that logs a guest error of its own while answering: the access itself succeeded.
    const noisy = MemoryRegion.mmio("noisy", 0x10, {
      read: (off) => {
        as.log.record({
          kind: "unassigned-read",
          addr: 0,
          size: 4,
          isWrite: false,
          region: "noisy",
          message: "the device complains",
        });
        return 0x42 + off;
      },
      write: () => {},
    });
    system.addSubregion(0x20000, noisy);
    const tx: MemTxValue = { value: 0 };
    expect(as.physReadTx(0x20004, 4, tx)).toBe(MEMTX_OK);
    expect(tx.value).toBe(0x46);
    expect(as.log.length).toBe(1);
  });

  it("physReadTx is right when the log is full and drops entries", () => {
    const { as } = setup();
    for (let i = 0; i < as.log.capacity + 5; i++) as.physRead8(0x50000);
    const tx: MemTxValue = { value: 0 };
    expect(as.physReadTx(0x50000, 2, tx)).toBe(MEMTX_DECODE_ERROR);
    expect(tx.value).toBe(0xffff);
    expect(as.physReadTx(0x100, 8, tx)).toBe(MEMTX_OK);
  });

  it("physReadTx with its own log hands 64-bit values out as bigints", () => {
    const { system, banks } = setup();
    const log = new GuestLog(1);
    const as = new AddressSpace("second view", system, banks, { log });
    as.physWrite64(0x200, 0x1234n);
    const tx: MemTxValue = { value: 0 };
    expect(as.physReadTx(0x200, 8, tx)).toBe(MEMTX_OK);
    expect(tx.value).toBe(0x1234n);
    expect(as.physReadTx(0x50000, 8, tx)).toBe(MEMTX_DECODE_ERROR);
    expect(tx.value).toBe(0xffffffffffffffffn);
    expect(log.list()).toHaveLength(1);
  });

  it("straddling accesses: RAM into a hole decodes partly, RAM into MMIO is refused", () => {
    const { system, as } = setup();
    const tx: MemTxValue = { value: 0 };
    // RAM ends at 64 KiB, then nothing.
    as.physWrite16(64 * KiB - 2, 0xbeef);
    expect(as.physReadTx(64 * KiB - 2, 4, tx)).toBe(MEMTX_DECODE_ERROR);
    expect(tx.value).toBe(0xffffbeef);
    expect(as.physWrite32(64 * KiB - 2, 0)).toBe(MEMTX_DECODE_ERROR);
    system.addSubregion(64 * KiB, MemoryRegion.mmio("dev", 0x10, regs().ops));
    expect(as.physReadTx(64 * KiB - 2, 4, tx)).toBe(MEMTX_ACCESS_ERROR);
    expect(tx.value).toBe(0xffffffff);
    expect(as.physWrite32(64 * KiB - 2, 0)).toBe(MEMTX_ACCESS_ERROR);
    expect(as.log.list().at(-1)).toMatchObject({ kind: "invalid-access", isWrite: true });
  });

  it("addresses outside the physical address space are unassigned", () => {
    const { as } = setup();
    const tx: MemTxValue = { value: 0 };
    expect(as.physReadTx(PHYS_ADDR_LIMIT - 2, 4, tx)).toBe(MEMTX_DECODE_ERROR);
    expect(as.physReadTx(-4, 4, tx)).toBe(MEMTX_DECODE_ERROR);
    expect(as.physWrite8(Number.NaN, 1)).toBe(MEMTX_DECODE_ERROR);
    expect(as.readBytesInto(PHYS_ADDR_LIMIT - PAGE_SIZE, new Uint8Array(2 * PAGE_SIZE))).toBe(
      MEMTX_DECODE_ERROR,
    );
  });
});

describe("pageEntry", () => {
  it("topology changes invalidate cached entries and notify listeners", () => {
    const { system, as, ram } = setup();
    const seen: number[] = [];
    const off = as.onChange((s) => seen.push(s.generation));
    expect(as.pageEntry(2)).toBeGreaterThanOrEqual(0);
    const over = MemoryRegion.mmio("over", 0x1000, regs().ops);
    system.addSubregionOverlap(0x2000, over, 5);
    expect(as.pageEntry(2)).toBe(-1);
    expect(as.physRead32(0x2000)).toBe(0xa0);
    system.delSubregion(over);
    expect(as.pageEntry(2)).toBeGreaterThanOrEqual(0);
    expect(seen).toHaveLength(2);
    off();
    ram.setEnabled(false);
    expect(seen).toHaveLength(2);
  });
});
