/**
 * `m.snapshot()` and `Machine.restore()`: a machine as a container of kind "machine" (container.ts)
 * holding its options, its devices' and drivers' state, physical memory (phys) and the kernel's
 * objects (save.ts / restore.ts; state.ts describes the whole). Restoring boots a machine with the
 * same options and the devices and drivers given again (matched by name; a driver must be at the saved
 * version or newer, its state migrated up to its own version), rebuilds the kernel objects, writes
 * physical memory, and checks every invariant before handing the machine out. Any failure is a
 * SnapshotError and the half-built machine is dropped.
 */
import pkg from "../../package.json" with { type: "json" };
import type { DriverDefinition } from "../driver-types";
import type { Kernel } from "../internal/kernel";
import { withKernel } from "../internal/oops";
import type { DeviceModel, MachineOptions } from "../options";
import { decodeSnapshotContainer, encodeSnapshotContainer, SnapshotError } from "./container";
import { adoptAll, list, restoreKernel, str } from "./restore";
import { saveKernel } from "./save";
import type { ConfigState, DeviceState, DriverState, MachineState } from "./state";

/** The version of @faultline/kernel writing machine snapshots. */
export const KERNEL_VERSION: string = pkg.version;
export const MACHINE_SNAPSHOT_KIND = "machine";

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
  const config: ConfigState = { ramBytes: k.mem.ramBytes, era: k.era, pku: k.cpu.pku, zeroPage: k.zeroPage };
  const devices: DeviceState[] = k.devices.map((d) => {
    const state = stateful(d) ? d.saveState() : null;
    return { name: d.name, bus: d.bus, stateVersion: state?.version ?? 0, state };
  });
  const { kernel, drivers } = saveKernel(k);
  const state: MachineState = { config, devices, drivers, phys: k.mem.saveState(), kernel };
  return encodeSnapshotContainer(MACHINE_SNAPSHOT_KIND, { machine: state }, KERNEL_VERSION);
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

/** The snapshot's state, checked at the top level, and the options to boot its machine with. */
export function decodeMachineSnapshot(
  bytes: Uint8Array,
  options: RestoreOptions,
): { state: MachineState; boot: MachineOptions } {
  const c = decodeSnapshotContainer(bytes, [MACHINE_SNAPSHOT_KIND], { reader: KERNEL_VERSION });
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
    return {
      state,
      boot: {
        ramBytes: cfg.ramBytes,
        era: cfg.era,
        cpu: { pku: cfg.pku === true },
        zeroPage: cfg.zeroPage !== false,
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

/** After Machine.create booted the machine of `state`: everything else. */
export function restoreOnto(k: Kernel, state: MachineState): void {
  for (const d of state.drivers)
    if (!k.drivers.has(d.name))
      fail(`driver ${JSON.stringify(d.name)} did not load on the restored machine (see dmesg)`);
  for (const [i, d] of state.devices.entries()) {
    const dev = k.devices[i]!;
    if (d.state === null) continue;
    if (!stateful(dev)) fail(`device ${d.name} saved state but the model given has no loadState`);
    else dev.loadState(d.state);
  }
  const { mms, states } = restoreKernel(k, state.kernel);
  for (const d of state.drivers) {
    const def = k.drivers.get(d.name)!.def;
    const snap = def.snapshot;
    let s = d.state;
    for (let v = d.stateVersion; snap && v < snap.version; v++) {
      const m = snap.migrate?.[v] ?? fail(`driver ${d.name} has no migration from state version ${v}`);
      s = m(s);
    }
    if (snap?.restore) {
      const restore = snap.restore;
      const outer = k.currentDriver;
      k.currentDriver = def.name;
      try {
        withKernel(k, () => restore(s));
      } finally {
        k.currentDriver = outer;
      }
    } else if (s !== null && s !== undefined)
      fail(`driver ${d.name} saved state but has no snapshot.restore`);
  }
  k.mem.restoreState(state.phys);
  adoptAll(mms, states);
}
