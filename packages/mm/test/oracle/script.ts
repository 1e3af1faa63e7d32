// Differential-test scripts: memory-management operations at fixed addresses inside an arena.
//
// Text format (one op per line, read by oracle.c on stdin; numbers are 0x-hex or decimal,
// '#' starts a comment, leading blanks are ignored):
//
//   arena <base> <size>                               header, always first
//   mmap <addr> <len> <prot> <flags> [<offset>]       anonymous only (fd = -1)
//   munmap <addr> <len>
//   mremap <old> <oldlen> <newlen> <flags> [<new>]
//   mprotect <addr> <len> <prot>
//   madvise <addr> <len> <advice>
//   load8|load16|load32|load64 <addr>
//   store8|store16|store32|store64 <addr> <value>
//   maps
//   rss                                               Rss and Anonymous kB of the arena (smaps)
//   pkey_alloc <flags> <init>                         pkey_alloc(2): the key in hex or -errno
//   pkey_free <pkey>
//   pkey_mprotect <addr> <len> <prot> <pkey>          pkey as a 64-bit value: -1 is 0xffffffffffffffff
//   pkey_get <key>                                    glibc pkey_get(3); -ENOSYS without PKU
//   pkey_set <key> <rights>                           glibc pkey_set(3) (WRPKRU); -ENOSYS without PKU
//   mlock <addr> <len>                                mlock(2)
//   munlock <addr> <len>                              munlock(2)
//   memfd <size>                                      memfd_create + ftruncate: the file's slot (0, 1, …)
//   mmapfd <addr> <len> <prot> <flags> <slot> <off>   mmap of a memfd slot
//   ftruncate <slot> <size>, fallocate <slot> <mode> <off> <len>, seal <slot> <seals>, close <slot>
//   pwrite <slot> <off> <byte> <len>                  len copies of byte: the count
//   pread <slot> <off>                                up to 8 bytes: "read 0x<count> 0x<value>"
//   fork                                              child runs the ops up to the matching
//     <ops...>                                        'end', then exits
//   end
//
// All numeric values use their Linux x86-64 encodings (constants below).

export const PAGE_SIZE = 0x1000n;

/** The arena every script lives in: far away from anything libc or the loader maps. */
export interface Arena {
  readonly base: bigint;
  readonly size: bigint;
}
export const ARENA: Arena = { base: 0x1000_0000_0000n, size: 0x40_0000n };
/** x86-64 4-level paging: addresses at or above this are never user-mappable. */
export const USER_TOP = 1n << 47n;
/** The kernel's TASK_SIZE on x86-64 (4-level paging). */
export const TASK_SIZE = 0x7fff_ffff_f000n;

export const PROT_NONE = 0x0;
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const PROT_EXEC = 0x4;
export const PROT_SEM = 0x8;
export const PROT_GROWSDOWN = 0x0100_0000;
export const PROT_GROWSUP = 0x0200_0000;

export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_SHARED_VALIDATE = 0x03;
export const MAP_TYPE = 0x0f;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;
export const MAP_32BIT = 0x40;
export const MAP_GROWSDOWN = 0x100;
export const MAP_DENYWRITE = 0x800;
export const MAP_EXECUTABLE = 0x1000;
export const MAP_LOCKED = 0x2000;
export const MAP_NORESERVE = 0x4000;
export const MAP_POPULATE = 0x8000;
export const MAP_NONBLOCK = 0x10000;
export const MAP_STACK = 0x20000;
export const MAP_HUGETLB = 0x40000;
export const MAP_SYNC = 0x80000;
export const MAP_FIXED_NOREPLACE = 0x100000;
export const MAP_UNINITIALIZED = 0x4000000;

export const MREMAP_MAYMOVE = 1;
export const MREMAP_FIXED = 2;
export const MREMAP_DONTUNMAP = 4;

export const MADV_NORMAL = 0;
export const MADV_RANDOM = 1;
export const MADV_SEQUENTIAL = 2;
export const MADV_WILLNEED = 3;
export const MADV_DONTNEED = 4;
export const MADV_FREE = 8;
export const MADV_REMOVE = 9;
export const MADV_DONTFORK = 10;
export const MADV_DOFORK = 11;
export const MADV_WIPEONFORK = 18;
export const MADV_KEEPONFORK = 19;
/** Not an advice value on any Linux version so far: always EINVAL. */
export const MADV_BAD = 999;

/** Shorthands for the two anonymous mapping kinds. */
export const PRIVATE_ANON = MAP_PRIVATE | MAP_ANONYMOUS;
export const SHARED_ANON = MAP_SHARED | MAP_ANONYMOUS;

export type Width = 8 | 16 | 32 | 64;

