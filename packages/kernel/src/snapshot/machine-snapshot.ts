/**
 * `m.snapshot()` and `Machine.restore()`: a machine as a container of kind "machine" (container.ts)
 * holding its options, its devices' and drivers' state, physical memory (phys), the kernel's objects
 * (save.ts / restore.ts; state.ts describes the whole) and its hardware-facing state (hw.ts).
 *
 * Restoring is all or nothing. Everything that can be checked without the machine is checked first
 * (the container, the drivers given and their versions, each device's state against its model, the
 * drivers' state migrations): a bad snapshot is refused before any given device or driver is touched.
 * Then a machine boots with the same options and the given devices and drivers, the saved objects are
 * rebuilt on it, physical memory is written, the invariants are checked, and last the drivers get
 * their state back (snapshot.restore). If any of that fails, the half-built machine is taken down
 * again: every driver that got its state back is given the state it had before, the drivers are
 * unloaded (their exit runs, as rmmod's), the devices are unrealized and get their state and RAM back.
 * The error is a SnapshotError.
 */
import pkg from "../../package.json" with { type: "json" };
import { SUPPORTED_DRIVER_API_VERSIONS } from "../driver-api";
import type { DriverDefinition } from "../driver-types";
import { iommuDomainTypeOf, iommuOf } from "../internal/iommu";
import type { Kernel } from "../internal/kernel";
import { unloadDriver } from "../internal/module";
import { withKernel } from "../internal/oops";
import { bootTimeOf } from "../internal/timekeeping";
import type { DeviceModel, MachineOptions } from "../options";
import { decodeSnapshotContainer, encodeSnapshotContainer, SnapshotError } from "./container";
import { denseRam, sparseRam } from "./device-ram";
import { type HwState, restoreHw, restoreMemtypes, saveHw } from "./hw";
import { adoptAll, list, restoreKernel, str } from "./restore";
import { saveKernel } from "./save";
import type { ConfigState, DeviceState, DriverState, MachineState } from "./state";

/** The version of @faultline/kernel writing machine snapshots. */
export const KERNEL_VERSION: string = pkg.version;
export const MACHINE_SNAPSHOT_KIND = "machine";
/**
 * The oldest snapshot format a machine snapshot is read from: 3, where a machine's time state was
 * added (SNAPSHOT_FORMAT_VERSION lists it). A format-2 machine lacks it, and it cannot be made up.
 */
export const MACHINE_SNAPSHOT_OLDEST_FORMAT = 3;

/** What Machine.restore takes: the device models and drivers the snapshot's machine had, given again. */
export interface RestoreOptions {
  readonly devices?: readonly DeviceModel[];
  readonly drivers?: readonly DriverDefinition[];
}

/** A device model that can save its state (defineDevice's models can). */
interface StatefulDevice extends DeviceModel {
  saveState(): { version: number } & Record<string, unknown>;
  loadState(s: unknown): void;
}
const stateful = (d: DeviceModel): d is StatefulDevice =>
  typeof (d as Partial<StatefulDevice>).saveState === "function" &&
  typeof (d as Partial<StatefulDevice>).loadState === "function";

export function snapshotMachine(k: Kernel): Uint8Array {
  const config: ConfigState = {
    ramBytes: k.mem.ramBytes,
    era: k.era,
    pku: k.cpu.pku,
    zeroPage: k.zeroPage,
    iommu: iommuDomainTypeOf(k) === "identity" ? "passthrough" : iommuOf(k) !== null,
    bootTime: bootTimeOf(k),
  };
  const devices: DeviceState[] = k.devices.map((d) => {
    const saved = stateful(d) ? d.saveState() : null;
    // Device RAM: its touched (non-zero) pages only.
    const { ram, ...state } = (saved ?? {}) as { ram?: unknown };
    return {
      name: d.name,
      bus: d.bus,
      stateVersion: saved?.version ?? 0,
      state: saved ? state : null,
      ram: ram instanceof Uint8Array ? sparseRam(ram) : null,
    };
  });
  const { kernel, drivers } = saveKernel(k);
  const hw = saveHw(k);
  const state: MachineState = { config, devices, drivers, phys: k.mem.saveState(), kernel, hw };
  return encodeSnapshotContainer(MACHINE_SNAPSHOT_KIND, { machine: state }, KERNEL_VERSION);
}

/** A device's saved state as its model's loadState takes it (its RAM whole again), or null. */
function deviceInput(d: DeviceState, i: number): unknown {
  if (d.state === null || d.state === undefined) return null;
  if (typeof d.state !== "object") fail(`devices[${i}].state: not a map`);
  return d.ram === null || d.ram === undefined
    ? d.state
    : { ...(d.state as object), ram: denseRam(d.ram, `devices[${i}] (${d.name})`) };
}

