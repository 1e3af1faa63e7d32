/**
 * Device RAM in a machine snapshot: only its touched pages. A device model's `saveState()` hands
 * its whole RAM over (a framebuffer's VRAM, an adapter's memory); the snapshot keeps the pages whose
 * bytes are not all zero, as physical memory keeps only touched frames, and rebuilds the whole RAM
 * (zeros elsewhere) before the model's `loadState()` sees it.
 */
const PAGE = 4096;

/** Device RAM as saved: its length, the indices of its non-zero pages, and their bytes in that order. */
export interface SparseRam {
  readonly len: number;
  readonly pages: readonly number[];
  readonly data: Uint8Array;
}

const isZero = (b: Uint8Array): boolean => {
  // Eight bytes at a time where the page is aligned (it always is: offsets are page multiples).
  if (b.byteOffset % 8 === 0 && b.length % 8 === 0) {
    const w = new BigUint64Array(b.buffer, b.byteOffset, b.length / 8);
    for (let i = 0; i < w.length; i++) if (w[i] !== 0n) return false;
    return true;
  }
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
};

/** The non-zero pages of `ram` (a last partial page counts as a page). */
export function sparseRam(ram: Uint8Array): SparseRam {
  const pages: number[] = [];
  for (let off = 0; off < ram.length; off += PAGE)
    if (!isZero(ram.subarray(off, Math.min(off + PAGE, ram.length)))) pages.push(off / PAGE);
  const data = new Uint8Array(pages.reduce((n, p) => n + Math.min(PAGE, ram.length - p * PAGE), 0));
  let at = 0;
  for (const p of pages) {
    const page = ram.subarray(p * PAGE, Math.min((p + 1) * PAGE, ram.length));
    data.set(page, at);
    at += page.length;
  }
  return { len: ram.length, pages, data };
}

/**
 * The whole RAM of a saved `SparseRam`, checked: pages ascending and inside the RAM, the data exactly
 * as long as they are. Throws an Error naming what is wrong.
 */
export function denseRam(s: unknown, what: string): Uint8Array {
  const r = s as Partial<SparseRam> | null;
  const len = r?.len;
  if (typeof len !== "number" || !Number.isSafeInteger(len) || len < 0 || len > 2 ** 32)
    throw new Error(`${what}: RAM length ${String(len)} is not a size`);
  if (!Array.isArray(r!.pages) || !(r!.data instanceof Uint8Array))
    throw new Error(`${what}: RAM pages: expected a list and bytes`);
  const out = new Uint8Array(len);
  let at = 0;
  let last = -1;
  for (const p of r!.pages) {
    if (!Number.isInteger(p) || p <= last || p * PAGE >= len)
      throw new Error(`${what}: RAM page ${String(p)} out of order or past the RAM's ${len} bytes`);
    last = p;
    const n = Math.min(PAGE, len - p * PAGE);
    if (at + n > r!.data.length) throw new Error(`${what}: RAM data shorter than its pages`);
    out.set(r!.data.subarray(at, at + n), p * PAGE);
    at += n;
  }
  if (at !== r!.data.length) throw new Error(`${what}: RAM data longer than its pages`);
  return out;
}
