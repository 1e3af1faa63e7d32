// An ordered set of disjoint half-open intervals [vmStart, vmEnd): the role the maple tree plays in
// mm_struct. An AVL tree keyed by vmStart whose nodes are augmented, as the kernel augments its tree,
// with the largest gap between consecutive elements inside their subtree, so that
// unmapped_area()/unmapped_area_topdown() style searches run in O(log n).
//
// Addresses go up to 2^47 and beyond 2^32, so everything here is plain double arithmetic: no 32-bit
// bit operations on addresses anywhere.
//
// Over 500 lines on purpose: one data structure whose rotations, augmentation and gap searches share
// invariants; split apart, each half would be unreadable without the other.

/** The shape an element must have: a non-empty half-open range [vmStart, vmEnd). */
export interface VmaRange {
  vmStart: number;
  vmEnd: number;
}

class Node<T> {
  left: Node<T> | null = null;
  right: Node<T> | null = null;
  height = 1;
  /** vmStart of the first element in this subtree. */
  firstStart: number;
  /** vmEnd of the last element in this subtree. */
  lastEnd: number;
  /** Largest gap between two consecutive elements of this subtree (0 when it has none). */
  maxGap = 0;
  /** Copies of value.vmStart / value.vmEnd, so the tree's order does not depend on caller writes. */
  start: number;
  end: number;
  value: T;

  constructor(value: T, start: number, end: number) {
    this.value = value;
    this.start = start;
    this.end = end;
    this.firstStart = start;
    this.lastEnd = end;
  }
}

function heightOf<T>(n: Node<T> | null): number {
  return n === null ? 0 : n.height;
}

/** Recomputes height and augmentation of `n` from its children. */
function pull<T>(n: Node<T>): void {
  const l = n.left;
  const r = n.right;
  let h = 0;
  let gap = 0;
  if (l !== null) {
    h = l.height;
    n.firstStart = l.firstStart;
    gap = l.maxGap;
    const g = n.start - l.lastEnd;
    if (g > gap) gap = g;
  } else {
    n.firstStart = n.start;
  }
  if (r !== null) {
    if (r.height > h) h = r.height;
    n.lastEnd = r.lastEnd;
    if (r.maxGap > gap) gap = r.maxGap;
    const g = r.firstStart - n.end;
    if (g > gap) gap = g;
  } else {
    n.lastEnd = n.end;
  }
  n.height = h + 1;
  n.maxGap = gap;
}

function rotateRight<T>(n: Node<T>): Node<T> {
  const l = n.left!;
  n.left = l.right;
  l.right = n;
  pull(n);
  pull(l);
  return l;
}

function rotateLeft<T>(n: Node<T>): Node<T> {
  const r = n.right!;
  n.right = r.left;
  r.left = n;
  pull(n);
  pull(r);
  return r;
}

/** Re-augments `n` and restores the AVL balance at it; returns the new subtree root. */
function rebalance<T>(n: Node<T>): Node<T> {
  const bf = heightOf(n.left) - heightOf(n.right);
  if (bf > 1) {
    const l = n.left!;
    if (heightOf(l.left) < heightOf(l.right)) n.left = rotateLeft(l);
    return rotateRight(n);
  }
  if (bf < -1) {
    const r = n.right!;
    if (heightOf(r.right) < heightOf(r.left)) n.right = rotateRight(r);
    return rotateLeft(n);
  }
  pull(n);
  return n;
}

function insertNode<T>(n: Node<T> | null, nn: Node<T>): Node<T> {
  if (n === null) return nn;
  if (nn.start < n.start) n.left = insertNode(n.left, nn);
  else n.right = insertNode(n.right, nn);
  return rebalance(n);
}

function removeMin<T>(n: Node<T>): Node<T> | null {
  if (n.left === null) return n.right;
  n.left = removeMin(n.left);
  return rebalance(n);
}

