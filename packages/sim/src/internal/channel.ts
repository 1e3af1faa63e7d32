/**
 * The per-worker channel to the kernel thread: one SharedArrayBuffer with control words, a fixed
 * binary request/response block for the hot messages (page fault, MMIO access) and a data area for
 * msgpack payloads (syscalls). One request is outstanding at a time, so request and response share
 * the data area.
 *
 *   i32[0]   REQ_SEQ    worker: bumped after a request is written (also the quiescence counter)
 *   i32[1]   STATE      worker: RUNNING (user code) | IN_KERNEL (waiting for a reply) | EXITED
 *   i32[16]  RESP_SEQ   kernel: set to REQ_SEQ when the reply is written
 *   i32[32]  SLEEPING   worker: 1 while blocked in Atomics.wait on RESP_SEQ
 *   i32[48]  TLB_GEN    kernel: bumped by every shootdown (a walk that raced one is redone)
 *   i32[64..] request:  op, flag, payload length; f64[34] addr, f64[35] value
 *   i32[80..] response: status, payload length;   f64[42] value
 *   bytes [1024, end)   msgpack payload
 * Words written by different threads sit on different 64-byte lines (false sharing costs 8x).
 */
import { faultSignal } from "@faultline/mm";
import { Packr } from "msgpackr";

export const REQ_SEQ = 0;
export const STATE = 1;
export const RESP_SEQ = 16;
export const SLEEPING = 32;
export const TLB_GEN = 48;
export const REQ_OP = 64;
export const REQ_FLAG = 65;
export const REQ_LEN = 66;
export const REQ_ADDR = 34; // f64 index
export const REQ_VALUE = 35; // f64 index
export const RESP_STATUS = 80;
export const RESP_LEN = 81;
/**
 * 0: the reply is the number in RESP_VALUE; 1: a msgpack SyscallReply in the data area; 2: the access
 * faulted, RESP_VALUE is the fault result (FAULT_*) to deliver as a signal (MMIO requests); 3: the
 * syscall refused an argument before entering the kernel, the data area holds the TypeError's message.
 */
export const RESP_KIND = 82;
export const KIND_FAULT = 2;
export const KIND_TYPE_ERROR = 3;
/** f64 index of the first of up to 6 numeric syscall arguments (OP_SYSCALL_FAST). */
export const REQ_ARGS = 36;
export const MAX_FAST_ARGS = 6;
export const RESP_VALUE = 42; // f64 index
export const DATA_OFFSET = 1024;
export const CHANNEL_BYTES = DATA_OFFSET + (1 << 20);

export const STATE_RUNNING = 0;
export const STATE_IN_KERNEL = 1;
export const STATE_EXITED = 2;

/** Request opcodes. */
export const OP_START = 1;
export const OP_FAULT = 2;
export const OP_SYSCALL = 3;
export const OP_MMIO_READ = 4;
export const OP_MMIO_WRITE = 5;
export const OP_LOCATE = 6;
export const OP_EXIT = 7;
/** A syscall whose arguments are all numbers: name index in REQ_FLAG, count in REQ_LEN, args as f64. */
export const OP_SYSCALL_FAST = 8;
/**
 * The worker's MMU raised SIGSEGV/SIGBUS (msgpack payload: signal, code, addr, pkey): the kernel's
 * force_sig_fault decides; the reply's `ret` is the handler's frame to run, or null (fatal).
 */
export const OP_SIGNAL = 9;

/** Syscalls that may take the fixed binary layout (index = REQ_FLAG). */
export const FAST_SYSCALLS = [
  "getpid",
  "close",
  "ioctl",
  "mmap",
  "munmap",
  "mremap",
  "mprotect",
  "madvise",
  "msync",
  "read",
  "write",
  "lseek",
] as const;
const FAST_INDEX = new Map<string, number>(FAST_SYSCALLS.map((n, i) => [n, i]));

export const OP_NAMES: Record<number, string> = {
  [OP_START]: "start",
  [OP_FAULT]: "fault",
  [OP_SYSCALL]: "syscall",
  [OP_MMIO_READ]: "mmio-read",
  [OP_MMIO_WRITE]: "mmio-write",
  [OP_LOCATE]: "locate",
  [OP_EXIT]: "exit",
  [OP_SYSCALL_FAST]: "syscall",
  [OP_SIGNAL]: "signal",
};

