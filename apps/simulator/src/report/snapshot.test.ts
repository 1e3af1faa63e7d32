import { crc32, deflateRawSync } from "node:zlib";
import fc from "fast-check";
import { Packr } from "msgpackr";
import { describe, expect, it } from "vitest";
import { largeModel } from "./__fixtures__/large-model";
import { FAULTLINE_VERSION } from "./build";
import type { ReportModel } from "./model";
import {
  decodeSnapshot,
  encodeSnapshot,
  isSnapshot,
  REPORT_MODEL_OLDEST_FORMAT,
  SNAPSHOT_FORMAT_VERSION,
  SNAPSHOT_MAGIC,
  SnapshotError,
} from "./snapshot";
import { checkReportModel } from "./validate";

/** A small model with one of everything: iomem, a process with a VMA and PTEs, frames, faults. */
const small: ReportModel = {
  format: "faultline-report",
  version: 1,
  faultline: FAULTLINE_VERSION,
  scenario: { name: "small", description: "one process" },
  eras: [
    {
      era: "modern",
      ramBytes: 0x2000000,
      totalRamPages: 8192,
      freePages: 8000,
      zeroPfn: 1,
      iomem: [
        { start: 0x1000, end: 0x9ffff, name: "System RAM", depth: 0, kind: "ram" },
        { start: 0xd0000, end: 0xd3fff, name: "isa-mem", depth: 0, kind: "isa" },
      ],
      processes: [
        {
          pid: 1,
          ppid: 0,
          name: "touch",
          exit: "exit 3",
          capturedAt: 9,
          tablePages: 4,
          vmas: [
            {
              start: 0x7ffff7ffd000,
              end: 0x7ffff8000000,
              flags: 0x73,
              perms: "rw-p",
              vmFlags: "rd wr mr mw me ac",
              backing: "anon",
              name: null,
              pgoff: 0,
              ptes: [
                { index: 0, pfn: 0x300, writable: true, special: false },
                { index: 2, pfn: 1, writable: false, special: true },
              ],
            },
          ],
        },
      ],
      frames: [
        { pfn: 1, hasPage: true, refcount: 1, mapcount: 0, flags: 18, zero: true, cowOf: -1, mappers: [1] },
        {
          pfn: 0x300,
          hasPage: true,
          refcount: 1,
          mapcount: 1,
          flags: 32,
          zero: false,
          cowOf: -1,
          mappers: [1],
        },
      ],
      faults: [
        { tick: 3, pid: 1, addr: 0x7ffff7ffd000, write: true, kind: "minor", pfn: 0x300, fromPfn: -1 },
      ],
      ticks: 9,
    },
  ],
};

/** A container around any payload bytes, with a correct checksum (to reach the msgpack decoder). */
function container(payload: Uint8Array, { version = SNAPSHOT_FORMAT_VERSION, flags = 0 } = {}): Uint8Array {
  const v = new TextEncoder().encode("9.9.9");
  const out = new Uint8Array(20 + v.length + payload.length);
  const view = new DataView(out.buffer);
  out.set(SNAPSHOT_MAGIC, 0);
  view.setUint16(8, version);
  out[10] = flags;
  out[11] = v.length;
  out.set(v, 12);
  view.setUint32(12 + v.length, crc32(payload));
  view.setUint32(16 + v.length, payload.length);
  out.set(payload, 20 + v.length);
  return out;
}

const rejects = (bytes: Uint8Array, message: RegExp) => {
  let err: unknown;
  try {
    decodeSnapshot(bytes);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SnapshotError);
  expect((err as Error).message).toMatch(message);
};