/** "1.10.0" > "1.9.2": numeric, part by part. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return Math.sign(d);
  }
  return 0;
}

/** What restoring needs, checked before any device or driver given is touched. */
export interface DecodedMachine {
  readonly state: MachineState;
  readonly boot: MachineOptions;
  /** Each device's state as its loadState takes it (null: none). */
  readonly deviceInputs: readonly unknown[];
  /** Each driver's state migrated to the given driver's state version. */
  readonly driverStates: readonly unknown[];
  /** The given devices' own state before the restore (a failed restore puts it back). */
  readonly devicesBefore: ReadonlyArray<ReturnType<StatefulDevice["saveState"]> | null>;
}

/** The snapshot's state, checked at the top level, and the options to boot its machine with. */
export function decodeMachineSnapshot(bytes: Uint8Array, options: RestoreOptions): DecodedMachine {
  const c = decodeSnapshotContainer(bytes, [MACHINE_SNAPSHOT_KIND], {
    reader: KERNEL_VERSION,
    oldestFormat: { [MACHINE_SNAPSHOT_KIND]: MACHINE_SNAPSHOT_OLDEST_FORMAT },
  });
  const extra = Object.keys(c.fields).filter((k) => k !== "machine");
  if (extra.length) throw new SnapshotError(`snapshot: unexpected key ${JSON.stringify(extra[0])}`);
  const state = c.fields.machine as MachineState;
  try {
    if (typeof state !== "object" || state === null) throw new Error("machine: not a map");
    const cfg = state.config;
    if (typeof cfg !== "object" || cfg === null) throw new Error("config: not a map");
    const given = options.drivers ?? [];
    const saved = list<DriverState>(state.drivers, "drivers");
    const drivers = saved.map((d, i) => {
      const name = str(d?.name, `drivers[${i}].name`);
      const version = str(d.version, `drivers[${i}].version`);
      const def =
        given.find((g) => g?.name === name) ??
        fail(
          `the snapshot's machine had driver ${JSON.stringify(name)} (version ${version}): give it in { drivers }`,
        );
      // loadDriver would throw at boot, after the devices are realized: refused here, before.
      if (!SUPPORTED_DRIVER_API_VERSIONS.includes(def.apiVersion))
        fail(
          `driver ${JSON.stringify(name)} has driver API version ${String(def.apiVersion)}, which this kernel does not support`,
        );
      const have = def.version ?? "0";
      if (compareVersions(have, version) < 0)
        fail(`driver ${JSON.stringify(name)} is version ${have}, older than the snapshot's ${version}`);
      const sv = d.stateVersion;
      if (!Number.isInteger(sv) || sv < 0) fail(`drivers[${i}].stateVersion: expected an integer`);
      if (sv > (def.snapshot?.version ?? 0))
        fail(
          `driver ${JSON.stringify(name)} saved state version ${sv}, newer than this driver's ${def.snapshot?.version ?? 0}`,
        );
      return def;
    });
    for (const g of given)
      if (!saved.some((d) => d.name === g?.name))
        fail(`driver ${JSON.stringify(g?.name)} was not loaded in the snapshot's machine`);
    const givenDevices = options.devices ?? [];
    const savedDevices = list<DeviceState>(state.devices, "devices");
    if (savedDevices.length !== givenDevices.length)
      fail(
        `the snapshot's machine had ${savedDevices.length} devices (${savedDevices.map((d) => d?.name).join(", ") || "none"}), ${givenDevices.length} given`,
      );
    savedDevices.forEach((d, i) => {
      const g = givenDevices[i]!;
      if (d?.name !== g.name || d.bus !== g.bus)
        fail(
          `devices[${i}]: the snapshot has ${d?.bus} device ${JSON.stringify(d?.name)}, given ${g.bus} device ${JSON.stringify(g.name)}`,
        );
    });
    for (const key of ["kernel", "phys", "hw"] as const)
      if (typeof state[key] !== "object" || state[key] === null) fail(`${key}: not a map`);
    // Each device's state against its model: loadState checks it whole (name, version, migration,
    // fields, RAM size) before it changes anything; the model's own state goes back at once.
    const deviceInputs = savedDevices.map((d, i) => {
      const input = deviceInput(d, i);
      const g = givenDevices[i]!;
      if (input === null) return null;
      if (!stateful(g)) return fail(`device ${d.name} saved state but the model given has no loadState`);
      if ((g as { realized?: unknown }).realized === true)
        fail(`device ${g.name} given is already realized (give new device instances)`);
      const before = g.saveState();
      try {
        g.loadState(input);
      } catch (e) {
        fail(`device ${d.name}: ${(e as Error).message}`);
      }
      g.loadState(before);
      return input;
    });
    // Migrations are data to data: run now, so one that is missing or throws refuses the snapshot here.
    const driverStates = saved.map((d, i) => {
      const snap = drivers[i]!.snapshot;
      let st = d.state;
      for (let v = d.stateVersion; snap && v < snap.version; v++) {
        const m =
          (snap.migrate && Object.hasOwn(snap.migrate, v) ? snap.migrate[v] : undefined) ??
          fail(`driver ${d.name} has no migration from state version ${v}`);
        try {
          st = m(st);
        } catch (e) {
          fail(`driver ${d.name}'s migration from state version ${v} threw: ${(e as Error)?.message}`);
        }
      }
      if (!snap?.restore && st !== null && st !== undefined)
        fail(`driver ${d.name} saved state but has no snapshot.restore`);
      return st;
    });
    const devicesBefore = givenDevices.map((g) => (stateful(g) ? g.saveState() : null));
    return {
      state,
      devicesBefore,
      deviceInputs,
      driverStates,
      boot: {
        ramBytes: cfg.ramBytes,
        era: cfg.era,
        cpu: { pku: cfg.pku === true },
        zeroPage: cfg.zeroPage !== false,
        iommu: cfg.iommu === "passthrough" ? "passthrough" : cfg.iommu === true,
        // Machine.create checks it (a bad one: the snapshot's machine does not boot).
        ...(cfg.bootTime === undefined ? {} : { bootTime: cfg.bootTime }),
        devices: givenDevices,
        drivers,
      },
    };
  } catch (e) {
    throw e instanceof SnapshotError ? e : new SnapshotError(`snapshot: ${(e as Error).message}`);
  }
}

