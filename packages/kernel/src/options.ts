/**
 * Machine.create's options: the public types and their validation. Every option is checked before
 * anything is built, and an error names the option, what was expected and what was given.
 */
import type { Era } from "@faultline/mm";
import { offsetInPage, type PhysMachine } from "@faultline/phys";
import type { DriverDefinition } from "./driver-types";
import {
  COPY_BRAND,
  describeCopy,
  type KernelCopy,
  PEER_DEPENDENCY_ADVICE,
  THIS_COPY,
} from "./internal/kernel-copy";

/**
 * A device model as `@faultline/devices` builds them: it puts itself on a bus of the physical
 * machine when realized.
 */
export interface DeviceModel {
  readonly name: string;
  readonly bus: "isa" | "pci";
  realize(phys: PhysMachine): void;
  reset?(): void;
}

/** What `Machine.create` takes: RAM size, era, device models, drivers, CPU features. */
export interface MachineOptions {
  /**
   * Bytes of System RAM (default 256 MiB): a multiple of 4096 from 2 MiB to MAX_RAM_BYTES (64 GiB).
   */
  readonly ramBytes?: number;
  /** Which kernel's semantics where they differ (docs/driver-api.md, "Two eras"). Default "modern". */
  readonly era?: Era;
  /** Device models, realized in order at boot. */
  readonly devices?: readonly DeviceModel[];
  /** Drivers, loaded in order after the devices (as modules given on the command line). */
  readonly drivers?: readonly DriverDefinition[];
  /** The CPU's features that change what processes see. */
  readonly cpu?: CpuOptions;
  /**
   * Anonymous read faults map the shared zero page (default true). False as on a kernel that forbids
   * it (some hosts boot with `pvm_no_zero_page=1`): a read fault then allocates a private page.
   */
  readonly zeroPage?: boolean;
  /**
   * An IOMMU in front of the PCI bus, on from boot (as `intel_iommu=on`): each PCI function gets its own
   * DMA domain, the DMA API hands devices IOVAs it maps and unmaps, and a device access to an IOVA not
   * mapped for it (or without the permission) is blocked and logged as a DMAR fault. Default false
   * (dma-direct: a bus address is the physical address). "passthrough" is `iommu=pt` /
   * `iommu.passthrough=1`: the IOMMU is on but every device sits in the identity domain, so the DMA API
   * is dma-direct again (bus address = physical address) and no device access faults.
   */
  readonly iommu?: boolean | "passthrough";
  /**
   * The wall-clock time at boot, in whole seconds since the Epoch: what CLOCK_REALTIME reads while
   * the virtual clock is at 0 (docs/write-a-pci-driver.md, "Time"). Default 1735689600
   * (2025-01-01T00:00:00Z), the same on every boot, so a deterministic run reads the same wall clock.
   */
  readonly bootTime?: number;
}

/** CPU features of the machine. */
export interface CpuOptions {
  /**
   * Memory protection keys (x86 PKU, with the kernel's OSPKE): PROT_EXEC-only mappings become
   * execute-only (reads fault SEGV_PKUERR), and pkey_alloc/pkey_free/pkey_mprotect and the thread's
   * PKRU (pkeyGet/pkeySet) work as on Linux. Default false, where they fail as on a CPU without PKU.
   */
  readonly pku?: boolean;
}

/** The smallest machine the physical layout can build (phys's ramLayout). */
export const MIN_RAM_BYTES = 2 * 1024 * 1024;
/**
 * The largest: 64 GiB. The memmap costs 24 bytes of host memory per page frame (six Int32Arrays),
 * so the limit keeps it at 384 MiB; far larger values used to exhaust the host (2^50) or fail deep
 * in an allocation (2^46).
 */
export const MAX_RAM_BYTES = 64 * 1024 * 1024 * 1024;

const KNOWN = ["ramBytes", "era", "devices", "drivers", "cpu", "zeroPage", "iommu", "bootTime"] as const;

/** A value as an error message shows it. */
export function describeValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "function") return "a function";
  if (typeof v === "symbol") return v.toString();
  if (Array.isArray(v)) return "an array";
  if (v instanceof Uint8Array) return "a Uint8Array";
  if (typeof v === "object" && v !== null) {
    const name = Object.getPrototypeOf(v)?.constructor?.name;
    return typeof name === "string" && name !== "Object" ? `a ${name}` : "an object";
  }
  return String(v);
}

/** The checked options, defaults filled in. */
export interface MachineConfig {
  readonly ramBytes: number | undefined;
  readonly era: Era;
  readonly devices: readonly DeviceModel[];
  readonly drivers: readonly DriverDefinition[];
  readonly cpu: Required<CpuOptions>;
  readonly zeroPage: boolean;
  /** MachineOptions.iommu (absent: false). */
  readonly iommu?: boolean | "passthrough";
  /** MachineOptions.bootTime (absent: the default). */
  readonly bootTime?: number;
}

