// A simulation program in TypeScript, loaded in a worker through tsx: maps /dev/hello, prints the
// greeting, then touches the page the driver refuses (SIGBUS).
import { defineProgram, MAP_SHARED, O_RDONLY, PROT_READ } from "@faultline/sim";

export default defineProgram((sys, mmu) => {
  const fd = sys.open("/dev/hello", O_RDONLY, 0);
  const addr = sys.mmap(0, 2 * 4096, PROT_READ, MAP_SHARED, fd, 0);
  sys.write(1, `${new TextDecoder().decode(mmu.read(addr, 22))}\n`);
  mmu.load8(addr + 4096);
  return 0;
});
