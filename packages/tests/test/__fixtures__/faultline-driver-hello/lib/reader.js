// The plugin's own simulation program: prints what /dev/hello holds and exits 0.
import { defineProgram, MAP_SHARED, O_RDONLY, PROT_READ } from "@faultline/sim";

export default defineProgram((sys, mmu, argv) => {
  const fd = sys.open("/dev/hello", O_RDONLY, 0);
  const addr = sys.mmap(0, 4096, PROT_READ, MAP_SHARED, fd, 0);
  const text = new TextDecoder().decode(mmu.read(addr, Number(argv[0] ?? 5)));
  sys.write(1, `[pid ${sys.pid}] /dev/hello says ${text}\n`);
  return 0;
});
