// A PCI BAR lies above system memory and has no struct page: /dev/simpler maps it with
// remap_pfn_range. Growing that mapping worked in 2.6.10 (zero-filled) and is -EFAULT today.
import { defineProgram } from "@faultline/sim";
import { barAddress, hex, MAP_SHARED, MREMAP_MAYMOVE, openDevice, PAGE, RW, say, show } from "./lib";

export default defineProgram(
  (sys, mmu, argv) => {
    const bar = barAddress(sys, argv[0] ?? "0000:00:02.0");
    const fd = openDevice(sys, "/dev/simpler");
    const addr = sys.mmap(0, 2 * PAGE, RW, MAP_SHARED, fd, bar);
    say(sys, `mmap /dev/simpler at the BAR ${hex(bar)} (remap_pfn_range) -> ${hex(addr)}`);
    mmu.store32(addr, 0xba5e);
    say(sys, `stored 0xba5e in the BAR, reads back ${hex(mmu.load32(addr))}`);
    const grown = sys.mremap(addr, 2 * PAGE, 4 * PAGE, MREMAP_MAYMOVE);
    say(sys, `mremap the remapped VMA to 4 pages -> ${show(grown)}`);
    if (grown > 0) say(sys, `  the grown part reads ${hex(mmu.load32(grown + 3 * PAGE))}`);
    return 0;
  },
  // Keeps no state between processes: a pooled thread may serve its next process with this module.
  { reuseModule: true },
);
