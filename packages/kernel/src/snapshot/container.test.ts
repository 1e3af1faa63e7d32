import { crc32 } from "node:zlib";
import { describe, expect, it } from "vitest";
import {
  decodeSnapshotContainer,
  encodeSnapshotContainer,
  KERNEL_VERSION,
  MACHINE_SNAPSHOT_OLDEST_FORMAT,
  Machine,
  SNAPSHOT_FORMAT_VERSION,
  SnapshotError,
} from "../index";

/** `bytes` with only the format version rewritten (the CRC covers the payload, not the header). */
function withVersion(bytes: Uint8Array, version: number): Uint8Array {
  const out = new Uint8Array(bytes); // a copy (a Buffer's slice() is a view)
  new DataView(out.buffer).setUint16(8, version);
  return out;
}

/** What decoding gives: the container, or the SnapshotError's message. */
function decodeOrMessage(...args: Parameters<typeof decodeSnapshotContainer>): unknown {
  try {
    return decodeSnapshotContainer(...args);
  } catch (e) {
    if (!(e instanceof SnapshotError)) throw e;
    return e.message;
  }
}

describe("each kind is read from its oldest format version up to the current one", () => {
  const fields = { model: { a: 1, b: [2, 3] } };
  const file = encodeSnapshotContainer("report-model", fields, "0.1.0");
  const oldest = { oldestFormat: { "report-model": 2 }, reader: "9.9.9" };

  it("a kind that names format 2 as its oldest reads a format-2 file as the current one", () => {
    expect(SNAPSHOT_FORMAT_VERSION).toBe(3);
    // The version is outside the checksum: rewritten alone, the payload still checks.
    const bytes = withVersion(file, 2);
    const n = bytes[11]!;
    expect(crc32(bytes.subarray(20 + n))).toBe(new DataView(bytes.buffer).getUint32(12 + n));
    expect([...bytes.subarray(10)]).toEqual([...file.subarray(10)]);
    const now = decodeSnapshotContainer(file, ["report-model"], oldest);
    const v2 = decodeSnapshotContainer(bytes, ["report-model"], oldest);
    expect(v2).toEqual({ ...now, formatVersion: 2 });
    expect(v2.fields).toEqual(fields);
  });

  it("refuses what is older than a kind's oldest, and newer than the current format, naming both and the writer", () => {
    expect(decodeOrMessage(withVersion(file, 1), ["report-model"], oldest)).toBe(
      'unsupported snapshot format 1 (written by faultline "0.1.0"): this faultline (9.9.9) reads formats 2 to 3',
    );
    expect(decodeOrMessage(withVersion(file, 4), ["report-model"], oldest)).toBe(
      'snapshot format 4 (written by faultline "0.1.0") is newer than this faultline (9.9.9) reads: format 3',
    );
    // A kind not named in oldestFormat is read at the current format only, as before.
    expect(decodeOrMessage(withVersion(file, 2), ["report-model"], { reader: "9.9.9" })).toBe(
      'unsupported snapshot format 2 (written by faultline "0.1.0"): this faultline (9.9.9) reads format 3 only',
    );
  });

  it("with several kinds, the one found decides: a format-2 machine among them is refused", () => {
    const machine = encodeSnapshotContainer("machine", { machine: {} }, "0.1.0");
    const kinds = ["report-model", "machine"];
    const options = { ...oldest, oldestFormat: { ...oldest.oldestFormat, machine: 3 } };
    expect(decodeOrMessage(withVersion(machine, 2), kinds, options)).toBe(
      'unsupported snapshot format 2 (written by faultline "0.1.0"): this faultline (9.9.9) reads "machine" snapshots of format 3 only',
    );
    expect(decodeSnapshotContainer(withVersion(file, 2), kinds, options).kind).toBe("report-model");
    expect(decodeOrMessage(withVersion(file, 1), kinds, options)).toMatch(/reads formats 2 to 3$/);
  });

  it("an oldest version that is no format is the caller's mistake, whatever the file", () => {
    for (const v of [0, 4, 2.5])
      expect(() =>
        decodeSnapshotContainer(file, ["report-model"], { oldestFormat: { "report-model": v } }),
      ).toThrow(RangeError);
  });

  it("a machine snapshot is read from format 3 only: a current one rewritten to format 2 is refused", async () => {
    expect(MACHINE_SNAPSHOT_OLDEST_FORMAT).toBe(3);
    const m = await Machine.create({ ramBytes: 4 * 1024 * 1024 });
    m.spawn({ name: "p" });
    const bytes = m.snapshot();
    for (const v of [2, 1])
      await expect(Machine.restore(withVersion(bytes, v))).rejects.toThrow(
        `unsupported snapshot format ${v} (written by faultline "${KERNEL_VERSION}"): this faultline (${KERNEL_VERSION}) reads format 3 only`,
      );
    await expect(Machine.restore(withVersion(bytes, 4))).rejects.toThrow(
      `snapshot format 4 (written by faultline "${KERNEL_VERSION}") is newer than this faultline (${KERNEL_VERSION}) reads: format 3`,
    );
    (await Machine.restore(bytes)).checkInvariants();
  });
});
