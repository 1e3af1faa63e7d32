// Machine snapshots of the hardware side: a PCI driver bound with BARs claimed, a WC ioremap and a
// remap_pfn_range'd user mapping (PAT memtypes), an MSI handler, coherent DMA and a dma pool, an ISA
// DMA channel, a timer_list, an hrtimer and a device timer on the virtual clock. Every /proc and
// debugfs view is compared with the original after restore and after the same operations on both;
// what cannot be saved is refused when the snapshot is taken; a restore that fails late leaves the
// devices and drivers given as they were.
import fc from "fast-check";
import { describe, expect, expectTypeOf, it } from "vitest";
import {
  HW_DMA,
  HW_ISA_PROGRAM,
  HW_ISA_RESIDUE,
  HW_KICK,
  HW_MASTER,
  HW_MSIS,
  HW_POLL_TOGGLE,
  HW_POLLS,
  HW_POOL_ALLOC,
  HW_RAM,
  HW_WATCHDOGS,
  hwDevice,
  hwDriver,
} from "../__fixtures__/hw-driver";
import { bytesOf, stateOf } from "../__fixtures__/test-helpers";
import {
  CLOCK_MONOTONIC,
  type DriverDefinition,
  type DriverSnapshot,
  defineDriver,
  HRTIMER_MODE_REL,
  HRTIMER_MODE_REL_SOFT,
  HRTIMER_NORESTART,
  type Hrtimer,
  hrtimerSetup,
  hrtimerStart,
  iommuDomainType,
  iommuMappings,
  jiffies,
  MAP_SHARED,
  Machine,
  modTimer,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  SnapshotError,
  TIMER_DEFERRABLE,
  type TimerList,
  timerSetup,
} from "../index";
import type { MachineState } from "./state";

const RAM = 16 * 1024 * 1024;
const PAGE = 4096;

const VIEWS = [
  "/proc/interrupts",
  "/proc/iomem",
  "/proc/ioports",
  "/proc/bus/pci/devices",
  "/proc/dma",
  "/proc/meminfo",
  "/sys/kernel/debug/x86/pat_memtype_list",
];

const parts = (opts: Parameters<typeof hwDriver>[0] = {}) => ({
  devices: [hwDevice()],
  drivers: [hwDriver(opts)],
});

/** Every view, the log, the clock, the driver's counters through its ioctls, and each process's maps. */
function observe(m: Machine, pid: number, fd: number): string {
  const p = m.process(pid)!;
  const out = VIEWS.map((v) => `${v}\n${m.procText(v)}`);
  out.push(m.dmesg().join("\n"), `clock ${m.clockNs} next ${m.nextClockDeadline()}`);
  for (const c of [HW_MSIS, HW_POLLS, HW_WATCHDOGS, HW_ISA_RESIDUE])
    out.push(`ioctl ${c} ${p.sys.ioctl(fd, c)}`);
  out.push(m.procText(`/proc/${pid}/maps`), m.procText(`/proc/${pid}/smaps`));
  return out.join("\n---\n");
}

