import { describe, expect, it } from "vitest";
import { __GFP_ZERO, allocPages, EBUSY, EINVAL, freePages, Machine } from "./index";
import {
  claimDmaLock,
  clearDmaFf,
  DMA_AUTOINIT,
  DMA_MODE_READ,
  DMA_MODE_WRITE,
  disableDma,
  enableDma,
  freeDma,
  getDmaResidue,
  releaseDmaLock,
  requestDma,
  setDmaAddr,
  setDmaCount,
  setDmaMode,
} from "./isa-dma";

/** LDD3's dad_dma_prepare(): program a channel for one transfer. */
function prepare(channel: number, mode: number, addr: number, count: number): void {
  const flags = claimDmaLock();
  disableDma(channel);
  clearDmaFf(channel);
  setDmaMode(channel, mode);
  setDmaAddr(channel, addr);
  setDmaCount(channel, count);
  enableDma(channel);
  releaseDmaLock(flags);
}

describe("ISA DMA (8237)", () => {
  it("request_dma/free_dma and /proc/dma as kernel/dma.c keeps them", async () => {
    const m = await Machine.create({ ramBytes: 16 << 20 });
    expect(m.procText("/proc/dma")).toBe(" 4: cascade\n");
    m.withKernel(() => {
      expect(requestDma(1, "dad")).toBe(0);
      expect(requestDma(1, "other")).toBe(-EBUSY);
      expect(requestDma(4, "x")).toBe(-EBUSY);
      expect(requestDma(8, "x")).toBe(-EINVAL);
      expect(requestDma(5, "wide")).toBe(0);
    });
    expect(m.procText("/proc/dma")).toBe(" 1: dad\n 4: cascade\n 5: wide\n");
    m.withKernel(() => {
      freeDma(5);
      freeDma(5);
      freeDma(9);
    });
    expect(m.dmesg()).toContain("Trying to free free DMA5");
    expect(m.dmesg()).toContain("Trying to free DMA9");
    expect(m.procText("/proc/ioports")).toContain("0000-001f : dma1\n");
    expect(m.procText("/proc/ioports")).toContain("0080-008f : dma page reg\n");
    expect(m.procText("/proc/ioports")).toContain("00c0-00df : dma2\n");
  });

  it("a device writes into memory on an 8-bit channel; terminal count masks it; residue runs down", async () => {
    const m = await Machine.create({ ramBytes: 16 << 20 });
    const page = m.withKernel(() => allocPages(0, __GFP_ZERO)!);
    const addr = page.pfn * 4096;
    m.withKernel(() => prepare(1, DMA_MODE_READ, addr + 16, 100)); // read from the device into memory
    expect(m.withKernel(() => getDmaResidue(1))).toBe(100);
    const data = Uint8Array.from({ length: 60 }, (_, i) => i + 1);
    expect(m.phys.isaDma.transfer(1, data, true)).toBe(60);
    expect(m.withKernel(() => getDmaResidue(1))).toBe(40);
    expect(m.phys.isaDma.transfer(1, new Uint8Array(64).fill(0xee), true)).toBe(40);
    expect(m.withKernel(() => getDmaResidue(1))).toBe(0);
    expect([...m.phys.readBytes(addr + 16, 3)]).toEqual([1, 2, 3]);
    expect(m.phys.readBytes(addr + 16 + 99, 2)[0]).toBe(0xee);
    expect(m.phys.readBytes(addr + 16 + 100, 1)[0]).toBe(0);
    // Masked at terminal count: nothing more moves, and the refusal is logged.
    expect(m.phys.isaDma.transfer(1, new Uint8Array(4), true)).toBe(0);
    expect(m.phys.guestErrors().at(-1)!.message).toMatch(/channel 1: .*masked/);
    m.withKernel(() => freePages(page, 0));
    m.checkInvariants();
  });

  it("read transfers go memory → device; 16-bit channels move words; auto-init reloads", async () => {
    const m = await Machine.create({ ramBytes: 16 << 20 });
    const page = m.withKernel(() => allocPages(0, __GFP_ZERO)!);
    const addr = page.pfn * 4096;
    m.phys.writeBytes(addr, Uint8Array.of(9, 8, 7, 6));
    m.withKernel(() => prepare(5, DMA_MODE_WRITE | DMA_AUTOINIT, addr, 4)); // memory to the device
    const got = new Uint8Array(4);
    expect(m.phys.isaDma.transfer(5, got, true)).toBe(0); // the wrong direction: refused
    expect(m.phys.isaDma.transfer(5, got, false)).toBe(4);
    expect([...got]).toEqual([9, 8, 7, 6]);
    // Auto-init: the channel reloaded its address and count and is still unmasked.
    expect(m.withKernel(() => getDmaResidue(5))).toBe(4);
    const again = new Uint8Array(2);
    expect(m.phys.isaDma.transfer(5, again, false)).toBe(2);
    expect([...again]).toEqual([9, 8]);
    m.withKernel(() => freePages(page, 0));
  });
});
