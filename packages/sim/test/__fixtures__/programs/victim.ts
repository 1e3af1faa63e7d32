// Keeps a secret in a private page and checks it stays intact while others run.
import { defineProgram } from "@faultline/sim";

const SECRET = 0x5ec2e7;

export default defineProgram((sys, mmu, argv) => {
  const a = sys.mmap(0, 4096, 3, 0x22, -1, 0);
  for (let i = 0; i < 1024; i++) mmu.store32(a + i * 4, SECRET ^ i);
  const rounds = Number(argv[0] ?? 200);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < 1024; i++) if (mmu.load32(a + i * 4) !== (SECRET ^ i)) return 1;
    sys.getpid(); // a kernel entry, so others get their turn
  }
  return 0;
});
