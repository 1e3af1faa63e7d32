// The snapshot file container, shared by every kind of snapshot: a machine (`m.snapshot()`,
// `Machine.restore`) and the simulator's report model (`faultline run --save`, `faultline report`).
//
//   offset  size  field
//   0       8     magic "\x89FLSNAP\n" (the high byte and the newline catch text-mode and 7-bit damage)
//   8       2     format version, big-endian (SNAPSHOT_FORMAT_VERSION)
//   10      1     flags: bit 0 = the payload is deflated
//   11      1     length n of the Faultline version that wrote it
//   12      n     that version, UTF-8
//   12+n    4     CRC-32 of the payload as stored
//   16+n    4     payload length
//   20+n    …     payload: msgpack of a map { kind: "<kind>", …fields } (deflated when that is smaller)
//
// Reading never trusts the file: every length is checked against the bytes there are, the checksum
// before anything is decoded, the inflated size is bounded, a decoding failure (truncated strings,
// nesting deep enough to overflow the stack, unknown types) is caught, the top-level map is checked
// for its kind and keys, and the format version against the oldest the caller reads of that kind. The
// fields themselves are the caller's to validate. Every failure of the file is a SnapshotError saying
// what is wrong; nothing else escapes (a caller's bad `oldestFormat` is a RangeError: its bug, not the
// file's).
import { crc32, deflateRawSync, inflateRawSync } from "node:zlib";
import { Packr, Unpackr } from "msgpackr";

export const SNAPSHOT_MAGIC: Uint8Array = Uint8Array.from([0x89, 0x46, 0x4c, 0x53, 0x4e, 0x41, 0x50, 0x0a]);
/**
 * The format version this build writes, and what each version changed:
 * - 1: the first format.
 * - 2: a machine's device RAM as touched pages, and its hardware-facing state (clock, timers, PAT
 *   memtypes, interrupts, ISA DMA, PCI functions; MachineState.hw).
 * - 3: a machine's time state: the wall clock (hw.timekeeper), each task's CPU-time counters
 *   (TaskState.cpu), armed alarms by their ITIMER_REAL pool slot (hw.alarms, instead of a clock timer
 *   per process) and each active hrtimer's HRTIMER pool slot (hw.timers.hr). Machines only: the
 *   simulator's report model is as format 2 wrote it.
 *
 * The version is the container's, shared by every kind, so a bump for one kind leaves the others'
 * content as it was. Each reader says, per kind, the oldest version it still reads: the version in
 * which that kind's content last changed (`DecodeSnapshotOptions.oldestFormat`; a machine's is
 * MACHINE_SNAPSHOT_OLDEST_FORMAT). A field a reader needs and an older file of that kind lacks bumps
 * the version and moves that kind's oldest up to it: a reader refuses an old file by its version, it
 * never half-reads it into a field error.
 */
export const SNAPSHOT_FORMAT_VERSION = 3;
/** The largest payload a snapshot may inflate to (a bound on a hostile deflate stream). */
export const SNAPSHOT_MAX_PAYLOAD = 1024 * 1024 * 1024;
const FLAG_DEFLATED = 1;
const HEADER = 20;

/** A file that is not a snapshot this Faultline can read: the message says why. */
export class SnapshotError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SnapshotError";
  }
}

/** A decoded container: its header and the payload map (fields not yet validated). */
export interface SnapshotContainer {
  /** The format version the file carries, and the Faultline version that wrote it. */
  readonly formatVersion: number;
  readonly faultline: string;
  readonly kind: string;
  /** The payload's fields other than `kind`, as decoded (plain objects, arrays, numbers, Uint8Arrays). */
  readonly fields: Readonly<Record<string, unknown>>;
}

