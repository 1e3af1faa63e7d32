/**
 * A PCI device model with its BARs declared one by one (QEMU's pci_register_bar per BAR of a
 * PCIDevice's realize): index 0–5, 32-bit or 64-bit memory (prefetchable or not) or I/O ports, backed
 * by device RAM (user mappings reach it directly) or by register callbacks with their own access
 * rules (MemoryRegionOps: valid, impl, endianness; 64-bit values as bigints). Config space carries the
 * ids, an interrupt pin, capabilities (MSI with `msiVectors`) and read/write hooks.
 *
 * The context a callback gets lets the device do what a bus master does: drive its INTx pin
 * (pci_set_irq), send MSI (msi_notify), read and write memory by bus address (pci_dma_read/write,
 * refused while the driver has not enabled bus mastering), and arm timers on the machine's virtual
 * clock (a vblank at 60 Hz without a register poke).
 *
 * `defineDevice({ bus: "pci", ram, ops })` (device.ts) keeps working for the one-RAM-BAR, one-register
 * BAR shape; this is the general form.
 */
import {
  type AccessSize,
  type DeviceEndianness,
  MEMTX_OK,
  MemoryRegion,
  type MemoryRegionOps,
  msiCapability,
  PCI_NUM_BARS,
  type PciBarSpec,
  type PciCapabilitySpec,
  type PciFunction,
  type PciFunctionSpec,
  type PhysMachine,
  type VirtualTimer,
} from "@faultline/phys";
import type { DeviceSnapshot, FieldValue, PciDeviceModel, StateDescription } from "./device";
import { DeviceError } from "./errors";

/** What a PCI device's callbacks may do besides changing their state. */
export interface PciDeviceContext {
  /** Records a guest mistake (LOG_GUEST_ERROR); never throws. */
  guestError(message: string, offset: number, size: number, isWrite: boolean): void;
  /** The bytes of RAM-backed BAR `index` (throws for a BAR without RAM). */
  barRam(index: number): Uint8Array;
  /** pci_set_irq(): drives the INTx pin (level-triggered: stays asserted until lowered). */
  setIrq(level: boolean): void;
  /** msi_notify(): false when MSI is off, the vector not enabled or bus mastering disabled. */
  msiNotify(vector?: number): boolean;
  /** pci_dma_read(): true when the bytes arrived (bus mastering on, addresses decode). */
  dmaRead(busAddr: number, buf: Uint8Array): boolean;
  /** pci_dma_write(). */
  dmaWrite(busAddr: number, bytes: Uint8Array): boolean;
  /** The virtual clock's time in ns (qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL)); 0 at boot. */
  readonly now: number;
  /**
   * timer_new_ns() on the virtual clock: a disarmed timer; `timer.mod(ns)` arms it for an absolute
   * time (timer_mod), `timer.del()` disarms it (timer_del). Timers are disarmed when the device is
   * unrealized. A callback that throws is a device-model bug: in a Machine it is reported in dmesg
   * ("<device>: <name>: timer callback threw: …"), the timer stays disarmed, no process is killed
   * (no process runs device code). `name` shows in traces (default "timer").
   */
  newTimer(cb: () => void, name?: string): VirtualTimer;
}

/** Register callbacks of one BAR. Values are numbers for 1..4 bytes, bigints for 8. */
export interface PciBarOps<S> {
  read(s: S, offset: number, size: AccessSize, ctx: PciDeviceContext): number | bigint;
  write(s: S, offset: number, size: AccessSize, value: number | bigint, ctx: PciDeviceContext): void;
  /** Accesses accepted (MemoryRegionOps.valid); default 4..4, aligned. I/O BARs: sizes 1..4 only. */
  readonly valid?: { readonly min: AccessSize; readonly max: AccessSize; readonly unaligned?: boolean };
  /** Accesses the callbacks implement; the core splits or widens the rest (default: as valid). */
  readonly impl?: { readonly min: AccessSize; readonly max: AccessSize; readonly unaligned?: boolean };
  readonly endianness?: DeviceEndianness;
}

/**
 * One BAR of a `definePciDevice` device: its size and kind, backed by device RAM or by register callbacks.
 */
