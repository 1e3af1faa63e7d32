/**
 * A refused physical-memory operation: bad input from a caller (driver, device model, test). The
 * message says what and where; the machine is left as it was. Branded with Symbol.for so checks work
 * across duplicate installs.
 */
const BRAND = Symbol.for("faultline.PhysError");

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
