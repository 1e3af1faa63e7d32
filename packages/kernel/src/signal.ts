/**
 * Signals as a program sees them (arch/x86/include/uapi/asm/signal.h, include/uapi/asm-generic/
 * signal-defs.h, siginfo.h): numbers, sigaction flags, sigprocmask's `how`, and the shapes
 * `p.sys.sigaction` takes and returns.
 */
import type { SiCodeName, SignalName } from "@faultline/mm";

export const SIGHUP = 1;
export const SIGINT = 2;
export const SIGQUIT = 3;
export const SIGILL = 4;
export const SIGTRAP = 5;
export const SIGABRT = 6;
export const SIGIOT = 6;
export const SIGFPE = 8;
export const SIGUSR1 = 10;
export const SIGUSR2 = 12;
export const SIGPIPE = 13;
export const SIGALRM = 14;
export const SIGTERM = 15;
export const SIGSTKFLT = 16;
export const SIGCHLD = 17;
export const SIGCONT = 18;
export const SIGSTOP = 19;
export const SIGTSTP = 20;
export const SIGTTIN = 21;
export const SIGTTOU = 22;
export const SIGURG = 23;
export const SIGXCPU = 24;
export const SIGXFSZ = 25;
export const SIGVTALRM = 26;
export const SIGPROF = 27;
export const SIGWINCH = 28;
export const SIGIO = 29;
export const SIGPOLL = 29;
export const SIGPWR = 30;
export const SIGSYS = 31;
/** The kernel's first real-time signal (glibc's SIGRTMIN is 34: it keeps 32 and 33 for its threads). */
export const __SIGRTMIN = 32;
export const SIGRTMAX = 64;

/** sa_handler values that are not functions (include/uapi/asm-generic/signal-defs.h). */
export const SIG_DFL = 0;
export const SIG_IGN = 1;

/** sa_flags (arch/x86/include/uapi/asm/signal.h, signal-defs.h). */
export const SA_NOCLDSTOP = 0x00000001;
export const SA_NOCLDWAIT = 0x00000002;
export const SA_SIGINFO = 0x00000004;
/** Never kept: a program probes with it whether the kernel clears unknown flags (since 5.11). */
export const SA_UNSUPPORTED = 0x00000400;
export const SA_EXPOSE_TAGBITS = 0x00000800;
export const SA_RESTORER = 0x04000000;
export const SA_ONSTACK = 0x08000000;
export const SA_RESTART = 0x10000000;
export const SA_NODEFER = 0x40000000;
export const SA_RESETHAND = 0x80000000;
export const SA_NOMASK = SA_NODEFER;
export const SA_ONESHOT = SA_RESETHAND;

/** sigprocmask(2) `how`. */
export const SIG_BLOCK = 0;
export const SIG_UNBLOCK = 1;
export const SIG_SETMASK = 2;

/** si_code values of signals sent by a process (kill, tkill). */
export const SI_USER = 0;
export const SI_KERNEL = 0x80;
export const SI_TKILL = -6;

/** si_code of SIGCHLD (include/uapi/asm-generic/siginfo.h): how the child changed state. */
export const CLD_EXITED = 1;
export const CLD_KILLED = 2;
export const CLD_DUMPED = 3;
export const CLD_TRAPPED = 4;
export const CLD_STOPPED = 5;
export const CLD_CONTINUED = 6;

/** What a handler receives (siginfo_t, the fields Faultline fills). */
export interface SigInfo {
  /** si_signo */
  readonly signo: number;
  /**
   * si_code: SEGV_MAPERR, SEGV_ACCERR, SEGV_PKUERR, BUS_ADRERR, BUS_OBJERR…, SI_USER/SI_TKILL for
   * kill/tgkill, CLD_EXITED/CLD_KILLED/CLD_DUMPED for a child's SIGCHLD.
   */
  readonly code: number;
  /** si_addr: the faulting address (0 for a signal a process sent). */
  readonly addr: number;
  /** si_pkey (SEGV_PKUERR only). */
  readonly pkey?: number;
  /** si_pid: the sender (kill, tgkill), or the child that exited (SIGCHLD). */
  readonly pid?: number;
  /** si_uid: the child's real uid (SIGCHLD); every process here runs as root (0). */
  readonly uid?: number;
  /** si_status (SIGCHLD): the exit code (CLD_EXITED) or the signal number (CLD_KILLED, CLD_DUMPED). */
  readonly status?: number;
}

/** A signal handler: runs with `mask` (and the signal itself unless SA_NODEFER) blocked. */
export type SigHandler = (info: SigInfo) => void;

/**
 * sigaction(2)'s struct sigaction: `handler` a function, SIG_DFL, SIG_IGN, or (for a runtime that
 * runs the process's code elsewhere, such as a simulator worker) an opaque user-space handler
 * address above 1; `flags` SA_*; `mask` the signals blocked while the handler runs.
 */
export interface SigAction {
  readonly handler: SigHandler | number;
  readonly flags?: number;
  readonly mask?: readonly number[];
}

/** What sigaction returns: the previous action, every field filled (oldact). */
export interface SigActionResult {
  readonly handler: SigHandler | number;
  readonly flags: number;
  readonly mask: readonly number[];
}

/** SIGCHLD's si_code by name (a child's exit; stops and continues are not modelled). */
export type CldCodeName = "CLD_EXITED" | "CLD_KILLED" | "CLD_DUMPED";

/** One signal a handler caught (the simulator's report lists them per process). */
export interface HandledSignal {
  readonly signal: SignalName;
  readonly code: SiCodeName | CldCodeName;
  readonly addr: number;
}
