// `pnpm faultline run`: boots a PhysMachine with one PCI memory device and prints what Linux would
// show of it: /proc/iomem, an lspci listing and the MemTotal/MemFree lines of /proc/meminfo.
//
import { MemoryRegion, type PciFunctionSpec, PhysMachine } from "@faultline/phys";

/**
 * A minimal PCI memory device in the style of QEMU's edu (hw/misc/edu.c): a 1 MiB BAR 0 of 32-bit
 * registers: 0x00 identification, 0x04 a scratch register that reads back inverted.
 */
function demoDevice(): PciFunctionSpec {
  let scratch = 0;
  const regs = MemoryRegion.mmio("demo-mmio", 1 << 20, {
    read: (offset) => (offset === 0x00 ? 0x010000ed : offset === 0x04 ? ~scratch >>> 0 : 0),
    write: (offset, _size, value) => {
      if (offset === 0x04) scratch = Number(value);
    },
    valid: { minAccessSize: 4, maxAccessSize: 4 },
  });
  return {
    name: "demo",
    vendorId: 0x1234,
    deviceId: 0x11e8,
    classCode: 0x058000,
    revision: 0x10,
    subsystemVendorId: 0x1af4,
    subsystemId: 0x1100,
    bars: [{ type: "memory", size: 1 << 20, region: regs }],
  };
}

const command = process.argv[2] ?? "run";
if (command !== "run") {
  process.stderr.write(`faultline: unknown command "${command}" (try: run)\n`);
  process.exit(2);
}

const machine = PhysMachine.create({ pciDevices: [demoDevice()] });
machine.checkInvariants();
const out = process.stdout;
out.write("$ cat /proc/iomem\n");
out.write(machine.iomem());
out.write("\n$ lspci -v\n");
out.write(machine.lspci());
out.write("\n$ head -2 /proc/meminfo\n");
out.write(machine.meminfo());