const packr = new Packr({ useRecords: false, moreTypes: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

/** Whether `bytes` start as a snapshot does (the CLI tells a snapshot from a scenario file by this). */
export const isSnapshot = (bytes: Uint8Array): boolean =>
  bytes.length >= SNAPSHOT_MAGIC.length && SNAPSHOT_MAGIC.every((b, i) => bytes[i] === b);

/**
 * The container of a payload `{ kind, ...fields }`, written by Faultline `faultline` (the version
 * string, at most 255 bytes). Deflated when that is smaller.
 */
export function encodeSnapshotContainer(
  kind: string,
  fields: Readonly<Record<string, unknown>>,
  faultline: string,
): Uint8Array {
  if ("kind" in fields) throw new TypeError("encodeSnapshotContainer: the fields may not have a 'kind' key");
  const packed = packr.pack({ kind, ...fields });
  const deflated = deflateRawSync(packed);
  // Compressed where it pays: a small payload may not shrink.
  const useDeflate = deflated.length < packed.length;
  const payload = useDeflate ? deflated : packed;
  const version = new TextEncoder().encode(faultline);
  if (version.length > 255) throw new RangeError("the Faultline version string is longer than 255 bytes");
  const out = new Uint8Array(HEADER + version.length + payload.length);
  const view = new DataView(out.buffer);
  out.set(SNAPSHOT_MAGIC, 0);
  view.setUint16(8, SNAPSHOT_FORMAT_VERSION);
  out[10] = useDeflate ? FLAG_DEFLATED : 0;
  out[11] = version.length;
  out.set(version, 12);
  view.setUint32(12 + version.length, crc32(payload));
  view.setUint32(16 + version.length, payload.length);
  out.set(payload, HEADER + version.length);
  return out;
}

/** Options of decodeSnapshotContainer. */
export interface DecodeSnapshotOptions {
  /** Bound on the inflated payload (default SNAPSHOT_MAX_PAYLOAD). */
  readonly maxPayload?: number;
  /** The Faultline version reading, named in the "newer format" and "unsupported format" messages. */
  readonly reader?: string;
  /**
   * Per kind, the oldest format version the caller reads: the version in which that kind's content
   * last changed. A file of that kind is read from there up to SNAPSHOT_FORMAT_VERSION; a kind not
   * named here is read at SNAPSHOT_FORMAT_VERSION only.
   */
  readonly oldestFormat?: Readonly<Record<string, number>>;
}

/**
 * Checks and decodes a container. `kinds` lists the payload kinds the caller reads: anything else is
 * a SnapshotError naming the kind found. A format version newer than SNAPSHOT_FORMAT_VERSION is
 * refused before anything else is read (a newer format may have changed anything after the header);
 * one older than every listed kind's oldest (`options.oldestFormat`) too, and one older than the kind
 * found once the payload says which it is.
 */
export function decodeSnapshotContainer(
  bytes: Uint8Array,
  kinds: readonly string[],
  options: DecodeSnapshotOptions = {},
): SnapshotContainer {
  const oldestOf = (kind: string): number => {
    const v = options.oldestFormat?.[kind] ?? SNAPSHOT_FORMAT_VERSION;
    if (!Number.isInteger(v) || v < 1 || v > SNAPSHOT_FORMAT_VERSION)
      throw new RangeError(
        `oldestFormat[${JSON.stringify(kind)}]: ${v} is not a format version from 1 to ${SNAPSHOT_FORMAT_VERSION}`,
      );
    return v;
  };
  // A caller's mistake, whatever the bytes: checked first.
  const oldestOfAll = Math.min(SNAPSHOT_FORMAT_VERSION, ...kinds.map(oldestOf));
  if (!(bytes instanceof Uint8Array)) throw new SnapshotError("a snapshot is bytes (a Uint8Array)");
  if (!isSnapshot(bytes)) {
    throw new SnapshotError(
      bytes.length < SNAPSHOT_MAGIC.length
        ? `not a Faultline snapshot: ${bytes.length} bytes, fewer than the magic number`
        : "not a Faultline snapshot: it does not start with the snapshot magic number",
    );
  }
  if (bytes.length < 12) throw new SnapshotError(`truncated: ${bytes.length} bytes end inside the header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const formatVersion = view.getUint16(8);
  const flags = bytes[10]!;
  const n = bytes[11]!;
  if (bytes.length < HEADER + n)
    throw new SnapshotError(`truncated: ${bytes.length} bytes end inside the header`);
  const faultline = new TextDecoder("utf-8", { fatal: false }).decode(bytes.subarray(12, 12 + n));
  const reader = options.reader ? `this faultline (${options.reader})` : "this faultline";
  const writer = `written by faultline ${JSON.stringify(faultline)}`;
  if (formatVersion > SNAPSHOT_FORMAT_VERSION)
    throw new SnapshotError(
      `snapshot format ${formatVersion} (${writer}) is newer than ${reader} reads: format ${SNAPSHOT_FORMAT_VERSION}`,
    );
  // A kind's file older than its oldest lacks fields its reader needs (see SNAPSHOT_FORMAT_VERSION):
  // refused whole, never half-read into a field error. Before the payload is decoded when no kind
  // listed reads this version; after, when only the kind found does not.
  const tooOld = (oldest: number, what: string): SnapshotError =>
    new SnapshotError(
      `unsupported snapshot format ${formatVersion} (${writer}): ${reader} reads ${what}${
        oldest === SNAPSHOT_FORMAT_VERSION
          ? `format ${SNAPSHOT_FORMAT_VERSION} only`
          : `formats ${oldest} to ${SNAPSHOT_FORMAT_VERSION}`
      }`,
    );
  if (formatVersion < oldestOfAll) throw tooOld(oldestOfAll, "");
  if (flags & ~FLAG_DEFLATED) throw new SnapshotError(`unknown header flags 0x${flags.toString(16)}`);
  const crc = view.getUint32(12 + n);
  const length = view.getUint32(16 + n);
  const payload = bytes.subarray(HEADER + n);
  if (payload.length !== length) {
    throw new SnapshotError(
      payload.length < length
        ? `truncated: the header says ${length} bytes of payload, the file has ${payload.length}`
        : `${payload.length - length} unexpected bytes after the payload`,
    );
  }
  if (crc32(payload) !== crc) throw new SnapshotError("corrupt: the payload's checksum does not match");
  let packed: Uint8Array = payload;
  if (flags & FLAG_DEFLATED) {
    try {
      packed = inflateRawSync(payload, { maxOutputLength: options.maxPayload ?? SNAPSHOT_MAX_PAYLOAD });
    } catch (e) {
      throw new SnapshotError(`corrupt: the compressed payload does not inflate (${(e as Error).message})`);
    }
  }
  let value: unknown;
  try {
    value = unpackr.unpack(packed);
  } catch (e) {
    // Truncated strings and arrays, unknown types, nesting deep enough to overflow the stack.
    throw new SnapshotError(
      `corrupt: the payload is not the msgpack of a snapshot (${(e as Error).message})`,
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Uint8Array)
    throw new SnapshotError("corrupt: the payload is not a map");
  if (Object.getPrototypeOf(value) !== Object.prototype)
    throw new SnapshotError("corrupt: the payload map has a tampered prototype");
  const { kind, ...fields } = value as Record<string, unknown>;
  if (typeof kind !== "string" || !kinds.includes(kind))
    throw new SnapshotError(
      `unsupported snapshot content ${JSON.stringify(kind) ?? String(kind)} (expected ${kinds.map((k) => JSON.stringify(k)).join(" or ")})`,
    );
  const oldest = oldestOf(kind);
  if (formatVersion < oldest) throw tooOld(oldest, `${JSON.stringify(kind)} snapshots of `);
  return { formatVersion, faultline, kind, fields };
}
