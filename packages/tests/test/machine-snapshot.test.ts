// Machine snapshots with the in-repo drivers and a device model: the drivers' snapshot hooks (scullp's
// page lists and private data, nopage's counter, simple's named vm_ops), device state, and what restore
// says when the drivers given again do not match.
import { isaMemory } from "@faultline/devices";
import { nopage } from "@faultline/driver-nopage";
import { scullp } from "@faultline/driver-scullp";
import { simple } from "@faultline/driver-simple";
import {
  DRIVER_API_VERSION,
  defineDriver,
  MAP_SHARED,
  Machine,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  SignalError,
  SnapshotError,
} from "@faultline/kernel";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

const RAM = 8 * 1024 * 1024;
const PAGE = 4096;
const ISA_BASE = 0xd0000;

const boot = () => ({
  devices: [isaMemory({ base: ISA_BASE, size: 2 * PAGE, name: "isa-ram" })],
  drivers: [scullp({ devices: 2 }), simple(), nopage()],
});

type Op =
  | { k: "scullpWrite"; p: number; dev: number; off: number; byte: number }
  | { k: "scullpMmap"; p: number; dev: number; pages: number }
  | { k: "simplerMmap"; p: number }
  | { k: "nopageMmap"; p: number }
  | { k: "store"; p: number; v: number; off: number; byte: number }
  | { k: "munmap"; p: number; v: number }
  | { k: "fork"; p: number }
  | { k: "exit"; p: number };

const proc = fc.nat(5);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    k: fc.constant("scullpWrite" as const),
    p: proc,
    dev: fc.nat(1),
    off: fc.nat(3 * PAGE),
    byte: fc.nat(255),
  }),
  fc.record({
    k: fc.constant("scullpMmap" as const),
    p: proc,
    dev: fc.nat(1),
    pages: fc.integer({ min: 1, max: 3 }),
  }),
  fc.record({ k: fc.constant("simplerMmap" as const), p: proc }),
  fc.record({ k: fc.constant("nopageMmap" as const), p: proc }),
  fc.record({
    k: fc.constant("store" as const),
    p: proc,
    v: fc.nat(6),
    off: fc.nat(3 * PAGE),
    byte: fc.nat(255),
  }),
  fc.record({ k: fc.constant("munmap" as const), p: proc, v: fc.nat(6) }),
  fc.record({ k: fc.constant("fork" as const), p: proc }),
  fc.record({ k: fc.constant("exit" as const), p: proc }),
);

function apply(m: Machine, op: Op): string {
  const live = m.processes().filter((p) => p.state === "running");
  if (!live.length) return "none";
  const p = live[op.p % live.length]!;
  const vmas = [...p.mm.vmas];
  try {
    switch (op.k) {
      case "scullpWrite": {
        const fd = p.sys.open(`/dev/scullp${op.dev}`, O_RDWR);
        if (fd < 0) return String(fd);
        p.sys.lseek(fd, op.off, 0);
        const r = p.sys.write(fd, new Uint8Array([op.byte, 1, 2]));
        p.sys.close(fd);
        return String(r);
      }
      case "scullpMmap": {
        const fd = p.sys.open(`/dev/scullp${op.dev}`, O_RDWR);
        const a = p.sys.mmap(0, op.pages * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        p.sys.close(fd);
        return String(a);
      }
      case "simplerMmap": {
        // /dev/simpler maps physical memory at the mmap offset: the ISA device's RAM.
        const fd = p.sys.open("/dev/simpler", O_RDWR);
        const a = p.sys.mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, ISA_BASE);
        p.sys.close(fd);
        return String(a);
      }
      case "nopageMmap": {
        const fd = p.sys.open("/dev/nopage", O_RDWR);
        const a = p.sys.mmap(0, PAGE, PROT_READ, MAP_SHARED, fd, 0);
        return `${a} fd ${fd}`;
      }
      case "store": {
        const v = vmas.length ? vmas[op.v % vmas.length]! : null;
        if (!v) return "-";
        p.mmu.store8(v.vmStart + (op.off % (v.vmEnd - v.vmStart)), op.byte);
        return "ok";
      }
      case "munmap": {
        const v = vmas.length ? vmas[op.v % vmas.length]! : null;
        return v ? String(p.sys.munmap(v.vmStart, v.vmEnd - v.vmStart)) : "-";
      }
      case "fork":
        return String(p.sys.fork());
      case "exit":
        return String(p.sys.exit(0));
    }
  } catch (e) {
    if (SignalError.is(e)) return `signal ${e.signal} ${e.code}`;
    throw e;
  }
}

function observe(m: Machine): string {
  const out = [
    m.procText("/proc/meminfo"),
    m.procText("/proc/iomem"),
    m.procText("/proc/devices"),
    m.dmesg().join("\n"),
  ];
  for (const p of m.processes()) {
    out.push(`pid ${p.pid} ${p.state}`);
    if (p.state !== "running") continue;
    out.push(m.procText(`/proc/${p.pid}/maps`), m.procText(`/proc/${p.pid}/smaps`));
    for (const v of p.mm.vmas) {
      try {
        out.push(Buffer.from(p.mmu.read(v.vmStart, v.vmEnd - v.vmStart)).toString("base64"));
      } catch (e) {
        out.push(SignalError.is(e) ? `signal ${e.signal} ${e.code}` : String(e));
      }
    }
  }
  return out.join("\n---\n");
}