/** Throws TypeError (wrong type) or RangeError (a number out of range) naming the option. */
export function checkMachineOptions(options: unknown): MachineConfig {
  if (options === undefined) options = {};
  if (typeof options !== "object" || options === null || Array.isArray(options))
    throw new TypeError(`Machine.create: options must be an object, got ${describeValue(options)}`);
  const o = options as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!(KNOWN as readonly string[]).includes(k))
      throw new TypeError(`Machine.create: unknown option ${JSON.stringify(k)} (known: ${KNOWN.join(", ")})`);
  const ramBytes = o.ramBytes;
  if (ramBytes !== undefined) {
    if (typeof ramBytes !== "number" || !Number.isInteger(ramBytes))
      throw new TypeError(`ramBytes: expected an integer number of bytes, got ${describeValue(ramBytes)}`);
    if (ramBytes < MIN_RAM_BYTES || ramBytes > MAX_RAM_BYTES || offsetInPage(ramBytes) !== 0)
      throw new RangeError(
        `ramBytes: expected a multiple of 4096 from ${MIN_RAM_BYTES} (2 MiB) to ${MAX_RAM_BYTES} (64 GiB), got ${ramBytes}`,
      );
  }
  const era = o.era === undefined ? "modern" : o.era;
  if (era !== "modern" && era !== "2.6.10")
    throw new TypeError(`era: expected "modern" or "2.6.10", got ${describeValue(era)} (unknown era)`);
  const devices = listOf(o.devices, "devices", (d, i) => {
    const what = `devices[${i}]`;
    if (typeof d !== "object" || d === null)
      throw new TypeError(
        `${what}: expected a device model ({ name, bus, realize }), got ${describeValue(d)}`,
      );
    const dm = d as Record<string, unknown>;
    if (typeof dm.name !== "string")
      throw new TypeError(`${what}.name: expected a string, got ${describeValue(dm.name)}`);
    if (dm.bus !== "isa" && dm.bus !== "pci")
      throw new TypeError(`${what}.bus: expected "isa" or "pci", got ${describeValue(dm.bus)}`);
    if (typeof dm.realize !== "function")
      throw new TypeError(`${what}.realize: expected a function, got ${describeValue(dm.realize)}`);
    if (dm.reset !== undefined && typeof dm.reset !== "function")
      throw new TypeError(`${what}.reset: expected a function, got ${describeValue(dm.reset)}`);
  }) as readonly DeviceModel[];
  const drivers = listOf(o.drivers, "drivers", (d, i) =>
    checkDriver(d, `drivers[${i}]`),
  ) as readonly DriverDefinition[];
  const cpu = o.cpu === undefined ? {} : o.cpu;
  if (typeof cpu !== "object" || cpu === null || Array.isArray(cpu))
    throw new TypeError(`cpu: expected an object such as { pku: true }, got ${describeValue(cpu)}`);
  for (const k of Object.keys(cpu))
    if (k !== "pku") throw new TypeError(`cpu: unknown option ${JSON.stringify(k)} (known: pku)`);
  const pku = (cpu as CpuOptions).pku;
  if (pku !== undefined && typeof pku !== "boolean")
    throw new TypeError(`cpu.pku: expected a boolean, got ${describeValue(pku)}`);
  if (o.zeroPage !== undefined && typeof o.zeroPage !== "boolean")
    throw new TypeError(`zeroPage: expected a boolean, got ${describeValue(o.zeroPage)}`);
  if (o.iommu !== undefined && typeof o.iommu !== "boolean" && o.iommu !== "passthrough")
    throw new TypeError(`iommu: expected a boolean or "passthrough", got ${describeValue(o.iommu)}`);
  return {
    ramBytes: ramBytes as number | undefined,
    era,
    devices,
    drivers,
    cpu: { pku: pku ?? false },
    zeroPage: (o.zeroPage as boolean | undefined) ?? true,
    iommu: (o.iommu as boolean | "passthrough" | undefined) ?? false,
    ...(o.bootTime === undefined ? {} : { bootTime: checkBootTime(o.bootTime) }),
  };
}

/** bootTime: whole seconds from 0 to TIME_SETTOD_SEC_MAX (the latest time settimeofday accepts). */
function checkBootTime(v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v))
    throw new TypeError(`bootTime: expected whole seconds since the Epoch, got ${describeValue(v)}`);
  if (v < 0 || v > 8_277_292_036)
    throw new RangeError(`bootTime: expected 0 to 8277292036 seconds since the Epoch, got ${v}`);
  return v;
}

/** A driver as defineDriver() makes it (its apiVersion is checked when it is loaded). */
export function checkDriver(d: unknown, what: string): asserts d is DriverDefinition {
  if (typeof d !== "object" || d === null)
    throw new TypeError(`${what}: expected a driver from defineDriver(), got ${describeValue(d)}`);
  const dd = d as Record<string, unknown>;
  if (typeof dd.name !== "string")
    throw new TypeError(`${what}.name: expected a string, got ${describeValue(dd.name)}`);
  if (typeof dd.init !== "function")
    throw new TypeError(`${what}.init: expected a function, got ${describeValue(dd.init)}`);
  // A driver made by another copy of @faultline/kernel would call the driver API through that copy,
  // which never runs this machine: refuse it now, naming both copies (internal/current.ts).
  const copy = (d as { [COPY_BRAND]?: KernelCopy })[COPY_BRAND];
  if (copy !== undefined && copy !== THIS_COPY) {
    throw new Error(
      `${what}: driver "${dd.name}" was defined with ${describeCopy(copy)}, but this machine runs ${describeCopy(THIS_COPY)}: two copies of @faultline/kernel are loaded; ${PEER_DEPENDENCY_ADVICE}`,
    );
  }
}

function listOf(v: unknown, name: string, check: (item: unknown, i: number) => void): readonly unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new TypeError(`${name}: expected an array, got ${describeValue(v)}`);
  v.forEach(check);
  return v;
}
