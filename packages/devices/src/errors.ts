/**
 * A refused device-model operation (bad configuration, wrong snapshot, lifecycle misuse). Guest
 * mistakes are never errors: they are logged. Branded with Symbol.for so `DeviceError.is` works across
 * duplicate installs.
 */
const BRAND = Symbol.for("faultline.DeviceError");

/** A `DeviceError`'s kind. */
export type DeviceErrorCode =
  /** A bad size, address or combination in a device's configuration. */
  | "EINVAL"
  /** Overlaps something that decodes there (VGA, the System ROM) without a priority. */
  | "EOVERLAP"
  /** realize() twice. */
  | "EBUSY"
  /** Used before realize(). */
  | "ENODEV"
  /** A snapshot of another device, version or field set. */
  | "ESTATE";

/**
 * A device model was configured wrongly (a bad size, an overlap, a snapshot of another device…); `code`
 * says which.
 */
export class DeviceError extends Error {
  readonly [BRAND] = true;
  constructor(
    readonly code: DeviceErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "DeviceError";
  }
  static is(e: unknown): e is DeviceError {
    return typeof e === "object" && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
  }
}
