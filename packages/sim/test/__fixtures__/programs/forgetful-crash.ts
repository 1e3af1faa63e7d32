// Maps /dev/forgetful (a fault handler that forgets getPage), touches its 3 pages, then spins in user
// code until the test terminates the worker (a crash): the simulator reaps it through the kernel,
// whose exit path finds 3 bad pages.
import { defineProgram } from "@faultline/sim";

export default defineProgram((sys, mmu) => {
  const fd = sys.open("/dev/forgetful", 2);
  const base = sys.mmap(0, 3 * 4096, 3, 0x01, fd, 0);
  let x = 0;
  for (let i = 0; i < 3; i++) x += mmu.load8(base + i * 4096);
  for (;;) x = (x + mmu.load8(base + (x % 3) * 4096) + 1) >>> 0;
});
