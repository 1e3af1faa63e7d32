/**
 * Oopses and bad pages a test says it expects, matched against the machine's records. Each expectation
 * wants exactly `times` matching records (default 1); a record no expectation claims is unexpected.
 */
import type { BadPageRecord, OopsRecord } from "@faultline/kernel";

/** An oops a test expects: every field given must match (a string message is a substring). */
export interface OopsExpectation {
  /** The driver whose code threw ("kernel" for a kernel bug). */
  readonly driver?: string;
  /** The callback that threw, as the oops line names it: "init", "exit", "vm_ops->fault", "fops->mmap"… */
  readonly callback?: string;
  /** The thrown error's message. */
  readonly message?: string | RegExp;
  /** How many such oopses (default 1). */
  readonly times?: number;
}

/** A bad page report a test expects ("BUG: Bad page state"): every field given must match. */
export interface BadPageExpectation {
  readonly pfn?: number;
  /** The driver whose fault handler installed the page without a reference (null when unknown). */
  readonly driver?: string | null;
  /** The reason, as "page dumped because:" prints it. */
  readonly reason?: string | RegExp;
  /** How many such reports (default 1). */
  readonly times?: number;
}

const text = (m: string | RegExp | undefined, s: string): boolean =>
  m === undefined || (typeof m === "string" ? s.includes(m) : m.test(s));

export const errorMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export function oopsMatches(x: OopsExpectation, r: OopsRecord): boolean {
  return (
    (x.driver === undefined || x.driver === r.driver) &&
    (x.callback === undefined || x.callback === r.callback) &&
    text(x.message, errorMessage(r.error))
  );
}

export function badPageMatches(x: BadPageExpectation, r: BadPageRecord): boolean {
  return (
    (x.pfn === undefined || x.pfn === r.pfn) &&
    (x.driver === undefined || x.driver === r.driver) &&
    text(x.reason, r.reason)
  );
}

/** An expectation as a message shows it: `{ driver: "careless", message: /remap/ }`. */
export function describeExpectation(x: object): string {
  const parts = Object.entries(x)
    .filter(([k, v]) => k !== "times" && v !== undefined)
    .map(
      ([k, v]) =>
        `${k}: ${v instanceof RegExp ? String(v) : typeof v === "number" ? `0x${v.toString(16)}` : JSON.stringify(v)}`,
    );
  return parts.length ? `{ ${parts.join(", ")} }` : "{}";
}

/**
 * Claims each record for the first expectation that matches it and still wants more. Returns the
 * records nobody claimed and, per expectation, how many it got.
 */
export function claim<X extends { readonly times?: number }, R>(
  expectations: readonly X[],
  records: readonly R[],
  matches: (x: X, r: R) => boolean,
): { unclaimed: R[]; got: number[] } {
  const got = expectations.map(() => 0);
  const unclaimed: R[] = [];
  for (const r of records) {
    const i = expectations.findIndex((x, j) => got[j]! < (x.times ?? 1) && matches(x, r));
    if (i < 0) unclaimed.push(r);
    else got[i]!++;
  }
  return { unclaimed, got };
}