export interface PciBarDefinition<S> {
  readonly index: number;
  /** mem32 / mem64 (takes index + 1 too) / io. */
  readonly type: "mem32" | "mem64" | "io";
  readonly prefetchable?: boolean;
  /** Bytes (a power of two; memory ≥ 16, RAM ≥ 4096; I/O 4..256). */
  readonly size: number;
  /** Backed by device RAM (give `ram: true`) or by callbacks (`ops`), not both. */
  readonly ram?: boolean;
  readonly ops?: PciBarOps<S>;
}

/** What `definePciDevice` takes: identity, BARs by index, capabilities, state and callbacks. */
export interface PciDeviceSpec<F extends Record<string, FieldValue>> {
  readonly name: string;
  readonly vendorId: number;
  readonly deviceId: number;
  /** 0xBBSSPP. */
  readonly classCode: number;
  readonly revision?: number;
  readonly subsystemVendorId?: number;
  readonly subsystemId?: number;
  /** 1 = INTA# … 4 = INTD#; 0/absent: no INTx. */
  readonly interruptPin?: number;
  /** Adds an MSI capability asking for this many vectors (power of two, 1..32). */
  readonly msiVectors?: number;
  /** More capabilities, after MSI. */
  readonly capabilities?: readonly PciCapabilitySpec[];
  readonly slot?: number;
  readonly state: StateDescription<F>;
  readonly bars: readonly PciBarDefinition<F>[];
  /** Config-space hooks (QEMU config_read / config_write). */
  readonly config?: {
    readonly read?: (s: F, offset: number, size: 1 | 2 | 4, value: number, ctx: PciDeviceContext) => number;
    readonly write?: (s: F, offset: number, size: 1 | 2 | 4, value: number, ctx: PciDeviceContext) => void;
  };
  /** After the fields got their reset values. */
  readonly reset?: (s: F, ctx: PciDeviceContext) => void;
  /** After the function is on the bus with its BARs assigned (timers are armed here). */
  readonly realize?: (s: F, ctx: PciDeviceContext) => void;
  /** Before it leaves the bus. */
  readonly unrealize?: (s: F, ctx: PciDeviceContext) => void;
}

const isPow2 = (n: number) => Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;
const hex = (n: number): string => `0x${n.toString(16)}`;

/**
 * Builds a PCI device model whose BARs are declared by index (memory or I/O, 32 or 64 bit, RAM or
 * registers).
 */
export function definePciDevice<F extends Record<string, FieldValue>>(
  spec: PciDeviceSpec<F>,
): PciDeviceModel {
  return new PciBarsDevice(spec);
}

class PciBarsDevice<F extends Record<string, FieldValue>> implements PciDeviceModel {
  readonly bus = "pci" as const;
  readonly name: string;
  readonly s: F;
  readonly ramBar: number | null;
  readonly mmioBar: number | null;
  private readonly rams = new Map<number, SharedArrayBuffer>();
  private fn: PciFunction | null = null;
  private phys: PhysMachine | null = null;
  private readonly timers: VirtualTimer[] = [];
  private readonly ctx: PciDeviceContext;

