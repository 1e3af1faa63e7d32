import { errnoName } from "@faultline/mm";

const BRAND = Symbol.for("faultline.ErrnoError");

/** strerror() texts of glibc for the errno values the kernel returns here. */
const STRERROR: Record<number, string> = {
  1: "Operation not permitted",
  2: "No such file or directory",
  3: "No such process",
  4: "Interrupted system call",
  5: "Input/output error",
  6: "No such device or address",
  7: "Argument list too long",
  8: "Exec format error",
  9: "Bad file descriptor",
  10: "No child processes",
  11: "Resource temporarily unavailable",
  12: "Cannot allocate memory",
  13: "Permission denied",
  14: "Bad address",
  15: "Block device required",
  16: "Device or resource busy",
  17: "File exists",
  18: "Invalid cross-device link",
  19: "No such device",
  20: "Not a directory",
  21: "Is a directory",
  22: "Invalid argument",
  23: "Too many open files in system",
  24: "Too many open files",
  25: "Inappropriate ioctl for device",
  26: "Text file busy",
  27: "File too large",
  28: "No space left on device",
  29: "Illegal seek",
  30: "Read-only file system",
  31: "Too many links",
  32: "Broken pipe",
  33: "Numerical argument out of domain",
  34: "Numerical result out of range",
  38: "Function not implemented",
  75: "Value too large for defined data type",
  95: "Operation not supported",
};

/** strerror(3): "Invalid argument" for 22 (or -22). */
export function strerror(errno: number): string {
  const n = Math.abs(errno);
  return STRERROR[n] ?? `Unknown error ${n}`;
}

/**
 * What the libc layer throws where C would return -1 and set errno. `errno` is positive, `code` its
 * name ("EINVAL"), `syscall` the call that failed; the message reads like perror(3): "mmap: Invalid argument".
 * Branded with Symbol.for so `ErrnoError.is` works across duplicate installs.
 */
export class ErrnoError extends Error {
  readonly [BRAND] = true;
  readonly errno: number;
  readonly code: string;
  constructor(
    errno: number,
    readonly syscall: string,
  ) {
    const n = Math.abs(errno);
    super(`${syscall}: ${strerror(n)}`);
    this.name = "ErrnoError";
    this.errno = n;
    this.code = errnoName(n);
  }
  static is(e: unknown): e is ErrnoError {
    return typeof e === "object" && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
  }
}