export type Op =
  | {
      readonly kind: "mmap";
      readonly addr: bigint;
      readonly len: bigint;
      readonly prot: number;
      readonly flags: number;
      readonly offset?: bigint;
    }
  | { readonly kind: "munmap"; readonly addr: bigint; readonly len: bigint }
  | {
      readonly kind: "mremap";
      readonly old: bigint;
      readonly oldLen: bigint;
      readonly newLen: bigint;
      readonly flags: number;
      readonly newAddr?: bigint;
    }
  | { readonly kind: "mprotect"; readonly addr: bigint; readonly len: bigint; readonly prot: number }
  | { readonly kind: "madvise"; readonly addr: bigint; readonly len: bigint; readonly advice: number }
  | { readonly kind: "load"; readonly width: Width; readonly addr: bigint }
  | { readonly kind: "store"; readonly width: Width; readonly addr: bigint; readonly value: bigint }
  | { readonly kind: "maps" }
  | { readonly kind: "rss" }
  | { readonly kind: "pkey_alloc"; readonly flags: bigint; readonly init: bigint }
  | { readonly kind: "pkey_free"; readonly pkey: bigint }
  | {
      readonly kind: "pkey_mprotect";
      readonly addr: bigint;
      readonly len: bigint;
      readonly prot: number;
      readonly pkey: bigint;
    }
  | { readonly kind: "pkey_get"; readonly key: bigint }
  | { readonly kind: "pkey_set"; readonly key: bigint; readonly rights: bigint }
  | { readonly kind: "mlock"; readonly addr: bigint; readonly len: bigint }
  | { readonly kind: "munlock"; readonly addr: bigint; readonly len: bigint }
  | { readonly kind: "memfd"; readonly size: bigint }
  | {
      readonly kind: "mmapfd";
      readonly addr: bigint;
      readonly len: bigint;
      readonly prot: number;
      readonly flags: number;
      readonly slot: number;
      readonly offset: bigint;
    }
  | { readonly kind: "ftruncate"; readonly slot: number; readonly size: bigint }
  | {
      readonly kind: "fallocate";
      readonly slot: number;
      readonly mode: number;
      readonly offset: bigint;
      readonly len: bigint;
    }
  | {
      readonly kind: "pwrite";
      readonly slot: number;
      readonly offset: bigint;
      readonly byte: number;
      readonly len: bigint;
    }
  | { readonly kind: "pread"; readonly slot: number; readonly offset: bigint }
  | { readonly kind: "seal"; readonly slot: number; readonly seals: number }
  | { readonly kind: "close"; readonly slot: number }
  | { readonly kind: "fork"; readonly child: Script };

export type Script = readonly Op[];
export type OpKind = Op["kind"];

// ------------------------------------------------------------------------------ builders

export function mmap(addr: bigint, len: bigint, prot: number, flags: number, offset?: bigint): Op {
  return offset === undefined
    ? { kind: "mmap", addr, len, prot, flags }
    : { kind: "mmap", addr, len, prot, flags, offset };
}
export function munmap(addr: bigint, len: bigint): Op {
  return { kind: "munmap", addr, len };
}
export function mremap(old: bigint, oldLen: bigint, newLen: bigint, flags: number, newAddr?: bigint): Op {
  return newAddr === undefined
    ? { kind: "mremap", old, oldLen, newLen, flags }
    : { kind: "mremap", old, oldLen, newLen, flags, newAddr };
}
export function mprotect(addr: bigint, len: bigint, prot: number): Op {
  return { kind: "mprotect", addr, len, prot };
}
export function madvise(addr: bigint, len: bigint, advice: number): Op {
  return { kind: "madvise", addr, len, advice };
}
export function load(width: Width, addr: bigint): Op {
  return { kind: "load", width, addr };
}
export function store(width: Width, addr: bigint, value: bigint): Op {
  return { kind: "store", width, addr, value };
}
export const maps: Op = { kind: "maps" };
export const rss: Op = { kind: "rss" };
/** A C int argument (pkey) as the 64-bit register value the script carries: -1 → 0xffff…ffff. */
const cInt = (v: number | bigint): bigint => BigInt.asUintN(64, BigInt(v));
export function pkeyAlloc(flags: number | bigint, init: number | bigint): Op {
  return { kind: "pkey_alloc", flags: cInt(flags), init: cInt(init) };
}
export function pkeyFree(pkey: number | bigint): Op {
  return { kind: "pkey_free", pkey: cInt(pkey) };
}
export function pkeyMprotect(addr: bigint, len: bigint, prot: number, pkey: number | bigint): Op {
  return { kind: "pkey_mprotect", addr, len, prot, pkey: cInt(pkey) };
}
export function pkeyGet(key: number | bigint): Op {
  return { kind: "pkey_get", key: cInt(key) };
}
export function pkeySet(key: number | bigint, rights: number | bigint): Op {
  return { kind: "pkey_set", key: cInt(key), rights: cInt(rights) };
}
export function mlock(addr: bigint, len: bigint): Op {
  return { kind: "mlock", addr, len };
}
export function munlock(addr: bigint, len: bigint): Op {
  return { kind: "munlock", addr, len };
}
/** memfd_create("oracle", MFD_ALLOW_SEALING) of `size` bytes: the next slot. */
export function memfd(size: bigint): Op {
  return { kind: "memfd", size };
}
export function mmapfd(
  addr: bigint,
  len: bigint,
  prot: number,
  flags: number,
  slot: number,
  offset = 0n,
): Op {
  return { kind: "mmapfd", addr, len, prot, flags, slot, offset };
}
export function ftruncate(slot: number, size: bigint): Op {
  return { kind: "ftruncate", slot, size };
}
export function fallocate(slot: number, mode: number, offset: bigint, len: bigint): Op {
  return { kind: "fallocate", slot, mode, offset, len };
}
export function pwrite(slot: number, offset: bigint, byte: number, len: bigint): Op {
  return { kind: "pwrite", slot, offset, byte, len };
}
export function pread(slot: number, offset: bigint): Op {
  return { kind: "pread", slot, offset };
}
export function seal(slot: number, seals: number): Op {
  return { kind: "seal", slot, seals };
}
export function close(slot: number): Op {
  return { kind: "close", slot };
}
export function fork(child: Script): Op {
  return { kind: "fork", child };
}
/** Address of page `n` of the arena, plus an optional byte offset. */
export function page(n: number, byte = 0): bigint {
  return ARENA.base + BigInt(n) * PAGE_SIZE + BigInt(byte);
}
/** `n` pages in bytes. */
export function pages(n: number): bigint {
  return BigInt(n) * PAGE_SIZE;
}

