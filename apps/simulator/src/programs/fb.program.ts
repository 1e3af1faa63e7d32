// Act three, the framebuffer: fl_fb was probed for the fl-fb function at boot and claimed its BARs
// (nested under the function in /proc/iomem). This process maps VRAM (faulted in page by page with
// vmf_insert_pfn) and draws a line; its child maps the same VRAM through its own mapping and reads
// the pixels back while the parent waits.
import { defineProgram } from "@faultline/sim";
import { hex, MAP_SHARED, openDevice, PAGE, PROT_READ, RW, readFile, say } from "./lib";

const FLFB_GET_INFO = 0x4602;
const PIXEL = 0xff00ff00;

export default defineProgram(
  (sys, mmu) => {
    const claims = readFile(sys, "/proc/iomem")
      .split("\n")
      .filter((l) => l.endsWith(": fl_fb"));
    for (const l of claims) say(sys, `/proc/iomem: ${l.trim()} (under its BAR)`);
    const fd = openDevice(sys, "/dev/flfb0");
    const info = sys.ioctl(fd, FLFB_GET_INFO, 0);
    const width = Math.floor(info / 65536);
    const height = info % 65536;
    const fb = sys.mmap(0, 4 * PAGE, RW, MAP_SHARED, fd, 0);
    say(sys, `mmap /dev/flfb0 (${width}x${height}, VRAM) -> ${hex(fb)}; drawing row 5`);
    for (let x = 0; x < width; x++) mmu.store32(fb + (5 * width + x) * 4, PIXEL);
    const child = sys.fork({ width });
    sys.waitpid(child);
    return sys.lastWaitStatus === 0 ? 0 : 1;
  },
  (sys, mmu) => {
    const { width } = sys.forkTag as { width: number };
    const fd = openDevice(sys, "/dev/flfb0");
    const fb = sys.mmap(0, 4 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
    let lit = 0;
    for (let x = 0; x < width; x++) if (mmu.load32(fb + (5 * width + x) * 4) === PIXEL) lit++;
    say(sys, `viewer: its own mapping of /dev/flfb0 shows ${lit} of ${width} pixels of row 5 lit`);
    return lit === width ? 0 : 1;
  },
);
