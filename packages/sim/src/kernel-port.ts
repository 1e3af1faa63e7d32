import type { Mm, MmuTarget } from "@faultline/mm";
import type { PhysMemory } from "@faultline/phys";

/**
 * What the simulator needs of a kernel, all called on the kernel thread. `machineKernel(machine)`
 * adapts a @faultline/kernel Machine; tests of the runtime alone may implement it over an Mm.
 */
export interface SimKernel {
  readonly mem: PhysMemory;
  /** Creates a process with an empty address space; returns its pid. */
  spawn(name?: string): number;
  /** The process's mm: the simulator registers each worker's TLB there for shootdowns. */
  mm(pid: number): Mm;
  /** The kernel side of the process's MMU: page-table root, fault handler, physical access (MMIO). */
  target(pid: number): MmuTarget;
  /**
   * A raw syscall on behalf of `pid`, dispatched by the kernel's syscall table (by name or x86-64
   * number): a value or -errno, -ENOSYS for a call the table does not list. A TypeError *returned*
   * means an argument was refused before the kernel was entered (NaN, a string for a number, …):
   * nothing changed, and the channel hands it to the worker, which throws it in the program.
   */
  syscall(pid: number, name: string, args: unknown[]): unknown;
  /** fork(): the child's pid (its mm the COW copy of the parent's) or -errno. */
  fork(pid: number): number;
  /** clone(flags) for `pid`: the new task's pid (a thread of `pid` with CLONE_THREAD) or -errno. */
  clone?(pid: number, flags: number): number;
  /** The process ends (a no-op if the kernel already ended it); all it held is released. */
  exit(pid: number, how: ExitRequest): void;
  /**
   * waitpid(child, options | WNOHANG) for `pid`, never blocking: [pid, status] when a matching child
   * has exited (and is reaped), 0 when matching children still run, -errno (-ECHILD) otherwise.
   */
  waitpid(pid: number, child: number, options: number): number | readonly [number, number];
  /** Signal numbers by name (SIGSEGV, SIGBUS, SIGKILL). */
  signo(name: string): number;
  /**
   * force_sig_fault for a fault the worker's MMU raised: the frame of the handler the process
   * installed (its mask already in force), or null when the signal is fatal. Absent: always fatal.
   */
  forceSigFault?(pid: number, sig: FaultSignal): SimSignalFrame | null;
  /** Frames of handlers (installed from the worker, as handler ids) that signals sent to `pid` set up. */
  takeSignalFrames?(pid: number): SimSignalFrame[];
  /** How the process ended, when the kernel ended it on its own (kill from another process); null while it runs. */
  ended?(pid: number): ExitRequest | null;
  /** The signals its handlers caught (the first 64) and how many in all. */
  handledSignals?(pid: number): { readonly list: readonly HandledSignalRecord[]; readonly count: number };
  /**
   * The machine's virtual clock, moved by the simulation's schedule (deterministic: part of the
   * seed's schedule; free: wall time). Absent: the kernel has no time, sleeps are not parked.
   */
  readonly clock?: SimClock;
  /**
   * Right after a syscall of `pid`: the virtual time (ns) it asked to sleep until (nanosleep,
   * clock_nanosleep), once; null when it did not. The simulation answers it (0) at that time.
   */
  takeSleep?(pid: number): number | null;
  /**
   * While `pid` sleeps: its wake-up as of now (a signal for its handler makes it now, clock_settime
   * moves an absolute CLOCK_REALTIME sleep, Infinity while a CPU-clock sleep waits); null when it
   * does not sleep. Absent: the time takeSleep gave holds.
   */
  sleepWake?(pid: number): number | null;
  /**
   * When the simulation wakes `pid`: the sleep's return value (0, or -EINTR with its rem buffer
   * written); the signal that interrupted it then waits in takeSignalFrames. Absent: 0.
   */
  endSleep?(pid: number): number;
}

/** What happened on the clock while it advanced (timers that fired, interrupts delivered). */
export type SimClockEvent =
  | { readonly ns: number; readonly kind: "timer"; readonly name: string }
  | { readonly ns: number; readonly kind: "irq"; readonly irq: number; readonly count: number };

/** A kernel's virtual clock as the simulation drives it. */
export interface SimClock {
  /** ns since boot. */
  now(): number;
  /** Lets `ns` pass; the events on the way, in order. */
  advance(ns: number): readonly SimClockEvent[];
  /** The next timer's time (ns), or null. */
  nextDeadline(): number | null;
}

/** A fault signal as the worker's MMU raised it. */
export interface FaultSignal {
  readonly signal: string;
  readonly code: string;
  readonly addr: number;
  readonly pkey: number | null;
}

/** A handler invocation for the worker: its handler id, the siginfo, the blocked set to restore. */
export interface SimSignalFrame {
  readonly handler: number;
  readonly info: { signo: number; code: number; addr: number; pkey?: number; pid?: number };
  readonly saved: readonly number[];
}

/** One signal a handler caught. */
export interface HandledSignalRecord {
  readonly signal: string;
  readonly code: string;
  readonly addr: number;
}

export const WNOHANG = 1;

/** How a process ended: exit(code), or a fatal signal (with si_code and address when the MMU raised it). */
export type ExitRequest =
  | { readonly code: number }
  | { readonly signal: string; readonly siCode?: string; readonly addr?: number };
