import { BUS_ADRERR, SEGV_ACCERR, SEGV_MAPERR, SEGV_PKUERR, SIGBUS, SIGKILL, SIGSEGV } from "./constants";

export type SignalName = "SIGSEGV" | "SIGBUS" | "SIGKILL";
export type SiCodeName = "SEGV_MAPERR" | "SEGV_ACCERR" | "SEGV_PKUERR" | "BUS_ADRERR" | "SI_KERNEL";

const BRAND = Symbol.for("faultline.SignalError");
const SIGNO: Record<SignalName, number> = { SIGSEGV, SIGBUS, SIGKILL };
const CODE: Record<SiCodeName, number> = {
  SEGV_MAPERR,
  SEGV_ACCERR,
  SEGV_PKUERR,
  BUS_ADRERR,
  SI_KERNEL: 0x80,
};

/**
 * A fatal signal delivered to the process by an access (or by the kernel): thrown from the load or
 * store that caused it. `addr` is si_addr, the exact faulting address.
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
  ) {
    super(
      `${signal} (${code}${pkey === undefined ? "" : `, pkey ${pkey}`}) at 0x${addr.toString(16)}${detail ? `: ${detail}` : ""}`,
    );
    this.name = "SignalError";
    this.signo = SIGNO[signal];
    this.siCode = CODE[code];
  }
  static is(e: unknown): e is SignalError {
    return typeof e === "object" && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
  }
}
