import { crc32 } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesOf, stateOf } from "../__fixtures__/test-helpers";
import {
  decodeSnapshotContainer,
  encodeSnapshotContainer,
  KERNEL_VERSION,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  Machine,
  O_CREAT,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  SNAPSHOT_FORMAT_VERSION,
  SnapshotError,
} from "../index";
import type { MachineState } from "./state";

const RAM = 4 * 1024 * 1024;
const PAGE = 4096;

/** A small machine with a bit of everything: anon memory, a fork, a tmpfs file mapped shared. */
async function sample(): Promise<Uint8Array> {
  const m = await Machine.create({ ramBytes: RAM });
  const p = m.spawn({ name: "s" });
  const a = p.sys.mmap(0, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  p.mmu.write(a, [1, 2, 3]);
  p.sys.fork();
  const fd = p.sys.open("/tmp/f", O_RDWR | O_CREAT, 0o600);
  p.sys.write(fd, "data");
  p.sys.mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  return m.snapshot();
}

/** Restoring `bytes` either gives a machine that passes its invariants or throws a SnapshotError. */
async function restoreOrReject(bytes: Uint8Array): Promise<"ok" | string> {
  try {
    const m = await Machine.restore(bytes);
    m.checkInvariants();
    return "ok";
  } catch (e) {
    if (!(e instanceof SnapshotError))
      throw new Error(`not a SnapshotError: ${(e as Error)?.stack ?? String(e)}`);
    expect(e.message.length).toBeGreaterThan(10);
    return e.message;
  }
}

/** The payload offset and a copy of `bytes` with the payload replaced and the header fixed up. */
function withPayload(bytes: Uint8Array, payload: Uint8Array): Uint8Array {
  const n = bytes[11]!;
  const out = new Uint8Array(20 + n + payload.length);
  out.set(bytes.subarray(0, 20 + n));
  out[10] = 0; // not deflated
  const v = new DataView(out.buffer);
  v.setUint32(12 + n, crc32(payload));
  v.setUint32(16 + n, payload.length);
  out.set(payload, 20 + n);
  return out;
}

describe("bad machine snapshots are refused with a message", () => {
  it("truncated, bit-flipped, wrong magic, newer format, trailing bytes", async () => {
    const good = await sample();
    expect(await restoreOrReject(good)).toBe("ok");
    for (const len of [0, 4, 8, 11, 15, 30, good.length >> 1, good.length - 1])
      expect(await restoreOrReject(good.subarray(0, len))).toMatch(/truncated|fewer than the magic|header/);
    const flipped = good.slice();
    flipped[good.length - 7]! ^= 0x10;
    expect(await restoreOrReject(flipped)).toMatch(/checksum/);
    const magic = good.slice();
    magic[1] = 0x47;
    expect(await restoreOrReject(magic)).toMatch(/not a Faultline snapshot/);
    const newer = good.slice();
    new DataView(newer.buffer).setUint16(8, SNAPSHOT_FORMAT_VERSION + 1);
    expect(await restoreOrReject(newer)).toMatch(
      new RegExp(`is newer than this faultline .* reads: format ${SNAPSHOT_FORMAT_VERSION}$`),
    );
    const older = good.slice();
    new DataView(older.buffer).setUint16(8, 1);
    expect(await restoreOrReject(older)).toMatch(
      new RegExp(
        `^unsupported snapshot format 1 \\(written by faultline "0\\.1\\.0"\\): this faultline \\(.+\\) reads format ${SNAPSHOT_FORMAT_VERSION} only$`,
      ),
    );
    const longer = new Uint8Array(good.length + 3);
    longer.set(good);
    expect(await restoreOrReject(longer)).toMatch(/3 unexpected bytes after the payload/);
    expect(await restoreOrReject(encodeSnapshotContainer("report-model", { model: {} }, "0"))).toMatch(
      /unsupported snapshot content "report-model"/,
    );
  });

  it("a format-2 file, written before the time state was saved, is refused by its version, not by a missing field", async () => {
    // Built by hand as format 2 wrote it: no hw.timekeeper, no TaskState.cpu, alarms as per-process
    // clock timers ("pid N: it_real_fn"), hrtimers without their clock timer's slot.
    const m = await Machine.create({ ramBytes: RAM });
    const p = m.spawn();
    p.sys.alarm(5);
    const s = stateOf(m.snapshot()) as unknown as {
      hw: Record<string, unknown> & { clock: { armed: unknown[][] }; timers: { hr: unknown[][] } };
      kernel: { tasks: Array<Record<string, unknown>> };
    };
    delete s.hw.timekeeper;
    delete s.hw.alarms;
    for (const t of s.kernel.tasks) delete t.cpu;
    for (const a of s.hw.clock.armed)
      if (a[0] === "ITIMER_REAL") [a[0], a[1]] = [`pid ${p.pid}: it_real_fn`, 0];
    s.hw.timers.hr = s.hw.timers.hr.map((h) => h.slice(0, 3));
    const v2 = bytesOf(s);
    new DataView(v2.buffer, v2.byteOffset).setUint16(8, 2);
    expect(await restoreOrReject(v2)).toBe(
      `unsupported snapshot format 2 (written by faultline "0.1.0"): this faultline (${KERNEL_VERSION}) reads format 3 only`,
    );
  });

  it("hostile msgpack in a well-formed container: deep nesting, huge lengths, __proto__ keys", async () => {
    const good = await sample();
    const deep = new Uint8Array(200_001).fill(0x91);
    deep[200_000] = 0xc0;
    expect(await restoreOrReject(withPayload(good, deep))).toMatch(/corrupt: the payload is not the msgpack/);
    // str32 and array32 claiming 4 GiB.
    expect(
      await restoreOrReject(withPayload(good, Uint8Array.from([0xdb, 0xff, 0xff, 0xff, 0xff, 0x61]))),
    ).toMatch(/corrupt/);
    expect(
      await restoreOrReject(withPayload(good, Uint8Array.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0x01]))),
    ).toMatch(/corrupt/);
    const proto = Uint8Array.from([0x81, 0xa9, ...new TextEncoder().encode("__proto__"), 0x80]);
    expect(await restoreOrReject(withPayload(good, proto))).toMatch(
      /unsupported snapshot content|prototype|corrupt/,
    );
    // __proto__ deep inside the state: a plain key like any other, refused by the field checks.
    const s = stateOf(good);
    (s.kernel as unknown as { tasks: unknown[] }).tasks[0] = JSON.parse('{"__proto__": {"pid": 1}}');
    expect(await restoreOrReject(bytesOf(s))).toMatch(/task 0 pid/);
    expect(({} as { pid?: unknown }).pid).toBeUndefined();
  });

  it("inconsistent content: a PTE past RAM, a refcount that does not match, bad references", async () => {
    const good = await sample();
    const cases: Array<[string, (s: MachineState & Record<string, unknown>) => void, RegExp]> = [
      [
        "page table root that is not a table",
        (s) => ((s.kernel.mms[0] as { pgd: number }).pgd = 1),
        /not a page table|not RAM/,
      ],
      [
        "a VMA's file index out of range",
        (s) => ((s.kernel.mms[0]!.vmas[0] as { file: number }).file = 999),
        /vma file/,
      ],
      [
        "overlapping VMAs",
        (s) => {
          const v = s.kernel.mms[0]!.vmas as unknown as Array<{ start: number; end: number }>;
          v.push({ ...v[0]! });
        },
        /overlap|vma/i,
      ],
      [
        "a shmem page past RAM",
        (s) => ((s.kernel.inodes.find((i) => i.pages.length)!.pages as number[])[1] = 2 ** 40),
        /not RAM/,
      ],
      [
        "a frame run past RAM",
        (s) => ((s.phys.frameRuns as number[])[0] = s.phys.maxPfn - 1),
        /not System RAM|out of order|bad length/,
      ],
      [
        "a RAM size that is not the snapshot's",
        (s) => ((s.config as { ramBytes: number }).ramBytes = 8 * 1024 * 1024),
        /ramBytes/,
      ],
      [
        "a driver reference count that does not match",
        (s) => ((s.kernel as unknown as { driverRefs: number[] }).driverRefs = [s.phys.zeroPfn + 5, 3]),
        /inconsistent content/,
      ],
    ];
    for (const [what, tamper, want] of cases) {
      const s = stateOf(good);
      tamper(s);
      const r = await restoreOrReject(bytesOf(s));
      expect(r, what).toMatch(want);
    }
    // A refcount in the memmap raised by one: the frame's references no longer add up.
    const s = stateOf(good);
    const rc = s.phys.memmap[0]!;
    const words = new DataView(rc.data.buffer, rc.data.byteOffset, rc.data.byteLength);
    let i = 0;
    while (words.getInt32(i * 4, true) !== 1) i++;
    words.setInt32(i * 4, 2, true);
    expect(await restoreOrReject(bytesOf(s))).toMatch(/inconsistent content|refcount/);
    // A PTE rewritten to point past RAM, in the page-table frame itself.
    const t = stateOf(good);
    const pgd = (t.kernel.mms[0] as { pgd: number }).pgd;
    const runs = t.phys.frameRuns as number[];
    let off = 0;
    for (let r = 0; r < runs.length; r += 2) {
      if (pgd >= runs[r]! && pgd < runs[r]! + runs[r + 1]!) {
        off += (pgd - runs[r]!) * PAGE;
        break;
      }
      off += runs[r + 1]! * PAGE;
    }
    const frame = new DataView(t.phys.frames.buffer, t.phys.frames.byteOffset + off, PAGE);
    let slot = 0;
    while (frame.getUint32(slot * 8, true) === 0) slot++;
    frame.setUint32(slot * 8 + 4, 0xfffff, true); // high bits of the table's address: far past RAM
    expect(await restoreOrReject(bytesOf(t))).toMatch(/not RAM|inconsistent/);
  });

  it("fuzz: random byte changes inside the payload (checksum fixed up) never crash nor leak a machine", async () => {
    const good = await sample();
    const n = good[11]!;
    const raw = decodeSnapshotContainer(good, ["machine"]);
    const plain = encodeSnapshotContainer("machine", raw.fields, raw.faultline);
    // The un-deflated payload, so mutations reach msgpack and the field checks rather than inflate.
    const { Packr } = await import("msgpackr");
    const payload = new Packr({ useRecords: false, moreTypes: false }).pack({
      kind: "machine",
      ...raw.fields,
    });
    expect(plain.length).toBeGreaterThan(20 + n);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ at: fc.nat(payload.length - 1), byte: fc.nat(255) }), {
          minLength: 1,
          maxLength: 8,
        }),
        async (changes) => {
          const p = payload.slice();
          for (const c of changes) p[c.at] = c.byte;
          await restoreOrReject(withPayload(good, p));
        },
      ),
      { numRuns: 150 },
    );
  }, 240_000);
});

