import { BUS_ADRALN, BUS_ADRERR, BUS_OBJERR, SEGV_ACCERR, SEGV_MAPERR, SEGV_PKUERR } from "./constants";

/** The standard signals' names, by number (arch/x86/include/uapi/asm/signal.h); index 0 unused. */
const STD_NAMES = [
  "",
  "SIGHUP",
  "SIGINT",
  "SIGQUIT",
  "SIGILL",
  "SIGTRAP",
  "SIGABRT",
  "SIGBUS",
  "SIGFPE",
  "SIGKILL",
  "SIGUSR1",
  "SIGSEGV",
  "SIGUSR2",
  "SIGPIPE",
  "SIGALRM",
  "SIGTERM",
  "SIGSTKFLT",
  "SIGCHLD",
  "SIGCONT",
  "SIGSTOP",
  "SIGTSTP",
  "SIGTTIN",
  "SIGTTOU",
  "SIGURG",
  "SIGXCPU",
  "SIGXFSZ",
  "SIGVTALRM",
  "SIGPROF",
  "SIGWINCH",
  "SIGIO",
  "SIGPWR",
  "SIGSYS",
] as const;

/** The name of a standard (non real-time) signal: SIGHUP … SIGSYS. */
export type StandardSignalName = Exclude<(typeof STD_NAMES)[number], "">;
/**
 * A signal's name: a standard one, or a real-time one as `kill -l` names them (34 SIGRTMIN,
 * 35 SIGRTMIN+1 … 49 SIGRTMIN+15, 50 SIGRTMAX-14 … 64 SIGRTMAX); 32 and 33 (taken by glibc's
 * threads) are SIG32 and SIG33.
 */
export type SignalName =
  | StandardSignalName
  | "SIGRTMIN"
  | "SIGRTMAX"
  | `SIGRTMIN+${number}`
  | `SIGRTMAX-${number}`
  | `SIG${number}`;
/** A signal's si_code, by name (SEGV_MAPERR, BUS_ADRERR, SI_KERNEL…). */
export type SiCodeName =
  | "SEGV_MAPERR"
  | "SEGV_ACCERR"
  | "SEGV_PKUERR"
  | "BUS_ADRALN"
  | "BUS_ADRERR"
  | "BUS_OBJERR"
  | "SI_USER"
  | "SI_KERNEL"
  | "SI_TKILL";

/** _NSIG: signals are 1..64. */
export const NSIG = 64;

/** The name of signal `signo` (1..64). */
export function signalName(signo: number): SignalName {
  if (!Number.isInteger(signo) || signo < 1 || signo > NSIG) throw new RangeError(`no signal ${signo}`);
  if (signo < STD_NAMES.length) return STD_NAMES[signo] as StandardSignalName;
  if (signo < 34) return `SIG${signo}`;
  if (signo === 34) return "SIGRTMIN";
  if (signo === NSIG) return "SIGRTMAX";
  return signo <= 49 ? `SIGRTMIN+${signo - 34}` : `SIGRTMAX-${NSIG - signo}`;
}

const BY_NAME = new Map<string, number>();
for (let s = 1; s <= NSIG; s++) BY_NAME.set(signalName(s), s);

/** The number of signal `name`, or 0 when no signal has that name. */
export function signalNumber(name: string): number {
  return BY_NAME.get(name) ?? 0;
}

const BRAND = Symbol.for("faultline.SignalError");
const CODE: Record<SiCodeName, number> = {
  SEGV_MAPERR,
  SEGV_ACCERR,
  SEGV_PKUERR,
  BUS_ADRALN,
  BUS_ADRERR,
  BUS_OBJERR,
  SI_USER: 0,
  SI_KERNEL: 0x80,
  SI_TKILL: -6,
};

/** si_code's value for a code name (include/uapi/asm-generic/siginfo.h). */
export function siCodeValue(code: SiCodeName): number {
  return CODE[code];
}

/**
 * A signal delivered to the process by an access (or by the kernel): thrown from the load or store
 * that caused it. `addr` is si_addr, the exact faulting address. `handled` is true when a handler
 * the process installed (sigaction) ran and the access was abandoned, as a handler that
 * siglongjmps abandons it: the process lives on, its memory as the failed access left it.
 * Otherwise the signal was fatal and the process is gone.
 */
export class SignalError extends Error {
  readonly [BRAND] = true;
  readonly signo: number;
  readonly siCode: number;
  constructor(
    readonly signal: SignalName,
    readonly code: SiCodeName,
    readonly addr: number,
    detail?: string,
    /** si_pkey: the protection key that denied the access (SEGV_PKUERR only). */
    readonly pkey?: number,
    /** A handler ran (the process lives on). */
    readonly handled: boolean = false,
  ) {
    super(
      `${signal} (${code}${pkey === undefined ? "" : `, pkey ${pkey}`}) at 0x${addr.toString(16)}${detail ? `: ${detail}` : ""}${handled ? " (handled)" : ""}`,
    );
    this.name = "SignalError";
    this.signo = signalNumber(signal);
    this.siCode = CODE[code];
  }
  static is(e: unknown): e is SignalError {
    return typeof e === "object" && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
  }
}
