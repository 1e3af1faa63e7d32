/**
 * Memory banks: every byte a load or store can reach directly (RAM, ROM, device RAM) lives in a
 * SharedArrayBuffer registered here under a small integer id. The MMU caches (bank id, byte offset)
 * pairs in its TLB and indexes the per-bank views below, so a worker that attached the same bank list
 * reaches the same bytes.
 */

/** What a worker needs to rebuild the bank views: the buffers, in id order. */
export interface BanksDescriptor {
  readonly buffers: ReadonlyArray<SharedArrayBuffer | null>;
  readonly names: readonly string[];
}

/** Largest single bank: one SharedArrayBuffer per GiB keeps every offset a small integer. */
export const BANK_BYTES_MAX = 1 << 30;

/** The SharedArrayBuffers that hold RAM and device RAM, by bank id; shareable with other threads. */
export class MemoryBanks {
  readonly u8: Uint8Array[] = [];
  readonly u16: Uint16Array[] = [];
  readonly u32: Uint32Array[] = [];
  readonly i32: Int32Array[] = [];
  readonly f64: Float64Array[] = [];
  readonly dv: DataView[] = [];
  readonly buffers: Array<SharedArrayBuffer | null> = [];
  readonly names: string[] = [];

  /** Registers a buffer (its length a multiple of 8) and returns its bank id. */
  register(buffer: SharedArrayBuffer, name: string): number {
    if (buffer.byteLength % 8 !== 0) {
      throw new RangeError(`bank ${name}: byteLength ${buffer.byteLength} is not a multiple of 8`);
    }
    const id = this.buffers.length;
    this.buffers.push(buffer);
    this.names.push(name);
    this.u8.push(new Uint8Array(buffer));
    this.u16.push(new Uint16Array(buffer));
    this.u32.push(new Uint32Array(buffer));
    this.i32.push(new Int32Array(buffer));
    this.f64.push(new Float64Array(buffer));
    this.dv.push(new DataView(buffer));
    return id;
  }

  allocate(byteLength: number, name: string): number {
    return this.register(new SharedArrayBuffer(byteLength), name);
  }

  describe(): BanksDescriptor {
    return { buffers: [...this.buffers], names: [...this.names] };
  }

  static attach(desc: BanksDescriptor): MemoryBanks {
    const banks = new MemoryBanks();
    desc.buffers.forEach((buf, i) => {
      banks.register(buf ?? new SharedArrayBuffer(8), desc.names[i] ?? `bank${i}`);
    });
    return banks;
  }
}

if (new Uint8Array(new Uint32Array([0x01020304]).buffer)[0] !== 0x04) {
  throw new Error("Faultline needs a little-endian host: x86 memory is little-endian");
}
