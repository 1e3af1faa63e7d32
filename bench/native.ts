// Native Linux baselines for the benches: bench/native-fault.c, built with the system C compiler when
// there is one (skipped with a note when not), run between the JavaScript rounds it is compared with.
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const SOURCE = join(dirname(fileURLToPath(import.meta.url)), "native-fault.c");

export interface NativeFault {
  /** ns per page, thread CPU time: median and minimum over the program's rounds. */
  readonly median: number;
  readonly min: number;
  /** Minor faults per touched page (1 = one fault per page). */
  readonly faultsPerPage: number;
  /** Resident pages a touch added per page (1 for a read = no zero page on this host). */
  readonly residentPerPage: number;
}
export type NativeFaults = Record<"anon_write" | "anon_read" | "devzero_read", NativeFault>;

let binary: string | null | undefined;
/** Why there is no native figure (no compiler, build failed), or null when there is one. */
export let nativeNote: string | null = null;

function build(): string | null {
  if (binary !== undefined) return binary;
  const out = join(mkdtempSync(join(tmpdir(), "faultline-bench-")), "native-fault");
  for (const cc of ["cc", "gcc", "clang"]) {
    if (!cc) continue;
    try {
      execFileSync(cc, ["-O2", "-o", out, SOURCE], { stdio: "pipe" });
      binary = out;
      return binary;
    } catch (e) {
      nativeNote = `no native baseline: ${cc} failed (${(e as Error).message.split("\n")[0]})`;
    }
  }
  nativeNote ??= "no native baseline: no C compiler (cc, gcc, clang) found";
  binary = null;
  return null;
}

/** One run of the native fault program (`rounds` rounds of `pages` pages), or null with nativeNote set. */
export function nativeFaults(rounds: number, pages: number): NativeFaults | null {
  const bin = build();
  if (!bin) return null;
  const out = execFileSync(bin, [String(rounds), String(pages)], { encoding: "utf8" });
  return JSON.parse(out.trim()) as NativeFaults;
}