/** Removes the node whose start is `start` (it must exist). */
function removeNode<T>(n: Node<T>, start: number): Node<T> | null {
  if (start < n.start) n.left = removeNode(n.left!, start);
  else if (start > n.start) n.right = removeNode(n.right!, start);
  else {
    if (n.left === null) return n.right;
    if (n.right === null) return n.left;
    let m = n.right;
    while (m.left !== null) m = m.left;
    n.value = m.value;
    n.start = m.start;
    n.end = m.end;
    n.right = removeMin(n.right);
  }
  return rebalance(n);
}

/** Re-augments every node on the search path to the node whose start is `start`. */
function repullPath<T>(n: Node<T> | null, start: number): void {
  if (n === null) return;
  if (start < n.start) repullPath(n.left, start);
  else if (start > n.start) repullPath(n.right, start);
  pull(n);
}

/** Non-negative remainder of x modulo m (m > 0), exact for doubles. */
function mod(x: number, m: number): number {
  const r = x % m;
  return r < 0 ? r + m : r;
}

/**
 * Ordered set of disjoint elements, each occupying [vmStart, vmEnd) (end exclusive).
 *
 * Elements are kept by identity. Their vmStart/vmEnd must not be written while they are in the
 * tree except through {@link VmaTree.updateBounds}. Iterators re-locate their position after every
 * element, so the tree may be modified while iterating (each step costs O(log n)).
 */
export class VmaTree<T extends { vmStart: number; vmEnd: number }> {
  private root: Node<T> | null = null;
  private count = 0;

  // Parameters of the gap search in progress (fields rather than closures: no allocation).
  private gLen = 0;
  private gLow = 0;
  private gHigh = 0;
  private gAlign = 1;
  private gOffset = 0;

  /** Number of elements. */
  get size(): number {
    return this.count;
  }

  /** Height of the tree (0 when empty): at most 1.44·log2(size + 2), the AVL bound. */
  get height(): number {
    return heightOf(this.root);
  }

  /** Removes every element. */
  clear(): void {
    this.root = null;
    this.count = 0;
  }

  /** Adds `v`. Throws if `v` is empty (vmStart >= vmEnd) or overlaps an element already present. */
  insert(v: T): void {
    const start = v.vmStart;
    const end = v.vmEnd;
    if (!(start < end)) throw new RangeError(`VmaTree.insert: empty or invalid range [${start}, ${end})`);
    const hit = this.findNode(start);
    if (hit !== null && hit.start < end) {
      throw new Error(
        `VmaTree.insert: [${hex(start)}, ${hex(end)}) overlaps [${hex(hit.start)}, ${hex(hit.end)})`,
      );
    }
    this.root = insertNode(this.root, new Node(v, start, end));
    this.count++;
  }

  /** Removes `v` (by identity). Returns false if `v` is not in the tree. */
  remove(v: T): boolean {
    const n = this.nodeAtStart(v.vmStart);
    if (n === null || n.value !== v) return false;
    this.root = removeNode(this.root!, n.start);
    this.count--;
    return true;
  }

  /** True if `v` (by identity) is in the tree. */
  has(v: T): boolean {
    const n = this.nodeAtStart(v.vmStart);
    return n !== null && n.value === v;
  }

  /** The kernel's find_vma(): the first element with vmEnd > addr, or undefined. */
  find(addr: number): T | undefined {
    const n = this.findNode(addr);
    return n === null ? undefined : n.value;
  }

  /** The element with vmStart <= addr < vmEnd, or undefined. */
  findContaining(addr: number): T | undefined {
    const n = this.findNode(addr);
    return n !== null && n.start <= addr ? n.value : undefined;
  }

  /** The element just before `v`, or undefined if `v` is first. Throws if `v` is not in the tree. */
  prev(v: T): T | undefined {
    const key = v.vmStart;
    let n = this.root;
    let cand: Node<T> | null = null;
    while (n !== null) {
      if (key < n.start) n = n.left;
      else if (key > n.start) {
        cand = n;
        n = n.right;
      } else {
        if (n.value !== v) break;
        let m = n.left;
        if (m === null) return cand === null ? undefined : cand.value;
        while (m.right !== null) m = m.right;
        return m.value;
      }
    }
    throw new Error("VmaTree.prev: element is not in the tree");
  }

