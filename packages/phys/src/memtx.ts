/**
 * What a memory transaction can be and how it ends: access sizes, transaction results
 * (include/exec/memattrs.h: MemTxResult), the typed errors of refused bus operations (Firecracker's
 * BusError) and the guest-error log (QEMU's qemu_log_mask(LOG_GUEST_ERROR, …)).
 *
 * A guest mistake (unassigned address, undeclared access size, ROM write) is a transaction result
 * and a log entry, never an exception; a caller mistake (overlapping registration, bad size) is a
 * BusError and leaves everything as it was.
 */
import { PhysError } from "./errors";

/** Bytes in one load or store (QEMU's MemOp sizes MO_8 … MO_64). */
export type AccessSize = 1 | 2 | 4 | 8;

export const isAccessSize = (n: unknown): n is AccessSize => n === 1 || n === 2 || n === 4 || n === 8;

/** Transaction results (include/exec/memattrs.h). Results of split accesses are OR-ed. */
export const MEMTX_OK = 0;
/** The device reported an error. */
export const MEMTX_ERROR = 1;
/** Nothing decodes the address (unassigned). */
export const MEMTX_DECODE_ERROR = 2;
/**
 * Something decodes it but refused the access: an undeclared size or alignment, or a ROM write.
 * (QEMU's memory_region_dispatch_read answers MEMTX_DECODE_ERROR for an access its region does not
 * accept; we keep the two apart so a caller can tell a hole from a refusal.)
 */
export const MEMTX_ACCESS_ERROR = 4;
/** MEMTX_OK, or MEMTX_ERROR / MEMTX_DECODE_ERROR / MEMTX_ACCESS_ERROR bits. */
export type MemTxResult = number;

/** Where a load hands its value out (QEMU's `uint64_t *pval`): a number for sizes 1–4, a bigint for 8. */
export interface MemTxValue {
  value: number | bigint;
}

/** What a read with no device behind it returns, per size: the bus floats high (a PC's master abort). */
const ALL_ONES = [0, 0xff, 0xffff, 0, 0xffffffff] as const;
const ALL_ONES_64 = 0xffffffffffffffffn;
/** One byte of such a read (bulk transfers fill with it). */
export const FLOATING_BYTE = 0xff;
/** The low byte of a bigint, when a value is taken apart into bytes. */
export const BYTE_MASK = 0xffn;

/** All-ones of `size` bytes: a number for 1–4, a bigint for 8. */
export const allOnes = (size: AccessSize): number | bigint => (size === 8 ? ALL_ONES_64 : ALL_ONES[size]!);

/** The low `size` bytes of v as an unsigned number. */
export const maskValue = (v: number, size: 1 | 2 | 4): number => (size === 4 ? v >>> 0 : v & ALL_ONES[size]!);

// ---- bus errors ---------------------------------------------------------------------------------

/** What went wrong in a refused registration, also as data. */
export interface BusErrorDetails {
  readonly region: string;
  readonly addr?: number;
  readonly size?: number;
  readonly other?: string;
  readonly otherAddr?: number;
  readonly otherSize?: number;
}

/** Why a bus access failed. */
export type BusErrorCode =
  /** Overlaps a sibling and neither was added with a priority. */
  | "EOVERLAP"
  /** Zero size, unaligned, or outside the parent. */
  | "EINVAL"
  /** Already mapped elsewhere, or a loop of aliases. */
  | "EBUSY"
  /** No room left in a window (BAR assignment). */
  | "ENOSPC"
  /** Nothing there (no such PCI function, region not a child). */
  | "ENODEV";

/** A refused bus operation (a small typed set, as Firecracker's BusError). Still a PhysError. */
export class BusError extends PhysError {
  constructor(
    override readonly code: BusErrorCode,
    message: string,
    readonly details: BusErrorDetails,
  ) {
    super(code, message);
    this.name = "BusError";
  }
}

// ---- guest error log ----------------------------------------------------------------------------

/** A guest mistake's kind, as the guest log records it. */
export type GuestErrorKind =
  | "unassigned-read"
  | "unassigned-write"
  | "rom-write"
  | "invalid-access"
  | "config-access";

/** One logged guest mistake (QEMU LOG_GUEST_ERROR / LOG_UNIMP): never thrown, always recorded. */
export interface GuestError {
  readonly kind: GuestErrorKind;
  readonly addr: number;
  readonly size: number;
  readonly isWrite: boolean;
  /** Region or port range involved, null for unassigned addresses. */
  readonly region: string | null;
  readonly message: string;
}

/** Entries a GuestLog keeps unless told otherwise. */
export const GUEST_LOG_CAPACITY = 256;

/** A bounded log: the newest `capacity` entries are kept, older ones only counted. */
export class GuestLog {
  private readonly entries: GuestError[] = [];
  /** Entries that were pushed out of the log. */
  dropped = 0;
  constructor(
    readonly capacity = GUEST_LOG_CAPACITY,
    private readonly sink?: (e: GuestError) => void,
  ) {}
  record(e: GuestError): void {
    if (this.entries.length >= this.capacity) {
      this.entries.shift();
      this.dropped++;
    }
    this.entries.push(e);
    this.sink?.(e);
  }
  list(): readonly GuestError[] {
    return [...this.entries];
  }
  get length(): number {
    return this.entries.length;
  }
  clear(): void {
    this.entries.length = 0;
    this.dropped = 0;
  }
}