describe("SysV shared memory and what a snapshot cannot hold", () => {
  it("keeps SysV segments, attaches and an IPC_RMID'd segment still attached", async () => {
    const m = await Machine.create({ ramBytes: RAM });
    const p = m.spawn();
    const kept = p.sys.shmget(0x1234, 2 * PAGE, 0o1000 | 0o600);
    const gone = p.sys.shmget(0, PAGE, 0o1000 | 0o600);
    const a = p.sys.shmat(kept, 0, 0) as number;
    const b = p.sys.shmat(gone, 0, 0) as number;
    p.mmu.write(a, [7, 8]);
    p.mmu.write(b, [9]);
    expect(p.sys.shmctl(gone, 0, null)).toBe(0); // IPC_RMID: destroyed at the last detach
    const r = await Machine.restore(m.snapshot());
    r.checkInvariants();
    const q = r.process(p.pid)!;
    expect([...q.mmu.read(a, 2)]).toEqual([7, 8]);
    expect(q.mmu.load8(b)).toBe(9);
    expect(r.procText("/proc/sysvipc/shm")).toBe(m.procText("/proc/sysvipc/shm"));
    expect(r.procText(`/proc/${p.pid}/maps`)).toBe(m.procText(`/proc/${p.pid}/maps`));
    for (const x of [m, r]) {
      const pp = x.process(p.pid)!;
      expect(pp.sys.shmdt(b)).toBe(0);
      expect(pp.sys.shmdt(a)).toBe(0);
      x.checkInvariants();
    }
    expect(r.procText("/proc/sysvipc/shm")).toBe(m.procText("/proc/sysvipc/shm"));
    expect(r.procText("/proc/meminfo")).toBe(m.procText("/proc/meminfo"));
  });

  it("refuses a signal handler that is a JS function, naming it", async () => {
    const n = await Machine.create({ ramBytes: RAM });
    n.spawn().sys.sigaction(10, { handler: () => {} });
    expect(() => n.snapshot()).toThrow(/signal 10 has a handler that is a JS function/);
  });
});