  /** The element just after `v`, or undefined if `v` is last. Throws if `v` is not in the tree. */
  next(v: T): T | undefined {
    const key = v.vmStart;
    let n = this.root;
    let cand: Node<T> | null = null;
    while (n !== null) {
      if (key < n.start) {
        cand = n;
        n = n.left;
      } else if (key > n.start) n = n.right;
      else {
        if (n.value !== v) break;
        let m = n.right;
        if (m === null) return cand === null ? undefined : cand.value;
        while (m.left !== null) m = m.left;
        return m.value;
      }
    }
    throw new Error("VmaTree.next: element is not in the tree");
  }

  /** The lowest element, or undefined when empty. */
  first(): T | undefined {
    let n = this.root;
    if (n === null) return undefined;
    while (n.left !== null) n = n.left;
    return n.value;
  }

  /** The highest element, or undefined when empty. */
  last(): T | undefined {
    let n = this.root;
    if (n === null) return undefined;
    while (n.right !== null) n = n.right;
    return n.value;
  }

  /** All elements in address order. */
  [Symbol.iterator](): Generator<T, void, undefined> {
    return this.from(Number.NEGATIVE_INFINITY);
  }

  /** Elements with vmEnd > addr in address order (starting with find(addr)). */
  *from(addr: number): Generator<T, void, undefined> {
    let n = this.findNode(addr);
    while (n !== null) {
      const end = n.end;
      yield n.value;
      n = this.ceilStart(end);
    }
  }

  /** Elements overlapping [start, end) in address order; nothing when start >= end. */
  *intersecting(start: number, end: number): Generator<T, void, undefined> {
    if (!(start < end)) return;
    let n = this.findNode(start);
    while (n !== null && n.start < end) {
      const e = n.end;
      yield n.value;
      n = this.ceilStart(e);
    }
  }

  /**
   * Changes `v`'s bounds in place (writes v.vmStart/v.vmEnd) for a merge, split or resize, and
   * re-augments. The new range must be non-empty and must not overlap `v`'s neighbours (so the
   * order is unchanged); otherwise throws and leaves everything untouched. Throws if `v` is not in
   * the tree.
   */
  updateBounds(v: T, newStart: number, newEnd: number): void {
    if (!(newStart < newEnd)) {
      throw new RangeError(`VmaTree.updateBounds: empty or invalid range [${newStart}, ${newEnd})`);
    }
    const oldStart = v.vmStart;
    let n = this.root;
    let before: Node<T> | null = null;
    let after: Node<T> | null = null;
    while (n !== null && n.start !== oldStart) {
      if (oldStart < n.start) {
        after = n;
        n = n.left;
      } else {
        before = n;
        n = n.right;
      }
    }
    if (n === null || n.value !== v) throw new Error("VmaTree.updateBounds: element is not in the tree");
    if (n.left !== null) {
      before = n.left;
      while (before.right !== null) before = before.right;
    }
    if (n.right !== null) {
      after = n.right;
      while (after.left !== null) after = after.left;
    }
    if ((before !== null && newStart < before.end) || (after !== null && newEnd > after.start)) {
      throw new Error(
        `VmaTree.updateBounds: [${hex(newStart)}, ${hex(newEnd)}) would overlap a neighbour of [${hex(n.start)}, ${hex(n.end)})`,
      );
    }
    n.start = newStart;
    n.end = newEnd;
    v.vmStart = newStart;
    v.vmEnd = newEnd;
    repullPath(this.root, newStart);
  }

