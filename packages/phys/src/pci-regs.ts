/**
 * The PCI register map and the numbers around it: configuration-space offsets and bits (names from
 * include/uapi/linux/pci_regs.h; PCI Local Bus Specification 3.0 §6.1, §6.2), the IDs of the
 * chipset functions on bus 0 (include/linux/pci_ids.h), and configuration mechanism #1's
 * CONFIG_ADDRESS encoding (PCI 3.0 §3.2.2.3.2; the kernel's PCI_CONF1_ADDRESS in arch/x86/pci/direct.c).
 */

export const PCI_VENDOR_ID = 0x00;
export const PCI_DEVICE_ID = 0x02;
export const PCI_COMMAND = 0x04;
export const PCI_COMMAND_IO = 0x1;
export const PCI_COMMAND_MEMORY = 0x2;
export const PCI_COMMAND_MASTER = 0x4;
export const PCI_COMMAND_PARITY = 0x40;
export const PCI_COMMAND_SERR = 0x100;
export const PCI_COMMAND_INTX_DISABLE = 0x400;
export const PCI_STATUS = 0x06;
export const PCI_REVISION_ID = 0x08;
export const PCI_CLASS_PROG = 0x09;
export const PCI_CLASS_DEVICE = 0x0a;
export const PCI_CACHE_LINE_SIZE = 0x0c;
export const PCI_LATENCY_TIMER = 0x0d;
export const PCI_HEADER_TYPE = 0x0e;
export const PCI_HEADER_TYPE_NORMAL = 0;
export const PCI_HEADER_TYPE_MULTI_FUNCTION = 0x80;
export const PCI_BASE_ADDRESS_0 = 0x10;
export const PCI_BASE_ADDRESS_SPACE_IO = 0x01;
export const PCI_BASE_ADDRESS_MEM_TYPE_64 = 0x04;
export const PCI_BASE_ADDRESS_MEM_PREFETCH = 0x08;
/** Address bits of a memory BAR (~0x0f) and of an I/O BAR (~0x03), as unsigned 32-bit numbers. */
export const PCI_BASE_ADDRESS_MEM_MASK = 0xfffffff0;
export const PCI_BASE_ADDRESS_IO_MASK = 0xfffffffc;
export const PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
export const PCI_SUBSYSTEM_ID = 0x2e;
export const PCI_ROM_ADDRESS = 0x30;
export const PCI_INTERRUPT_LINE = 0x3c;
export const PCI_INTERRUPT_PIN = 0x3d;
export const PCI_CONFIG_SPACE_SIZE = 256;
export const PCI_NUM_BARS = 6;
export const PCI_SLOT_MAX = 32;
export const PCI_FUNC_MAX = 8;

/** Smallest memory BAR (PCI 3.0 §6.2.5.1) and the bounds of an I/O BAR, in bytes / ports. */
export const PCI_BAR_MEM_MIN_SIZE = 16;
export const PCI_BAR_IO_MIN_SIZE = 4;
export const PCI_BAR_IO_MAX_SIZE = 256;

// ---- the chipset of QEMU's pc machine (include/linux/pci_ids.h names) ----------------------------

export const PCI_VENDOR_ID_INTEL = 0x8086;
/** 440FX host bridge (i440FX). */
export const PCI_DEVICE_ID_INTEL_82441 = 0x1237;
/** PIIX3 PCI-to-ISA bridge. */
export const PCI_DEVICE_ID_INTEL_82371SB_0 = 0x7000;
/** Subsystem IDs QEMU gives its chipset functions. */
export const PCI_SUBVENDOR_ID_REDHAT_QUMRANET = 0x1af4;
export const PCI_SUBDEVICE_ID_QEMU = 0x1100;
/** Class codes as 0xBBSSPP (base class, subclass, programming interface). */
export const PCI_CLASS_CODE_BRIDGE_HOST = 0x060000;
export const PCI_CLASS_CODE_BRIDGE_ISA = 0x060100;

// ---- configuration mechanism #1 -----------------------------------------------------------------

/** The CONFIG_ADDRESS port (CONFIG_DATA follows it at 0xcfc) and the width of the pair. */
export const PCI_CONF1_ADDRESS_PORT = 0xcf8;
export const PCI_CONF1_PORTS = 8;
/** CONFIG_ADDRESS: enable bit, bus << 16, device << 11, function << 8, dword register. */
export const PCI_CONF1_ENABLE = 0x80000000;
/** The bits of CONFIG_ADDRESS software can write (the rest read as zero). */
export const PCI_CONF1_ADDRESS_MASK = 0x80fffffc;

/** PCI_CONF1_ADDRESS(): the CONFIG_ADDRESS value selecting `reg` of bus:slot.fn. */
export const pciConf1Address = (bus: number, slot: number, fn: number, reg: number): number =>
  (PCI_CONF1_ENABLE | (bus << 16) | (slot << 11) | (fn << 8) | (reg & 0xfc)) >>> 0;
/** Whether a CONFIG_ADDRESS (port 0xCF8) value has its enable bit set. */
export const pciConf1Enabled = (a: number): boolean => (a & PCI_CONF1_ENABLE) !== 0;
/** The bus number of a CONFIG_ADDRESS (port 0xCF8) value. */
export const pciConf1Bus = (a: number): number => (a >>> 16) & 0xff;
/** The slot number of a CONFIG_ADDRESS (port 0xCF8) value. */
export const pciConf1Slot = (a: number): number => (a >>> 11) & 0x1f;
/** The function number of a CONFIG_ADDRESS (port 0xCF8) value. */
export const pciConf1Fn = (a: number): number => (a >>> 8) & 0x7;
/** The register offset (dword aligned) of a CONFIG_ADDRESS (port 0xCF8) value. */
export const pciConf1Reg = (a: number): number => a & 0xfc;
