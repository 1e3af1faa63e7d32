// Worker side of the contended-lock test: announce readiness, then allocate (sleeping on the zone
// lock the main thread holds), report, and free.
import { parentPort, workerData } from "node:worker_threads";
import { PhysMemory, type PhysMemoryDescriptor } from "@faultline/phys";

const { desc, gate, rounds } = workerData as {
  desc: PhysMemoryDescriptor;
  gate: SharedArrayBuffer;
  rounds: number;
};
const mem = PhysMemory.attach(desc);
const g = new Int32Array(gate);
Atomics.add(g, 0, 1);
Atomics.notify(g, 0);
let got = 0;
for (let i = 0; i < rounds; i++) {
  const pfn = mem.allocPfn(0);
  if (pfn >= 0) {
    got++;
    mem.freePages(pfn, 0);
  }
}
parentPort!.postMessage(got);
