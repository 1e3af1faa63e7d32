/**
 * `defineDevice`: a device model as QEMU's teaching device hw/misc/edu.c is written — a state type
 * with named, versioned fields (VMStateDescription), an ops table for its registers with the access
 * sizes it accepts (MemoryRegionOps.valid), and a lifecycle (realize / reset / unrealize). A device
 * sees offsets inside its own region, never absolute addresses; guest mistakes (a register that does
 * not exist, a write to a read-only one) are logged (LOG_GUEST_ERROR), never thrown.
 *
 * What a model may own: device RAM (a SharedArrayBuffer registered as a memory bank, so user mappings
 * reach it directly with no callback) and/or one MMIO register block. On the ISA bus it sits at a
 * fixed address in the legacy hole; on the PCI bus firmware places it through BARs (RAM in BAR 0,
 * registers in the next BAR).
 */
import {
  type AccessSize,
  MemoryRegion,
  offsetInPage,
  type PciFunction,
  type PciFunctionSpec,
  type PhysMachine,
} from "@faultline/phys";
import { DeviceError } from "./errors";

/** The bus a device model sits on. */
export type BusKind = "isa" | "pci";

/** A value a state field may hold. */
export type FieldValue = number | boolean | string;

/** The snapshot `saveState` returns and `loadState` accepts (QEMU's vmstate: name, version, fields). */
export interface DeviceSnapshot {
  readonly name: string;
  readonly version: number;
  readonly fields: Readonly<Record<string, FieldValue>>;
  /** The device RAM's bytes, when the device has RAM. */
  readonly ram?: Uint8Array;
}

/**
 * The state a device's callbacks see: each field of `fields` with its kind's type, so a field whose
 * reset value is `false` holds any boolean (TypeScript infers the literal type `false` for it, since
 * `boolean` is the union `true | false`), and one reset to `0` or `""` any number or string.
 */
export type DeviceState<F extends Record<string, FieldValue>> = {
  -readonly [K in keyof F]: F[K] extends boolean
    ? boolean
    : F[K] extends number
      ? number
      : F[K] extends string
        ? string
        : F[K];
};

/**
 * Named, versioned state: `fields` holds each field's reset value. `migrate[v]` turns the fields of a
 * version-v snapshot into version v + 1's (QEMU's VMStateDescription post_load/minimum_version_id), so
 * `loadState` takes a snapshot of any older version that has a migration chain up to `version`.
 */
export interface StateDescription<F extends Record<string, FieldValue>> {
  readonly name: string;
  readonly version: number;
  readonly fields: F;
  readonly migrate?: Readonly<
    Record<number, (fields: Readonly<Record<string, FieldValue>>) => Record<string, FieldValue>>
  >;
}

/** What a register callback gets besides the mutable state. */
export interface DeviceOpsContext {
  /** Records a guest mistake (QEMU's qemu_log_mask(LOG_GUEST_ERROR, …)); never throws. */
  guestError(message: string, offset: number, size: number, isWrite: boolean): void;
  /** Bytes of device RAM (empty when the device has none). */
  readonly ram: Uint8Array;
}

/** The register block: callbacks see offsets relative to the block. */
export interface DeviceOps<S> {
  /** Bytes of register space (a multiple of 8; a power of two of at least 16 on PCI). */
  readonly size: number;
  /** Access sizes the device accepts; others are refused and logged by the bus. Default 4..4. */
  readonly access?: { readonly min: AccessSize; readonly max: AccessSize };
  read(s: S, offset: number, size: AccessSize, ctx: DeviceOpsContext): number;
  write(s: S, offset: number, size: AccessSize, value: number, ctx: DeviceOpsContext): void;
}

interface CommonSpec<F extends Record<string, FieldValue>> {
  readonly name: string;
  readonly state: StateDescription<F>;
  /** Bytes of device RAM (page multiple). Kept across reset, saved in snapshots. */
  readonly ram?: number;
  /** The registers; their callbacks get the state typed by `state.fields` alone (NoInfer). */
  readonly ops?: DeviceOps<NoInfer<DeviceState<F>>>;
  /** Extra reset work after the fields got their reset values. */
  readonly reset?: (s: NoInfer<DeviceState<F>>, ctx: DeviceOpsContext) => void;
}