  /**
   * unmapped_area_topdown(): the HIGHEST address `a` such that low <= a, a + len <= high,
   * [a, a + len) overlaps no element, and (a - alignOffset) is a multiple of alignMask + 1 (the
   * kernel's `(a - align_offset) & align_mask == 0`, computed with arithmetic). Returns -1 if there
   * is none. The space below the first element and above the last one count as gaps (bounded only by
   * low and high).
   *
   * O(log n) when alignMask is 0 (and whenever every gap big enough for len is big enough for
   * len + alignMask); otherwise each higher gap that is large enough but cannot hold an aligned
   * range adds O(log n).
   */
  findGapTopDown(len: number, low: number, high: number, alignMask = 0, alignOffset = 0): number {
    this.setupGap("findGapTopDown", len, low, high, alignMask, alignOffset);
    const root = this.root;
    if (root === null) return this.fitTop(Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY);
    const a = this.fitTop(root.lastEnd, Number.POSITIVE_INFINITY);
    if (a >= 0) return a;
    return this.searchTop(root, Number.NEGATIVE_INFINITY);
  }

  /**
   * unmapped_area(): the LOWEST address satisfying the same conditions as
   * {@link VmaTree.findGapTopDown}, or -1 if there is none.
   */
  findGapBottomUp(len: number, low: number, high: number, alignMask = 0, alignOffset = 0): number {
    this.setupGap("findGapBottomUp", len, low, high, alignMask, alignOffset);
    const root = this.root;
    if (root === null) return this.fitBottom(Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY);
    const a = this.searchBottom(root, Number.NEGATIVE_INFINITY);
    if (a >= 0) return a;
    return this.fitBottom(root.lastEnd, Number.POSITIVE_INFINITY);
  }

  /**
   * Verifies ordering and disjointness, that no element's bounds were written behind the tree's back,
   * the AVL balance and heights, the augmentation (first/last bounds, max gap) and the size.
   * Throws an Error describing the first violation.
   */
  checkInvariants(): void {
    let seen = 0;
    let prevEnd = Number.NEGATIVE_INFINITY;
    const visit = (n: Node<T> | null): void => {
      if (n === null) return;
      visit(n.left);
      if (n.value.vmStart !== n.start || n.value.vmEnd !== n.end) {
        throw new Error(`VmaTree: element bounds changed outside updateBounds at ${hex(n.start)}`);
      }
      if (!(n.start < n.end)) throw new Error(`VmaTree: empty element at ${hex(n.start)}`);
      if (n.start < prevEnd) throw new Error(`VmaTree: order/overlap violated at ${hex(n.start)}`);
      prevEnd = n.end;
      seen++;
      visit(n.right);
      const hl = heightOf(n.left);
      const hr = heightOf(n.right);
      if (Math.abs(hl - hr) > 1) throw new Error(`VmaTree: unbalanced at ${hex(n.start)}`);
      if (n.height !== Math.max(hl, hr) + 1) throw new Error(`VmaTree: wrong height at ${hex(n.start)}`);
      const firstStart = n.left === null ? n.start : n.left.firstStart;
      const lastEnd = n.right === null ? n.end : n.right.lastEnd;
      let gap = 0;
      if (n.left !== null) gap = Math.max(n.left.maxGap, n.start - n.left.lastEnd);
      if (n.right !== null) gap = Math.max(gap, n.right.maxGap, n.right.firstStart - n.end);
      if (n.firstStart !== firstStart || n.lastEnd !== lastEnd || n.maxGap !== gap) {
        throw new Error(`VmaTree: stale augmentation at ${hex(n.start)}`);
      }
    };
    visit(this.root);
    if (seen !== this.count) throw new Error(`VmaTree: size ${this.count} but ${seen} elements`);
  }

  // ---- internals ------------------------------------------------------------------------------

  /** First node with end > addr. */
  private findNode(addr: number): Node<T> | null {
    let n = this.root;
    let cand: Node<T> | null = null;
    while (n !== null) {
      if (n.end > addr) {
        cand = n;
        n = n.left;
      } else n = n.right;
    }
    return cand;
  }