/** Response status: the reply is a value (RESP_VALUE / payload), or the process was killed. */
export const RESP_OK = 0;
export const RESP_KILLED = 1;

/**
 * Global doorbell: i32[0] rung by workers after each request, i32[1] = 1 while the kernel sleeps,
 * i32[2] how many times a worker checks for its reply before it sleeps (set by the kernel).
 */
export const BELL_COUNT = 0;
export const BELL_SLEEPING = 1;
export const BELL_SPINS = 2;
export const BELL_BYTES = 12;

/**
 * Spins on the reply before sleeping: ~0.3 µs per round trip when the kernel is spinning too. A
 * simulation that must not spin (its threads would take cores other work needs) sets 0: the worker
 * sleeps at once and the kernel's notify wakes it.
 */
export const WORKER_SPINS = 4000;

/**
 * msgpackr with records: both ends start from the same structure list, and `sequential` sends a
 * structure the other side has not seen inline the first time, so each direction has its own Packr
 * pair and messages are decoded in the order they were encoded (one outstanding request).
 */
export function makePackr(): Packr {
  return new Packr({
    structures: [
      ["call", "args"],
      ["ret", "bufs"],
    ],
    sequential: true,
    maxSharedStructures: 2,
    moreTypes: false,
  });
}

export interface SyscallRequest {
  call: string;
  args: unknown[];
}
export interface SyscallReply {
  ret: unknown;
  /** Buffers passed as arguments, as the kernel left them (copied back into the caller's arrays). */
  bufs: Array<Uint8Array | null>;
  /** Signal handlers to run before the call returns to the program (each ends with rt_sigreturn). */
  frames?: readonly WorkerSignalFrame[];
}

/** A handler invocation the kernel set up for the worker (its handler is the worker's handler id). */
export interface WorkerSignalFrame {
  readonly handler: number;
  readonly info: { signo: number; code: number; addr: number; pkey?: number; pid?: number };
  /** The blocked set to restore (signal numbers) when the handler is left by siglongjmp. */
  readonly saved: readonly number[];
}

/** Thrown in a worker when the kernel answers that the process is gone (killed or reaped). */
export class ProcessKilled extends Error {
  constructor(readonly signal: string) {
    super(`killed by ${signal}`);
  }
}

/**
 * A register holds 64 bits: a larger bigint (an argument, or a field of a struct such as an rlimit's
 * cur) reaches the kernel modulo 2^64, as in-thread, where msgpack's int64 could not carry it.
 */
function wireArg(a: unknown): unknown {
  if (typeof a === "bigint") return BigInt.asIntN(64, a);
  if (a === null || typeof a !== "object" || Object.getPrototypeOf(a) !== Object.prototype) return a;
  const o = a as Record<string, unknown>;
  if (!Object.values(o).some((v) => typeof v === "bigint")) return a;
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, wireArg(v)]));
}

/** The worker's end. */
export class WorkerChannel {
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly u8: Uint8Array;
  private readonly bell: Int32Array;
  private readonly out = makePackr();
  private readonly inn = makePackr();
  private seq = 0;
  /** Handler frames the last syscall reply carried, for the runtime to run. */
  readonly frames: WorkerSignalFrame[] = [];

  constructor(buffer: SharedArrayBuffer, bell: SharedArrayBuffer) {
    this.i32 = new Int32Array(buffer);
    this.f64 = new Float64Array(buffer);
    this.u8 = new Uint8Array(buffer);
    this.bell = new Int32Array(bell);
  }

  /** Posts the request already written in the block and waits for the reply: spin, then sleep. */
  private roundTrip(op: number): number {
    const i32 = this.i32;
    i32[REQ_OP] = op;
    this.seq = (this.seq + 1) | 0;
    const seq = this.seq;
    Atomics.store(i32, STATE, STATE_IN_KERNEL);
    Atomics.store(i32, REQ_SEQ, seq);
    Atomics.add(this.bell, BELL_COUNT, 1);
    if (Atomics.load(this.bell, BELL_SLEEPING) !== 0) Atomics.notify(this.bell, BELL_COUNT);
    const spinFor = this.bell[BELL_SPINS]!;
    let spins = spinFor;
    while (Atomics.load(i32, RESP_SEQ) !== seq) {
      if (--spins > 0) continue;
      // Lost wakeups are impossible: the kernel stores RESP_SEQ before it reads SLEEPING, and
      // Atomics.wait compares RESP_SEQ atomically before sleeping.
      Atomics.store(i32, SLEEPING, 1);
      const seen = Atomics.load(i32, RESP_SEQ);
      if (seen !== seq) Atomics.wait(i32, RESP_SEQ, seen);
      Atomics.store(i32, SLEEPING, 0);
      spins = spinFor;
    }
    Atomics.store(i32, STATE, STATE_RUNNING);
    if (i32[RESP_STATUS] === RESP_KILLED) {
      Atomics.store(i32, STATE, STATE_EXITED);
      throw new ProcessKilled(this.unpackText() || "SIGKILL");
    }
    return this.f64[RESP_VALUE]!;
  }