/** A device on the ISA bus, at a fixed address in the legacy hole. */
export interface IsaDeviceDefinition<F extends Record<string, FieldValue>> extends CommonSpec<F> {
  readonly bus: "isa";
  /** Fixed physical address in the ISA hole. */
  readonly base: number;
  /** Allows overlapping VGA / the System ROM / another device; the higher priority decodes. */
  readonly priority?: number;
}

/** A device on the PCI bus: RAM in BAR 0 and registers in the next BAR, placed by firmware. */
export interface PciDeviceDefinition<F extends Record<string, FieldValue>> extends CommonSpec<F> {
  readonly bus: "pci";
  readonly vendorId: number;
  readonly deviceId: number;
  /** 0xBBSSPP; default 0x058000 (memory controller, other). */
  readonly classCode?: number;
  readonly revision?: number;
  /** Fixed slot; default the first free one. */
  readonly slot?: number;
}

/** What `defineDevice` takes: an ISA or a PCI device's definition. */
export type DeviceDefinition<F extends Record<string, FieldValue>> =
  | IsaDeviceDefinition<F>
  | PciDeviceDefinition<F>;

/** What every device model offers the machine (what `Machine.create({ devices })` takes). */
export interface DeviceModel {
  readonly name: string;
  readonly bus: BusKind;
  readonly realized: boolean;
  /** Creates the regions and plugs them into `phys` (PCI: firmware assigns the BARs). */
  realize(phys: PhysMachine): void;
  /** Fields back to their reset values (device RAM is kept, as on a PC reset). */
  reset(): void;
  unrealize(phys: PhysMachine): void;
  saveState(): DeviceSnapshot;
  /** Refuses (DeviceError ESTATE) a snapshot of another device, version or field set. */
  loadState(snapshot: DeviceSnapshot): void;
}

export interface IsaDeviceModel extends DeviceModel {
  readonly bus: "isa";
  readonly base: number;
  readonly size: number;
  readonly ram: Uint8Array;
}

export interface PciDeviceModel extends DeviceModel {
  readonly bus: "pci";
  /** The PCI function after realize (throws before). */
  readonly pci: PciFunction;
  /** Index of the RAM BAR (0) or null; of the register BAR or null. */
  readonly ramBar: number | null;
  readonly mmioBar: number | null;
  /** Where BAR `i` decodes now, or null. */
  barAddress(i: number): number | null;
  readonly ram: Uint8Array;
}

/**
 * Builds a device model from a definition: an ISA one at its fixed address, or a PCI one whose BARs
 * firmware places (see the overloads).
 */
export function defineDevice<F extends Record<string, FieldValue>>(
  spec: IsaDeviceDefinition<F>,
): IsaDeviceModel;
export function defineDevice<F extends Record<string, FieldValue>>(
  spec: PciDeviceDefinition<F>,
): PciDeviceModel;
export function defineDevice<F extends Record<string, FieldValue>>(
  spec: DeviceDefinition<F>,
): IsaDeviceModel | PciDeviceModel {
  return spec.bus === "isa" ? new IsaDevice(spec) : new PciDevice(spec);
}

abstract class BaseDevice<F extends Record<string, FieldValue>> {
  readonly name: string;
  /** The live state (edu's EduState). */
  readonly s: DeviceState<F>;
  readonly ram: Uint8Array;
  protected readonly ramBuffer: SharedArrayBuffer | null;
  protected phys: PhysMachine | null = null;
  protected ctx: DeviceOpsContext;

