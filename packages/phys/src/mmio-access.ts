/**
 * What the core does between the access a CPU makes and the accesses a device model implements
 * (QEMU system/memory.c: access_with_adjusted_size() and adjust_endianness()).
 *
 * A region's ops declare two ranges (include/exec/memory.h, MemoryRegionOps):
 * - `valid`: the accesses the device accepts at all; anything else is refused before it reaches the
 *   device (memory-region.ts: accessInvalidReason).
 * - `impl`: the sizes the callbacks are written for. An accepted access outside them is split into
 *   several implemented accesses (a 64-bit load of a 32-bit register file becomes two reads) or done
 *   as one wider access (a byte read of a register that only implements 32-bit reads), the parts
 *   combined in the device's byte order. Where QEMU defaults `impl` to 1..4 bytes, an undeclared `impl`
 *   here means the callbacks implement exactly what `valid` accepts (so a device declaring 8-byte
 *   accesses gets them whole); each bound of a declared `impl` defaults to the `valid` one.
 * - `endianness`: a big-endian device's values are byte-swapped on the way to and from this
 *   little-endian (x86) machine; its parts are ordered most significant first.
 *
 * Values are numbers for 1..4 bytes and bigints for 8, on both sides. Only regions that need the
 * adjustment get wrapped callbacks, so a device implementing exactly what it accepts keeps the direct
 * call (the hot path).
 */
import type { AccessSize } from "./memtx";

/** A device's register byte order (DEVICE_LITTLE_ENDIAN, DEVICE_BIG_ENDIAN, DEVICE_NATIVE_ENDIAN). */
export type DeviceEndianness = "little" | "big" | "native";

/** The sizes a device model's callbacks implement (QEMU MemoryRegionOps.impl). */
export interface ImplRules {
  readonly minAccessSize?: AccessSize;
  readonly maxAccessSize?: AccessSize;
  /** The callbacks handle unaligned offsets themselves (else parts are aligned to their size). */
  readonly unaligned?: boolean;
}

interface RawOps {
  read(offset: number, size: AccessSize): number | bigint;
  write(offset: number, size: AccessSize, value: number | bigint): void;
}

const mask = (size: number): bigint => (1n << BigInt(size * 8)) - 1n;

/** bswap of the low `size` bytes. */
export function byteSwap(v: bigint, size: number): bigint {
  let out = 0n;
  for (let i = 0; i < size; i++) {
    out = (out << 8n) | (v & 0xffn);
    v >>= 8n;
  }
  return out;
}

const toOut = (v: bigint, size: AccessSize): number | bigint => (size === 8 ? v : Number(v));

/** Whether `ops` needs wrapping: impl narrower or wider than what is accepted, or big-endian. */
export function needsAdjusting(
  validMin: AccessSize,
  validMax: AccessSize,
  impl: ImplRules | undefined,
  endianness: DeviceEndianness | undefined,
): boolean {
  if (endianness === "big") return true;
  if (!impl) return false;
  if (impl.unaligned === false) return true;
  return validMin < (impl.minAccessSize ?? validMin) || validMax > (impl.maxAccessSize ?? validMax);
}

/**
 * Callbacks that take any accepted size and call `ops` only with implemented ones
 * (access_with_adjusted_size): the part size is the access size clamped to impl; parts go in address
 * order, each shifted into place by its byte position (from the top for a big-endian device).
 */
export function adjustOps(
  ops: RawOps,
  validMin: AccessSize,
  validMax: AccessSize,
  impl: ImplRules | undefined,
  endianness: DeviceEndianness | undefined,
): RawOps {
  const min = impl?.minAccessSize ?? validMin;
  const max = impl?.maxAccessSize ?? validMax;
  const big = endianness === "big";
  const alignParts = !(impl?.unaligned ?? true);
  const partSize = (size: AccessSize): AccessSize => Math.max(Math.min(size, max), min) as AccessSize;
  /** The bytes of [start, end) in address order, read as aligned parts in the device's byte order. */
  const readParts = (start: number, end: number, part: AccessSize): number[] => {
    const bytes: number[] = [];
    for (let a = start; a < end; a += part) {
      const v = BigInt(ops.read(a, part)) & mask(part);
      for (let b = 0; b < part; b++) bytes.push(Number((v >> BigInt((big ? part - 1 - b : b) * 8)) & 0xffn));
    }
    return bytes;
  };
  return {
    read(offset, size) {
      const part = partSize(size);
      if (alignParts && offset % part !== 0) {
        // An unaligned access to a device whose callbacks want aligned ones: the aligned parts that
        // cover it are read and the bytes picked out (QEMU's access_with_adjusted_size_unaligned).
        const start = offset - (offset % part);
        const bytes = readParts(start, Math.ceil((offset + size) / part) * part, part);
        let v = 0n;
        for (let b = size - 1; b >= 0; b--) v = (v << 8n) | BigInt(bytes[offset - start + b]!);
        return toOut(v, size);
      }
      let v = 0n;
      if (part === size) {
        v = BigInt(ops.read(offset, size));
      } else {
        for (let i = 0; i < size; i += part) {
          const shift = BigInt((big ? size - part - i : i) * 8);
          const pv = BigInt(ops.read(offset + i, part)) & mask(part);
          v |= shift >= 0n ? pv << shift : pv >> -shift;
        }
      }
      v &= mask(size);
      // adjust_endianness(): the device's value, swapped for this little-endian machine.
      if (big) v = byteSwap(v, size);
      return toOut(v, size);
    },
    write(offset, size, value) {
      const part0 = partSize(size);
      if (alignParts && offset % part0 !== 0) {
        // Read-modify-write of the covering aligned parts: the bytes outside the access keep their
        // value (our choice: QEMU leaves unaligned writes to aligned-only devices undefined).
        const start = offset - (offset % part0);
        const end = Math.ceil((offset + size) / part0) * part0;
        const bytes = readParts(start, end, part0);
        let cv = BigInt(value);
        for (let b = 0; b < size; b++, cv >>= 8n) bytes[offset - start + b] = Number(cv & 0xffn);
        for (let a = start; a < end; a += part0) {
          let pv = 0n;
          for (let b = 0; b < part0; b++) {
            pv |= BigInt(bytes[a - start + b]!) << BigInt((big ? part0 - 1 - b : b) * 8);
          }
          ops.write(a, part0, toOut(pv, part0));
        }
        return;
      }
      let v = BigInt(value) & mask(size);
      if (big) v = byteSwap(v, size);
      const part = partSize(size);
      if (part === size) {
        ops.write(offset, size, toOut(v, size));
        return;
      }
      for (let i = 0; i < size; i += part) {
        const shift = BigInt((big ? size - part - i : i) * 8);
        const pv = (shift >= 0n ? v >> shift : v << -shift) & mask(part);
        ops.write(offset + i, part, toOut(pv, part));
      }
    },
  };
}
