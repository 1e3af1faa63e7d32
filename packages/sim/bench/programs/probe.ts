// Bench process: measures from inside its worker and posts the figures to the bench thread.
import { parentPort } from "node:worker_threads";
import { defineProgram } from "@faultline/sim";
import { measureSideBySide } from "../../../../bench/record";

const PAGES = 64;

export default defineProgram((sys, mmu, argv) => {
  const mode = argv[0];
  const post = (m: Record<string, number>) => parentPort!.postMessage(m);
  if (mode === "syscall") {
    post(
      measureSideBySide(
        {
          getpid: (n) => {
            let s = 0;
            for (let i = 0; i < n; i++) s += sys.getpid();
            return s;
          },
        },
        { iterations: 20_000, rounds: 9 },
      ),
    );
  } else if (mode === "fault") {
    // Read faults on untouched private anonymous pages: each maps the zero page (no allocation).
    const n = 4096;
    const samples: number[] = [];
    for (let r = 0; r < 9; r++) {
      const base = sys.mmap(0, n * 4096, 1, 0x02 | 0x20, -1, 0);
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) mmu.load32(base + i * 4096);
      samples.push(Number(process.hrtime.bigint() - t0) / n);
      sys.munmap(base, n * 4096);
    }
    samples.sort((a, b) => a - b);
    post({ fault: samples[4]! });
  } else {
    const base = sys.mmap(0, PAGES * 4096, 3, 0x02 | 0x20, -1, 0);
    for (let p = 0; p < PAGES; p++) for (let o = 0; o < 4096; o += 4) mmu.store32(base + p * 4096 + o, o);
    const raw = new Uint32Array((PAGES * 4096) / 4);
    const span = PAGES * 4096;
    const loads = (n: number) => {
      let s = 0;
      for (let i = 0; i < n; i++) s = (s + mmu.load32(base + (((i * 4100) % span) & ~3))) | 0;
      return s;
    };
    if (mode === "tlb") {
      const rawLoads = (n: number) => {
        let s = 0;
        for (let i = 0; i < n; i++) s = (s + raw[(base + (((i * 4100) % span) & ~3) - base) / 4]!) | 0;
        return s;
      };
      post(measureSideBySide({ load32: loads, raw: rawLoads }, { iterations: 2_000_000, rounds: 9 }));
    } else {
      loads(5_000_000); // warm up
      const n = Number(argv[1] ?? 50_000_000);
      const t0 = process.hrtime.bigint();
      loads(n);
      post({ loadsPerSec: n / (Number(process.hrtime.bigint() - t0) / 1e9) });
    }
  }
  return 0;
});