  constructor(private readonly spec: PciDeviceSpec<F>) {
    this.name = spec.name;
    const fail = (why: string): never => {
      throw new DeviceError("EINVAL", `PCI device "${spec.name}": ${why}`);
    };
    const used = new Set<number>();
    for (const b of spec.bars) {
      const at = `BAR ${b.index}`;
      if (!Number.isInteger(b.index) || b.index < 0 || b.index >= PCI_NUM_BARS)
        fail(`${at}: index is not 0..5`);
      if (used.has(b.index)) fail(`${at} is declared twice (or is the upper half of a 64-bit BAR)`);
      used.add(b.index);
      if (b.type === "mem64") {
        if (b.index === PCI_NUM_BARS - 1)
          fail(`${at}: a 64-bit BAR needs BAR ${b.index + 1} for its upper half`);
        if (used.has(b.index + 1)) fail(`${at}: a 64-bit BAR needs BAR ${b.index + 1} free`);
        used.add(b.index + 1);
      }
      if (!isPow2(b.size)) fail(`${at}: size ${hex(b.size)} is not a power of two`);
      if (!!b.ram === !!b.ops) fail(`${at}: give ram: true or ops, exactly one`);
      if (b.ram) {
        if (b.type === "io") fail(`${at}: an I/O BAR cannot be backed by RAM`);
        if (b.size < 4096) fail(`${at}: a RAM BAR is at least 0x1000 bytes, got ${hex(b.size)}`);
        this.rams.set(b.index, new SharedArrayBuffer(b.size));
      }
      if (b.prefetchable && b.type === "io") fail(`${at}: I/O BARs are never prefetchable`);
    }
    this.s = { ...spec.state.fields };
    const sorted = [...spec.bars].sort((a, b) => a.index - b.index);
    this.ramBar = sorted.find((b) => b.ram)?.index ?? null;
    this.mmioBar = sorted.find((b) => b.ops && b.type !== "io")?.index ?? null;
    const self = this;
    this.ctx = {
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
      barRam(index) {
        const buf = self.rams.get(index);
        if (!buf) throw new DeviceError("EINVAL", `PCI device "${self.name}": BAR ${index} has no RAM`);
        return new Uint8Array(buf);
      },
      setIrq: (level) => self.pci.setIrq(level),
      msiNotify: (vector = 0) => self.pci.msiNotify(vector),
      dmaRead: (busAddr, buf) => self.pci.dmaRead(busAddr, buf) === MEMTX_OK,
      dmaWrite: (busAddr, bytes) => self.pci.dmaWrite(busAddr, bytes) === MEMTX_OK,
      get now() {
        return self.phys?.clock.now ?? 0;
      },
      newTimer(cb, name) {
        const phys = self.phys ?? self.notRealized("newTimer");
        const t = phys.clock.newTimer(cb, `${self.name}: ${name ?? "timer"}`);
        self.timers.push(t);
        return t;
      },
    };
  }

  get realized(): boolean {
    return this.phys !== null;
  }

  get pci(): PciFunction {
    return this.fn ?? this.notRealized("pci");
  }

  /** The first RAM BAR's bytes (empty when none). */
  get ram(): Uint8Array {
    return this.ramBar === null ? new Uint8Array(0) : this.ctx.barRam(this.ramBar);
  }

  barAddress(i: number): number | null {
    return this.pci.barAddress(i);
  }

  /** The context callbacks get (for tests and for device code outside a callback). */
  get context(): PciDeviceContext {
    return this.ctx;
  }

  realize(phys: PhysMachine): void {
    if (this.phys) throw new DeviceError("EBUSY", `device "${this.name}" is already realized`);
    const sp = this.spec;
    const bars: (PciBarSpec | null)[] = [null, null, null, null, null, null];
    for (const b of sp.bars) {
      if (b.type === "io") {
        const ops = b.ops!;
        bars[b.index] = {
          type: "io",
          size: b.size,
          ops: {
            read: (off, size) => Number(ops.read(this.s, off, size, this.ctx)),
            write: (off, size, v) => ops.write(this.s, off, size, v, this.ctx),
          },
        };
        continue;
      }
      const region = b.ram
        ? MemoryRegion.ramDevice(`${this.name}.bar${b.index}`, phys.banks, this.rams.get(b.index)!)
        : MemoryRegion.mmio(`${this.name}.bar${b.index}`, b.size, this.regionOps(b.ops!));
      bars[b.index] = {
        type: "memory",
        size: b.size,
        is64: b.type === "mem64",
        prefetchable: !!b.prefetchable,
        region,
      };
    }
    const caps: PciCapabilitySpec[] = [];
    if (sp.msiVectors !== undefined) caps.push(msiCapability(sp.msiVectors));
    caps.push(...(sp.capabilities ?? []));
    const cfg = sp.config;
    const spec: PciFunctionSpec = {
      name: this.name,
      vendorId: sp.vendorId,
      deviceId: sp.deviceId,
      classCode: sp.classCode,
      bars,
      capabilities: caps,
      ...(sp.revision === undefined ? {} : { revision: sp.revision }),
      ...(sp.subsystemVendorId === undefined ? {} : { subsystemVendorId: sp.subsystemVendorId }),
      ...(sp.subsystemId === undefined ? {} : { subsystemId: sp.subsystemId }),
      ...(sp.interruptPin === undefined ? {} : { interruptPin: sp.interruptPin }),
      ...(sp.slot === undefined ? {} : { slot: sp.slot }),
      ...(cfg?.read ? { configRead: (o, n, v) => cfg.read!(this.s, o, n, v, this.ctx) } : {}),
      ...(cfg?.write ? { configWrite: (o, n, v) => cfg.write!(this.s, o, n, v, this.ctx) } : {}),
    };
    this.fn = phys.addPciDevice(spec);
    this.phys = phys;
    this.reset();
    sp.realize?.(this.s, this.ctx);
  }

