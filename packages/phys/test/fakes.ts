// Shared fakes for the address-space tests (memory-region, flatview, address-space, memtx).
import { AddressSpace, MemoryBanks, MemoryRegion, type MemoryRegionOps } from "@faultline/phys";

export const KiB = 1024;

/**
 * A register file that records every access and reads back what was written; unwritten registers read
 * 0xa0 + offset (size 1–4) or 0x1122334455667788 (size 8).
 */
export function regs(valid?: MemoryRegionOps["valid"]): { ops: MemoryRegionOps; calls: string[] } {
  const calls: string[] = [];
  const store = new Map<number, number | bigint>();
  const ops: MemoryRegionOps = {
    read(offset, size) {
      calls.push(`r${size}@${offset.toString(16)}`);
      return store.get(offset) ?? (size === 8 ? 0x1122334455667788n : 0xa0 + offset);
    },
    write(offset, size, value) {
      calls.push(`w${size}@${offset.toString(16)}=${value.toString(16)}`);
      store.set(offset, value);
    },
    ...(valid ? { valid } : {}),
  };
  return { ops, calls };
}

/** A 1 MiB system container with 64 KiB of RAM at 0 and an address space over it. */
export function setup(): {
  banks: MemoryBanks;
  ramBank: number;
  system: MemoryRegion;
  ram: MemoryRegion;
  as: AddressSpace;
} {
  const banks = new MemoryBanks();
  const ramBank = banks.allocate(64 * KiB, "ram");
  const system = MemoryRegion.container("system", 1 << 20);
  const ram = MemoryRegion.ram("ram", banks, ramBank, 0, 64 * KiB);
  system.addSubregion(0, ram);
  const as = new AddressSpace("memory", system, banks);
  return { banks, ramBank, system, ram, as };
}
