/**
 * Device RAM at a fixed address in the ISA hole, as an old ISA frame buffer or adapter RAM sat there.
 * Its pages lie below 1 MiB, so they have (reserved) struct pages: LDD3's nopage method can serve them
 * page by page. The bytes are a bank, so a user mapping reaches them with no callback.
 */
import {
  BIOS_ROM_BASE,
  ISA_END_ADDRESS,
  ISA_START_ADDRESS,
  offsetInPage,
  VGA_BASE,
  VGA_SIZE,
} from "@faultline/phys";
import { defineDevice, hex, type IsaDeviceModel } from "./device";
import { DeviceError } from "./errors";

/** The part of the hole nothing else decodes on a PC: between VGA memory and the System ROM. */
export const ISA_FREE_START = VGA_BASE + VGA_SIZE;
export const ISA_FREE_END = BIOS_ROM_BASE;

/** Options of `isaMemory`. */
export interface IsaMemoryOptions {
  /** Physical address, page aligned, inside 0xa0000–0xfffff (the free window is 0xc0000–0xeffff). */
  readonly base: number;
  /** Bytes, a positive page multiple. */
  readonly size: number;
  /** Name in /proc/iomem (default "isa-memory"). */
  readonly name?: string;
  /** Needed to overlap VGA memory or the System ROM; the higher priority decodes. */
  readonly priority?: number;
}

/** Device RAM at a fixed address in the ISA hole (its pages have struct pages). */
export function isaMemory(options: IsaMemoryOptions): IsaDeviceModel {
  const { base, size, priority } = options;
  const name = options.name ?? "isa-memory";
  const where = `isaMemory "${name}" [${hex(base)}, ${hex(base + size)})`;
  if (!Number.isSafeInteger(base) || offsetInPage(base) !== 0) {
    throw new DeviceError("EINVAL", `${where}: base must be page aligned (a multiple of 0x1000)`);
  }
  if (!Number.isSafeInteger(size) || size <= 0 || offsetInPage(size) !== 0) {
    throw new DeviceError("EINVAL", `${where}: size must be a positive multiple of 0x1000`);
  }
  if (base < ISA_START_ADDRESS || base + size > ISA_END_ADDRESS) {
    throw new DeviceError(
      "EINVAL",
      `${where}: outside the ISA hole [${hex(ISA_START_ADDRESS)}, ${hex(ISA_END_ADDRESS)}); the free window is [${hex(ISA_FREE_START)}, ${hex(ISA_FREE_END)})`,
    );
  }
  if (priority === undefined) {
    const clash = (start: number, end: number, what: string) => {
      if (base < end && start < base + size) {
        throw new DeviceError(
          "EOVERLAP",
          `${where}: overlaps ${what} [${hex(start)}, ${hex(end)}); use the free window [${hex(ISA_FREE_START)}, ${hex(ISA_FREE_END)}) or give a priority`,
        );
      }
    };
    clash(VGA_BASE, VGA_BASE + VGA_SIZE, "VGA memory");
    clash(BIOS_ROM_BASE, ISA_END_ADDRESS, "the System ROM");
  }
  return defineDevice({
    name,
    bus: "isa",
    base,
    ram: size,
    ...(priority === undefined ? {} : { priority }),
    state: { name: "isa-memory", version: 1, fields: {} },
  });
}
