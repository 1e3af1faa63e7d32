// Protection keys from a worker: pkey_alloc/pkey_mprotect are syscalls, pkey_get/pkey_set touch
// this thread's PKRU only. argv[0] "deny" ends with a read the key forbids (SIGSEGV SEGV_PKUERR);
// "nopku" checks the answers of a CPU without PKU.
import { defineProgram } from "@faultline/sim";

const RW = 3;
const MAP_PRIVATE_ANON = 0x22;
const PKEY_DISABLE_ACCESS = 1;
const PKEY_DISABLE_WRITE = 2;

export default defineProgram((sys, mmu, argv) => {
  const a = sys.mmap(0, 4096, RW, MAP_PRIVATE_ANON, -1, 0);
  mmu.store32(a, 5);
  if (argv[0] === "nopku") {
    if (sys.pkeyAlloc(0, 0) !== -22) return 10;
    if (sys.pkeyAlloc(0, 0) !== -28) return 11;
    if (sys.pkeyGet(0) !== -38 || sys.pkeySet(0, 0) !== -38) return 12;
    if (sys.pkeyMprotect(a, 4096, RW, 1) !== -22) return 13;
    return 0;
  }
  const k = sys.pkeyAlloc(0, PKEY_DISABLE_WRITE);
  if (k !== 1) return 20;
  if (sys.pkeyMprotect(a, 4096, RW, k) !== 0) return 21;
  if (sys.pkeyGet(k) !== PKEY_DISABLE_WRITE) return 22;
  if (mmu.load32(a) !== 5) return 23;
  if (sys.pkeySet(k, 0) !== 0) return 24;
  mmu.store32(a, 6);
  if (argv[0] === "deny") {
    sys.pkeySet(k, PKEY_DISABLE_ACCESS);
    mmu.load32(a); // cached by the store above: pkeySet must have dropped it
    return 25;
  }
  return mmu.load32(a) === 6 ? 0 : 26;
});
