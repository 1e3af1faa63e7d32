/**
 * The capability list of a type-0 header and the MSI capability (PCI 3.0 §6.7 and §6.8.1; names
 * from include/uapi/linux/pci_regs.h). A device model lists its capabilities; they are laid out from
 * 0x40 upwards, 4-byte aligned, each `[id, next, body…]`, the first one's offset in
 * PCI_CAPABILITY_LIST and PCI_STATUS_CAP_LIST set (QEMU hw/pci/pci.c: pci_add_capability).
 */

export const PCI_STATUS_INTERRUPT = 0x08;
export const PCI_STATUS_CAP_LIST = 0x10;
export const PCI_CAPABILITY_LIST = 0x34;
/** Offsets inside a capability. */
export const PCI_CAP_LIST_ID = 0;
export const PCI_CAP_LIST_NEXT = 1;
/** Where the first capability goes (the end of the standard header). */
export const PCI_CAP_START = 0x40;

export const PCI_CAP_ID_PM = 0x01;
export const PCI_CAP_ID_MSI = 0x05;
export const PCI_CAP_ID_VNDR = 0x09;
export const PCI_CAP_ID_EXP = 0x10;
export const PCI_CAP_ID_MSIX = 0x11;

/** MSI capability (32-bit message address, no per-vector masking): flags, address, data. */
export const PCI_MSI_FLAGS = 2;
export const PCI_MSI_FLAGS_ENABLE = 0x0001;
/** Multiple Message Capable (log2 of the vectors the device asks for). */
export const PCI_MSI_FLAGS_QMASK = 0x000e;
/** Multiple Message Enable (log2 of the vectors software granted). */
export const PCI_MSI_FLAGS_QSIZE = 0x0070;
export const PCI_MSI_FLAGS_64BIT = 0x0080;
export const PCI_MSI_ADDRESS_LO = 4;
export const PCI_MSI_DATA_32 = 8;
/** Bytes of a 32-bit MSI capability. */
export const PCI_MSI_32_SIZEOF = 10;

/** The x86 MSI address window (the local APICs at 0xfee00000; arch/x86/include/asm/msidef.h). */
export const MSI_ADDR_BASE_LO = 0xfee00000;

/** A capability as a device model declares it: its id, body bytes, and which body bits are writable. */
export interface PciCapabilitySpec {
  readonly id: number;
  /** Bytes after the id and next-pointer bytes. */
  readonly body: Uint8Array;
  /** Write mask for the body (same length); default all read-only. */
  readonly wmask?: Uint8Array;
}

/** A capability placed in config space. */
export interface PlacedCapability {
  readonly id: number;
  readonly offset: number;
  readonly length: number;
}

/**
 * An MSI capability asking for `vectors` (a power of two, 1..32) with a 32-bit address: software may
 * write the enable and Multiple Message Enable bits, the address and the data.
 */
export function msiCapability(vectors = 1): PciCapabilitySpec {
  const log2 = Math.log2(vectors);
  if (!Number.isInteger(log2) || log2 < 0 || log2 > 5) {
    throw new RangeError(`msiCapability: ${vectors} vectors: must be a power of two from 1 to 32`);
  }
  const body = new Uint8Array(PCI_MSI_32_SIZEOF - 2);
  const wmask = new Uint8Array(PCI_MSI_32_SIZEOF - 2);
  body[0] = (log2 << 1) & PCI_MSI_FLAGS_QMASK;
  wmask[0] = PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE;
  // Message address: dword aligned (bits 1:0 read as zero), then 16 bits of message data.
  wmask.set([0xfc, 0xff, 0xff, 0xff, 0xff, 0xff], PCI_MSI_ADDRESS_LO - 2);
  return { id: PCI_CAP_ID_MSI, body, wmask };
}

/**
 * Lays the capabilities out in `config` (and their masks in `wmask`) from 0x40; returns where each
 * went. Throws RangeError when they do not fit in the 256-byte space.
 */
export function placeCapabilities(
  config: Uint8Array,
  wmask: Uint8Array,
  caps: readonly PciCapabilitySpec[],
  where: string,
): PlacedCapability[] {
  const out: PlacedCapability[] = [];
  let off = PCI_CAP_START;
  let prevNext = PCI_CAPABILITY_LIST;
  for (const c of caps) {
    if (!Number.isInteger(c.id) || c.id < 1 || c.id > 0xff) {
      throw new RangeError(`${where}: capability id ${String(c.id)} is not 1..255`);
    }
    if (c.wmask && c.wmask.length !== c.body.length) {
      throw new RangeError(
        `${where}: capability ${c.id}: wmask has ${c.wmask.length} bytes, body ${c.body.length}`,
      );
    }
    const length = 2 + c.body.length;
    if (off + length > config.length) {
      throw new RangeError(`${where}: capabilities do not fit in the 256-byte configuration space`);
    }
    config[prevNext] = off;
    config[off + PCI_CAP_LIST_ID] = c.id;
    config[off + PCI_CAP_LIST_NEXT] = 0;
    config.set(c.body, off + 2);
    if (c.wmask) wmask.set(c.wmask, off + 2);
    out.push({ id: c.id, offset: off, length });
    prevNext = off + PCI_CAP_LIST_NEXT;
    off = (off + length + 3) & ~3;
  }
  return out;
}

/** pci_find_capability(): the offset of the first capability with `id` in the list, or 0. */
export function findCapability(read8: (offset: number) => number, status: number, id: number): number {
  if (!(status & PCI_STATUS_CAP_LIST)) return 0;
  let pos = read8(PCI_CAPABILITY_LIST) & ~3;
  // PCI_FIND_CAP_TTL: at most 48 hops, so a looping list ends.
  for (let ttl = 48; pos >= PCI_CAP_START && ttl > 0; ttl--) {
    if (read8(pos + PCI_CAP_LIST_ID) === id) return pos;
    pos = read8(pos + PCI_CAP_LIST_NEXT) & ~3;
  }
  return 0;
}
