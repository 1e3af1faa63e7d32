/**
 * The signal state of a task, as plain data (include/linux/sched/signal.h: sighand_struct, the
 * blocked and pending sets, the queued siginfo). The operations are in signal.ts; this file imports
 * nothing of the kernel's, so the task struct can hold it without an import cycle.
 *
 * Sets are bigints, bit (signo - 1) for each signal, as sigset_t's words.
 */
import { NSIG } from "@faultline/mm";
import {
  type HandledSignal,
  SIG_DFL,
  SIGABRT,
  SIGFPE,
  SIGILL,
  SIGQUIT,
  SIGSYS,
  SIGTRAP,
  SIGXCPU,
  SIGXFSZ,
  type SigHandler,
  type SigInfo,
} from "../signal";

/** The set bit of signal `sig`. */
export const sigmask = (sig: number): bigint => 1n << BigInt(sig - 1);
/** The set of signals `sigs`. */
export const setOf = (sigs: readonly number[]): bigint => {
  let s = 0n;
  for (const n of sigs) s |= sigmask(n);
  return s;
};
/** Default action "core" (sig_kernel_coredump): exit.ts decides from RLIMIT_CORE whether a core is dumped. */
export const DEFAULT_COREDUMP = setOf([
  SIGQUIT,
  SIGILL,
  SIGTRAP,
  SIGABRT,
  7, // SIGBUS
  SIGFPE,
  11, // SIGSEGV
  SIGXCPU,
  SIGXFSZ,
  SIGSYS,
]);

/** struct k_sigaction, with the mask as a set. */
export interface KSigAction {
  readonly handler: SigHandler | number;
  readonly flags: number;
  readonly mask: bigint;
}

export const DEFAULT_ACTION: KSigAction = Object.freeze({ handler: SIG_DFL, flags: 0, mask: 0n });

/** sighand_struct: one action per signal (index = signo; 0 unused). Shared by the threads of a process. */
export class SigHand {
  readonly action: KSigAction[];
  constructor(from?: SigHand) {
    this.action = from ? [...from.action] : new Array<KSigAction>(NSIG + 1).fill(DEFAULT_ACTION);
  }
}

/** A handler's invocation set up for user code to run (a signal frame on the user stack). */
export interface SignalFrame {
  readonly signo: number;
  readonly handler: SigHandler | number;
  readonly info: SigInfo;
  /** The blocked set to go back to when the handler returns (rt_sigreturn) or siglongjmps. */
  readonly saved: bigint;
}

/** How many handled signals a task keeps a record of (the count goes on). */
export const HANDLED_RECORDS = 64;

/** The per-task part: blocked and pending sets, queued siginfo, what handlers caught. */
export class TaskSignals {
  blocked = 0n;
  pending = 0n;
  /** siginfo of the pending signals, in arrival order (a standard signal once, real-time ones each time). */
  readonly queue: SigInfo[] = [];
  /** Frames for handlers given as user-space addresses, waiting for the runtime that runs the code. */
  readonly frames: SignalFrame[] = [];
  /** Frames a runtime is running, innermost last (rt_sigreturn pops one). */
  readonly active: SignalFrame[] = [];
  readonly handled: HandledSignal[] = [];
  handledCount = 0;
  /**
   * The last synchronous fault was forced on a task that had a handler but blocked the signal: it
   * dies without the "segfault at" line (show_signal_msg prints only unhandled signals).
   */
  quietFault = false;
}
