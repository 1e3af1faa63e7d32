/**
 * A simulated process's worker thread: attaches to the machine's RAM, runs its own MMU over the
 * shared page tables, and reaches the kernel only for faults, MMIO, and syscalls.
 */
import { type MessagePort, workerData } from "node:worker_threads";
import type { PhysAccess } from "@faultline/mm";
import { pkruGet, pkruSetAndFlush, SignalError } from "@faultline/mm";
import { PhysMemory, type PhysMemoryDescriptor } from "@faultline/phys";
import type {
  Program,
  ProgramMmu,
  ProgramSigAction,
  ProgramSigActionResult,
  ProgramSigInfo,
  Sys,
  SyscallArg,
} from "../program";
import { ProcessKilled, WorkerChannel } from "./channel";
import { WorkerMmu } from "./shared-tlb";

export interface WorkerBoot {
  readonly phys: PhysMemoryDescriptor;
  readonly channel: SharedArrayBuffer;
  readonly bell: SharedArrayBuffer;
  readonly tlb: SharedArrayBuffer;
  readonly tlbEntries: number;
  readonly pgdRoot: number;
  /** The thread's PKRU register: one Int32 shared with the kernel's Mm (Mm.pkru). */
  readonly pkru: SharedArrayBuffer;
  /** The CPU has protection keys (MachineOptions.cpu.pku). */
  readonly pku: boolean;
  readonly pid: number;
  readonly program: string;
  readonly argv: readonly string[];
  readonly isChild: boolean;
  readonly forkTag: unknown;
  /** A thread (clone with CLONE_THREAD): runs the program's `thread` entry. */
  readonly isThread?: boolean;
}

class ExitCalled {
  constructor(readonly code: number) {}
}

/** What a pooled worker is started with: the port its boots arrive on (see WorkerPool). */
export interface PooledWorkerData {
  readonly poolPort: MessagePort;
}

/**
 * The exit status of a process whose program could not be loaded (not found, a syntax error, a
 * default export that is not defineProgram(...)): 127, as a shell's "command not found", with the
 * reason in the result's `error`. Never a success.
 */
const EXIT_NOT_LOADED = 127;

/**
 * Runs one process: its program (imported from `moduleUrl`, or taken from `reusable` when a pooled
 * worker imported it before and the program allows that) against the machine `boot` names.
 */