describe("machine snapshots with drivers and devices", () => {
  it("a restored machine with scullp, simple, nopage and an ISA device continues as the original (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 30 }), fc.nat(30), async (ops, cutIn) => {
        const cut = cutIn % (ops.length + 1);
        const a = await Machine.create({ ramBytes: RAM, ...boot() });
        a.spawn({ name: "init" });
        for (const op of ops.slice(0, cut)) apply(a, op);
        const b = await Machine.restore(a.snapshot(), boot());
        b.checkInvariants();
        expect(observe(b)).toBe(observe(a));
        for (const op of ops.slice(cut)) expect(apply(b, op)).toBe(apply(a, op));
        a.checkInvariants();
        b.checkInvariants();
        expect(observe(b)).toBe(observe(a));
      }),
      { numRuns: 25 },
    );
  }, 300_000);

  it("keeps scullp's data, its page list and a live mapping's vm_private_data", async () => {
    const a = await Machine.create({ ramBytes: RAM, ...boot() });
    const p = a.spawn();
    const fd = p.sys.open("/dev/scullp0", O_RDWR);
    p.sys.write(fd, "scullp data");
    const addr = p.sys.mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    p.mmu.store8(addr, 0x53); // 'S'
    const again = boot();
    const b = await Machine.restore(a.snapshot(), again);
    const q = b.process(p.pid)!;
    const dev = (again.drivers[0] as ReturnType<typeof scullp>).devices[0]!;
    expect(dev.size).toBe(11);
    expect(dev.vmas).toBe(1);
    q.sys.lseek(fd, 0, 0);
    expect(new TextDecoder().decode(q.sys.read(fd, 11) as Uint8Array)).toBe("Scullp data");
    // The mapping still faults through scullp's vm_ops (named "scullp") on the restored machine.
    expect(q.mmu.load8(addr + 1)).toBe(0x63);
    expect(q.sys.munmap(addr, PAGE)).toBe(0);
    expect(dev.vmas).toBe(0);
    b.checkInvariants();
  });

  it("says which driver is missing, older, or extra; and refuses a state newer than the driver", async () => {
    const a = await Machine.create({ ramBytes: RAM, ...boot() });
    a.spawn();
    const bytes = a.snapshot();
    const { devices } = boot();
    await expect(
      Machine.restore(bytes, { devices, drivers: [scullp({ devices: 2 }), simple()] }),
    ).rejects.toThrow(/had driver "nopage" \(version 1\.0\.0\): give it in \{ drivers \}/);
    const old = defineDriver({
      name: "nopage",
      apiVersion: DRIVER_API_VERSION,
      version: "0.9",
      init: () => 0,
    });
    await expect(
      Machine.restore(bytes, { devices: boot().devices, drivers: [scullp({ devices: 2 }), simple(), old] }),
    ).rejects.toThrow(/driver "nopage" is version 0\.9, older than the snapshot's 1\.0\.0/);
    const extra = defineDriver({ name: "extra", apiVersion: DRIVER_API_VERSION, init: () => 0 });
    await expect(Machine.restore(bytes, { ...boot(), drivers: [...boot().drivers, extra] })).rejects.toThrow(
      /driver "extra" was not loaded in the snapshot's machine/,
    );
    await expect(Machine.restore(bytes, { drivers: boot().drivers })).rejects.toThrow(
      /had 1 devices \(isa-ram\), 0 given/,
    );
    const stale = defineDriver({
      name: "nopage",
      apiVersion: DRIVER_API_VERSION,
      version: "2.0",
      snapshot: { version: 1 },
      init: () => 0,
    });
    // nopage saved state version 1 with its counter; a driver without snapshot.restore cannot take it.
    await expect(
      Machine.restore(bytes, { devices: boot().devices, drivers: [scullp({ devices: 2 }), simple(), stale] }),
    ).rejects.toThrow(SnapshotError);
  });

  it("migrates a driver's state from an older state version", async () => {
    let restored: unknown = null;
    const v1 = defineDriver({
      name: "ctr",
      apiVersion: DRIVER_API_VERSION,
      version: "1.0",
      snapshot: { version: 1, save: () => ({ n: 3 }), restore: () => {} },
      init: () => 0,
    });
    const v2 = defineDriver({
      name: "ctr",
      apiVersion: DRIVER_API_VERSION,
      version: "1.1",
      snapshot: {
        version: 2,
        save: () => ({ count: 0, unit: "x" }),
        restore: (s) => {
          restored = s;
        },
        migrate: { 1: (s) => ({ count: (s as { n: number }).n, unit: "pages" }) },
      },
      init: () => 0,
    });
    const a = await Machine.create({ ramBytes: RAM, drivers: [v1] });
    await Machine.restore(a.snapshot(), { drivers: [v2] });
    expect(restored).toEqual({ count: 3, unit: "pages" });
  });
});