// ------------------------------------------------------------------------------ text

const hex = (v: bigint | number): string => `0x${v.toString(16)}`;

function opArgs(op: Op): readonly (bigint | number)[] {
  switch (op.kind) {
    case "mmap":
      return op.offset === undefined
        ? [op.addr, op.len, op.prot, op.flags]
        : [op.addr, op.len, op.prot, op.flags, op.offset];
    case "munmap":
      return [op.addr, op.len];
    case "mremap":
      return op.newAddr === undefined
        ? [op.old, op.oldLen, op.newLen, op.flags]
        : [op.old, op.oldLen, op.newLen, op.flags, op.newAddr];
    case "mprotect":
      return [op.addr, op.len, op.prot];
    case "madvise":
      return [op.addr, op.len, op.advice];
    case "load":
      return [op.addr];
    case "store":
      return [op.addr, op.value];
    case "pkey_alloc":
      return [op.flags, op.init];
    case "pkey_free":
      return [op.pkey];
    case "pkey_mprotect":
      return [op.addr, op.len, op.prot, op.pkey];
    case "pkey_get":
      return [op.key];
    case "pkey_set":
      return [op.key, op.rights];
    case "mlock":
    case "munlock":
      return [op.addr, op.len];
    case "memfd":
      return [op.size];
    case "mmapfd":
      return [op.addr, op.len, op.prot, op.flags, op.slot, op.offset];
    case "ftruncate":
      return [op.slot, op.size];
    case "fallocate":
      return [op.slot, op.mode, op.offset, op.len];
    case "pwrite":
      return [op.slot, op.offset, op.byte, op.len];
    case "pread":
      return [op.slot, op.offset];
    case "seal":
      return [op.slot, op.seals];
    case "close":
      return [op.slot];
    case "maps":
    case "rss":
    case "fork":
      return [];
  }
}

export function opName(op: Op): string {
  return op.kind === "load" || op.kind === "store" ? `${op.kind}${op.width}` : op.kind;
}

/**
 * Canonical text of one op, exactly as the oracle echoes it in the transcript:
 * the op name followed by every given argument in lowercase 0x-hex.
 */
export function opText(op: Op): string {
  return [opName(op), ...opArgs(op).map(hex)].join(" ");
}

function serializeOps(ops: Script, indent: string, out: string[]): void {
  for (const op of ops) {
    assertSafe(op);
    out.push(indent + opText(op));
    if (op.kind === "fork") {
      serializeOps(op.child, `${indent}  `, out);
      out.push(`${indent}end`);
    }
  }
}

/** Serializes a script for oracle.c. Throws if an op could touch memory outside the arena. */
export function serializeScript(script: Script, arena: Arena = ARENA): string {
  const out = [`arena ${hex(arena.base)} ${hex(arena.size)}`];
  serializeOps(script, "", out);
  return `${out.join("\n")}\n`;
}

function parseNum(tok: string | undefined, line: number): bigint {
  if (tok === undefined || !/^(0x[0-9a-f]+|[0-9]+)$/i.test(tok)) {
    throw new Error(`script line ${line}: bad number ${JSON.stringify(tok)}`);
  }
  return BigInt(tok);
}

