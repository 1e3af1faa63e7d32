import { isaMemory, pciMemoryDevice } from "@faultline/devices";
import { PhysMachine } from "@faultline/phys";

export function main() {
  const phys = PhysMachine.create({ ramBytes: 64 << 20 });
  const isa = isaMemory({ base: 0xd0000, size: 0x4000, name: "isa-ram" });
  const pci = pciMemoryDevice({ barSize: 1 << 20 });
  isa.realize(phys);
  pci.realize(phys);

  const bar = pci.barAddress(0)!; // placed by firmware in the PCI hole
  phys.physWrite32(0xd0000, 0x11111111); // lands in isa.ram
  phys.physWrite32(bar, 0x22222222); // lands in pci.ram

  return {
    isaByte: isa.ram[0],
    pciByte: pci.ram[0],
    bar,
    isaHasPages: phys.mem.pfnValid(0xd0000 / 4096), // true: nopage can serve it
    pciHasPages: phys.mem.pfnValid(bar / 4096), // false: only remapPfnRange can
    iomem: phys.iomem(),
    pciName: pci.pci.name,
  };
}