  constructor(protected readonly spec: DeviceDefinition<F>) {
    this.name = spec.name;
    const ramBytes = spec.ram ?? 0;
    if (
      ramBytes !== 0 &&
      (!Number.isSafeInteger(ramBytes) || ramBytes <= 0 || offsetInPage(ramBytes) !== 0)
    ) {
      throw new DeviceError(
        "EINVAL",
        `device "${spec.name}": RAM size ${hex(ramBytes)} is not a positive multiple of 0x1000`,
      );
    }
    if (!spec.ram && !spec.ops) {
      throw new DeviceError(
        "EINVAL",
        `device "${spec.name}": has neither RAM nor registers (give ram or ops)`,
      );
    }
    this.ramBuffer = ramBytes ? new SharedArrayBuffer(ramBytes) : null;
    this.ram = this.ramBuffer ? new Uint8Array(this.ramBuffer) : new Uint8Array(0);
    this.s = { ...spec.state.fields } as DeviceState<F>;
    const self = this;
    this.ctx = {
      ram: this.ram,
      guestError(message, offset, size, isWrite) {
        self.phys?.log.record({
          kind: "invalid-access",
          addr: offset,
          size,
          isWrite,
          region: self.name,
          message: `${self.name}: ${message}`,
        });
      },
    };
  }

  get realized(): boolean {
    return this.phys !== null;
  }

  reset(): void {
    Object.assign(this.s, this.spec.state.fields);
    this.spec.reset?.(this.s, this.ctx);
  }

  saveState(): DeviceSnapshot {
    const { name, version } = this.spec.state;
    const snap: DeviceSnapshot = { name, version, fields: { ...this.s } };
    return this.ramBuffer ? { ...snap, ram: this.ram.slice() } : snap;
  }

  loadState(input: DeviceSnapshot): void {
    const { name, version, fields, migrate } = this.spec.state;
    const where = `device "${this.name}": cannot load state`;
    if (
      typeof input !== "object" ||
      input === null ||
      typeof input.fields !== "object" ||
      input.fields === null
    )
      throw new DeviceError("ESTATE", `${where}: not a device snapshot ({ name, version, fields })`);
    let snapshot = input;
    if (snapshot.name !== name) {
      throw new DeviceError("ESTATE", `${where} "${snapshot.name}": this device's state is "${name}"`);
    }
    // An older version is migrated one version at a time; a newer one cannot be read.
    while (Number.isInteger(snapshot.version) && snapshot.version < version) {
      const step =
        migrate && Object.hasOwn(migrate, snapshot.version) ? migrate[snapshot.version] : undefined;
      if (!step)
        throw new DeviceError(
          "ESTATE",
          `${where} "${name}" version ${snapshot.version}: no migration from version ${snapshot.version} (this device is version ${version})`,
        );
      snapshot = { ...snapshot, version: snapshot.version + 1, fields: step(snapshot.fields) };
    }
    if (snapshot.version !== version) {
      throw new DeviceError(
        "ESTATE",
        `${where} "${name}" version ${snapshot.version}: this device saves and loads version ${version}`,
      );
    }
    const want = Object.keys(fields).sort();
    const got = Object.keys(snapshot.fields).sort();
    const missing = want.filter((k) => !got.includes(k));
    const unknown = got.filter((k) => !want.includes(k));
    if (missing.length || unknown.length) {
      throw new DeviceError(
        "ESTATE",
        `${where} "${name}" v${version}: fields differ (missing: ${missing.join(", ") || "none"}; unknown: ${unknown.join(", ") || "none"})`,
      );
    }
    for (const k of want) {
      if (typeof snapshot.fields[k] !== typeof fields[k]) {
        throw new DeviceError(
          "ESTATE",
          `${where} "${name}": field "${k}" is a ${typeof snapshot.fields[k]}, not a ${typeof fields[k]}`,
        );
      }
    }
    if ((snapshot.ram?.length ?? 0) !== this.ram.length) {
      throw new DeviceError(
        "ESTATE",
        `${where} "${name}": RAM of ${hex(snapshot.ram?.length ?? 0)} bytes, the device has ${hex(this.ram.length)}`,
      );
    }
    Object.assign(this.s, snapshot.fields);
    if (snapshot.ram) this.ram.set(snapshot.ram);
  }

