/**
 * fl-fb: a PCI framebuffer. BAR 0 is VRAM (prefetchable device RAM, 32-bit ARGB pixels, `width`
 * pixels per line, no padding); BAR 2 is a register page; INTA is raised at every vblank (60 Hz on
 * the machine's virtual clock) while the vblank interrupt is enabled.
 *
 * Register map (BAR 2, 32-bit accesses):
 *   0x00 RO  width in pixels
 *   0x04 RO  height in pixels
 *   0x08 RO  vblanks so far
 *   0x0c RW1C interrupt status (bit 0: vblank); writing 1 clears and lowers INTA
 *   0x10 RW  interrupt enable (bit 0)
 */
import { NANOSECONDS_PER_SECOND } from "@faultline/phys";
import type { PciDeviceModel } from "./device";
import { DeviceError } from "./errors";
import { definePciDevice } from "./pci-device";

export const PCI_FB_VENDOR_ID = 0x1b36;
export const PCI_FB_DEVICE_ID = 0x0f0b;
export const PCI_FB_REG_WIDTH = 0x00;
export const PCI_FB_REG_HEIGHT = 0x04;
export const PCI_FB_REG_VBLANKS = 0x08;
export const PCI_FB_REG_IRQ_STATUS = 0x0c;
export const PCI_FB_REG_IRQ_ENABLE = 0x10;
export const PCI_FB_IRQ_VBLANK = 0x1;

/** Options of `pciFramebuffer`. */
export interface PciFramebufferOptions {
  readonly width?: number;
  readonly height?: number;
  readonly name?: string;
  readonly slot?: number;
  /** vblanks per second (default 60). */
  readonly refreshHz?: number;
}

/** A PCI framebuffer: video RAM in a prefetchable memory BAR and a register block. */
export function pciFramebuffer(options: PciFramebufferOptions = {}): PciDeviceModel {
  const width = options.width ?? 64;
  const height = options.height ?? 48;
  const hz = options.refreshHz ?? 60;
  const name = options.name ?? "fl-fb";
  if (
    !Number.isInteger(width) ||
    !Number.isInteger(height) ||
    width <= 0 ||
    height <= 0 ||
    width * height > 2 ** 26
  ) {
    throw new DeviceError(
      "EINVAL",
      `pciFramebuffer "${name}": ${width}x${height} is not a usable resolution`,
    );
  }
  if (!(hz > 0))
    throw new DeviceError("EINVAL", `pciFramebuffer "${name}": refreshHz ${hz} must be positive`);
  // The smallest power-of-two BAR (at least a page) that holds the pixels.
  let vram = 4096;
  while (vram < width * height * 4) vram *= 2;
  return definePciDevice({
    name,
    vendorId: PCI_FB_VENDOR_ID,
    deviceId: PCI_FB_DEVICE_ID,
    classCode: 0x030000, // display controller, VGA compatible
    interruptPin: 1,
    ...(options.slot === undefined ? {} : { slot: options.slot }),
    state: { name: "fl-fb", version: 1, fields: { vblanks: 0, status: 0, enable: 0 } },
    bars: [
      { index: 0, type: "mem32", prefetchable: true, size: vram, ram: true },
      {
        index: 2,
        type: "mem32",
        size: 0x1000,
        ops: {
          read(s, offset, size, ctx) {
            switch (offset) {
              case PCI_FB_REG_WIDTH:
                return width;
              case PCI_FB_REG_HEIGHT:
                return height;
              case PCI_FB_REG_VBLANKS:
                return s.vblanks;
              case PCI_FB_REG_IRQ_STATUS:
                return s.status;
              case PCI_FB_REG_IRQ_ENABLE:
                return s.enable;
              default:
                ctx.guestError(`read of unknown register 0x${offset.toString(16)}`, offset, size, false);
                return 0xffffffff;
            }
          },
          write(s, offset, size, value, ctx) {
            const v = Number(value);
            if (offset === PCI_FB_REG_IRQ_STATUS) s.status &= ~v;
            else if (offset === PCI_FB_REG_IRQ_ENABLE) s.enable = v & PCI_FB_IRQ_VBLANK;
            else
              ctx.guestError(
                `write of 0x${v.toString(16)} to register 0x${offset.toString(16)} ignored`,
                offset,
                size,
                true,
              );
            ctx.setIrq((s.status & s.enable) !== 0);
          },
        },
      },
    ],
    realize(s, ctx) {
      const period = Math.round(NANOSECONDS_PER_SECOND / hz);
      const vblank = ctx.newTimer(() => {
        s.vblanks++;
        s.status |= PCI_FB_IRQ_VBLANK;
        ctx.setIrq((s.status & s.enable) !== 0);
        vblank.mod(ctx.now + period);
      }, "vblank");
      vblank.mod(ctx.now + period);
    },
  });
}
