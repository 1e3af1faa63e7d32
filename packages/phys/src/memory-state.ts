/**
 * Physical memory's part of a machine snapshot: the allocator's control block (free-list heads and
 * counters, the never-touched ranges, the quarantine count), the memmap (every struct page's refcount,
 * mapcount, flags, order and free-list links) and the bytes of RAM. Only what was touched is stored:
 * memmap chunks that are not all zero, and RAM frames outside the never-touched ranges whose bytes are
 * not all zero, so a 64 GiB machine that used a few MiB saves a few MiB. Typed arrays are stored as
 * their little-endian bytes.
 *
 * Restoring writes onto a freshly booted PhysMemory of the same size: frames and chunks the snapshot
 * does not have are zeroed where they are not zero already (never writing to untouched memory, so the
 * host commits nothing more than the snapshot holds). Every index and length is checked first, so a
 * hostile state throws a PhysError and leaves the memory unchanged; whether the content is consistent
 * (free lists, counters) is then PhysMemory.checkInvariants()'s to say.
 */
import { PAGE_SIZE } from "./constants";
import { PhysError } from "./errors";

/** Memmap entries per stored chunk. */
export const MEMMAP_CHUNK = 1024;

/** One memmap array (refcount, mapcount, flags, order, next, prev), chunks that are not all zero. */
export interface MemmapArrayState {
  /** Chunk numbers (entry index / MEMMAP_CHUNK), ascending. */
  readonly chunks: readonly number[];
  /** Their entries, MEMMAP_CHUNK Int32 each (the last chunk may be shorter), little-endian. */
  readonly data: Uint8Array;
}

/** PhysMemory's saved state (PhysMemory.saveState). */
export interface PhysMemoryState {
  readonly ramBytes: number;
  readonly maxPfn: number;
  readonly zeroPfn: number;
  /** The allocator's control block, Int32 little-endian (its lock word saved as free). */
  readonly ctl: Uint8Array;
  /** refcount, mapcount, flags, order, next, prev. */
  readonly memmap: readonly MemmapArrayState[];
  /** RAM frames stored: runs [first pfn, count, first pfn, count, …]. */
  readonly frameRuns: readonly number[];
  /** Their bytes, PAGE_SIZE per frame in run order. */
  readonly frames: Uint8Array;
}

/** What memory-state needs of a PhysMemory (its arrays and frame access). */
export interface MemoryStateTarget {
  readonly ramBytes: number;
  readonly maxPfn: number;
  readonly zeroPfn: number;
  readonly memmapArrays: readonly Int32Array[];
  readonly ctl: Int32Array;
  /** The RAM pfns outside the never-touched ranges, in ascending order. */
  touchedRamPfns(): Iterable<number>;
  isRam(pfn: number): boolean;
  frameBytes(pfn: number): Uint8Array;
}