  protected makeRegions(phys: PhysMachine): { ram: MemoryRegion | null; mmio: MemoryRegion | null } {
    const ram = this.ramBuffer
      ? MemoryRegion.ramDevice(`${this.name}.ram`, phys.banks, this.ramBuffer)
      : null;
    const ops = this.spec.ops;
    let mmio: MemoryRegion | null = null;
    if (ops) {
      const access = ops.access ?? { min: 4, max: 4 };
      mmio = MemoryRegion.mmio(`${this.name}.mmio`, ops.size, {
        valid: { minAccessSize: access.min, maxAccessSize: access.max },
        read: (offset, size) => ops.read(this.s, offset, size, this.ctx),
        write: (offset, size, value) => ops.write(this.s, offset, size, Number(value), this.ctx),
      });
    }
    return { ram, mmio };
  }

  protected notRealized(what: string): never {
    throw new DeviceError("ENODEV", `device "${this.name}": ${what} before realize()`);
  }

  protected alreadyRealized(): void {
    if (this.phys) throw new DeviceError("EBUSY", `device "${this.name}" is already realized`);
  }
}

class IsaDevice<F extends Record<string, FieldValue>> extends BaseDevice<F> implements IsaDeviceModel {
  readonly bus = "isa" as const;
  private attached: ReturnType<PhysMachine["addIsaDevice"]> | null = null;

  constructor(private readonly isa: IsaDeviceDefinition<F>) {
    super(isa);
    if (isa.ram && isa.ops) {
      throw new DeviceError(
        "EINVAL",
        `ISA device "${isa.name}": give RAM or registers, not both (one window per device)`,
      );
    }
  }

  get base(): number {
    return this.isa.base;
  }

  get size(): number {
    return this.isa.ram ?? this.isa.ops?.size ?? 0;
  }

  realize(phys: PhysMachine): void {
    this.alreadyRealized();
    const { ram, mmio } = this.makeRegions(phys);
    const region = (ram ?? mmio)!;
    const spec = { name: this.name, base: this.isa.base, region };
    this.attached = phys.addIsaDevice(
      this.isa.priority === undefined ? spec : { ...spec, priority: this.isa.priority },
    );
    this.phys = phys;
    this.reset();
  }

  unrealize(phys: PhysMachine): void {
    if (!this.attached) this.notRealized("unrealize()");
    phys.removeIsaDevice(this.attached);
    this.attached = null;
    this.phys = null;
  }
}

class PciDevice<F extends Record<string, FieldValue>> extends BaseDevice<F> implements PciDeviceModel {
  readonly bus = "pci" as const;
  private fn: PciFunction | null = null;
  readonly ramBar: number | null;
  readonly mmioBar: number | null;

  constructor(private readonly def: PciDeviceDefinition<F>) {
    super(def);
    this.ramBar = def.ram ? 0 : null;
    this.mmioBar = def.ops ? (def.ram ? 1 : 0) : null;
  }

  get pci(): PciFunction {
    return this.fn ?? this.notRealized("pci");
  }

  barAddress(i: number): number | null {
    return this.pci.barAddress(i);
  }

  realize(phys: PhysMachine): void {
    this.alreadyRealized();
    const { ram, mmio } = this.makeRegions(phys);
    const bars: NonNullable<PciFunctionSpec["bars"]>[number][] = [];
    if (ram) bars.push({ type: "memory", size: ram.size, region: ram });
    if (mmio) bars.push({ type: "memory", size: mmio.size, region: mmio });
    const d = this.def;
    const spec: PciFunctionSpec = {
      name: this.name,
      vendorId: d.vendorId,
      deviceId: d.deviceId,
      classCode: d.classCode ?? 0x058000,
      bars,
      ...(d.revision === undefined ? {} : { revision: d.revision }),
      ...(d.slot === undefined ? {} : { slot: d.slot }),
    };
    this.fn = phys.addPciDevice(spec);
    this.phys = phys;
    this.reset();
  }

  unrealize(phys: PhysMachine): void {
    if (!this.fn) this.notRealized("unrealize()");
    phys.removePciDevice(this.fn);
    this.fn = null;
    this.phys = null;
  }
}

export const hex = (n: number): string => `0x${n.toString(16)}`;