/** Parses the text format back into ops (the arena header is checked against `arena`). */
export function parseScript(text: string, arena: Arena = ARENA): Script {
  const root: Op[] = [];
  const stack: Op[][] = [root];
  let sawArena = false;
  text.split("\n").forEach((raw, i) => {
    const lineNo = i + 1;
    const toks = raw.replace(/#.*/, "").trim().split(/\s+/).filter(Boolean);
    const [name, ...args] = toks;
    if (name === undefined) return;
    const n = (k: number) => parseNum(args[k], lineNo);
    const num = (k: number) => Number(n(k));
    const argc = (min: number, max = min) => {
      if (args.length < min || args.length > max) {
        throw new Error(`script line ${lineNo}: ${name} takes ${min}..${max} arguments`);
      }
    };
    const target = stack[stack.length - 1]!;
    if (name === "arena") {
      argc(2);
      if (n(0) !== arena.base || n(1) !== arena.size)
        throw new Error(`script line ${lineNo}: arena mismatch`);
      sawArena = true;
      return;
    }
    if (!sawArena) throw new Error(`script line ${lineNo}: the arena line must come first`);
    const access = /^(load|store)(8|16|32|64)$/.exec(name);
    if (access) {
      const width = Number(access[2]) as Width;
      if (access[1] === "load") {
        argc(1);
        target.push(load(width, n(0)));
      } else {
        argc(2);
        target.push(store(width, n(0), n(1)));
      }
      return;
    }
    switch (name) {
      case "mmap":
        argc(4, 5);
        target.push(mmap(n(0), n(1), num(2), num(3), args.length > 4 ? n(4) : undefined));
        return;
      case "munmap":
        argc(2);
        target.push(munmap(n(0), n(1)));
        return;
      case "mremap":
        argc(4, 5);
        target.push(mremap(n(0), n(1), n(2), num(3), args.length > 4 ? n(4) : undefined));
        return;
      case "mprotect":
        argc(3);
        target.push(mprotect(n(0), n(1), num(2)));
        return;
      case "madvise":
        argc(3);
        target.push(madvise(n(0), n(1), num(2)));
        return;
      case "maps":
        argc(0);
        target.push(maps);
        return;
      case "rss":
        argc(0);
        target.push(rss);
        return;
      case "pkey_alloc":
        argc(2);
        target.push(pkeyAlloc(n(0), n(1)));
        return;
      case "pkey_free":
        argc(1);
        target.push(pkeyFree(n(0)));
        return;
      case "pkey_mprotect":
        argc(4);
        target.push(pkeyMprotect(n(0), n(1), num(2), n(3)));
        return;
      case "pkey_get":
        argc(1);
        target.push(pkeyGet(n(0)));
        return;
      case "pkey_set":
        argc(2);
        target.push(pkeySet(n(0), n(1)));
        return;
      case "mlock":
        argc(2);
        target.push(mlock(n(0), n(1)));
        return;
      case "munlock":
        argc(2);
        target.push(munlock(n(0), n(1)));
        return;
      case "memfd":
        argc(1);
        target.push(memfd(n(0)));
        return;
      case "mmapfd":
        argc(6);
        target.push(mmapfd(n(0), n(1), num(2), num(3), num(4), n(5)));
        return;
      case "ftruncate":
        argc(2);
        target.push(ftruncate(num(0), n(1)));
        return;
      case "fallocate":
        argc(4);
        target.push(fallocate(num(0), num(1), n(2), n(3)));
        return;
      case "pwrite":
        argc(4);
        target.push(pwrite(num(0), n(1), num(2), n(3)));
        return;
      case "pread":
        argc(2);
        target.push(pread(num(0), n(1)));
        return;
      case "seal":
        argc(2);
        target.push(seal(num(0), num(1)));
        return;
      case "close":
        argc(1);
        target.push(close(num(0)));
        return;
      case "fork": {
        argc(0);
        const f = { kind: "fork" as const, child: [] as Op[] };
        target.push(f);
        stack.push(f.child);
        return;
      }
      case "end":
        argc(0);
        if (stack.length === 1) throw new Error(`script line ${lineNo}: 'end' without 'fork'`);
        stack.pop();
        return;
      default:
        throw new Error(`script line ${lineNo}: unknown op ${JSON.stringify(name)}`);
    }
  });
  if (stack.length !== 1) throw new Error("script: 'fork' without 'end'");
  return root;
}

// ------------------------------------------------------------------------------ safety

const U64 = (1n << 64n) - 1n;

/**
 * Same rule as oracle.c: the page-rounded range must lie inside the arena, unless the kernel is
 * certain to reject it (it wraps the 64-bit space or starts above the user address space).
 */
export function rangeIsSafe(addr: bigint, len: bigint, arena: Arena = ARENA): boolean {
  if (addr >= USER_TOP) return true;
  if (len > U64 - addr - (PAGE_SIZE - 1n)) return true;
  const start = addr & ~(PAGE_SIZE - 1n);
  const end = (addr + len + PAGE_SIZE - 1n) & ~(PAGE_SIZE - 1n);
  return start >= arena.base && end <= arena.base + arena.size;
}

/** mmap and munmap reject ranges ending above TASK_SIZE before touching anything. */
function beyondTaskSize(addr: bigint, len: bigint): boolean {
  return addr + len > TASK_SIZE;
}

/**
 * The length an anonymous MAP_HUGETLB mmap maps: rounded up to its huge page size (bits 26..31 name its
 * log2, 0 the default 2 MiB); 0 when that wraps or names a size above 1 GiB, which no x86-64 hstate
 * has (the kernel then refuses the call). As oracle.c's.
 */
function mmapLen(flags: number, len: bigint): bigint {
  if (!(flags & MAP_HUGETLB)) return len;
  const log = BigInt((flags >>> 26) & 0x3f);
  if (log > 30n) return 0n;
  const size = log ? 1n << log : 2n << 20n;
  if (len > U64 - (size - 1n)) return 0n;
  return (len + size - 1n) & ~(size - 1n);
}

export function opIsSafe(op: Op, arena: Arena = ARENA): boolean {
  switch (op.kind) {
    case "mmap":
      return (
        (op.flags & MAP_FIXED) === 0 ||
        rangeIsSafe(op.addr, mmapLen(op.flags, op.len), arena) ||
        beyondTaskSize(op.addr, op.len)
      );
    case "munmap":
      return rangeIsSafe(op.addr, op.len, arena) || beyondTaskSize(op.addr, op.len);
    case "mprotect":
    case "pkey_mprotect":
    case "madvise":
    case "mlock":
    case "munlock":
      return rangeIsSafe(op.addr, op.len, arena);
    case "mremap":
      if (!rangeIsSafe(op.old, op.oldLen, arena)) return false;
      return (op.flags & MREMAP_FIXED) === 0 || rangeIsSafe(op.newAddr ?? 0n, op.newLen, arena);
    case "mmapfd":
      return (
        (op.flags & MAP_FIXED) === 0 || rangeIsSafe(op.addr, op.len, arena) || beyondTaskSize(op.addr, op.len)
      );
    // Never allocate much of the host's memory (oracle.c refuses the same).
    case "fallocate":
      return op.len <= 16n << 20n;
    case "pwrite":
      return op.len <= 1n << 20n;
    case "fork":
      return op.child.every((c) => opIsSafe(c, arena));
    default:
      return true;
  }
}

function assertSafe(op: Op): void {
  if (!opIsSafe(op)) throw new Error(`unsafe op (would touch memory outside the arena): ${opText(op)}`);
}

// ------------------------------------------------------------------------------ random scripts

/** mulberry32: tiny, fast, good enough for test generation. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The draws every generator makes from `rand`: an integer in [lo, hi], one of `xs`, and a range of
 * 1..max whole pages starting in the arena's first `w` pages (clipped to them).
 */
function draws(rand: () => number, w: number) {
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const range = (max = 6): [bigint, bigint] => {
    const p = int(0, w - 1);
    return [page(p), pages(Math.min(int(1, max), w - p))];
  };
  return { int, pick, range };
}

export interface RandomScriptOptions {
  /** Pages of the arena the generator plays in (small, so ops overlap a lot). Default 24. */
  readonly windowPages?: number;
  /** Emit `fork` ops with small child scripts. Default true. */
  readonly forks?: boolean;
}

/**
 * A deterministic pseudo-random script: overlapping maps, partial unmaps that split, mprotect
 * splits and re-merges, mremap grow/shrink/move, madvise on private and shared mappings, loads
 * and stores into mapped, unmapped and protected pages, stores followed by loads of the same
 * address, and bad-argument cases. Always ends with `maps`.
 */
export function randomScript(seed: number, steps: number, options: RandomScriptOptions = {}): Script {
  const rand = rng(seed);
  const W = options.windowPages ?? 24;
  const withForks = options.forks ?? true;
  const { int, pick } = draws(rand, W);
  const chance = (p: number) => rand() < p;
  const stored: { addr: bigint; width: Width }[] = [];
  // rough model of which window pages are mapped, only used to aim accesses at mapped pages
  const mapped = new Set<number>();
  const pageOf = (a: bigint) => Number((a - ARENA.base) / PAGE_SIZE);
  const track = (op: Op): Op => {
    const span = (a: bigint, len: bigint) => {
      const out: number[] = [];
      for (let p = pageOf(a); p < pageOf(a + len + PAGE_SIZE - 1n); p++) out.push(p);
      return out;
    };
    if (op.kind === "mmap" && op.len > 0n && (op.flags & MAP_TYPE) !== 0) {
      for (const p of span(op.addr, op.len)) mapped.add(p);
    } else if (op.kind === "munmap") {
      for (const p of span(op.addr, op.len)) mapped.delete(p);
    } else if (op.kind === "mremap" && op.newAddr !== undefined && op.oldLen > 0n) {
      if ((op.flags & MREMAP_DONTUNMAP) === 0) for (const p of span(op.old, op.oldLen)) mapped.delete(p);
      for (const p of span(op.newAddr, op.newLen)) mapped.add(p);
    }
    return op;
  };

  /** A page range [p, p+n) clamped into the window. */
  const range = (maxPages = 6): [bigint, bigint] => {
    const p = int(0, W - 1);
    const n = Math.min(int(1, maxPages), W - p);
    return [page(p), pages(n)];
  };
  const prots = [
    PROT_READ | PROT_WRITE,
    PROT_READ | PROT_WRITE,
    PROT_READ | PROT_WRITE,
    PROT_READ,
    PROT_NONE,
    PROT_WRITE,
    PROT_READ | PROT_EXEC,
  ] as const;
  const widths: readonly Width[] = [8, 16, 32, 64];
  const value = (width: Width): bigint => {
    const v = (BigInt(Math.floor(rand() * 2 ** 32)) << 32n) | BigInt(Math.floor(rand() * 2 ** 32));
    return v & ((1n << BigInt(width)) - 1n);
  };
  const accessAddr = (width: Width): bigint => {
    // mostly pages believed mapped; else anywhere, W itself being one page past the window
    const p = mapped.size > 0 && chance(0.75) ? pick([...mapped]) : int(0, W);
    const off = chance(0.5) ? 0 : int(0, 4095);
    return page(p, off - (off % (width / 8)));
  };

  const genMmap = (): Op => {
    const [addr, len] = range();
    const type = chance(0.7) ? PRIVATE_ANON : SHARED_ANON;
    const fixed = chance(0.85) ? MAP_FIXED : MAP_FIXED_NOREPLACE;
    let extra = 0;
    if (chance(0.08)) extra = pick([MAP_NORESERVE, MAP_POPULATE, MAP_LOCKED]);
    return mmap(addr, len, pick(prots), type | fixed | extra);
  };

  const genMremap = (): Op => {
    const p = int(0, W - 2);
    const oldN = Math.min(int(1, 4), W - p);
    const old = page(p);
    const dest = (n: number) => page(int(0, W - n));
    switch (int(0, 4)) {
      case 0: {
        // in-place shrink
        const newN = int(1, oldN);
        return mremap(old, pages(oldN), pages(newN), chance(0.3) ? MREMAP_MAYMOVE : 0);
      }
      case 1: {
        // in-place grow (ENOMEM if blocked)
        // (never MAYMOVE without FIXED here: a blocked grow would move to a random address)
        const newN = Math.min(oldN + int(1, 3), W - p);
        return mremap(old, pages(oldN), pages(newN), 0);
      }
      case 2: {
        // move, possibly resizing
        const newN = int(1, 6);
        return mremap(old, pages(oldN), pages(newN), MREMAP_MAYMOVE | MREMAP_FIXED, dest(newN));
      }
      case 3:
        // same-size move leaving the old range mapped but empty
        return mremap(
          old,
          pages(oldN),
          pages(oldN),
          MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP,
          dest(oldN),
        );
      default:
        // old_len 0: duplicates a shared mapping, EINVAL on private
        return mremap(old, 0n, pages(oldN), MREMAP_MAYMOVE | MREMAP_FIXED, dest(oldN));
    }
  };

  const genBad = (): Op => {
    const a = page(int(0, W - 2));
    switch (int(0, 17)) {
      case 0:
        return mmap(a, 0n, PROT_READ, PRIVATE_ANON | MAP_FIXED);
      case 1:
        return mmap(a + 0x10n, PAGE_SIZE, PROT_READ, PRIVATE_ANON | MAP_FIXED);
      case 2:
        return mmap(a, PAGE_SIZE, PROT_READ, MAP_ANONYMOUS | MAP_FIXED); // no type
      case 3:
        return mmap(a, PAGE_SIZE, PROT_READ, PRIVATE_ANON | MAP_FIXED, 0x10n); // unaligned offset
      case 4:
        return mmap(a, PAGE_SIZE, PROT_READ, SHARED_ANON | MAP_FIXED | MAP_GROWSDOWN);
      case 5:
        return mmap(a, PAGE_SIZE, PROT_READ, MAP_SHARED_VALIDATE | MAP_ANONYMOUS | MAP_FIXED | 0x400000);
      case 6:
        return munmap(a + 0x800n, PAGE_SIZE);
      case 7:
        return munmap(a, 0n);
      case 8:
        return mremap(a + 0x10n, PAGE_SIZE, pages(2), 0);
      case 9:
        return mremap(a, PAGE_SIZE, PAGE_SIZE, 0x8); // unknown flag
      case 10:
        return mremap(a, PAGE_SIZE, PAGE_SIZE, MREMAP_FIXED, page(W - 1)); // FIXED without MAYMOVE
      case 11:
        return mremap(a, PAGE_SIZE, pages(2), MREMAP_MAYMOVE | MREMAP_FIXED, a + PAGE_SIZE); // overlap
      case 12:
        return mprotect(a + 0x10n, PAGE_SIZE, PROT_READ);
      case 13:
        return mprotect(a, PAGE_SIZE, 0x10); // unknown prot bit
      case 14:
        return mprotect(a, PAGE_SIZE, PROT_READ | PROT_GROWSDOWN | PROT_GROWSUP);
      case 15:
        return madvise(a, PAGE_SIZE, MADV_BAD);
      case 16:
        return madvise(a + 0x10n, PAGE_SIZE, MADV_DONTNEED);
      default:
        return mremap(a, pages(2), pages(3), MREMAP_MAYMOVE | MREMAP_DONTUNMAP | MREMAP_FIXED, page(W - 3));
    }
  };

  const genAccess = (): Op => {
    if (chance(0.5)) {
      const width = pick(widths);
      const addr = accessAddr(width);
      stored.push({ addr, width });
      if (stored.length > 16) stored.shift();
      return store(width, addr, value(width));
    }
    if (stored.length > 0 && chance(0.6)) {
      const s = pick(stored);
      return load(s.width, s.addr);
    }
    const width = pick(widths);
    return load(width, accessAddr(width));
  };

  const genChild = (): Script => {
    const child: Op[] = [];
    for (let i = int(2, 5); i > 0; i--) {
      const r = rand();
      if (r < 0.6) child.push(genAccess());
      else if (r < 0.75) child.push(maps);
      else if (r < 0.9) child.push(munmap(...range(3)));
      else child.push(mprotect(...range(3), pick(prots)));
    }
    return child;
  };

  const ops: Op[] = [];
  for (let i = 0; i < steps; i++) {
    const r = rand();
    if (ops.length > 0) track(ops[ops.length - 1]!);
    if (r < 0.22) ops.push(genMmap());
    else if (r < 0.31) ops.push(munmap(...range()));
    else if (r < 0.42) ops.push(mprotect(...range(), pick(prots)));
    else if (r < 0.5) ops.push(genMremap());
    else if (r < 0.56)
      ops.push(
        madvise(
          ...range(),
          pick([
            MADV_DONTNEED,
            MADV_DONTNEED,
            MADV_NORMAL,
            MADV_DONTFORK,
            MADV_DOFORK,
            MADV_REMOVE,
            MADV_WIPEONFORK,
          ]),
        ),
      );
    else if (r < 0.84) ops.push(genAccess());
    else if (r < 0.92) ops.push(maps);
    else if (r < 0.97 || !withForks) ops.push(genBad());
    else ops.push(fork(genChild()));
  }
  ops.push(maps);
  return ops;
}

/**
 * randomScript() with more kinds of operations mixed in after its top-level ops: mlock/munlock, rss,
 * more madvise advice (FREE, WILLNEED, SEQUENTIAL, RANDOM, KEEPONFORK, COLD, PAGEOUT, POPULATE_*,
 * HUGEPAGE, NOHUGEPAGE, DONTDUMP, DODUMP, REMOVE, GUARD_INSTALL, GUARD_REMOVE), memfd files (create, map shared or private with
 * MAP_POPULATE or MAP_LOCKED, ftruncate, pwrite, pread, fallocate, punch holes, seals), mremap of any
 * of them, and MAP_LOCKED / MAP_POPULATE / MAP_NORESERVE anonymous maps. A separate generator, so
 * the recorded transcripts of randomScript() stay valid; its scripts are compared live only.
 */
export function randomScriptWithFiles(seed: number, steps: number): Script {
  const rand = rng(seed * 7919 + 1);
  const { int, pick, range } = draws(rand, 24);
  const advice = [
    MADV_FREE,
    MADV_WILLNEED,
    MADV_SEQUENTIAL,
    MADV_RANDOM,
    MADV_KEEPONFORK,
    14,
    15,
    16,
    17,
    20,
    21,
    22,
    23,
    102, // MADV_GUARD_INSTALL
    103, // MADV_GUARD_REMOVE
  ];
  let slots = 0;
  const slot = () => int(0, slots - 1);
  const out: Op[] = [];
  for (const op of randomScript(seed, steps)) {
    out.push(op);
    if (op.kind === "fork" || rand() >= 0.25) continue;
    const k = int(0, 15);
    if (k <= 1) out.push(mlock(...range()));
    else if (k === 2) out.push(munlock(...range()));
    else if (k === 3) out.push(rss);
    else if (k === 4) out.push(madvise(...range(), pick(advice)));
    else if (k === 5 && slots < 4) {
      out.push(memfd(BigInt(int(0, 6) * 4096 + pick([0, 0, 100]))));
      slots++;
    } else if (k === 6 && slots > 0) {
      const [a, l] = range(4);
      const type = pick([MAP_SHARED, MAP_PRIVATE]) | MAP_FIXED | pick([0, 0, MAP_POPULATE]);
      out.push(
        mmapfd(
          a,
          l,
          pick([PROT_READ | PROT_WRITE, PROT_READ, PROT_NONE]),
          type,
          slot(),
          BigInt(int(0, 3) * 4096),
        ),
      );
    } else if (k === 7 && slots > 0) out.push(ftruncate(slot(), BigInt(int(0, 8) * 2048)));
    else if (k === 8 && slots > 0)
      out.push(pwrite(slot(), BigInt(int(0, 30000)), int(1, 255), BigInt(int(1, 9000))));
    else if (k === 9 && slots > 0) out.push(pread(slot(), BigInt(int(0, 30000))));
    else if (k === 10 && slots > 0)
      out.push(fallocate(slot(), pick([0, 1, 3]), BigInt(int(0, 6) * 4096), pages(int(1, 4))));
    else if (k === 11) {
      const extra = pick([MAP_LOCKED, MAP_POPULATE, MAP_NORESERVE]);
      out.push(
        mmap(
          ...range(),
          pick([PROT_READ | PROT_WRITE, PROT_READ, PROT_NONE]),
          PRIVATE_ANON | MAP_FIXED | extra,
        ),
      );
    } else if (k === 12 && slots > 0) out.push(seal(slot(), pick([1, 2, 4, 8, 16, 6])));
    else if (k === 13) out.push(madvise(...range(), pick([MADV_REMOVE, MADV_DONTNEED, MADV_FREE, 21])));
    else if (k === 14 && slots > 0) {
      const [a, l] = range(4);
      out.push(mremap(a, l, pages(int(1, 5)), MREMAP_MAYMOVE | MREMAP_FIXED, page(int(0, 20))));
    } else if (k === 15 && slots > 0) {
      const [a, l] = range(3);
      out.push(
        mmapfd(
          a,
          l,
          pick([PROT_READ | PROT_WRITE, PROT_READ]),
          MAP_SHARED | MAP_FIXED | MAP_LOCKED,
          slot(),
          BigInt(int(0, 2) * 4096),
        ),
      );
    }
  }
  return out;
}

/**
 * randomScriptWithFiles() with operations mixed in at every level, fork children included (the
 * generators above add their extras at the top level only): MADV_FREE, PAGEOUT, COLD, DONTNEED and
 * POPULATE_*, loads and stores anywhere, mlock/munlock, mremap (FIXED, DONTUNMAP), mprotect, munmap,
 * rss, MADV_FREE then PAGEOUT of one range (a store between or not), and short extra children that
 * store, advise and report RSS while their parent waits with the same pages mapped. Compared live
 * only. Scripts of this kind found what MADV_FREE, mlock, MREMAP_DONTUNMAP and a SIGBUS COW fault did
 * wrong (see the madvise, mremap and vma-merge-rules tables, which pin each rule).
 */
export function randomScriptWithForks(seed: number, steps: number): Script {
  const rand = rng(seed * 31 + 7);
  const W = 24;
  const { int, pick, range } = draws(rand, W);
  const word = () => page(int(0, W - 1)) + BigInt(int(0, 1023) * 4);
  const mix = (script: Script, depth: number): Script => {
    const out: Op[] = [];
    for (const op of script) {
      out.push(op.kind === "fork" ? fork(mix(op.child, depth + 1)) : op);
      if (rand() >= 0.3) continue;
      const k = int(0, 14);
      if (k <= 3) out.push(madvise(...range(), pick([MADV_FREE, MADV_FREE, 21, 21, 20, MADV_DONTNEED])));
      else if (k === 14) {
        // Reclaim right after MADV_FREE, a store or not in between: what lazy-free pages are for.
        const [a, l] = range();
        out.push(madvise(a, l, MADV_FREE));
        if (rand() < 0.5) out.push(store(32, a + BigInt(int(0, 1023) * 4), BigInt(int(1, 1000))));
        out.push(madvise(a, l, 21), rss);
      } else if (k === 4) out.push(rss);
      else if (k === 5) out.push(store(32, word(), BigInt(int(0, 1000))));
      else if (k === 6) out.push(load(32, word()));
      else if (k === 7 && depth < 2 && rand() < 0.5)
        out.push(fork([store(32, page(int(0, W - 1)), 5n), madvise(...range(), pick([MADV_FREE, 21])), rss]));
      else if (k === 8) out.push(mlock(...range()));
      else if (k === 9) out.push(munlock(...range()));
      else if (k === 10)
        out.push(
          mremap(
            ...range(),
            pages(int(1, 4)),
            pick([MREMAP_MAYMOVE | MREMAP_FIXED, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP]),
            page(int(0, 20)),
          ),
        );
      else if (k === 11) out.push(mprotect(...range(), pick([PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE])));
      else if (k === 12) out.push(madvise(...range(), pick([MADV_DONTNEED, 22, 23, 20, MADV_FREE, 21])));
      else out.push(munmap(...range()));
    }
    return out;
  };
  return mix(randomScriptWithFiles(seed, steps), 0);
}

/**
 * Whether a script locks memory (mlock, MAP_LOCKED, mlockall), in a fork child too: its expectations
 * assume a process with CAP_IPC_LOCK or no RLIMIT_MEMLOCK.
 */
export function locksMemory(script: Script): boolean {
  return script.some(
    (op) =>
      op.kind === "mlock" ||
      (op.kind as string) === "mlockall" ||
      (op.kind === "mmap" && (op.flags & MAP_LOCKED) !== 0) ||
      (op.kind === "fork" && locksMemory(op.child)),
  );
}

/** Whether a script calls pkey_alloc (in a fork child too). */
export function allocatesPkeys(script: Script): boolean {
  return script.some((op) => op.kind === "pkey_alloc" || (op.kind === "fork" && allocatesPkeys(op.child)));
}