async function runProcess(
  boot: WorkerBoot,
  moduleUrl: string,
  reusable: Map<string, Program> | null,
): Promise<void> {
  const mem = PhysMemory.attach(boot.phys);
  const chan = new WorkerChannel(boot.channel, boot.bell);

  // Pages that are not RAM (device RAM, ROM, MMIO) are located once by the kernel, then cached.
  const located = new Map<number, { loc: number; writable: boolean }>();
  const where = (pfn: number) => {
    let w = located.get(pfn);
    if (!w) {
      w = chan.locate(pfn);
      located.set(pfn, w);
    }
    return w;
  };
  const phys: PhysAccess = {
    mem,
    locatePage: (pfn) => {
      const loc = mem.ramLocate(pfn);
      return loc >= 0 ? loc : where(pfn).loc;
    },
    pageWritable: (pfn) => mem.ramLocate(pfn) >= 0 || where(pfn).writable,
    // The kernel walks our page tables for the virtual address itself: a physical address from a worker
    // is never trusted.
    // A fault the kernel reports for an MMIO access is delivered as the MMU's own are (signalled()).
    physRead: (_paddr, size, vaddr) => {
      try {
        return chan.mmioRead(vaddr ?? Number.NaN, size);
      } catch (e) {
        return signalled(e);
      }
    },
    physWrite: (_paddr, size, value, vaddr) => {
      try {
        chan.mmioWrite(vaddr ?? Number.NaN, size, value);
      } catch (e) {
        signalled(e);
      }
    },
  };
  const pkru = new Int32Array(boot.pkru);
  const mmu = new WorkerMmu(
    { mem, phys, pgdRoot: boot.pgdRoot, fault: (addr, write) => chan.fault(addr, write), pkru },
    boot.tlb,
    boot.tlbEntries,
    chan.i32,
  );

  // Every fault signal the MMU raises is delivered on the spot (a handler runs, then a handled
  // SignalError abandons the access), so the program's accessors below need no try/catch.
  mmu.raise = signalled;

  /** The TLB flush a PKRU change needs (pkruSetAndFlush). */
  const flushTlb = () => mmu.flushAll();

  let lastWaitStatus = 0;
  /** A syscall; handlers that signals set up on its way back run before it returns (then rt_sigreturn). */
  const call = (name: string, args: unknown[]): unknown => {
    const r = chan.syscall(name, args);
    if (chan.frames.length) runFrames();
    return r;
  };
  const raw = (name: string, args: SyscallArg[]): number => call(name, args) as number;

  // ---- signal handlers: functions live here; the kernel knows them by id (a "user address" above 1)
  type Handler = (info: ProgramSigInfo) => void;
  const handlerById = new Map<number, Handler>();
  const idOfHandler = new Map<Handler, number>();
  const SIG_SETMASK = 2;

  function handlerId(h: Handler): number {
    let id = idOfHandler.get(h);
    if (id === undefined) {
      id = 0x401000 + 16 * idOfHandler.size;
      idOfHandler.set(h, id);
      handlerById.set(id, h);
    }
    return id;
  }

  function sigaction(signo: number, act?: ProgramSigAction | 0 | 1 | null): ProgramSigActionResult | number {
    const a =
      act && typeof act === "object" && typeof act.handler === "function"
        ? { ...act, handler: handlerId(act.handler) }
        : act;
    const r = call("sigaction", [signo, a ?? null]) as ProgramSigActionResult | number;
    if (typeof r !== "object" || r === null || typeof r.handler !== "number") return r;
    return { ...r, handler: handlerById.get(r.handler) ?? r.handler };
  }

  /** Handlers of signals sent to this process, innermost frame first, each ended with rt_sigreturn. */
  function runFrames(): void {
    while (chan.frames.length) {
      const f = chan.frames.pop()!;
      try {
        handlerById.get(f.handler)?.(f.info);
      } finally {
        chan.syscall("rt_sigreturn", []);
      }
    }
  }

  /**
   * The MMU raised a fault signal: force_sig_fault in the kernel decides. A handler runs here and the
   * access is abandoned with a handled SignalError (siglongjmp: sigprocmask restores the blocked set);
   * a fatal signal goes on up and ends the process.
   */
  function signalled(e: unknown): never {
    if (!SignalError.is(e) || e.handled || (e.signal !== "SIGSEGV" && e.signal !== "SIGBUS")) throw e;
    const frame = chan.forceSig({ signal: e.signal, code: e.code, addr: e.addr, pkey: e.pkey ?? null });
    if (!frame) throw e;
    try {
      handlerById.get(frame.handler)?.(frame.info);
    } finally {
      call("sigprocmask", [SIG_SETMASK, frame.saved]);
    }
    throw new SignalError(e.signal, e.code, e.addr, undefined, e.pkey, true);
  }
  const sys: Sys = {
    pid: boot.pid,
    isChild: boot.isChild,
    isThread: boot.isThread === true,
    forkTag: boot.forkTag,
    open: (path, flags = 0, mode = 0) => raw("open", [path, flags, mode]),
    close: (fd) => raw("close", [fd]),
    read: (fd, ...args) => raw("read", [fd, ...args]),
    write: (fd, ...args) => raw("write", [fd, ...args]),
    ioctl: (fd, cmd, arg = 0) => raw("ioctl", [fd, cmd, arg]),
    mmap: (addr, len, prot, flags, fd, offset) => raw("mmap", [addr, len, prot, flags, fd, offset]),
    munmap: (addr, len) => raw("munmap", [addr, len]),
    mremap: (addr, oldLen, newLen, flags, newAddr = 0) =>
      raw("mremap", [addr, oldLen, newLen, flags, newAddr]),
    mprotect: (addr, len, prot) => raw("mprotect", [addr, len, prot]),
    madvise: (addr, len, advice) => raw("madvise", [addr, len, advice]),
    msync: (addr, len, flags) => raw("msync", [addr, len, flags]),
    fork: (tag) => chan.syscall("fork", [tag === undefined ? null : (tag as SyscallArg)]) as number,
    clone: (flags, tag) =>
      chan.syscall("clone", [flags, tag === undefined ? null : (tag as SyscallArg)]) as number,
    exit: (code) => {
      throw new ExitCalled(code);
    },
    waitpid: (pid, options = 0) => {
      const r = chan.syscall("waitpid", [pid, options]) as number | [number, number];
      if (typeof r === "number") return r;
      lastWaitStatus = r[1];
      return r[0];
    },
    get lastWaitStatus() {
      return lastWaitStatus;
    },
    getpid: () => raw("getpid", []),
    pkeyAlloc: (flags, accessRights) => raw("pkeyAlloc", [flags, accessRights]),
    pkeyFree: (pkey) => raw("pkeyFree", [pkey]),
    pkeyMprotect: (addr, len, prot, pkey) => raw("pkeyMprotect", [addr, len, prot, pkey]),
    // glibc's pkey_get/pkey_set are RDPKRU/WRPKRU in user space: no syscall, this thread's register.
    pkeyGet: (key) => pkruGet(pkru, boot.pku, key),
    pkeySet: (key, rights) => pkruSetAndFlush(pkru, boot.pku, key, rights, flushTlb),
    call: (name, ...args) => call(name, args),
    sigaction,
    sigprocmask: (how, set = null) => call("sigprocmask", [how, set]) as number[] | number,
    kill: (pid, sig) => raw("kill", [pid, sig]),
    nanosleep: (sec, nsec, rem) => raw("nanosleep", rem ? [sec, nsec, rem] : [sec, nsec]),
    clockGettime: (clockid, tp) => raw("clockGettime", tp ? [clockid, tp] : [clockid]),
  };

  /**
   * The program's view of its MMU: closures over the accessors, no path to `mmu` itself. Faults are
   * delivered inside the MMU (mmu.raise, the MMIO callbacks above), not by a try/catch here: one
   * around a TLB hit makes the program's store loop ~15% slower (bench: sim worker store32).
   */
  const programMmu: ProgramMmu = Object.freeze({
    load8: (addr: number) => mmu.load8(addr),
    load16: (addr: number) => mmu.load16(addr),
    load32: (addr: number) => mmu.load32(addr),
    load64: (addr: number) => mmu.load64(addr),
    store8: (addr: number, value: number) => mmu.store8(addr, value),
    store16: (addr: number, value: number) => mmu.store16(addr, value),
    store32: (addr: number, value: number) => mmu.store32(addr, value),
    store64: (addr: number, value: bigint) => mmu.store64(addr, value),
    read: (addr: number, len: number) => mmu.read(addr, len),
    recycle: (bytes: Uint8Array) => mmu.recycle(bytes),
    readInto: (addr: number, dst: Uint8Array) => mmu.readInto(addr, dst),
    write: (addr: number, bytes: ArrayLike<number>) => mmu.write(addr, bytes),
  });
  Object.freeze(sys);

  let program: Program | null = reusable?.get(boot.program) ?? null;
  if (!program)
    try {
      const mod = (await import(moduleUrl)) as { default?: Program };
      if (mod.default?.faultlineProgram !== 1)
        throw new TypeError(
          `the default export is not defineProgram(...) (got ${describeExport(mod.default)})`,
        );
      program = mod.default;
      if (program.reuseModule === true) reusable?.set(boot.program, program);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      chan.exit({ code: EXIT_NOT_LOADED, detail: clean(`cannot load program ${boot.program}: ${why}`) } as {
        code: number;
      });
    }
  if (!program) return;
  chan.start();
  try {
    const entry =
      boot.isThread && program.thread
        ? program.thread
        : boot.isChild && program.child
          ? program.child
          : program.main;
    const code = faultlineProgramEntry(entry, sys, programMmu, boot.argv);
    chan.exit({ code: (code ?? 0) & 0xff });
  } catch (e) {
    if (e instanceof ExitCalled) chan.exit({ code: e.code & 0xff });
    else if (e instanceof ProcessKilled) {
      // Reaped by the kernel while waiting for it: nothing more to say.
    } else if (SignalError.is(e)) {
      chan.exit({ signal: e.signal, siCode: e.code, addr: e.addr, detail: clean(e.message) });
    } else {
      const detail = clean(e instanceof Error ? (e.stack ?? e.message) : String(e));
      chan.exit({ code: 1, detail } as { code: number });
    }
  }
}

