/**
 * A refused physical-memory operation: bad input from a caller (driver, device model, test). The
 * message says what and where; the machine is left as it was. Branded with Symbol.for so checks work
 * across duplicate installs.
 */
const BRAND = Symbol.for("faultline.PhysError");

/** A caller's bug in the physical machine (a pfn without a struct page, a bad free…); `code` says which. */
export class PhysError extends Error {
  readonly [BRAND] = true;
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "PhysError";
  }
  static is(e: unknown): e is PhysError {
    return typeof e === "object" && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
  }
}

/** How addresses appear in messages: lowercase hex with 0x, as QEMU's HWADDR_FMT_plx and the kernel. */
export const hex = (n: number | bigint): string => `0x${n.toString(16)}`;

/** A half-open range in messages: "[0xa0000, 0xc0000)". */
export const span = (addr: number, size: number): string => `[${hex(addr)}, ${hex(addr + size)})`;
