// The parent caches a translation of /dev/flip's page and spins on a shared flag in user code (no
// kernel entry) while its child flips the device; its next read must see the new page.
import { defineProgram } from "@faultline/sim";

const FLIP = 0x4601;

export default defineProgram(
  (sys, mmu) => {
    const fd = sys.open("/dev/flip", 2);
    const dev = sys.mmap(0, 4096, 1, 0x01, fd, 0);
    const flag = sys.mmap(0, 4096, 3, 0x01 | 0x20, -1, 0);
    if (mmu.load32(dev) !== 0xaaaa) return 10;
    for (let i = 0; i < 1000; i++) if (mmu.load32(dev) !== 0xaaaa) return 11; // TLB hits
    const child = sys.fork([fd, flag]);
    for (let i = 0; mmu.load32(flag) !== 1; i++) {
      if (i > 2e9) return 12;
      // Still cached until the child's ioctl shoots it down; never a torn view afterwards.
      const v = mmu.load32(dev);
      if (v !== 0xaaaa && v !== 0xbbbb) return 13;
    }
    if (mmu.load32(dev) !== 0xbbbb) return 14; // the stale translation is gone
    if (sys.waitpid(child) !== child || sys.lastWaitStatus !== 0) return 15;
    return 0;
  },
  (sys, mmu) => {
    const [fd, flag] = sys.forkTag as [number, number];
    if (sys.ioctl(fd, FLIP, 0) !== 0) return 20;
    mmu.store32(flag, 1);
    return 0;
  },
);
