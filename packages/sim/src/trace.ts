import { pack, unpack } from "msgpackr";

/** One kernel entry of one process, with what the kernel answered. */
export interface TraceEvent {
  readonly pid: number;
  readonly op: string;
  readonly args: readonly unknown[];
  readonly ret: unknown;
}

/** A deterministic run: enough to run it again (same programs, same schedule) and compare. */
export interface SimTrace {
  readonly version: 1;
  readonly seed: number;
  readonly spawns: ReadonlyArray<{
    readonly pid: number;
    readonly program: string;
    readonly argv: readonly string[];
  }>;
  readonly events: readonly TraceEvent[];
}

/** Writes a deterministic run's trace (msgpack). */
export const encodeTrace = (t: SimTrace): Uint8Array => pack(t);
/** Reads a trace written by `encodeTrace` (msgpack). */
export const decodeTrace = (bytes: Uint8Array): SimTrace => unpack(bytes) as SimTrace;

/** A replay did not do what the recording did: where, and what differed. */
export class ReplayDivergenceError extends Error {
  constructor(
    readonly index: number,
    readonly expected: TraceEvent | undefined,
    readonly actual: TraceEvent | undefined,
  ) {
    super(`replay diverged at event ${index}: expected ${describe(expected)}, got ${describe(actual)}`);
    this.name = "ReplayDivergenceError";
  }
}

function describe(e: TraceEvent | undefined): string {
  if (!e) return "end of trace";
  const args = e.args.map((a) => (a instanceof Uint8Array ? `<${a.length} bytes>` : JSON.stringify(a)));
  return `pid ${e.pid} ${e.op}(${args.join(", ")}) = ${JSON.stringify(e.ret, (_k, v) => (v instanceof Uint8Array || (v && v.type === "Buffer") ? "<bytes>" : v))}`;
}

export function sameEvent(a: TraceEvent, b: TraceEvent): boolean {
  const x = pack(a);
  const y = pack(b);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** mulberry32: small, seedable, good enough to pick who runs next. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