  private regionOps(ops: PciBarOps<F>): MemoryRegionOps {
    const v = ops.valid ?? { min: 4, max: 4 };
    const i = ops.impl;
    return {
      valid: { minAccessSize: v.min, maxAccessSize: v.max, unaligned: !!v.unaligned },
      ...(i
        ? {
            impl: {
              minAccessSize: i.min,
              maxAccessSize: i.max,
              ...(i.unaligned === undefined ? {} : { unaligned: i.unaligned }),
            },
          }
        : {}),
      ...(ops.endianness ? { endianness: ops.endianness } : {}),
      read: (off, size) => ops.read(this.s, off, size, this.ctx),
      write: (off, size, value) => ops.write(this.s, off, size, value, this.ctx),
    };
  }

  reset(): void {
    Object.assign(this.s, this.spec.state.fields);
    this.spec.reset?.(this.s, this.ctx);
  }

  unrealize(phys: PhysMachine): void {
    if (!this.fn) this.notRealized("unrealize()");
    this.spec.unrealize?.(this.s, this.ctx);
    for (const t of this.timers.splice(0)) t.del();
    phys.removePciDevice(this.fn);
    this.fn = null;
    this.phys = null;
  }

  saveState(): DeviceSnapshot {
    const { name, version } = this.spec.state;
    const snap: DeviceSnapshot = { name, version, fields: { ...this.s } };
    if (!this.rams.size) return snap;
    // The RAM BARs' bytes one after another, in BAR order.
    const total = [...this.rams.values()].reduce((n, b) => n + b.byteLength, 0);
    const ram = new Uint8Array(total);
    let at = 0;
    for (const [, buf] of [...this.rams].sort((a, b) => a[0] - b[0])) {
      ram.set(new Uint8Array(buf), at);
      at += buf.byteLength;
    }
    return { ...snap, ram };
  }

  loadState(snapshot: DeviceSnapshot): void {
    const { name, version, fields } = this.spec.state;
    const where = `device "${this.name}": cannot load state`;
    if (snapshot.name !== name || snapshot.version !== version) {
      throw new DeviceError(
        "ESTATE",
        `${where} "${snapshot.name}" v${snapshot.version}: this device saves "${name}" v${version}`,
      );
    }
    const want = Object.keys(fields).sort().join(",");
    if (Object.keys(snapshot.fields).sort().join(",") !== want) {
      throw new DeviceError("ESTATE", `${where}: fields differ (want ${want})`);
    }
    for (const k of Object.keys(fields)) {
      if (typeof snapshot.fields[k] !== typeof fields[k]) {
        throw new DeviceError("ESTATE", `${where}: field "${k}" is a ${typeof snapshot.fields[k]}`);
      }
    }
    const total = [...this.rams.values()].reduce((n, b) => n + b.byteLength, 0);
    if ((snapshot.ram?.length ?? 0) !== total) {
      throw new DeviceError(
        "ESTATE",
        `${where}: RAM of ${hex(snapshot.ram?.length ?? 0)} bytes, the device has ${hex(total)}`,
      );
    }
    Object.assign(this.s, snapshot.fields);
    let at = 0;
    for (const [, buf] of [...this.rams].sort((a, b) => a[0] - b[0])) {
      new Uint8Array(buf).set(snapshot.ram!.subarray(at, at + buf.byteLength));
      at += buf.byteLength;
    }
  }

  private notRealized(what: string): never {
    throw new DeviceError("ENODEV", `device "${this.name}": ${what} before realize()`);
  }
}