const bytesOf = (a: Int32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice();

function isZero(a: Int32Array | Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (a[i] !== 0) return false;
  return true;
}

/** A frame's bytes are all zero (read as 32-bit words). */
function frameIsZero(bytes: Uint8Array): boolean {
  const w = new Int32Array(bytes.buffer, bytes.byteOffset, PAGE_SIZE / 4);
  return isZero(w, 0, w.length);
}

export function saveMemoryState(m: MemoryStateTarget): PhysMemoryState {
  const ctl = bytesOf(m.ctl);
  new DataView(ctl.buffer).setInt32(0, 0, true); // B_LOCK: saved as free
  const memmap = m.memmapArrays.map((a): MemmapArrayState => {
    const chunks: number[] = [];
    const parts: Uint8Array[] = [];
    for (let c = 0; c * MEMMAP_CHUNK < a.length; c++) {
      const s = c * MEMMAP_CHUNK;
      const e = Math.min(a.length, s + MEMMAP_CHUNK);
      if (isZero(a, s, e)) continue;
      chunks.push(c);
      parts.push(bytesOf(a.subarray(s, e)));
    }
    return { chunks, data: concat(parts) };
  });
  const frameRuns: number[] = [];
  const frames: Uint8Array[] = [];
  for (const pfn of m.touchedRamPfns()) {
    const bytes = m.frameBytes(pfn);
    if (frameIsZero(bytes)) continue;
    const n = frameRuns.length;
    if (n && frameRuns[n - 2]! + frameRuns[n - 1]! === pfn) frameRuns[n - 1]!++;
    else frameRuns.push(pfn, 1);
    frames.push(bytes.slice());
  }
  return {
    ramBytes: m.ramBytes,
    maxPfn: m.maxPfn,
    zeroPfn: m.zeroPfn,
    ctl,
    memmap,
    frameRuns,
    frames: concat(frames),
  };
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

const fail = (msg: string): never => {
  throw new PhysError("ESNAPSHOT", `physical memory snapshot: ${msg}`);
};

const isIndex = (v: unknown, limit: number): v is number =>
  typeof v === "number" && Number.isInteger(v) && v >= 0 && v < limit;

/** Checks every index and length of `s` against `m`; throws PhysError naming the first problem. */
export function checkMemoryState(m: MemoryStateTarget, s: unknown): asserts s is PhysMemoryState {
  if (typeof s !== "object" || s === null) fail("not a map");
  const st = s as Record<string, unknown>;
  if (st.ramBytes !== m.ramBytes) fail(`ramBytes ${String(st.ramBytes)}, this machine has ${m.ramBytes}`);
  if (st.maxPfn !== m.maxPfn) fail(`maxPfn ${String(st.maxPfn)}, this machine has ${m.maxPfn}`);
  if (st.zeroPfn !== m.zeroPfn)
    fail(`zero page at pfn ${String(st.zeroPfn)}, this machine boots it at ${m.zeroPfn}`);
  if (!(st.ctl instanceof Uint8Array) || st.ctl.length !== m.ctl.byteLength)
    fail(`the allocator block must be ${m.ctl.byteLength} bytes`);
  if (!Array.isArray(st.memmap) || st.memmap.length !== m.memmapArrays.length)
    fail(`memmap must have ${m.memmapArrays.length} arrays`);
  (st.memmap as unknown[]).forEach((a, i) => {
    const arr = m.memmapArrays[i]!;
    const nChunks = Math.ceil(arr.length / MEMMAP_CHUNK);
    if (typeof a !== "object" || a === null) fail(`memmap[${i}] is not a map`);
    const { chunks, data } = a as Record<string, unknown>;
    if (!Array.isArray(chunks) || !(data instanceof Uint8Array)) fail(`memmap[${i}] needs chunks and data`);
    let bytes = 0;
    let last = -1;
    for (const c of chunks as unknown[]) {
      if (!isIndex(c, nChunks) || c <= last) fail(`memmap[${i}]: chunk ${String(c)} out of order or range`);
      last = c as number;
      bytes += (Math.min(arr.length, (last + 1) * MEMMAP_CHUNK) - last * MEMMAP_CHUNK) * 4;
    }
    if ((data as Uint8Array).length !== bytes)
      fail(`memmap[${i}]: ${(data as Uint8Array).length} bytes of data for chunks needing ${bytes}`);
  });
  const runs = st.frameRuns;
  if (!Array.isArray(runs) || runs.length % 2) fail("frameRuns must be pairs of numbers");
  let count = 0;
  let last = -1;
  for (let i = 0; i < (runs as unknown[]).length; i += 2) {
    const start = (runs as unknown[])[i];
    const n = (runs as unknown[])[i + 1];
    if (!isIndex(start, m.maxPfn) || start <= last)
      fail(`frame run at ${String(start)} out of order or range`);
    if (!isIndex(n, m.maxPfn + 1) || n === 0 || (start as number) + (n as number) > m.maxPfn)
      fail(`frame run at ${String(start)}: bad length ${String(n)}`);
    for (let p = start as number; p < (start as number) + (n as number); p++)
      if (!m.isRam(p)) fail(`frame ${p.toString(16)} is not System RAM`);
    last = (start as number) + (n as number) - 1;
    count += n as number;
  }
  if (!(st.frames instanceof Uint8Array) || st.frames.length !== count * PAGE_SIZE)
    fail(`frames: ${count} frames need ${count * PAGE_SIZE} bytes`);
}

/** Writes `s` (checked with checkMemoryState first) onto freshly booted memory `m`. */
export function restoreMemoryState(m: MemoryStateTarget, s: unknown): void {
  checkMemoryState(m, s);
  // RAM: frames written since boot (by the kernel and drivers of the machine being restored onto) go.
  for (const pfn of m.touchedRamPfns()) {
    const b = m.frameBytes(pfn);
    if (!frameIsZero(b)) b.fill(0);
  }
  let off = 0;
  for (let i = 0; i < s.frameRuns.length; i += 2) {
    const start = s.frameRuns[i]!;
    for (let p = start; p < start + s.frameRuns[i + 1]!; p++) {
      m.frameBytes(p).set(s.frames.subarray(off, off + PAGE_SIZE));
      off += PAGE_SIZE;
    }
  }
  s.memmap.forEach((a, i) => {
    const arr = m.memmapArrays[i]!;
    const stored = new Set(a.chunks);
    for (let c = 0; c * MEMMAP_CHUNK < arr.length; c++) {
      const st = c * MEMMAP_CHUNK;
      const e = Math.min(arr.length, st + MEMMAP_CHUNK);
      if (!stored.has(c) && !isZero(arr, st, e)) arr.fill(0, st, e);
    }
    let at = 0;
    for (const c of a.chunks) {
      const st = c * MEMMAP_CHUNK;
      const e = Math.min(arr.length, st + MEMMAP_CHUNK);
      const bytes = (e - st) * 4;
      const view = new DataView(a.data.buffer, a.data.byteOffset + at, bytes);
      for (let j = 0; j < e - st; j++) arr[st + j] = view.getInt32(j * 4, true);
      at += bytes;
    }
  });
  const ctl = new DataView(s.ctl.buffer, s.ctl.byteOffset, s.ctl.byteLength);
  for (let j = 0; j < m.ctl.length; j++) m.ctl[j] = ctl.getInt32(j * 4, true);
}
