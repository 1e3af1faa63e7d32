/**
 * `expectSignal(() => p.mmu.load8(addr), { signo: SIGBUS, code: BUS_ADRERR, addr })`: the access
 * must die of that signal, with that si_code and si_addr (force_sig_fault()'s three facts). Throws an
 * AssertionError (node:assert, so vitest and node:test both show a diff) otherwise.
 */
import { AssertionError } from "node:assert";
import { SIGBUS, SIGKILL, SIGSEGV, type SiCodeName, SignalError, type SignalName } from "@faultline/kernel";

const NAMES: Record<number, SignalName> = { [SIGSEGV]: "SIGSEGV", [SIGBUS]: "SIGBUS", [SIGKILL]: "SIGKILL" };

/** What the signal must be; each field given is compared. Numbers or the kernel's names both work. */
export interface ExpectedSignal {
  /** The signal number (`SIGBUS` from @faultline/kernel) … */
  readonly signo?: number;
  /** … or its name ("SIGBUS"). */
  readonly signal?: SignalName;
  /** si_code: a number (`BUS_ADRERR`) or its name ("BUS_ADRERR"). */
  readonly code?: number | SiCodeName;
  /** si_addr: the exact faulting address. */
  readonly addr?: number;
  /** si_pkey, for SEGV_PKUERR. */
  readonly pkey?: number;
}

/** The facts of a signal as the assertion compares them (addresses in hex, so a diff reads well). */
function facts(e: SignalError, x: ExpectedSignal): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (x.signo !== undefined) out.signo = e.signo;
  if (x.signal !== undefined || x.signo !== undefined) out.signal = e.signal;
  if (x.code !== undefined) out.code = typeof x.code === "number" ? e.siCode : e.code;
  if (x.addr !== undefined) out.addr = `0x${e.addr.toString(16)}`;
  if (x.pkey !== undefined) out.pkey = e.pkey;
  return out;
}

function wanted(x: ExpectedSignal): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (x.signo !== undefined) out.signo = x.signo;
  if (x.signal !== undefined) out.signal = x.signal;
  else if (x.signo !== undefined) out.signal = NAMES[x.signo] ?? `signal ${x.signo}`;
  if (x.code !== undefined) out.code = x.code;
  if (x.addr !== undefined) out.addr = `0x${x.addr.toString(16)}`;
  if (x.pkey !== undefined) out.pkey = x.pkey;
  return out;
}

const describe = (x: ExpectedSignal) =>
  Object.entries(wanted(x))
    .map(([k, v]) => `${k} ${String(v)}`)
    .join(", ") || "any signal";

/**
 * Runs `access` and returns the SignalError it raised, after checking it against `expected`. Fails
 * when `access` completes, throws something else, or the signal differs.
 */
export function expectSignal(access: () => unknown, expected: ExpectedSignal = {}): SignalError {
  let value: unknown;
  try {
    value = access();
  } catch (e) {
    if (!SignalError.is(e)) {
      const err = new AssertionError({
        message: `expected a signal (${describe(expected)}), but the access threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`,
      });
      (err as { cause?: unknown }).cause = e;
      throw err;
    }
    const actual = facts(e, expected);
    const want = wanted(expected);
    if (Object.keys(want).some((k) => actual[k] !== want[k])) {
      throw new AssertionError({
        message: `expected ${describe(expected)}, got ${e.message}`,
        actual,
        expected: want,
        operator: "deepStrictEqual",
      });
    }
    return e;
  }
  if (value instanceof Promise) {
    throw new AssertionError({
      message:
        "expectSignal: the access returned a Promise; loads and stores are synchronous (await nothing)",
    });
  }
  throw new AssertionError({
    message: `expected a signal (${describe(expected)}), but the access completed${value === undefined ? "" : ` and returned ${typeof value === "number" ? `0x${value.toString(16)}` : String(value)}`}`,
  });
}
