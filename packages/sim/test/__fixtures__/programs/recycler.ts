// Reads a megabyte in a loop, giving each result back with mmu.recycle (issue 14), and checks what a
// program sees: every result whole and current, each read after the first in the memory the one before
// gave back, misuse refused.
import { defineProgram } from "@faultline/sim";

const MIB = 1 << 20;

export default defineProgram((sys, mmu) => {
  const a = sys.mmap(0, MIB, 3, 0x22, -1, 0);
  const b = new Uint8Array(MIB);
  let given: ArrayBufferLike | null = null;
  for (let round = 0; round < 8; round++) {
    for (let i = 0; i < MIB; i++) b[i] = (i * 13 + round) & 0xff;
    mmu.write(a, b);
    const r = mmu.read(a, MIB);
    if (r.length !== MIB) return 10;
    for (let i = 0; i < MIB; i++) if (r[i] !== b[i]) return 11;
    if (given !== null && r.buffer !== given) return 12;
    given = r.buffer;
    mmu.recycle(r);
  }
  const refused = [
    () => mmu.recycle(new Uint8Array(MIB)),
    () => mmu.recycle(null as never),
    () => {
      const r = mmu.read(a, 4096);
      mmu.recycle(r);
      mmu.recycle(r);
    },
  ];
  for (const [i, fn] of refused.entries()) {
    try {
      fn();
      return 20 + i;
    } catch (e) {
      if (!(e instanceof TypeError) || !/^mmu\.recycle: not a live result of mmu\.read/.test(e.message))
        return 30 + i;
    }
  }
  return 0;
});
