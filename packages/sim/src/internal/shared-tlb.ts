/**
 * TLB shootdown across threads. A worker's software TLB lives in a SharedArrayBuffer, so the kernel
 * thread invalidates entries directly (it cannot interrupt a worker running user code, and a worker
 * in a hot loop never looks at a message queue):
 *
 *   bytes [0, 8n)    rTag  (Float64, page address (+ TLB_OTHER_BANK) or NaN)     [8n, 16n)  wTag
 *   bytes [16n, 20n) tBank (Int32)                   [20n, 24n) tBase
 *   (the worker's hit path reads tBase from here too: memory the kernel thread allocated, see Mmu)
 *
 * Two races remain and are closed here:
 * 1. A walk in flight: the worker read a PTE, the kernel cleared it and invalidated, then the worker
 *    filled its TLB from the stale PTE. The kernel bumps TLB_GEN before invalidating; the worker
 *    samples TLB_GEN before the walk and re-checks it with a compareExchange (a full barrier) after
 *    filling the entry; if it moved, the entry is dropped and the walk redone (a seqlock).
 * 2. An access in flight: the worker matched a tag, then the kernel invalidated it and freed the frame
 *    before the worker's load or store reached memory. The kernel takes a reference on every RAM frame
 *    it invalidates in a worker that is running user code, and drops it only when that worker has
 *    passed a quiescent point (its next entry into the kernel, or its exit): RCU with the syscall as
 *    the quiescent state. A worker waiting in the kernel cannot have an access in flight.
 */
import {
  faultSignal,
  Mmu,
  type MmuTarget,
  type SignalError,
  type TlbClient,
  tlbBufferBytes,
  tlbBufferLayout,
  tlbTagPage,
} from "@faultline/mm";
import type { PhysMemory } from "@faultline/phys";
import { REQ_SEQ, STATE, STATE_RUNNING, TLB_GEN } from "./channel";

export const tlbBytes = tlbBufferBytes;

interface TlbFields {
  rTag: Float64Array;
  wTag: Float64Array;
  tBank: Int32Array;
  tBase: Int32Array;
}

interface TlbViews extends TlbFields {
  readonly n: number;
}

function views(buffer: SharedArrayBuffer, n: number): TlbViews {
  const at = tlbBufferLayout(n);
  return {
    n,
    rTag: new Float64Array(buffer, at.rTag, n),
    wTag: new Float64Array(buffer, at.wTag, n),
    tBank: new Int32Array(buffer, at.tBank, n),
    tBase: new Int32Array(buffer, at.tBase, n),
  };
}

export function createTlbBuffer(n: number): SharedArrayBuffer {
  const buffer = new SharedArrayBuffer(tlbBytes(n));
  const v = views(buffer, n);
  v.rTag.fill(Number.NaN);
  v.wTag.fill(Number.NaN);
  return buffer;
}

/**
 * The worker's MMU: @faultline/mm's Mmu (same hot paths, same walk) with its TLB in the shared buffer
 * (MmuOptions.tlbBuffer) and the walk wrapped in the TLB_GEN seqlock.
 */
export class WorkerMmu extends Mmu {
  private readonly gen: Int32Array;

  constructor(target: MmuTarget, tlb: SharedArrayBuffer, tlbEntries: number, channel: Int32Array) {
    // The TLB lives in the shared buffer (same layout as tlbBufferLayout) so the kernel thread can
    // invalidate entries directly.
    super(target, { tlbEntries, tlbBuffer: tlb });
    this.gen = channel;
  }

  /**
   * What a fault signal goes through before it is thrown: the program's signal delivery (worker-main's
   * signalled(), which runs a handler and throws a handled SignalError, or throws the signal as it is).
   */
  raise: (e: SignalError) => never = (e) => {
    throw e;
  };

  protected override deliver(addr: number, code: number, detail?: string): never {
    return this.raise(faultSignal(code, addr, detail));
  }

