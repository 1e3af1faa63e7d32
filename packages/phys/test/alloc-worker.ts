// Worker side of memory.worker-stress.test.ts: attaches to the shared PhysMemory and hammers the
// buddy allocator, claiming every frame it gets in a shared owner array so the main thread can prove
// that no frame was ever handed to two holders at once.
import { parentPort, workerData } from "node:worker_threads";
import { PAGE_SIZE, PhysMemory, type PhysMemoryDescriptor } from "@faultline/phys";

export interface AllocWorkerData {
  readonly desc: PhysMemoryDescriptor;
  /** Int32 per pfn: 0 when unowned, else the owning worker's id. */
  readonly owner: SharedArrayBuffer;
  /** Int32 slots: [0] workers ready, [1] start flag. */
  readonly gate: SharedArrayBuffer;
  readonly id: number;
  /** Allocations plus frees to perform. */
  readonly ops: number;
  readonly window: number;
  readonly seed: number;
}

export interface AllocWorkerResult {
  readonly id: number;
  readonly allocs: number;
  readonly frees: number;
  readonly exhausted: number;
  readonly refs: number;
  readonly errors: readonly string[];
}

const data = workerData as AllocWorkerData;
const mem = PhysMemory.attach(data.desc);
const owner = new Int32Array(data.owner);
const gate = new Int32Array(data.gate);
const { id } = data;
const errors: string[] = [];
const WORDS = PAGE_SIZE / 4;

// xorshift32: reproducible per worker.
let seed = data.seed | 0 || 1;
const rand = (n: number) => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
};

const held: Array<{ pfn: number; order: number; stamp: number }> = [];
let allocs = 0;
let frees = 0;
let exhausted = 0;
let refs = 0;
let serial = 0;

function stampFrames(pfn: number, order: number, stamp: number): void {
  for (let i = 0; i < 1 << order; i++) {
    const bytes = mem.frameBytes(pfn + i);
    const words = new Int32Array(bytes.buffer, bytes.byteOffset, WORDS);
    words[0] = stamp;
    words[WORDS - 1] = stamp ^ i;
  }
}

function verifyFrames(pfn: number, order: number, stamp: number): void {
  for (let i = 0; i < 1 << order; i++) {
    const bytes = mem.frameBytes(pfn + i);
    const words = new Int32Array(bytes.buffer, bytes.byteOffset, WORDS);
    if (words[0] !== stamp || words[WORDS - 1] !== (stamp ^ i)) {
      errors.push(`worker ${id}: frame 0x${(pfn + i).toString(16)} stamp overwritten`);
    }
  }
}

function release(k: number): void {
  const b = held[k]!;
  held[k] = held[held.length - 1]!;
  held.pop();
  verifyFrames(b.pfn, b.order, b.stamp);
  // Give the frames up before freeing them: once freed, another worker may claim them at once.
  for (let i = 0; i < 1 << b.order; i++) {
    const was = Atomics.compareExchange(owner, b.pfn + i, id, 0);
    if (was !== id) errors.push(`worker ${id}: frame 0x${(b.pfn + i).toString(16)} owned by ${was} at free`);
  }
  mem.freePages(b.pfn, b.order);
  frees++;
}

Atomics.add(gate, 0, 1);
Atomics.notify(gate, 0);
while (Atomics.load(gate, 1) === 0) Atomics.wait(gate, 1, 0);

while (allocs + frees < data.ops && errors.length < 10) {
  const r = rand(16);
  if (held.length > 0 && (held.length >= data.window || r < 7)) {
    release(rand(held.length));
  } else if (held.length > 0 && r === 7) {
    // A second reference and its release: the block must survive the put.
    const b = held[rand(held.length)]!;
    mem.getPage(b.pfn);
    if (mem.putPage(b.pfn)) errors.push(`worker ${id}: putPage freed a block still held`);
    refs++;
  } else {
    const order = rand(4);
    const pfn = mem.allocPfn(order);
    if (pfn < 0) {
      exhausted++;
      continue;
    }
    allocs++;
    if (pfn % (1 << order) !== 0)
      errors.push(`worker ${id}: pfn 0x${pfn.toString(16)} misaligned for order ${order}`);
    for (let i = 0; i < 1 << order; i++) {
      const was = Atomics.compareExchange(owner, pfn + i, 0, id);
      if (was !== 0)
        errors.push(`worker ${id}: frame 0x${(pfn + i).toString(16)} handed out twice (owner ${was})`);
    }
    const stamp = (id << 24) | (++serial & 0xffffff);
    stampFrames(pfn, order, stamp);
    held.push({ pfn, order, stamp });
  }
}
while (held.length > 0) release(held.length - 1);

const result: AllocWorkerResult = { id, allocs, frees, exhausted, refs, errors };
parentPort!.postMessage(result);
