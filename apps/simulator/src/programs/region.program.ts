// LDD3's region remap: a window of physical memory mapped with vm_pgoff offsets, refusing a mapping
// larger than what is left of the region, and an offset at or past its end (the book's unsigned
// wrap would have let that through).
import { defineProgram } from "@faultline/sim";
import { hex, MAP_SHARED, openDevice, PAGE, RW, say, show } from "./lib";

export default defineProgram(
  (sys, mmu, argv) => {
    const size = Number(argv[0] ?? 0x4000);
    const fd = openDevice(sys, "/dev/region");
    const whole = sys.mmap(0, size, RW, MAP_SHARED, fd, 0);
    const second = sys.mmap(0, PAGE, RW, MAP_SHARED, fd, PAGE);
    say(
      sys,
      `mmap /dev/region offset 0 (${size / PAGE} pages) -> ${hex(whole)}, offset ${hex(PAGE)} -> ${hex(second)}`,
    );
    mmu.store32(second, 0x5e9100);
    say(
      sys,
      `stored 0x5e9100 through offset ${hex(PAGE)}; the whole mapping reads ${hex(mmu.load32(whole + PAGE))} there`,
    );
    say(
      sys,
      `mmap 2 pages at offset ${hex(size - PAGE)} (vsize > psize) -> ${show(sys.mmap(0, 2 * PAGE, RW, MAP_SHARED, fd, size - PAGE))}`,
    );
    say(
      sys,
      `mmap 1 page at offset ${hex(size)} (past the end) -> ${show(sys.mmap(0, PAGE, RW, MAP_SHARED, fd, size))}`,
    );
    return 0;
  },
  // Keeps no state between processes: a pooled thread may serve its next process with this module.
  { reuseModule: true },
);