describe("snapshot size", () => {
  it("a 64 GiB machine with 4 MiB touched snapshots to a few MiB and restores", async () => {
    const m = await Machine.create({ ramBytes: 64 * 1024 ** 3 });
    const p = m.spawn({ name: "big" });
    const len = 4 * 1024 * 1024;
    const a = p.sys.mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    // Incompressible content: a xorshift stream, one 32-bit word at a time.
    let x = 0x9e3779b9;
    const bytes = new Uint8Array(PAGE);
    for (let off = 0; off < len; off += PAGE) {
      for (let i = 0; i < PAGE; i += 4) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        bytes[i] = x & 255;
        bytes[i + 1] = (x >>> 8) & 255;
        bytes[i + 2] = (x >>> 16) & 255;
        bytes[i + 3] = (x >>> 24) & 255;
      }
      p.mmu.write(a + off, bytes);
    }
    const snap = m.snapshot();
    expect(snap.length).toBeGreaterThan(len);
    expect(snap.length).toBeLessThan(len + 1024 * 1024);
    const b = await Machine.restore(snap);
    const q = b.process(p.pid)!;
    expect([...q.mmu.read(a + len - PAGE, PAGE)]).toEqual([...bytes]);
    expect(b.procText("/proc/meminfo")).toBe(m.procText("/proc/meminfo"));
  }, 120_000);
});
