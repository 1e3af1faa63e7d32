/**
 * A PCI function with device RAM behind one 32-bit memory BAR (BAR 0) and a small register block
 * (BAR 1), in the style of QEMU's edu device. Firmware places the BARs in the PCI hole below 4 GiB,
 * where no pfn has a struct page: drivers must map it with remapPfnRange, not a nopage method.
 *
 * Register map (BAR 1, 32-bit accesses only; see docs/write-a-device-model.md):
 *   0x00 RO  identification 0x464c0001 ("FL", version 1)
 *   0x04 RW  liveness check: reads back the bitwise inverse of the last value written
 *   0x08 RO  size of the RAM BAR in bytes
 *   0x0c RW  scratch register
 *   0x10 WO  fill: writing v sets every byte of the RAM to v & 0xff (reads 0)
 */
import { defineDevice, hex, type PciDeviceModel } from "./device";
import { DeviceError } from "./errors";

export const PCI_MEMORY_ID = 0x464c0001;
export const PCI_MEMORY_REG_ID = 0x00;
export const PCI_MEMORY_REG_LIVENESS = 0x04;
export const PCI_MEMORY_REG_RAM_SIZE = 0x08;
export const PCI_MEMORY_REG_SCRATCH = 0x0c;
export const PCI_MEMORY_REG_FILL = 0x10;
/** Bytes of the register BAR. */
export const PCI_MEMORY_MMIO_SIZE = 0x1000;

/** Options of `pciMemoryDevice`. */
export interface PciMemoryOptions {
  /** Bytes of the RAM BAR: a power of two from 0x1000 to 2 GiB. */
  readonly barSize: number;
  readonly name?: string;
  /** Default 0x1b36 (Red Hat, QEMU's vendor id for emulated devices). */
  readonly vendorId?: number;
  /** Default 0x11f0. */
  readonly deviceId?: number;
  readonly slot?: number;
}

/**
 * Device RAM in a 32-bit memory BAR 0 plus an edu-like register block in BAR 1, placed by firmware in the
 * PCI hole (no struct pages).
 */
export function pciMemoryDevice(options: PciMemoryOptions): PciDeviceModel {
  const { barSize } = options;
  const name = options.name ?? "pci-memory";
  const pow2 =
    Number.isSafeInteger(barSize) && barSize > 0 && 2 ** Math.round(Math.log2(barSize)) === barSize;
  if (!pow2 || barSize < 0x1000 || barSize > 2 ** 31) {
    throw new DeviceError(
      "EINVAL",
      `pciMemoryDevice "${name}": barSize ${hex(barSize)} must be a power of two from 0x1000 to 0x80000000 (a 32-bit memory BAR)`,
    );
  }
  return defineDevice({
    name,
    bus: "pci",
    vendorId: options.vendorId ?? 0x1b36,
    deviceId: options.deviceId ?? 0x11f0,
    classCode: 0x058000,
    ...(options.slot === undefined ? {} : { slot: options.slot }),
    ram: barSize,
    state: { name: "pci-memory", version: 1, fields: { liveness: 0, scratch: 0 } },
    ops: {
      size: PCI_MEMORY_MMIO_SIZE,
      access: { min: 4, max: 4 },
      read(s, offset, size, ctx) {
        switch (offset) {
          case PCI_MEMORY_REG_ID:
            return PCI_MEMORY_ID;
          case PCI_MEMORY_REG_LIVENESS:
            return ~s.liveness >>> 0;
          case PCI_MEMORY_REG_RAM_SIZE:
            return barSize >>> 0;
          case PCI_MEMORY_REG_SCRATCH:
            return s.scratch;
          case PCI_MEMORY_REG_FILL:
            return 0;
          default:
            ctx.guestError(`read of unknown register ${hex(offset)}`, offset, size, false);
            return 0xffffffff;
        }
      },
      write(s, offset, size, value, ctx) {
        switch (offset) {
          case PCI_MEMORY_REG_LIVENESS:
            s.liveness = value >>> 0;
            return;
          case PCI_MEMORY_REG_SCRATCH:
            s.scratch = value >>> 0;
            return;
          case PCI_MEMORY_REG_FILL:
            ctx.ram.fill(value & 0xff);
            return;
          case PCI_MEMORY_REG_ID:
          case PCI_MEMORY_REG_RAM_SIZE:
            ctx.guestError(
              `write of ${hex(value)} to read-only register ${hex(offset)} ignored`,
              offset,
              size,
              true,
            );
            return;
          default:
            ctx.guestError(
              `write of ${hex(value)} to unknown register ${hex(offset)} ignored`,
              offset,
              size,
              true,
            );
        }
      },
    },
  });
}
