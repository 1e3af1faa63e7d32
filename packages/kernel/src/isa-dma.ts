/**
 * ISA DMA for drivers, as LDD3 chapter 15 tells it: kernel/dma.c (request_dma, free_dma, /proc/dma)
 * and the 8237 helpers of arch/x86/include/asm/dma.h, which program the controllers through their
 * I/O ports (the phys side is @faultline/phys IsaDmaController). Channel 4 is the cascade, taken at
 * boot. Call the set_* helpers with the channel disabled and the flip-flop cleared, between
 * claimDmaLock and releaseDmaLock, as the book does.
 */
import { MAX_DMA_CHANNELS } from "@faultline/phys";
import { EBUSY, EINVAL } from "./constants";
import { currentKernel } from "./internal/current";
import type { Kernel } from "./internal/kernel";

export {
  DMA_AUTOINIT,
  DMA_MODE_CASCADE,
  DMA_MODE_READ,
  DMA_MODE_WRITE,
  MAX_DMA_CHANNELS,
} from "@faultline/phys";

const PAGE_PORTS = [0x87, 0x83, 0x81, 0x82, 0x8f, 0x8b, 0x89, 0x8a] as const;

/** dma_chan_busy[]: the device_id of each taken channel (channel 4: "cascade"). */
const busy = new WeakMap<Kernel, Array<string | null>>();

function chans(k: Kernel): Array<string | null> {
  let b = busy.get(k);
  if (!b) {
    b = Array.from({ length: MAX_DMA_CHANNELS }, (_, i) => (i === 4 ? "cascade" : null));
    busy.set(k, b);
  }
  return b;
}

/** request_dma(dmanr, device_id): 0, -EINVAL for a channel that does not exist, -EBUSY when taken. */
export function requestDma(dmanr: number, deviceId: string): number {
  const b = chans(currentKernel("requestDma"));
  if (!Number.isInteger(dmanr) || dmanr < 0 || dmanr >= MAX_DMA_CHANNELS) return -EINVAL;
  if (b[dmanr] !== null) return -EBUSY;
  b[dmanr] = String(deviceId);
  return 0;
}

/** free_dma(dmanr): "Trying to free DMA%d" for a channel out of range, "Trying to free free DMA%d" for a free one. */
export function freeDma(dmanr: number): void {
  const k = currentKernel("freeDma");
  const b = chans(k);
  if (!Number.isInteger(dmanr) || dmanr < 0 || dmanr >= MAX_DMA_CHANNELS) {
    k.log.printk(4, `Trying to free DMA${dmanr}`);
    return;
  }
  if (b[dmanr] === null) {
    k.log.printk(4, `Trying to free free DMA${dmanr}`);
    return;
  }
  b[dmanr] = null;
}

/** /proc/dma (proc_dma_show): "%2d: %s" per taken channel. */
export function renderProcDma(k: Kernel): string {
  return chans(k)
    .map((id, i) => (id === null ? "" : `${String(i).padStart(2)}: ${id}\n`))
    .join("");
}

function ports(dmanr: number, what: string) {
  if (!Number.isInteger(dmanr) || dmanr < 0 || dmanr >= MAX_DMA_CHANNELS) {
    throw new RangeError(`${what}: DMA channel ${dmanr} does not exist (0..7)`);
  }
  const k = currentKernel(what);
  const hi = dmanr >= 4;
  const n = dmanr & 3;
  return {
    out: (port: number, v: number) => k.phys.outb(port, v & 0xff),
    inb: (port: number) => k.phys.inb(port),
    mask: hi ? 0xd4 : 0x0a,
    mode: hi ? 0xd6 : 0x0b,
    ff: hi ? 0xd8 : 0x0c,
    addr: hi ? 0xc0 + 4 * n : 2 * n,
    count: hi ? 0xc2 + 4 * n : 2 * n + 1,
    page: PAGE_PORTS[dmanr]!,
    n,
    hi,
  };
}

/** claim_dma_lock() / release_dma_lock(): the flags to hand back (a single CPU here). */
export function claimDmaLock(): number {
  return 0;
}
/** release_dma_lock(flags): gives back what claimDmaLock returned. */
export function releaseDmaLock(_flags: number): void {}

/** enable_dma(): unmask the channel. */
export function enableDma(dmanr: number): void {
  const p = ports(dmanr, "enableDma");
  p.out(p.mask, p.n);
}

/** disable_dma(): mask it. */
export function disableDma(dmanr: number): void {
  const p = ports(dmanr, "disableDma");
  p.out(p.mask, p.n | 4);
}

/** clear_dma_ff(): the next address/count byte is the low one. */
export function clearDmaFf(dmanr: number): void {
  const p = ports(dmanr, "clearDmaFf");
  p.out(p.ff, 0);
}

/** set_dma_mode(dmanr, mode): DMA_MODE_READ (from the device into memory), DMA_MODE_WRITE (memory to the device), | DMA_AUTOINIT. */
export function setDmaMode(dmanr: number, mode: number): void {
  const p = ports(dmanr, "setDmaMode");
  p.out(p.mode, mode | p.n);
}

/** set_dma_page(). */
export function setDmaPage(dmanr: number, page: number): void {
  const p = ports(dmanr, "setDmaPage");
  p.out(p.page, p.hi ? page & 0xfe : page);
}

/** set_dma_addr(dmanr, a): a bus address below 16 MiB (words on channels 5–7). */
export function setDmaAddr(dmanr: number, a: number): void {
  const p = ports(dmanr, "setDmaAddr");
  setDmaPage(dmanr, Math.floor(a / 0x10000));
  const v = p.hi ? Math.floor(a / 2) : a;
  p.out(p.addr, v);
  p.out(p.addr, v >> 8);
}

/** set_dma_count(dmanr, count): bytes (even on channels 5–7); the 8237 is programmed with count-1. */
export function setDmaCount(dmanr: number, count: number): void {
  const p = ports(dmanr, "setDmaCount");
  const v = (p.hi ? count / 2 : count) - 1;
  p.out(p.count, v);
  p.out(p.count, v >> 8);
}

/** get_dma_residue(): bytes left to transfer (0 after terminal count). */
export function getDmaResidue(dmanr: number): number {
  const p = ports(dmanr, "getDmaResidue");
  clearDmaFf(dmanr);
  const lo = p.inb(p.count);
  const v = ((p.inb(p.count) << 8) | lo) + 1;
  const left = v === 0x10000 ? 0 : v;
  return p.hi ? left * 2 : left;
}

/** dma_chan_busy[] itself, for the kernel's own use (a machine snapshot saves and checks it: snapshot/hw.ts). */
export function isaDmaChannels(k: Kernel): Array<string | null> {
  return chans(k);
}
