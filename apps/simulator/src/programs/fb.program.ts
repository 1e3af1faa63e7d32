// Act three, the framebuffer: fl_fb was probed for the fl-fb function at boot and claimed its BARs
// (nested under the function in /proc/iomem). This process maps VRAM (faulted in page by page with
// vmf_insert_pfn) and draws five frames into row 5, one per vblank: the device raises its vblank
// interrupt 60 times a second from the machine's virtual clock, no register poke, and the driver's
// handler counts them (ioctl FLFB_GET_VBLANKS; /proc/interrupts). Its child maps the same VRAM through
// its own mapping and watches the frames appear while the parent draws them.
import { defineProgram, type Sys } from "@faultline/sim";
import { hex, MAP_SHARED, openDevice, PAGE, PROT_READ, RW, readFile, say } from "./lib";

const FLFB_GET_VBLANKS = 0x4601;
const FLFB_GET_INFO = 0x4602;
const MAP_SHARED_ANON = 0x01 | 0x20;
const FRAMES = 5;
/** Frame f's colour: green, the frame number in the blue byte. */
const colour = (f: number) => (0xff00ff00 | f) >>> 0;
const ROW = 5;

/** nanosleep(2) on the virtual clock. */
const sleepNs = (sys: Sys, ns: number) => sys.nanosleep(0, ns);

const fbIrqLine = (sys: Sys): string =>
  readFile(sys, "/proc/interrupts")
    .split("\n")
    .find((l) => l.endsWith("fl_fb"))
    ?.trim() ?? "(no fl_fb line)";

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
    // A flag page shared with the child: it says when it is watching.
    const flag = sys.mmap(0, PAGE, RW, MAP_SHARED_ANON, -1, 0);
    say(
      sys,
      `mmap /dev/flfb0 (${width}x${height}, VRAM) -> ${hex(fb)}; drawing row ${ROW}, one frame per vblank`,
    );
    const child = sys.fork({ width, flag });
    for (let i = 0; i < 10_000 && mmu.load32(flag) !== 1; i++) sleepNs(sys, 1_000_000);
    say(sys, `/proc/interrupts: ${fbIrqLine(sys)}`);
    const before = sys.ioctl(fd, FLFB_GET_VBLANKS, 0);
    let vblank = before;
    for (let f = 1; f <= FRAMES; f++) {
      // Wait for the next vblank (the handler's count moves), then draw the frame.
      while (sys.ioctl(fd, FLFB_GET_VBLANKS, 0) === vblank) sleepNs(sys, 2_000_000);
      vblank = sys.ioctl(fd, FLFB_GET_VBLANKS, 0);
      for (let x = 0; x < width; x++) mmu.store32(fb + (ROW * width + x) * 4, colour(f));
    }
    say(sys, `drew ${FRAMES} frames; vblank interrupts counted by fl_fb: ${before} -> ${vblank}`);
    sys.waitpid(child);
    say(sys, `/proc/interrupts: ${fbIrqLine(sys)}`);
    return sys.lastWaitStatus === 0 ? 0 : 1;
  },
  (sys, mmu) => {
    const { width, flag } = sys.forkTag as { width: number; flag: number };
    const fd = openDevice(sys, "/dev/flfb0");
    const fb = sys.mmap(0, 4 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
    mmu.store32(flag, 1);
    // The row's last pixel is drawn last: when it shows frame f, the whole row is frame f.
    const last = fb + (ROW * width + width - 1) * 4;
    const seen: number[] = [];
    for (let i = 0; i < 2000 && seen.at(-1) !== FRAMES; i++) {
      const v = mmu.load32(last);
      const f = v >>> 8 === 0xff00ff ? v & 0xff : 0;
      if (f && f !== seen.at(-1)) seen.push(f);
      if (f !== FRAMES) sleepNs(sys, 4_000_000);
    }
    let lit = 0;
    for (let x = 0; x < width; x++) if (mmu.load32(fb + (ROW * width + x) * 4) === colour(FRAMES)) lit++;
    say(sys, `viewer: saw frames ${seen.join(", ")} appear through its own mapping of /dev/flfb0`);
    say(sys, `viewer: it shows ${lit} of ${width} pixels of row ${ROW} lit`);
    return lit === width ? 0 : 1;
  },
  undefined,
  // Keeps no state between processes: a pooled thread may serve its next process with this module.
  { reuseModule: true },
);
