/**
 * The PC's two cascaded Intel 8237 DMA controllers, as LDD3 chapter 15 ("DMA for ISA Devices") and
 * the kernel's include/asm-generic/dma.h / arch/x86/include/asm/dma.h program them: channels 0–3 on
 * DMA1 move bytes, 4–7 on DMA2 move 16-bit words (channel 4 cascades DMA1), each with a 16-bit
 * address and count behind a flip-flop, a mode register and a mask bit, and a page register for the
 * address bits above 16. Only the first 16 MiB can be reached.
 *
 * Ports (the ranges /proc/ioports names "dma1", "dma page reg", "dma2"):
 *   DMA1 0x00–0x0f: channel n address 2n, count 2n+1; 0x08 status, 0x0a single mask, 0x0b mode,
 *        0x0c clear flip-flop, 0x0d master clear, 0x0e clear masks, 0x0f write all masks
 *   DMA2 0xc0–0xdf: the same registers two ports apart (address 0xc0 + 4(n-4), count 0xc2 + 4(n-4),
 *        status 0xd0, single mask 0xd4, mode 0xd6, flip-flop 0xd8, master clear 0xda, …)
 *   page registers: 0x87 0x83 0x81 0x82 for channels 0–3, 0x8f 0x8b 0x89 0x8a for 4–7
 *
 * A device on a channel calls `transfer`: with the channel unmasked, up to count+1 units move between
 * the device and memory in the direction the mode says (write: device → memory), the address steps
 * up (or down with the decrement bit), the count runs down to 0xffff (terminal count, status bit
 * set), and an auto-init channel reloads its programmed address and count.
 */
import type { AddressSpace } from "./address-space";
import type { IoPortSpace } from "./isa";
import { type GuestLog, MEMTX_OK } from "./memtx";

export const MAX_DMA_CHANNELS = 8;
/** The highest address ISA DMA reaches (MAX_DMA_ADDRESS - PAGE_OFFSET: 16 MiB). */
export const ISA_DMA_LIMIT = 0x1000000;
/** Mode register bits (asm/dma.h). */
/** From the device into memory (the 8237 "write transfer"). */
export const DMA_MODE_READ = 0x44;
/** From memory to the device. */
export const DMA_MODE_WRITE = 0x48;
export const DMA_MODE_CASCADE = 0xc0;
export const DMA_AUTOINIT = 0x10;
const MODE_TRANSFER_MASK = 0x0c;
const MODE_WRITE = 0x04;
const MODE_READ = 0x08;
const MODE_DECREMENT = 0x20;

const PAGE_PORTS = [0x87, 0x83, 0x81, 0x82, 0x8f, 0x8b, 0x89, 0x8a] as const;

interface Channel {
  addr: number;
  count: number;
  baseAddr: number;
  baseCount: number;
  page: number;
  mode: number;
  masked: boolean;
}

/** The ISA DMA controllers' registers in a machine snapshot (IsaDmaController.saveState). */
export interface IsaDmaState {
  /** Per channel: addr, count, base addr, base count, page, mode, masked (0/1). */
  readonly ch: ReadonlyArray<readonly number[]>;
  readonly ff: readonly boolean[];
  readonly status: readonly number[];
}

/** The two cascaded 8237 DMA controllers of the ISA bus (see the file comment): channels 0–7 and their ports. */
export class IsaDmaController {
  private readonly ch: Channel[] = Array.from({ length: MAX_DMA_CHANNELS }, () => ({
    addr: 0,
    count: 0,
    baseAddr: 0,
    baseCount: 0,
    page: 0,
    mode: 0,
    masked: true,
  }));
  /** Flip-flop per controller: false = the next byte is the low one. */
  private readonly ff = [false, false];
  /** Terminal count and request bits (status register), per controller. */
  private readonly status = [0, 0];

  constructor(
    io: IoPortSpace,
    private readonly memory: AddressSpace,
    private readonly log: GuestLog,
  ) {
    io.register("dma1", 0x00, 0x20, {
      read: (off) => this.readReg(0, off & 0x0f),
      write: (off, _size, v) => this.writeReg(0, off & 0x0f, v & 0xff),
    });
    io.register("dma page reg", 0x80, 0x10, {
      read: (off) => {
        const c = PAGE_PORTS.indexOf((0x80 + off) as (typeof PAGE_PORTS)[number]);
        return c < 0 ? 0 : this.ch[c]!.page;
      },
      write: (off, _size, v) => {
        const c = PAGE_PORTS.indexOf((0x80 + off) as (typeof PAGE_PORTS)[number]);
        if (c >= 0) this.ch[c]!.page = v & 0xff;
      },
    });
    io.register("dma2", 0xc0, 0x20, {
      read: (off) => (off & 1 ? 0xff : this.readReg(1, off >> 1)),
      write: (off, _size, v) => {
        if (!(off & 1)) this.writeReg(1, off >> 1, v & 0xff);
      },
    });
  }

  private flip(ctl: number): boolean {
    const high = this.ff[ctl]!;
    this.ff[ctl] = !high;
    return high;
  }

  private readReg(ctl: number, reg: number): number {
    if (reg < 8) {
      const c = this.ch[ctl * 4 + (reg >> 1)]!;
      const v = reg & 1 ? c.count : c.addr;
      return this.flip(ctl) ? (v >> 8) & 0xff : v & 0xff;
    }
    if (reg === 8) {
      const s = this.status[ctl]!;
      this.status[ctl] = s & 0xf0; // reading clears the terminal-count bits
      return s;
    }
    return 0xff;
  }

