// /dev/simplen pointed at the PCI BAR: nopage finds no valid pfn there (PCI memory has no struct
// page), so the process gets SIGBUS — the book's reason to use remap_pfn_range for PCI.
import { defineProgram } from "@faultline/sim";
import { barAddress, hex, MAP_SHARED, openDevice, PAGE, RW, say } from "./lib";

export default defineProgram(
  (sys, mmu, argv) => {
    const bar = barAddress(sys, argv[0] ?? "0000:00:02.0");
    const fd = openDevice(sys, "/dev/simplen");
    const addr = sys.mmap(0, PAGE, RW, MAP_SHARED, fd, bar);
    say(sys, `mmap /dev/simplen at the BAR ${hex(bar)} -> ${hex(addr)}; touching it...`);
    say(sys, `  it reads ${hex(mmu.load32(addr))}`);
    return 0;
  },
  // Keeps no state between processes: a pooled thread may serve its next process with this module.
  { reuseModule: true },
);