  private unpackText(): string {
    const len = this.i32[RESP_LEN]!;
    return len ? new TextDecoder().decode(this.u8.slice(DATA_OFFSET, DATA_OFFSET + len)) : "";
  }

  fault(addr: number, write: boolean): number {
    this.f64[REQ_ADDR] = addr;
    this.i32[REQ_FLAG] = write ? 1 : 0;
    return this.roundTrip(OP_FAULT);
  }

  /**
   * An MMIO load at virtual address `vaddr`: the kernel translates it through this process's page
   * tables (it never takes a physical address from a worker). Throws the signal when it faults.
   */
  mmioRead(vaddr: number, size: number): number {
    this.f64[REQ_ADDR] = vaddr;
    this.i32[REQ_FLAG] = size;
    const v = this.roundTrip(OP_MMIO_READ);
    if (this.i32[RESP_KIND] === KIND_FAULT) throw faultSignal(v, vaddr);
    return v;
  }

  /** An MMIO store at virtual address `vaddr` (see mmioRead). */
  mmioWrite(vaddr: number, size: number, value: number): void {
    this.f64[REQ_ADDR] = vaddr;
    this.f64[REQ_VALUE] = value;
    this.i32[REQ_FLAG] = size;
    const v = this.roundTrip(OP_MMIO_WRITE);
    if (this.i32[RESP_KIND] === KIND_FAULT) throw faultSignal(v, vaddr);
  }

  /** Where a non-RAM pfn's bytes live: bank * 2^32 + offset, or -1 (MMIO); flag bit 0 = writable. */
  locate(pfn: number): { loc: number; writable: boolean } {
    this.f64[REQ_ADDR] = pfn;
    const loc = this.roundTrip(OP_LOCATE);
    return { loc, writable: this.i32[RESP_LEN] === 1 };
  }

  start(): void {
    this.roundTrip(OP_START);
  }

  /** force_sig_fault on the kernel's side: the handler's frame, or null when the signal is fatal. */
  forceSig(sig: {
    signal: string;
    code: string;
    addr: number;
    pkey: number | null;
  }): WorkerSignalFrame | null {
    this.writePayload(sig);
    this.roundTrip(OP_SIGNAL);
    return this.replyOf().ret as WorkerSignalFrame | null;
  }

  private replyOf(): SyscallReply {
    const reply = this.inn.unpack(
      this.u8.subarray(DATA_OFFSET, DATA_OFFSET + this.i32[RESP_LEN]!),
    ) as SyscallReply;
    if (reply.frames) this.frames.push(...reply.frames);
    return reply;
  }

  exit(status: { code: number } | { signal: string; siCode?: string; addr?: number; detail?: string }): void {
    this.writePayload(status);
    this.roundTrip(OP_EXIT);
    Atomics.store(this.i32, STATE, STATE_EXITED);
  }

  syscall(call: string, args: unknown[]): unknown {
    const fast = FAST_INDEX.get(call);
    if (fast !== undefined && args.length <= MAX_FAST_ARGS && args.every((a) => typeof a === "number")) {
      const f64 = this.f64;
      for (let i = 0; i < args.length; i++) f64[REQ_ARGS + i] = args[i] as number;
      this.i32[REQ_FLAG] = fast;
      this.i32[REQ_LEN] = args.length;
      const v = this.roundTrip(OP_SYSCALL_FAST);
      if (this.i32[RESP_KIND] === 0) return v;
      if (this.i32[RESP_KIND] === KIND_TYPE_ERROR) throw new TypeError(this.unpackText());
      return this.replyOf().ret;
    }
    this.writePayload({ call, args: args.map(wireArg) } satisfies SyscallRequest);
    const value = this.roundTrip(OP_SYSCALL);
    if (this.i32[RESP_KIND] === 0) return value;
    if (this.i32[RESP_KIND] === KIND_TYPE_ERROR) throw new TypeError(this.unpackText());
    const reply = this.replyOf();
    // Copy buffers back: read(fd, buf) fills the caller's array, as it would in-thread.
    reply.bufs.forEach((b, i) => {
      const dst = args[i];
      if (b && dst instanceof Uint8Array) dst.set(b.subarray(0, dst.length));
    });
    return reply.ret;
  }