async function sample(iommu: boolean | "passthrough" = false) {
  const m = await Machine.create({ ramBytes: RAM, iommu, ...parts() });
  const p = m.spawn({ name: "hw" });
  const fd = p.sys.open("/dev/hw0", O_RDWR) as number;
  // The device RAM mapped write-combined through remap_pfn_range (a tracked memtype), one page written.
  const map = p.sys.mmap(0, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  p.mmu.write(map + PAGE, [1, 2, 3, 4]);
  m.advanceClock(55_000_000);
  p.sys.ioctl(fd, HW_KICK);
  p.sys.ioctl(fd, HW_POOL_ALLOC);
  p.sys.ioctl(fd, HW_ISA_PROGRAM, 0x1234);
  expect(p.sys.ioctl(fd, HW_DMA, 0x5a)).toBe(0x5a);
  m.checkInvariants();
  return { m, p, fd, map };
}

/** A driver "lazy" whose init arms a deferrable timer_list `delay` jiffies ahead, named for snapshots. */
function deferrableDriver(delay: number): DriverDefinition {
  let t: TimerList | null = null;
  return defineDriver({
    name: "lazy",
    apiVersion: 1,
    snapshot: { version: 1, timers: () => (t ? { t } : {}) },
    init() {
      t = timerSetup({}, function nap() {}, TIMER_DEFERRABLE);
      modTimer(t, jiffies() + delay);
      return 0;
    },
  });
}

describe("snapshots of PCI, IRQ, DMA, memtype and timer state", () => {
  it("a restored machine shows every view as the original and goes on as it does", async () => {
    const { m: a, p, fd, map } = await sample();
    const bytes = a.snapshot();
    const b = await Machine.restore(bytes, parts());
    b.checkInvariants();
    expect(observe(b, p.pid, fd)).toBe(observe(a, p.pid, fd));
    // The same operations on both: time passes (device timer, MSIs, timer_list, hrtimer), more
    // interrupts and DMA, the timer toggled, the pool grows, the mapping goes (its memtype with it).
    for (const m of [a, b]) {
      const q = m.process(p.pid)!;
      expect([...q.mmu.read(map + PAGE, 4)]).toEqual([1, 2, 3, 4]);
      m.advanceClock(123_000_000);
      q.sys.ioctl(fd, HW_KICK);
      q.sys.ioctl(fd, HW_POLL_TOGGLE);
      q.sys.ioctl(fd, HW_POOL_ALLOC);
      q.sys.ioctl(fd, HW_DMA, 0x33);
      m.advanceClock(40_000_000);
      expect(q.sys.munmap(map, 2 * PAGE)).toBe(0);
      m.checkInvariants();
    }
    expect(observe(b, p.pid, fd)).toBe(observe(a, p.pid, fd));
    expect(a.procText("/sys/kernel/debug/x86/pat_memtype_list")).toMatch(/write-combining/);
    expect(a.procText("/proc/interrupts")).toMatch(/PCI-MSI.*hwdrv/);
  });

  it("behind an IOMMU: the machine restores with one, the same IOVA mappings, and streaming DMA goes on", async () => {
    const { m: a, p, fd } = await sample(true);
    const dev = a.devices[0]!;
    expect(iommuMappings(a, dev).length).toBeGreaterThan(0);
    const b = await Machine.restore(a.snapshot(), parts());
    expect(iommuMappings(b, b.devices[0]!)).toEqual(iommuMappings(a, dev));
    expect(observe(b, p.pid, fd)).toBe(observe(a, p.pid, fd));
    for (const m of [a, b]) expect(m.process(p.pid)!.sys.ioctl(fd, HW_DMA, 0x21)).toBe(0x21);
    expect(iommuMappings(b, b.devices[0]!)).toEqual(iommuMappings(a, dev));
    expect(observe(b, p.pid, fd)).toBe(observe(a, p.pid, fd));
  });

  it("with iommu=pt: the machine restores in passthrough (identity domain, no IOVA mappings), not without an IOMMU", async () => {
    const { m: a, p, fd } = await sample("passthrough");
    expect(iommuDomainType(a, a.devices[0]!)).toBe("identity");
    const b = await Machine.restore(a.snapshot(), parts());
    expect(iommuDomainType(b, b.devices[0]!)).toBe("identity");
    expect(observe(b, p.pid, fd)).toBe(observe(a, p.pid, fd));
    for (const m of [a, b]) expect(m.process(p.pid)!.sys.ioctl(fd, HW_DMA, 0x44)).toBe(0x44);
    expect(observe(b, p.pid, fd)).toBe(observe(a, p.pid, fd));
  });

  it("keeps the wall clock a process set (clock_settime's offset and its coarse time)", async () => {
    const { m: a, p } = await sample();
    expect(p.sys.clockSettime(0, 2_000_000_000, 5)).toBe(0);
    const b = await Machine.restore(a.snapshot(), parts());
    for (const id of [0, 5, 11]) // CLOCK_REALTIME, _COARSE, CLOCK_TAI
      expect(b.process(p.pid)!.sys.clockGettime(id)).toBe(a.process(p.pid)!.sys.clockGettime(id));
  });

  it("keeps the command register a driver changed after probe: bus mastering off stays off", async () => {
    const { m: a, p, fd } = await sample();
    expect(p.sys.ioctl(fd, HW_MASTER, 0) & 0x4).toBe(0);
    const b = await Machine.restore(a.snapshot(), parts());
    expect(observe(b, p.pid, fd)).toBe(observe(a, p.pid, fd));
    for (const m of [a, b]) {
      const q = m.process(p.pid)!;
      // The device cannot write memory nor send its MSI without bus mastering.
      expect(q.sys.ioctl(fd, HW_DMA, 0x77)).toBe(0x5a);
      q.sys.ioctl(fd, HW_KICK);
      expect(q.sys.ioctl(fd, HW_MASTER, 1) & 0x4).toBe(0x4);
      expect(q.sys.ioctl(fd, HW_DMA, 0x77)).toBe(0x77);
    }
    expect(observe(b, p.pid, fd)).toBe(observe(a, p.pid, fd));
  });

  it("keeps the clock, the wheel's order and each timer's expiry: the events after restore are the original's", async () => {
    const { m: a } = await sample();
    const b = await Machine.restore(a.snapshot(), parts());
    expect(b.clockNs).toBe(a.clockNs);
    expect(b.nextClockDeadline()).toBe(a.nextClockDeadline());
    expect(b.advanceClock(200_000_000)).toEqual(a.advanceClock(200_000_000));
  });

  it("keeps a deferrable timer's pending tick (a busy CPU's kick): it runs at the same tick after restore", async () => {
    const a = await Machine.create({ ramBytes: RAM, drivers: [deferrableDriver(5)] });
    a.advanceClock(100_000_000); // due, but the idle CPU does not tick for it
    a.spawn({ name: "busy" }).sys.munmap(0x10000, 4096); // a kernel entry: the busy CPU ticks next jiffy
    const b = await Machine.restore(a.snapshot(), { drivers: [deferrableDriver(5)] });
    const hw = (m: Machine) => stateOf(m.snapshot()).hw;
    expect(hw(a).timers.busyTick).toBeGreaterThan(0);
    expect(hw(b)).toEqual(hw(a)); // saved again, the restored machine's state is the original's
    expect(b.nextClockDeadline()).toBe(a.nextClockDeadline());
    expect(b.advanceClock(50_000_000)).toEqual(a.advanceClock(50_000_000));
  });

  it("a deferrable timer due at the snapshot, the CPU idle, fires at the restored machine's first kernel entry as at the original's", async () => {
    // The restored driver's init arms its timer far off; restore puts back the saved, due expiry.
    const a = await Machine.create({ ramBytes: RAM, drivers: [deferrableDriver(5)] });
    a.advanceClock(100_000_000); // due, but the idle CPU does not tick for it
    const b = await Machine.restore(a.snapshot(), { drivers: [deferrableDriver(1_000_000)] });
    const hw = (m: Machine) => stateOf(m.snapshot()).hw;
    expect(hw(a).timers.busyTick).toBeNull();
    for (const m of [a, b]) m.spawn({ name: "busy" }).sys.munmap(0x10000, 4096);
    // The kernel entry finds the due deferrable timer on both: the busy CPU ticks for it.
    expect(hw(a).timers.busyTick).toBeGreaterThan(0);
    expect(hw(b)).toEqual(hw(a));
    expect(b.advanceClock(50_000_000)).toEqual(a.advanceClock(50_000_000));
  });

  it("hrtimers that two drivers set up in one order restore into drivers that set them up in the other, each firing for its driver at its time", async () => {
    for (const mode of [HRTIMER_MODE_REL_SOFT, HRTIMER_MODE_REL]) {
      const fired: string[] = [];
      // Its hrtimer is set up at the first ioctl (arg: ns from now), or by snapshot.restore when it was.
      const lazy = (name: string): DriverDefinition => {
        let h: Hrtimer | null = null;
        const setup = () => {
          h = hrtimerSetup(
            {},
            function tick() {
              fired.push(name);
              return HRTIMER_NORESTART;
            },
            CLOCK_MONOTONIC,
            mode,
          );
        };
        return defineDriver({
          name,
          apiVersion: 1,
          snapshot: {
            version: 1,
            save: () => h !== null,
            restore: (wasSetUp) => (wasSetUp ? setup() : undefined),
            timers: () => (h ? { tick: h } : {}),
          },
          init(c) {
            const major = c.allocChrdevRegion(0, 1, name);
            c.cdevAdd(major, 0, 1, {
              unlockedIoctl(_file, _cmd, arg) {
                if (!h) setup();
                hrtimerStart(h!, Number(arg), mode);
                return 0;
              },
            });
            c.createDevNode(name, major, 0);
            return 0;
          },
        });
      };
      const drivers = () => [lazy("alpha"), lazy("beta")];
      const a = await Machine.create({ ramBytes: RAM, drivers: drivers() });
      const p = a.spawn();
      const [fa, fb] = ["/dev/alpha", "/dev/beta"].map((path) => p.sys.open(path, O_RDWR) as number);
      // beta's hrtimer is set up first here; the restored drivers' restore hooks run alpha's first.
      p.sys.ioctl(fb!, 0, 5_000_000);
      p.sys.ioctl(fa!, 0, 3_000_000);
      a.advanceClock(1_000_000);
      const b = await Machine.restore(a.snapshot(), { drivers: drivers() });
      expect(b.nextClockDeadline()).toBe(3_000_000);
      const [ea, eb] = [a, b].map((m) => m.advanceClock(10_000_000));
      expect(eb).toEqual(ea);
      expect(ea).toEqual([
        { ns: 3_000_000, kind: "timer", name: "alpha: tick" },
        { ns: 5_000_000, kind: "timer", name: "beta: tick" },
      ]);
      expect(fired).toEqual(["alpha", "beta", "alpha", "beta"]);
      // Saved again, the restored machine names its hrtimers' clock timers as the original does.
      for (const m of [a, b]) {
        const q = m.process(p.pid)!;
        q.sys.ioctl(fa!, 0, 2_000_000);
        q.sys.ioctl(fb!, 0, 1_000_000);
      }
      // The whole timer state: no timer_list was ever used, and the restore made no timer base the
      // original does not have (its base->clk would be the snapshot's, the original's the jiffies now).
      const timers = (m: Machine) => {
        const { clock, timers } = stateOf(m.snapshot()).hw;
        return { clock, timers };
      };
      expect(timers(b)).toEqual(timers(a));
    }
  });

  it("DriverSnapshot.timers is typed as what it names: TimerLists and Hrtimers (tsc checks this)", () => {
    type Named = ReturnType<NonNullable<DriverSnapshot["timers"]>>;
    expectTypeOf<Named[string]>().toEqualTypeOf<TimerList | Hrtimer>();
    const t = { expires: 0, function: null, flags: 0 } satisfies TimerList;
    const h = { expires: 0, function: null } satisfies Hrtimer;
    const ok: DriverSnapshot = { version: 1, timers: () => ({ t, h }) };
    // A plain object is no timer: restore would find nothing set up under its name.
    // @ts-expect-error: { expires } is neither a TimerList nor an Hrtimer
    const bad: DriverSnapshot = { version: 1, timers: () => ({ t: { expires: 5 } }) };
    expect(Object.keys(ok.timers!())).toEqual(["t", "h"]);
    expect(bad.version).toBe(1);
  });

  it("refuses what cannot be saved, naming it", async () => {
    const { m } = await sample();
    m.phys.dirtyLog.start();
    expect(() => m.snapshot()).toThrow(/dirty logging is on/);
    m.phys.dirtyLog.stop();
    // An INTx line held asserted: the device raises it and no handler takes it.
    const fn = m.devices[0]! as unknown as {
      pci: { setIrq(l: boolean): void; configWrite(o: number, n: 2, v: number): void; command: number };
    };
    fn.pci.setIrq(true);
    expect(() => m.snapshot()).toThrow(/holds its INTx line asserted/);
    fn.pci.setIrq(false);
    expect(m.snapshot().length).toBeGreaterThan(0);
    // A pending timer_list its driver does not name.
    const drv = hwDriver();
    const snap = drv.snapshot!;
    const unnamed = { ...drv, snapshot: { ...snap, timers: () => ({}) } };
    const n = await Machine.create({ ramBytes: RAM, devices: [hwDevice()], drivers: [unnamed] });
    expect(() => n.snapshot()).toThrow(/timer poll is pending and its snapshot hooks do not name it/);
  });

  it("refuses a restore whose drivers do not build the same hardware state again, naming the difference", async () => {
    const { m } = await sample();
    const s = stateOf(m.snapshot());
    const tamper = async (f: (hw: Record<string, unknown>) => void) => {
      const t = structuredClone(s) as MachineState;
      f(t.hw as unknown as Record<string, unknown>);
      const bytes = bytesOf(t);
      return Machine.restore(bytes, parts()).then(
        () => "restored",
        (e) => (e instanceof SnapshotError ? e.message : `not a SnapshotError: ${e}`),
      );
    };
    expect(
      await tamper((hw) => {
        (hw.irqs as { actions: unknown[][] }).actions[0]![2] = "other";
      }),
    ).toMatch(/irq action .*"other".* did not request it again/);
    expect(
      await tamper((hw) => {
        ((hw.pci as Array<{ config: Uint8Array }>)[0]!.config[0x3c] as number) ^= 1;
      }),
    ).toMatch(/configuration space differs at 0x3c/);
    expect(
      await tamper((hw) => {
        (hw.pci as Array<{ dma: { coherent: number[][] } }>)[0]!.dma.coherent.push([0x1000, 4096]);
      }),
    ).toMatch(/coherent DMA buffers/);
    expect(
      await tamper((hw) => {
        (hw.timers as { wheel: unknown[][] }).wheel[0]![1] = "nosuch";
      }),
    ).toMatch(/timer "nosuch" was armed in the snapshot/);
    expect(
      await tamper((hw) => {
        (hw.clock as { armed: unknown[][] }).armed[0]![0] = "nosuch";
      }),
    ).toMatch(/timer "nosuch" #0 was armed/);
    expect(
      await tamper((hw) => {
        (hw.memtypes as { entries: unknown[][] }).entries[0]![2] = 99;
      }),
    ).toMatch(/memtype 0/);
  });
});

describe("a restore either succeeds or leaves the devices and drivers given as they were", () => {
  it("a driver's restorePrivate that throws: the devices are unrealized with their state back, the same instances restore after", async () => {
    const { m, p, fd } = await sample();
    const bytes = m.snapshot();
    const given = parts({ failRestorePrivate: true });
    const dev = given.devices[0]!;
    const before = dev.saveState();
    await expect(Machine.restore(bytes, given)).rejects.toThrow(/restorePrivate refuses/);
    expect(dev.realized).toBe(false);
    expect(dev.saveState()).toEqual(before);
    expect(given.drivers[0]!.restored).toBe(0);
    // The same device instance works in a restore that succeeds.
    const ok = { devices: given.devices, drivers: [hwDriver()] };
    const r = await Machine.restore(bytes, ok);
    expect(observe(r, p.pid, fd)).toBe(observe(m, p.pid, fd));
  });

  it("a late section that is wrong (checksum fixed up): the driver's state hook never ran or was undone", async () => {
    const { m, p, fd } = await sample();
    const s = stateOf(m.snapshot());
    // The ISA DMA registers are checked only once everything else was rebuilt.
    (s.hw as unknown as { isaDma: { ch: number[][] } }).isaDma.ch[3]![4] = 0x1ff;
    const bad = bytesOf(s);
    const given = parts();
    await expect(Machine.restore(bad, given)).rejects.toThrow(/ISA DMA: channel 3's registers/);
    expect(given.drivers[0]!.restored).toBe(2); // restored, then given its old state back
    expect(given.devices[0]!.realized).toBe(false);
    const r = await Machine.restore(m.snapshot(), given);
    expect(observe(r, p.pid, fd)).toBe(observe(m, p.pid, fd));
  });

  it("a driver of an unsupported API version is refused before anything boots", async () => {
    const { m } = await sample();
    const given = parts();
    const drivers = [{ ...given.drivers[0]!, apiVersion: 99 }];
    await expect(Machine.restore(m.snapshot(), { devices: given.devices, drivers })).rejects.toThrow(
      /driver API version 99/,
    );
    expect(given.devices[0]!.realized).toBe(false);
  });

  it("a device state the model refuses is found before anything boots", async () => {
    const { m } = await sample();
    const s = stateOf(m.snapshot());
    (s.devices[0]!.state as { fields: Record<string, unknown> }).fields.ticks = "many";
    const given = parts();
    await expect(Machine.restore(bytesOf(s), given)).rejects.toThrow(/device hwdev: .*field "ticks"/);
    expect(given.devices[0]!.realized).toBe(false);
    expect(given.drivers[0]!.restored).toBe(0);
  });
});

describe("device RAM in a snapshot", () => {
  it("keeps only the touched pages of device RAM", async () => {
    const { m, p, map } = await sample();
    const s = stateOf(m.snapshot());
    const ram = s.devices[0]!.ram!;
    expect(ram.len).toBe(HW_RAM);
    expect(ram.pages).toEqual([1]);
    expect(ram.data.length).toBe(PAGE);
    const r = await Machine.restore(m.snapshot(), parts());
    expect([...r.process(p.pid)!.mmu.read(map + PAGE, 4)]).toEqual([1, 2, 3, 4]);
    expect([...r.process(p.pid)!.mmu.read(map, 4)]).toEqual([0, 0, 0, 0]);
  });
});

describe("hostile hardware sections", () => {
  it("fuzz: any value anywhere in the devices and hw sections is restored or refused, never a crash, and the devices given are left unrealized", async () => {
    const { m } = await sample();
    const good = stateOf(m.snapshot());
    /** Every path to a leaf of the sections (Uint8Arrays are leaves). */
    const paths: (string | number)[][] = [];
    const walk = (v: unknown, path: (string | number)[]) => {
      if (v && typeof v === "object" && !(v instanceof Uint8Array)) {
        for (const [k, x] of Object.entries(v)) walk(x, [...path, Array.isArray(v) ? Number(k) : k]);
      } else paths.push(path);
    };
    walk({ hw: good.hw, devices: good.devices }, []);
    const values = fc.oneof(
      fc.constant(null),
      fc.integer({ min: -3, max: 2 ** 40 }),
      fc.constantFrom(2 ** 53, -1, 0.5, Number.NaN),
      fc.string({ maxLength: 4 }),
      fc.constant({ __proto__: { x: 1 } }),
      fc.array(fc.nat(3), { maxLength: 3 }),
    );
    await fc.assert(
      fc.asyncProperty(fc.nat(paths.length - 1), values, async (i, value) => {
        const t = structuredClone(good) as unknown as Record<string, unknown>;
        const path = paths[i]!;
        let o = t as Record<string | number, unknown>;
        for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
        o[path.at(-1)!] = value;
        const given = parts();
        const bytes = bytesOf(t);
        try {
          (await Machine.restore(bytes, given)).checkInvariants();
        } catch (e) {
          if (!(e instanceof SnapshotError)) throw new Error(`${path.join(".")}: ${(e as Error)?.stack}`);
          expect(given.devices[0]!.realized).toBe(false);
        }
      }),
      { numRuns: Number(process.env.HW_FUZZ_RUNS ?? 40) },
    );
  }, 600_000);
});