  override translate(addr: number, write: boolean): number {
    for (;;) {
      const g = Atomics.load(this.gen, TLB_GEN);
      const loc = super.translate(addr, write);
      if (Atomics.compareExchange(this.gen, TLB_GEN, g, g) === g) return loc;
      // A shootdown overlapped the walk: what it cached may be stale.
      this.dropEntry(addr);
    }
  }
}

const FRAMES_PER_BANK = 2 ** 30 / 4096;

/**
 * The kernel-side TlbClient of one worker, registered in its Mm's tlbClients: invalidates the shared
 * tags and defers the release of the frames behind them until the worker is quiescent.
 */
export class KernelTlbClient implements TlbClient {
  private readonly v: TlbViews;
  private readonly ramBankIndex = new Map<number, number>();
  /** Frames held until the worker's REQ_SEQ moves past `seq`. */
  private deferred: Array<{ pfn: number; seq: number }> = [];
  /** Frames invalidated while a worker ran whose last reference was already gone (see README). */
  unprotected = 0;
  shootdowns = 0;

  constructor(
    private readonly mem: PhysMemory,
    private readonly channel: Int32Array,
    tlb: SharedArrayBuffer,
    n: number,
  ) {
    this.v = views(tlb, n);
    for (const [k, bank] of mem.ramBanks.entries()) this.ramBankIndex.set(bank, k);
  }

  flushAll(): void {
    this.begin();
    for (let i = 0; i < this.v.n; i++) this.drop(i);
  }

  flushRange(start: number, end: number): void {
    const first = Math.floor(start / 4096);
    const last = Math.ceil(end / 4096);
    if (last - first >= this.v.n) {
      this.flushAll();
      return;
    }
    this.begin();
    const mask = this.v.n - 1;
    for (let vpn = first; vpn < last; vpn++) {
      const i = vpn & mask;
      const page = vpn * 4096;
      if (tlbTagPage(this.v.rTag[i]!) === page || tlbTagPage(this.v.wTag[i]!) === page) this.drop(i);
    }
  }

  private running = false;
  private begin(): void {
    this.shootdowns++;
    Atomics.add(this.channel, TLB_GEN, 1);
    this.running = Atomics.load(this.channel, STATE) === STATE_RUNNING;
  }

  private drop(i: number): void {
    const valid = !Number.isNaN(this.v.rTag[i]!) || !Number.isNaN(this.v.wTag[i]!);
    this.v.rTag[i] = Number.NaN;
    this.v.wTag[i] = Number.NaN;
    if (!valid || !this.running) return;
    const k = this.ramBankIndex.get(this.v.tBank[i]!);
    if (k === undefined) return; // device memory: no struct page, never reallocated
    const pfn = this.pfnOfFrame(k * FRAMES_PER_BANK + this.v.tBase[i]! / 4096);
    if (pfn < 0) return;
    if (Atomics.load(this.mem.refcount, pfn) > 0) {
      this.mem.getPage(pfn);
      this.deferred.push({ pfn, seq: Atomics.load(this.channel, REQ_SEQ) });
    } else this.unprotected++;
  }

  private pfnOfFrame(frame: number): number {
    for (const r of this.mem.ramRanges) {
      const n = (r.end - r.start) / 4096;
      if (frame >= r.firstFrame && frame < r.firstFrame + n) return r.start / 4096 + frame - r.firstFrame;
    }
    return -1;
  }

  /** Called when the worker enters the kernel (or is gone): drops what it can no longer be touching. */
  quiesce(gone = false): void {
    if (!this.deferred.length) return;
    const seq = Atomics.load(this.channel, REQ_SEQ);
    const keep: Array<{ pfn: number; seq: number }> = [];
    for (const d of this.deferred) {
      if (gone || d.seq !== seq) this.mem.putPage(d.pfn);
      else keep.push(d);
    }
    this.deferred = keep;
  }

  get deferredFrames(): number {
    return this.deferred.length;
  }
}