describe("snapshot files", () => {
  it("round-trip a model: magic, format version and the Faultline version in the header", () => {
    const bytes = encodeSnapshot(small);
    expect(isSnapshot(bytes)).toBe(true);
    expect([...bytes.subarray(0, 8)]).toEqual([0x89, 0x46, 0x4c, 0x53, 0x4e, 0x41, 0x50, 0x0a]);
    const back = decodeSnapshot(bytes);
    expect(back).toEqual({
      formatVersion: SNAPSHOT_FORMAT_VERSION,
      faultline: FAULTLINE_VERSION,
      model: small,
    });
    // The same model gives the same bytes (nothing time- or host-dependent in the file).
    expect(encodeSnapshot(back.model)).toEqual(bytes);
  });

  it("read a format-2 file as it was written: the report model did not change in format 3", () => {
    // Only the version bytes rewritten: they are outside the checksum, which still holds.
    const bytes = encodeSnapshot(small);
    const v2 = bytes.slice();
    new DataView(v2.buffer).setUint16(8, 2);
    expect(REPORT_MODEL_OLDEST_FORMAT).toBe(2);
    expect(decodeSnapshot(v2)).toEqual({ ...decodeSnapshot(bytes), formatVersion: 2 });
    expect(decodeSnapshot(v2).model).toEqual(small);
    // Format 1 may hold the model from before one frame record per allocation: refused by its version.
    const v1 = bytes.slice();
    new DataView(v1.buffer).setUint16(8, 1);
    rejects(
      v1,
      new RegExp(
        `^unsupported snapshot format 1 \\(written by faultline "[^"]+"\\): this faultline \\([^)]+\\) reads formats 2 to ${SNAPSHOT_FORMAT_VERSION}$`,
      ),
    );
  });

  it("compress where it pays: a 64 GiB, 10,000-VMA model is stored deflated, in under half its msgpack size", () => {
    const big = largeModel();
    const bytes = encodeSnapshot(big);
    expect(bytes[10]! & 1).toBe(1);
    const raw = new Packr({ useRecords: false, moreTypes: false }).pack({ kind: "report-model", model: big });
    expect(bytes.length).toBeLessThan(raw.length / 2);
    expect(decodeSnapshot(bytes).model).toEqual(big);
  });

  it("rejects what is not a snapshot of this format, saying why", () => {
    const good = encodeSnapshot(small);
    rejects(new Uint8Array(0), /fewer than the magic number/);
    rejects(new TextEncoder().encode('{ "name": "a scenario" }'), /does not start with the snapshot magic/);
    rejects(good.subarray(0, 10), /truncated: 10 bytes end inside the header/);
    rejects(
      good.subarray(0, good.length - 1),
      /truncated: the header says \d+ bytes of payload, the file has \d+/,
    );
    rejects(Uint8Array.from([...good, 0]), /1 unexpected bytes after the payload/);
    const newer = good.slice();
    new DataView(newer.buffer).setUint16(8, SNAPSHOT_FORMAT_VERSION + 1);
    rejects(
      newer,
      new RegExp(
        `snapshot format ${SNAPSHOT_FORMAT_VERSION + 1} \\(written by faultline "[^"]+"\\) is newer than this faultline \\([^)]+\\) reads: format ${SNAPSHOT_FORMAT_VERSION}`,
      ),
    );
    const zero = good.slice();
    new DataView(zero.buffer).setUint16(8, 0);
    rejects(zero, /unsupported snapshot format 0/);
    const flagged = good.slice();
    flagged[10] = 0x80;
    rejects(flagged, /unknown header flags 0x80/);
    const flipped = good.slice();
    flipped[flipped.length - 3]! ^= 0x10;
    rejects(flipped, /corrupt: the payload's checksum does not match/);
  });

  it("rejects hostile msgpack inside a well-formed container: deep nesting, huge lengths, __proto__, wrong types", () => {
    // 200,000 nested one-element arrays: deeper than the decoder's stack.
    const deep = new Uint8Array(200_001).fill(0x91);
    deep[200_000] = 0xc0;
    rejects(container(deep), /corrupt: the payload is not the msgpack of a snapshot/);
    // A str32 and an array32 claiming 4 GiB that are not there.
    rejects(container(Uint8Array.from([0xdb, 0xff, 0xff, 0xff, 0xff, 0x61])), /corrupt|not a map/);
    rejects(container(Uint8Array.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0])), /corrupt|not a map/);
    // A map whose key is __proto__ (fixmap 1, "__proto__", {} ), at the top and inside the model.
    const proto = Uint8Array.from([0x81, 0xa9, ...new TextEncoder().encode("__proto__"), 0x80]);
    rejects(container(proto), /snapshot|corrupt/);
    const p = new Packr({ useRecords: false, moreTypes: false });
    const withProto = p.pack({ kind: "report-model", model: small });
    const tampered = JSON.parse(JSON.stringify({ kind: "report-model", model: small }));
    tampered.model.eras[0].frames[0] = JSON.parse('{"__proto__": {"pfn": 1}}');
    rejects(container(p.pack(tampered)), /model\.eras\[0\]\.frames\[0\]/);
    expect(decodeSnapshot(container(withProto)).model).toEqual(small);
    // Wrong types and values, each named by its path.
    const bad = (edit: (m: ReturnType<typeof JSON.parse>) => void) => {
      const m = JSON.parse(JSON.stringify({ kind: "report-model", model: small }));
      edit(m);
      return container(p.pack(m));
    };
    rejects(
      bad((m) => (m.model.eras[0].frames[1].pfn = -3)),
      /model\.eras\[0\]\.frames\[1\]\.pfn: expected a non-negative integer, got -3/,
    );
    rejects(
      bad((m) => (m.model.eras[0].faults[0].kind = "major")),
      /model\.eras\[0\]\.faults\[0\]\.kind: expected "minor" \|/,
    );
    rejects(
      bad((m) => (m.model.eras[0].processes[0].vmas[0].ptes[1].index = 3)),
      /ptes\[1\]\.index: expected a page index below 3, got 3/,
    );
    rejects(
      bad((m) => (m.model.eras[0].iomem[0].end = 0)),
      /iomem\[0\]\.end: expected an address >= start/,
    );
    rejects(
      bad((m) => (m.model.version = 2)),
      /model\.version: expected report model version 1, got 2/,
    );
    rejects(
      bad((m) => (m.extra = 1)),
      /unexpected key "extra"/,
    );
    rejects(
      bad((m) => (m.kind = "machine")),
      /unsupported snapshot content "machine"/,
    );
    rejects(
      bad((m) => delete m.model.eras[0].ticks),
      /model\.eras\[0\]: missing key "ticks"/,
    );
    // A deflate bomb is bounded, and a stream that is not deflate is named.
    rejects(container(Uint8Array.from([1, 2, 3, 4]), { flags: 1 }), /does not inflate/);
    const bomb = container(deflateRawSync(new Uint8Array(4 * 1024 * 1024)), { flags: 1 });
    expect(() => decodeSnapshot(bomb, { maxPayload: 1024 * 1024 })).toThrow(
      /does not inflate .*larger than/i,
    );
  }, 60_000);

  it("fuzz: any damage to a snapshot is a SnapshotError or the same model, never another throw", () => {
    const good = encodeSnapshot(small);
    const bigger = encodeSnapshot({ ...small, eras: [...small.eras, { ...small.eras[0]!, era: "2.6.10" }] });
    fc.assert(
      fc.property(
        fc.constantFrom(good, bigger),
        fc.array(
          fc.record({
            at: fc.nat(),
            bit: fc.nat(7),
            byte: fc.nat(255),
            op: fc.constantFrom("flip", "set", "cut", "insert"),
          }),
          {
            minLength: 1,
            maxLength: 4,
          },
        ),
        (base, edits) => {
          let b = base.slice();
          for (const e of edits) {
            const at = e.at % (b.length + 1);
            if (e.op === "flip" && at < b.length) b[at]! ^= 1 << e.bit;
            else if (e.op === "set" && at < b.length) b[at] = e.byte;
            else if (e.op === "cut") b = b.subarray(0, at);
            else b = Uint8Array.from([...b.subarray(0, at), e.byte, ...b.subarray(at)]);
          }
          try {
            const s = decodeSnapshot(b);
            // Survived the checks: then it is a well-formed model (e.g. only the version text changed).
            expect(checkReportModel(s.model)).toBe(s.model);
          } catch (e) {
            expect(e).toBeInstanceOf(SnapshotError);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("fuzz: random bytes after the magic never escape as anything but a SnapshotError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (payload, deflated) => {
        try {
          decodeSnapshot(container(payload, { flags: deflated ? 1 : 0 }));
          throw new Error("random bytes decoded as a snapshot");
        } catch (e) {
          expect(e).toBeInstanceOf(SnapshotError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