  private writeReg(ctl: number, reg: number, v: number): void {
    if (reg < 8) {
      const c = this.ch[ctl * 4 + (reg >> 1)]!;
      const high = this.flip(ctl);
      const set = (old: number) => (high ? (old & 0xff) | (v << 8) : (old & 0xff00) | v);
      if (reg & 1) c.count = c.baseCount = set(c.count);
      else c.addr = c.baseAddr = set(c.addr);
      return;
    }
    const base = ctl * 4;
    switch (reg) {
      case 0x0a:
        this.ch[base + (v & 3)]!.masked = (v & 4) !== 0;
        return;
      case 0x0b:
        this.ch[base + (v & 3)]!.mode = v & 0xfc;
        return;
      case 0x0c:
        this.ff[ctl] = false;
        return;
      case 0x0d:
        this.ff[ctl] = false;
        this.status[ctl] = 0;
        for (let i = 0; i < 4; i++) this.ch[base + i]!.masked = true;
        return;
      case 0x0e:
        for (let i = 0; i < 4; i++) this.ch[base + i]!.masked = false;
        return;
      case 0x0f:
        for (let i = 0; i < 4; i++) this.ch[base + i]!.masked = ((v >> i) & 1) !== 0;
        return;
      default:
        return;
    }
  }

  /** The controllers' registers as a machine snapshot keeps them: per channel, then flip-flops and status. */
  saveState(): IsaDmaState {
    return {
      ch: this.ch.map((c) => [c.addr, c.count, c.baseAddr, c.baseCount, c.page, c.mode, c.masked ? 1 : 0]),
      ff: [...this.ff],
      status: [...this.status],
    };
  }

  /** Puts saved registers back, checked whole first (a RangeError names a bad one; nothing changed). */
  restoreState(s: IsaDmaState): void {
    const ok = (v: unknown, max: number) =>
      typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= max;
    const maxes = [0xffff, 0xffff, 0xffff, 0xffff, 0xff, 0xff, 1];
    if (!Array.isArray(s?.ch) || s.ch.length !== MAX_DMA_CHANNELS)
      throw new RangeError(`ISA DMA: expected ${MAX_DMA_CHANNELS} channels`);
    s.ch.forEach((c, i) => {
      if (!Array.isArray(c) || c.length !== 7 || !c.every((v, j) => ok(v, maxes[j]!)))
        throw new RangeError(`ISA DMA: channel ${i}'s registers`);
    });
    if (!Array.isArray(s.ff) || s.ff.length !== 2 || !Array.isArray(s.status) || s.status.length !== 2)
      throw new RangeError("ISA DMA: flip-flops and status");
    if (!s.status.every((v) => ok(v, 0xff))) throw new RangeError("ISA DMA: status registers");
    s.ch.forEach((c, i) => {
      const [addr, count, baseAddr, baseCount, page, mode, masked] = c as number[];
      Object.assign(this.ch[i]!, { addr, count, baseAddr, baseCount, page, mode, masked: masked === 1 });
    });
    this.ff[0] = s.ff[0] === true;
    this.ff[1] = s.ff[1] === true;
    this.status[0] = s.status[0]!;
    this.status[1] = s.status[1]!;
  }

  /** The channel's programmed state (for tests and /proc views). */
  channel(n: number): Readonly<Channel> {
    const c = this.ch[n];
    if (!c) throw new RangeError(`ISA DMA channel ${n}: 0..7`);
    return c;
  }

  /**
   * A device on channel `n` moves data: `buf` is what it sends (a write transfer, device → memory)
   * or where it receives (a read transfer). Returns the bytes moved (0 when the channel is masked,
   * in cascade mode, or programmed for the other direction; logged).
   */
  transfer(n: number, buf: Uint8Array, deviceToMemory: boolean): number {
    this.channel(n);
    const c = this.ch[n]!;
    const kind = c.mode & MODE_TRANSFER_MASK;
    const want = deviceToMemory ? MODE_WRITE : MODE_READ;
    const refuse = (why: string) => {
      this.log.record({
        kind: "invalid-access",
        addr: n,
        size: buf.length,
        isWrite: deviceToMemory,
        region: n < 4 ? "dma1" : "dma2",
        message: `ISA DMA channel ${n}: transfer of ${buf.length} bytes refused: ${why}`,
      });
      return 0;
    };
    if (c.masked) return refuse("the channel is masked");
    if (kind !== want)
      return refuse(
        `the mode (0x${c.mode.toString(16)}) is not a ${deviceToMemory ? "write" : "read"} transfer`,
      );
    const word = n >= 4 ? 2 : 1;
    const step = c.mode & MODE_DECREMENT ? -1 : 1;
    let moved = 0;
    while (moved + word <= buf.length) {
      const phys = word === 2 ? (c.page & 0xfe) * 0x10000 + c.addr * 2 : c.page * 0x10000 + c.addr;
      const part = buf.subarray(moved, moved + word);
      const r = deviceToMemory ? this.memory.writeBytes(phys, part) : this.memory.readBytesInto(phys, part);
      if (r !== MEMTX_OK) break;
      moved += word;
      c.addr = (c.addr + step) & 0xffff;
      const tc = c.count === 0;
      c.count = (c.count - 1) & 0xffff;
      if (tc) {
        this.status[n >> 2]! |= 1 << (n & 3);
        if (c.mode & DMA_AUTOINIT) {
          c.addr = c.baseAddr;
          c.count = c.baseCount;
        } else {
          c.masked = true;
        }
        break;
      }
    }
    return moved;
  }
}