const fail = (msg: string): never => {
  throw new SnapshotError(`cannot restore: ${msg}`);
};

/**
 * After Machine.create booted the machine of `d.state`: everything else. On failure the machine is
 * taken down and the devices and drivers given are as they were (see the file comment); throws.
 */
export function restoreOnto(k: Kernel, d: DecodedMachine, check: () => void): void {
  try {
    restoreAll(k, d, check);
  } catch (e) {
    takeDown(k, d.devicesBefore);
    throw e;
  }
}

function restoreAll(k: Kernel, d: DecodedMachine, check: () => void): void {
  const { state } = d;
  for (const dr of state.drivers)
    if (!k.drivers.has(dr.name))
      fail(`driver ${JSON.stringify(dr.name)} did not load on the restored machine (see dmesg)`);
  state.devices.forEach((_, i) => {
    const input = d.deviceInputs[i];
    if (input !== null) (k.devices[i] as StatefulDevice).loadState(input);
  });
  restoreMemtypes(k, state.hw as HwState);
  const { mms, states } = restoreKernel(k, state.kernel);
  k.mem.restoreState(state.phys);
  adoptAll(mms, states);
  check();
  // Last, the drivers' own state: a hook that throws has every earlier one given its old state back.
  const undo: Array<() => void> = [];
  try {
    state.drivers.forEach((dr, i) => {
      const def = k.drivers.get(dr.name)!.def;
      const snap = def.snapshot;
      if (!snap?.restore) return;
      const restore = snap.restore;
      const before = snap.save ? inDriver(k, def.name, "snapshot.save", () => snap.save!()) : undefined;
      inDriver(k, def.name, "snapshot.restore", () => restore(d.driverStates[i]));
      if (snap.save) undo.push(() => inDriver(k, def.name, "snapshot.restore", () => restore(before)));
    });
    restoreHw(k, state.hw as HwState);
    check();
  } catch (e) {
    for (const u of undo.reverse()) {
      try {
        u();
      } catch {
        // The driver cannot take its old state back: it is unloaded next anyway.
      }
    }
    throw e;
  }
}

function inDriver<T>(k: Kernel, name: string, what: string, fn: () => T): T {
  const outer = k.currentDriver;
  k.currentDriver = name;
  try {
    return withKernel(k, fn);
  } catch (e) {
    throw new SnapshotError(
      `cannot restore: driver ${name}'s ${what} threw: ${(e as Error)?.message ?? String(e)}`,
    );
  } finally {
    k.currentDriver = outer;
  }
}

/** A failed restore's machine goes: drivers unloaded (last loaded first), devices unrealized and reset to what they held. */
function takeDown(
  k: Kernel,
  devicesBefore: ReadonlyArray<ReturnType<StatefulDevice["saveState"]> | null>,
): void {
  for (const name of [...k.drivers.keys()].reverse()) {
    try {
      unloadDriver(k, name);
    } catch {
      // An exit that throws is an oops of the driver; the machine is dropped anyway.
    }
  }
  k.devices.forEach((dev, i) => {
    try {
      const d = dev as { realized?: unknown; unrealize?: (p: typeof k.phys) => void };
      if (d.realized === true && d.unrealize) d.unrealize(k.phys);
      const before = devicesBefore[i];
      if (before && stateful(dev)) dev.loadState(before);
    } catch {
      // A device that cannot leave the bus stays as it is.
    }
  });
}