  /** First node with start >= key. */
  private ceilStart(key: number): Node<T> | null {
    let n = this.root;
    let cand: Node<T> | null = null;
    while (n !== null) {
      if (n.start >= key) {
        cand = n;
        n = n.left;
      } else n = n.right;
    }
    return cand;
  }

  private nodeAtStart(start: number): Node<T> | null {
    let n = this.root;
    while (n !== null) {
      if (start < n.start) n = n.left;
      else if (start > n.start) n = n.right;
      else return n;
    }
    return null;
  }

  private setupGap(
    fn: string,
    len: number,
    low: number,
    high: number,
    alignMask: number,
    alignOffset: number,
  ): void {
    if (!(len > 0) || !Number.isFinite(len)) throw new RangeError(`VmaTree.${fn}: bad length ${len}`);
    if (!Number.isFinite(low) || !Number.isFinite(high) || low < 0) {
      throw new RangeError(`VmaTree.${fn}: bad limits [${low}, ${high})`);
    }
    if (!Number.isInteger(alignMask) || alignMask < 0) {
      throw new RangeError(`VmaTree.${fn}: bad align mask ${alignMask}`);
    }
    if (!Number.isFinite(alignOffset)) throw new RangeError(`VmaTree.${fn}: bad align offset ${alignOffset}`);
    this.gLen = len;
    this.gLow = low;
    this.gHigh = high;
    this.gAlign = alignMask + 1;
    this.gOffset = alignOffset;
  }

  /** Highest aligned fit in the free range [s, t) clipped to the limits, or -1. */
  private fitTop(s: number, t: number): number {
    if (s < this.gLow) s = this.gLow;
    if (t > this.gHigh) t = this.gHigh;
    const len = this.gLen;
    if (t - s < len) return -1;
    const x = t - len;
    const a = x - mod(x - this.gOffset, this.gAlign);
    return a >= s ? a : -1;
  }

  /** Lowest aligned fit in the free range [s, t) clipped to the limits, or -1. */
  private fitBottom(s: number, t: number): number {
    if (s < this.gLow) s = this.gLow;
    if (t > this.gHigh) t = this.gHigh;
    const len = this.gLen;
    if (t - s < len) return -1;
    const a = s + mod(this.gOffset - s, this.gAlign);
    return a + len <= t ? a : -1;
  }

  /**
   * Can the gaps of subtree `n` hold `len`? Its gaps are the one from `prevEnd` (end of the element
   * before the subtree) to its first element plus its internal gaps, all inside [prevEnd, n.lastEnd).
   */
  private mayFit(n: Node<T>, prevEnd: number): boolean {
    const len = this.gLen;
    const lo = Math.max(prevEnd, this.gLow);
    const hi = Math.min(n.lastEnd, this.gHigh);
    if (hi - lo < len) return false;
    return n.maxGap >= len || n.firstStart - prevEnd >= len;
  }

  private searchTop(n: Node<T>, prevEnd: number): number {
    if (!this.mayFit(n, prevEnd)) return -1;
    if (n.right !== null) {
      const a = this.searchTop(n.right, n.end);
      if (a >= 0) return a;
    }
    const a = this.fitTop(n.left === null ? prevEnd : n.left.lastEnd, n.start);
    if (a >= 0) return a;
    return n.left === null ? -1 : this.searchTop(n.left, prevEnd);
  }

  private searchBottom(n: Node<T>, prevEnd: number): number {
    if (!this.mayFit(n, prevEnd)) return -1;
    if (n.left !== null) {
      const a = this.searchBottom(n.left, prevEnd);
      if (a >= 0) return a;
    }
    const a = this.fitBottom(n.left === null ? prevEnd : n.left.lastEnd, n.start);
    if (a >= 0) return a;
    return n.right === null ? -1 : this.searchBottom(n.right, n.end);
  }
}

function hex(x: number): string {
  return Number.isFinite(x) && x >= 0 ? `0x${x.toString(16)}` : String(x);
}
