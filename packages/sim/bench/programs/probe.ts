// Bench process: measures from inside its worker and posts the figures to the bench thread.
// The TLB loops are bench/tlb-loops.ts, the very loops the in-thread mm bench measures.
import { parentPort } from "node:worker_threads";
import { defineProgram } from "@faultline/sim";
import { measureSideBySide } from "../../../../bench/record";
import { tlbLoops } from "../../../../bench/tlb-loops";

const PAGES = 64;
const BYTES = PAGES * 4096;
const MAP_SHARED_ANON = 0x21;
const MAP_PRIVATE_ANON = 0x22;

export default defineProgram(
  (sys, mmu, argv) => {
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
      return 0;
    }
    if (mode === "fault") {
      // Read faults on untouched private anonymous pages: each maps the zero page (no allocation).
      const n = 4096;
      const samples: number[] = [];
      for (let r = 0; r < 9; r++) {
        const base = sys.mmap(0, n * 4096, 1, MAP_PRIVATE_ANON, -1, 0);
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < n; i++) mmu.load32(base + i * 4096);
        samples.push(Number(process.hrtime.bigint() - t0) / n);
        sys.munmap(base, n * 4096);
      }
      samples.sort((a, b) => a - b);
      post({ fault: samples[4]! });
      return 0;
    }
    const base = sys.mmap(0, BYTES, 3, MAP_PRIVATE_ANON, -1, 0);
    for (let o = 0; o < BYTES; o += 4) mmu.store32(base + o, o & 0xffff);
    // The load's miss path runs too before the loops are compiled, as in any real program (a slow
    // path that never ran compiles to a deoptimization and spares the loop a call): read faults on
    // the pages of another mapping.
    const other = sys.mmap(0, BYTES, 1, MAP_PRIVATE_ANON, -1, 0);
    for (let o = 0; o < BYTES; o += 4096) mmu.load32(other + o);
    const raw = new Uint32Array(BYTES / 4);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 4) & 0xffff;
    const loops = tlbLoops(mmu, raw, base, BYTES);
    if (mode === "tlb") {
      // Fastest of many short rounds, as the in-thread bench: the least-disturbed round of each loop.
      post(measureSideBySide(loops, { iterations: 250_000, rounds: 41, statistic: "min" }));
      return 0;
    }
    // "throughput n single|pair [mmu|raw]": loads per second of wall-clock time, timed on the
    // process-wide monotonic clock, of the MMU's TLB-hit loop or (raw) the raw typed-array loop beside
    // it: the same threads and method measure what the host itself scales to. A pair forks; both sides
    // publish "ready" in a shared page and start their timed loop only when both are ready, so the two
    // loops provably overlap; the child's times come back through the same page.
    const n = Number(argv[1] ?? 50_000_000);
    const raw32 = argv[3] === "raw";
    const loop = raw32 ? loops.rawFromAddress : loops.mmuLoad32;
    loop(5_000_000); // warm up
    if (argv[2] !== "pair") {
      const t0 = process.hrtime.bigint();
      loop(n);
      const t1 = process.hrtime.bigint();
      post({ loads: n, start: Number(t0), end: Number(t1) });
      return 0;
    }
    const sync = sys.mmap(0, 4096, 3, MAP_SHARED_ANON, -1, 0);
    const child = sys.fork([sync, n, raw32]);
    if (child < 0) return 10;
    mmu.store32(sync, 1);
    while (mmu.load32(sync + 4) !== 1) {}
    const t0 = process.hrtime.bigint();
    loop(n);
    const t1 = process.hrtime.bigint();
    if (sys.waitpid(child) !== child) return 11;
    post({
      loads: 2 * n,
      start0: Number(t0),
      end0: Number(t1),
      start1: Number(mmu.load64(sync + 8)),
      end1: Number(mmu.load64(sync + 16)),
    });
    return 0;
  },
  (sys, mmu) => {
    const [sync, n, raw32] = sys.forkTag as [number, number, boolean];
    const base = sys.mmap(0, BYTES, 3, MAP_PRIVATE_ANON, -1, 0);
    for (let o = 0; o < BYTES; o += 4) mmu.store32(base + o, o & 0xffff);
    const loops = tlbLoops(mmu, new Uint32Array(BYTES / 4), base, BYTES);
    const loop = raw32 ? loops.rawFromAddress : loops.mmuLoad32;
    loop(5_000_000);
    mmu.store32(sync + 4, 1);
    while (mmu.load32(sync) !== 1) {}
    const t0 = process.hrtime.bigint();
    loop(n);
    const t1 = process.hrtime.bigint();
    mmu.store64(sync + 8, t0);
    mmu.store64(sync + 16, t1);
    return 0;
  },
);