  private writePayload(value: unknown): void {
    const bytes = this.out.pack(value);
    if (bytes.length > CHANNEL_BYTES - DATA_OFFSET) {
      throw new RangeError(`syscall payload of ${bytes.length} bytes exceeds the channel's 1 MiB data area`);
    }
    this.u8.set(bytes, DATA_OFFSET);
    this.i32[REQ_LEN] = bytes.length;
  }
}

/** The kernel's end of one channel. */
export class KernelChannel {
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly u8: Uint8Array;
  private readonly inn = makePackr();
  private readonly out = makePackr();
  /** REQ_SEQ of the last request answered. */
  answered = 0;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.i32 = new Int32Array(buffer);
    this.f64 = new Float64Array(buffer);
    this.u8 = new Uint8Array(buffer);
  }

  static create(): KernelChannel {
    return new KernelChannel(new SharedArrayBuffer(CHANNEL_BYTES));
  }

  /** A request is waiting. */
  pending(): boolean {
    return Atomics.load(this.i32, REQ_SEQ) !== this.answered;
  }

  get op(): number {
    return this.i32[REQ_OP]!;
  }

  /** The request's msgpack payload, decoded once per request (records must be decoded in order). */
  readPayload<T>(): T {
    const seq = Atomics.load(this.i32, REQ_SEQ);
    if (this.decodedSeq !== seq) {
      const len = this.i32[REQ_LEN]!;
      this.decoded = this.inn.unpack(this.u8.subarray(DATA_OFFSET, DATA_OFFSET + len));
      this.decodedSeq = seq;
    }
    return this.decoded as T;
  }

  /** The syscall being requested, from either layout. */
  peekSyscall(): SyscallRequest {
    if (this.i32[REQ_OP] !== OP_SYSCALL_FAST) return this.readPayload<SyscallRequest>();
    const n = this.i32[REQ_LEN]!;
    const args: number[] = [];
    for (let i = 0; i < n; i++) args.push(this.f64[REQ_ARGS + i]!);
    return { call: FAST_SYSCALLS[this.i32[REQ_FLAG]!] ?? "?", args };
  }

  private decoded: unknown = null;
  private decodedSeq = 0;
  /** A request parked in the kernel: a waitpid until a child exits, a sleep until its wake-up. */
  parkedPayload: SyscallRequest | null = null;

  reply(value: number, len = 0, kind = 0): void {
    this.i32[RESP_STATUS] = RESP_OK;
    this.i32[RESP_KIND] = kind;
    this.i32[RESP_LEN] = len;
    this.f64[RESP_VALUE] = value;
    this.publish();
  }

  replySyscall(reply: SyscallReply): void {
    if (reply.ret instanceof TypeError) {
      // SimKernel.syscall refused an argument: the worker throws it (KIND_TYPE_ERROR).
      const text = new TextEncoder().encode(reply.ret.message);
      this.u8.set(text, DATA_OFFSET);
      this.reply(0, text.length, KIND_TYPE_ERROR);
      return;
    }
    const bytes = this.out.pack(reply);
    if (bytes.length > CHANNEL_BYTES - DATA_OFFSET) throw new RangeError("syscall reply exceeds 1 MiB");
    this.u8.set(bytes, DATA_OFFSET);
    this.reply(0, bytes.length, 1);
  }

  kill(signal: string): void {
    const bytes = new TextEncoder().encode(signal);
    this.u8.set(bytes, DATA_OFFSET);
    this.i32[RESP_STATUS] = RESP_KILLED;
    this.i32[RESP_LEN] = bytes.length;
    this.publish();
  }

  private publish(): void {
    this.answered = Atomics.load(this.i32, REQ_SEQ);
    Atomics.store(this.i32, RESP_SEQ, this.answered);
    if (Atomics.load(this.i32, SLEEPING) !== 0) Atomics.notify(this.i32, RESP_SEQ);
  }
}
