/**
 * A PCI device's DMA state as a machine snapshot saves and compares it (snapshot/hw.ts). The state
 * itself is dma-mapping.ts's; it installs the reader here when it loads, so the snapshot code needs
 * no export of it in the driver API.
 */
import type { PciDevState } from "./pci-bus";

/** Coherent buffers ([bus address, size]), streaming mappings ([bus address, size, direction]), pools ([name, size, pages, busy blocks]). */
export interface DmaSnapshot {
  coherent: [number, number][];
  streaming: [number, number, number][];
  pools: [string, number, number, number][];
}

let reader: ((d: PciDevState) => DmaSnapshot) | null = null;

export function setDmaStateReader(f: (d: PciDevState) => DmaSnapshot): void {
  reader = f;
}

export function dmaStateOf(d: PciDevState): DmaSnapshot {
  return reader ? reader(d) : { coherent: [], streaming: [], pools: [] };
}