/**
 * The program's entry, called through a frame of this name: a stack reported as the process's error
 * ends at the program's own frames (what called it differs between a fresh and a pooled worker).
 */
function faultlineProgramEntry(
  entry: Program["main"],
  sys: Sys,
  mmu: ProgramMmu,
  argv: readonly string[],
): number | undefined {
  return entry(sys, mmu, argv);
}

/** A pooled worker imports each process's program afresh under this query (its own module state). */
const FRESH_QUERY = "faultline-process";

/**
 * What the process reports about itself, the same from a fresh worker and a pooled one: without the
 * query a pooled worker imported the program under, and a stack without the frames below the entry.
 */
function clean(text: string): string {
  const lines = text.replace(new RegExp(`[?&]${FRESH_QUERY}=\\d+`, "g"), "").split("\n");
  const at = lines.findIndex((l) => /^\s+at (?:async )?faultlineProgramEntry\b/.test(l));
  return (at >= 0 ? lines.slice(0, at) : lines).join("\n");
}

/** The module URL a pooled worker imports for its `seq`-th process: the program's, with a query of its own. */
function freshUrl(program: string, seq: number): string {
  const u = new URL(program);
  u.searchParams.set(FRESH_QUERY, String(seq));
  return u.href;
}

// Keep what the runtime needs in this module's scope, then empty workerData: a program can import
// node:worker_threads too, and must not find the machine's RAM, the channel or the pool's port there.
const data = { ...(workerData as WorkerBoot | PooledWorkerData) };
for (const key of Object.keys(workerData as object)) delete (workerData as Record<string, unknown>)[key];
if ("poolPort" in data) {
  // A pooled worker (WorkerPool): runs one process after another, each boot sent on the pool's port,
  // and says when it is free again. An error that escapes a process ends the worker, as it would a
  // fresh one.
  const port = data.poolPort;
  let seq = 0;
  // Programs whose modules may serve this thread's later processes too (defineProgram's reuseModule).
  const reusable = new Map<string, Program>();
  port.on("message", (boot: WorkerBoot) => {
    seq++;
    void runProcess(boot, freshUrl(boot.program, seq), reusable).then(() => port.postMessage({ idle: seq }));
  });
} else await runProcess(data, data.program, null);

function describeExport(v: unknown): string {
  if (v === undefined) return "no default export";
  if (typeof v === "function") return "a function (call defineProgram(main) and export its result)";
  return typeof v;
}
