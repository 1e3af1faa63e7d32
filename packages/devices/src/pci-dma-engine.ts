/**
 * fl-dma: a PCI copy engine. The driver points it at an array of descriptors in memory it can reach
 * by bus address (a coherent buffer) and rings the doorbell with a count; the engine reads each
 * descriptor and copies `len` bytes from `src` to `dst` by bus-master DMA, then sends MSI vector 0.
 * A descriptor or copy that fails (bus mastering off, an address nothing decodes) stops the run and
 * sets the error bit; the completion is sent anyway.
 *
 * Register map (BAR 0, 32-bit accesses):
 *   0x00 RW  descriptor array bus address, low 32 bits
 *   0x04 RW  descriptor array bus address, high 32 bits
 *   0x08 WO  doorbell: run that many descriptors
 *   0x0c RO  descriptors completed so far
 *   0x10 RO  status (bit 0: the last run failed)
 *
 * Descriptor (24 bytes, little-endian): u64 src, u64 dst, u32 len, u32 flags (0).
 */
import type { PciDeviceModel } from "./device";
import { definePciDevice } from "./pci-device";

export const PCI_DMA_VENDOR_ID = 0x1b36;
export const PCI_DMA_DEVICE_ID = 0x0d3a;
export const PCI_DMA_REG_DESC_LO = 0x00;
export const PCI_DMA_REG_DESC_HI = 0x04;
export const PCI_DMA_REG_DOORBELL = 0x08;
export const PCI_DMA_REG_DONE = 0x0c;
export const PCI_DMA_REG_STATUS = 0x10;
export const PCI_DMA_STATUS_ERROR = 0x1;
export const PCI_DMA_DESC_SIZE = 24;

/** A PCI device with a bus-master DMA engine driven through its registers. */
export function pciDmaEngine(
  options: { readonly name?: string; readonly slot?: number } = {},
): PciDeviceModel {
  return definePciDevice({
    name: options.name ?? "fl-dma",
    vendorId: PCI_DMA_VENDOR_ID,
    deviceId: PCI_DMA_DEVICE_ID,
    classCode: 0x088000, // system peripheral, other
    msiVectors: 1,
    ...(options.slot === undefined ? {} : { slot: options.slot }),
    state: { name: "fl-dma", version: 1, fields: { descLo: 0, descHi: 0, done: 0, status: 0 } },
    bars: [
      {
        index: 0,
        type: "mem32",
        size: 0x1000,
        ops: {
          read(s, offset) {
            if (offset === PCI_DMA_REG_DESC_LO) return s.descLo;
            if (offset === PCI_DMA_REG_DESC_HI) return s.descHi;
            if (offset === PCI_DMA_REG_DONE) return s.done;
            if (offset === PCI_DMA_REG_STATUS) return s.status;
            return 0;
          },
          write(s, offset, size, value, ctx) {
            const v = Number(value) >>> 0;
            if (offset === PCI_DMA_REG_DESC_LO) s.descLo = v;
            else if (offset === PCI_DMA_REG_DESC_HI) s.descHi = v;
            else if (offset === PCI_DMA_REG_DOORBELL) {
              const ring = s.descHi * 2 ** 32 + s.descLo;
              s.status = 0;
              for (let i = 0; i < v; i++) {
                const d = new Uint8Array(PCI_DMA_DESC_SIZE);
                if (!ctx.dmaRead(ring + i * PCI_DMA_DESC_SIZE, d)) {
                  s.status = PCI_DMA_STATUS_ERROR;
                  break;
                }
                const dv = new DataView(d.buffer);
                const buf = new Uint8Array(dv.getUint32(16, true));
                const src = Number(dv.getBigUint64(0, true));
                const dst = Number(dv.getBigUint64(8, true));
                if (!ctx.dmaRead(src, buf) || !ctx.dmaWrite(dst, buf)) {
                  s.status = PCI_DMA_STATUS_ERROR;
                  break;
                }
                s.done++;
              }
              ctx.msiNotify(0);
            } else {
              ctx.guestError(
                `write of 0x${v.toString(16)} to register 0x${offset.toString(16)} ignored`,
                offset,
                size,
                true,
              );
            }
          },
        },
      },
    ],
  });
}
