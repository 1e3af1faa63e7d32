// A device whose mmap leaves no fault handler (/dev/nopage), grown with mremap. The 2.6.10 kernel
// maps the zero page there (the book: "mremap-extending gives zero-filled memory"); today's kernel
// answers SIGBUS.
import { defineProgram } from "@faultline/sim";
import { hex, MAP_SHARED, MREMAP_MAYMOVE, openDevice, PAGE, RW, say, show } from "./lib";

export default defineProgram(
  (sys, mmu) => {
    const fd = openDevice(sys, "/dev/nopage");
    const addr = sys.mmap(0, PAGE, RW, MAP_SHARED, fd, 0);
    say(sys, `mmap /dev/nopage (no nopage/fault handler) -> ${hex(addr)}`);
    const grown = sys.mremap(addr, PAGE, 3 * PAGE, MREMAP_MAYMOVE);
    say(sys, `mremap to 3 pages -> ${show(grown)}`);
    say(sys, `reading the grown part at ${hex(grown + 2 * PAGE)}...`);
    say(sys, `  it reads ${hex(mmu.load32(grown + 2 * PAGE))} (zero-filled)`);
    return 0;
  },
  // Keeps no state between processes: a pooled thread may serve its next process with this module.
  { reuseModule: true },
);
