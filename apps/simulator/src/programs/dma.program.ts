// Act three, the copy engine: fl_dma set up a coherent descriptor page and an MSI vector at probe.
// This process asks it to copy a message between two of its own buffers: the driver pins both
// (pin_user_pages, the destination with FOLL_WRITE), the device copies by bus-master DMA and
// signals completion with MSI; /proc/interrupts counts it.
import { defineProgram } from "@faultline/sim";
import { hex, openDevice, PAGE, RW, readFile, say, show } from "./lib";

const MAP_PRIVATE_ANON = 0x02 | 0x20;
const FLDMA_GET_COMPLETIONS = 0x4401;

export default defineProgram(
  (sys, mmu) => {
    const buf = sys.mmap(0, 4 * PAGE, RW, MAP_PRIVATE_ANON, -1, 0);
    const src = buf + PAGE - 10; // across a page boundary on both sides
    const dst = buf + 3 * PAGE - 3;
    const text = new TextEncoder().encode("a DMA write into pinned user pages");
    mmu.write(src, text);
    const req = new DataView(new ArrayBuffer(24));
    req.setBigUint64(0, BigInt(src), true);
    req.setBigUint64(8, BigInt(dst), true);
    req.setBigUint64(16, BigInt(text.length), true);
    const fd = openDevice(sys, "/dev/fldma");
    const r = sys.write(fd, new Uint8Array(req.buffer));
    const got = new TextDecoder().decode(mmu.read(dst, text.length));
    say(sys, `write /dev/fldma {src ${hex(src)}, dst ${hex(dst)}, ${text.length} bytes} -> ${show(r)}`);
    say(sys, `the destination now reads "${got}"`);
    say(sys, `completions (MSI): ${sys.ioctl(fd, FLDMA_GET_COMPLETIONS, 0)}`);
    const msi = readFile(sys, "/proc/interrupts")
      .split("\n")
      .find((l) => l.endsWith("fl_dma"));
    if (msi) say(sys, `/proc/interrupts: ${msi.trim()}`);
    return got === "a DMA write into pinned user pages" ? 0 : 1;
  },
  // Keeps no state between processes: a pooled thread may serve its next process with this module.
  { reuseModule: true },
);
