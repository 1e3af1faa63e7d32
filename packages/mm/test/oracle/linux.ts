// Runs scripts against the real kernel of this machine through oracle.c.

import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { release } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Script, serializeScript } from "./script.ts";

export const ORACLE_DIR = dirname(fileURLToPath(import.meta.url));
export const ORACLE_SOURCE = join(ORACLE_DIR, "oracle.c");
/** Build output (gitignored). */
export const ORACLE_BUILD_DIR = join(ORACLE_DIR, "build");

/** Why the oracle is unavailable, or null when it compiled. Set by compileOracle(). */
export let oracleUnavailableReason: string | null = null;
let cached: string | null | undefined;

/**
 * Compiles oracle.c (once per source version; cached in build/) and returns the binary path,
 * or null when this is not Linux x86-64 or no C compiler (`$CC` or `cc`) is available.
 */
export function compileOracle(): string | null {
  if (cached !== undefined) return cached;
  cached = null;
  if (process.platform !== "linux" || process.arch !== "x64") {
    oracleUnavailableReason = `the oracle needs Linux x86-64 (this is ${process.platform}/${process.arch})`;
    return null;
  }
  const cc = process.env.CC || "cc";
  const probe = spawnSync(cc, ["--version"], { stdio: "ignore" });
  if (probe.error || probe.status !== 0) {
    oracleUnavailableReason = `no C compiler: '${cc} --version' failed`;
    return null;
  }
  const source = readFileSync(ORACLE_SOURCE);
  const hash = createHash("sha256").update(source).update(cc).digest("hex").slice(0, 12);
  const bin = join(ORACLE_BUILD_DIR, `oracle-${hash}`);
  if (!existsSync(bin)) {
    mkdirSync(ORACLE_BUILD_DIR, { recursive: true });
    // compile to a private name and rename: parallel test workers may race here
    const tmp = `${bin}.${process.pid}.tmp`;
    const r = spawnSync(cc, ["-O1", "-Wall", "-o", tmp, ORACLE_SOURCE], { encoding: "utf8" });
    if (r.error || r.status !== 0) {
      rmSync(tmp, { force: true });
      throw new Error(`compiling ${ORACLE_SOURCE} failed:\n${r.stderr ?? r.error}`);
    }
    renameSync(tmp, bin);
  }
  cached = bin;
  oracleUnavailableReason = null;
  return bin;
}

/**
 * Runs script text (as produced by serializeScript) and returns the transcript lines. A script whose
 * top-level process a signal kills (kill 15 with SIGTERM's default action) ends with "killed <SIG>"
 * after the lines it printed (oracle.c flushes each op of a script with signal ops).
 */
export function runTextOnLinux(text: string): string[] {
  const bin = compileOracle();
  if (bin === null) throw new Error(`Linux oracle unavailable: ${oracleUnavailableReason}`);
  let out: string;
  try {
    out = execFileSync(bin, [], {
      input: text,
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
      stdio: ["pipe", "pipe", "pipe"],
    });
  } catch (e) {
    const died = e as { signal?: string | null; stdout?: string };
    if (!died.signal || typeof died.stdout !== "string") throw e;
    out = `${died.stdout}killed ${died.signal}\n`;
  }
  const lines = out.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/** Runs a script on the real kernel; one transcript line per op (plus maps lines). */
export function runOnLinux(script: Script): string[] {
  return runTextOnLinux(serializeScript(script));
}

/** `uname -r` of this machine. */
export function kernelRelease(): string {
  return release();
}

/** What the live kernel does where hosts differ, so Faultline can be configured the same way. */
export interface HostMmFeatures {
  /** The CPU has protection keys and the kernel enabled them (/proc/cpuinfo flags `pku` and `ospke`). */
  readonly pku: boolean;
  /**
   * Anonymous read faults map the zero page. Some hosts' kernels forbid it (seen: `pvm_no_zero_page=1`
   * on the kernel command line); probed by behaviour, not by name.
   */
  readonly zeroPage: boolean;
  /**
   * RLIMIT_MEMLOCK in bytes for a process without CAP_IPC_LOCK (mlock, MAP_LOCKED, mlockall answer
   * -EAGAIN / -ENOMEM / -EPERM past it); absent: unlimited or privileged (root has CAP_IPC_LOCK).
   * Read from /proc/self/status (CapEff) and /proc/self/limits; not part of a fixture's file name.
   */
  readonly mlockLimit?: number;
}

/** Faultline's defaults (no PKU, the zero page): what a host without surprises looks like. */
export const DEFAULT_HOST_FEATURES: HostMmFeatures = { pku: false, zeroPage: true };

let hostCached: HostMmFeatures | undefined;

/** A read fault on fresh anonymous memory, then the Rss it added: none with the zero page. */
export const ZERO_PAGE_PROBE =
  "arena 0x100000000000 0x400000\nmmap 0x100000000000 0x1000 0x3 0x32\nload8 0x100000000000\nrss\n";

/** Whether the kernel that printed `transcript` (of ZERO_PAGE_PROBE) mapped the zero page. */
export function zeroPageFromProbe(transcript: readonly string[]): boolean {
  const m = /= rss (\d+) anon (\d+)$/.exec(transcript[2] ?? "");
  if (!m) throw new Error(`zero-page probe: unexpected transcript\n${transcript.join("\n")}`);
  return m[1] === "0";
}

/** The features of this machine's kernel (requires the oracle for the zero-page probe). */
export function hostFeatures(): HostMmFeatures {
  if (hostCached) return hostCached;
  let pku = false;
  try {
    const flags = readFileSync("/proc/cpuinfo", "utf8")
      .split("\n")
      .find((l) => l.startsWith("flags"));
    const set = new Set((flags ?? "").split(":")[1]?.trim().split(/\s+/) ?? []);
    pku = set.has("pku") && set.has("ospke");
  } catch {
    pku = false;
  }
  const zeroPage = compileOracle() ? zeroPageFromProbe(runTextOnLinux(ZERO_PAGE_PROBE)) : true;
  const mlockLimit = hostMlockLimit();
  hostCached = mlockLimit === undefined ? { pku, zeroPage } : { pku, zeroPage, mlockLimit };
  return hostCached;
}

/** "pku, no zero page" — for test names. */
export function describeHost(h: HostMmFeatures): string {
  const memlock = h.mlockLimit === undefined ? "" : `, RLIMIT_MEMLOCK ${h.mlockLimit / 1024} KiB`;
  return `${h.pku ? "PKU" : "no PKU"}, ${h.zeroPage ? "zero page" : "no zero page"}${memlock}`;
}

/** CAP_IPC_LOCK (include/uapi/linux/capability.h): mlock without RLIMIT_MEMLOCK's limit. */
const CAP_IPC_LOCK = 14;

/**
 * The RLIMIT_MEMLOCK this process (and the oracle it runs) is held to, or undefined when it is
 * unlimited or the process has CAP_IPC_LOCK (root): can_do_mlock() and mlock_future_ok().
 */
export function hostMlockLimit(
  status = readIfExists("/proc/self/status"),
  limits = readIfExists("/proc/self/limits"),
): number | undefined {
  const cap = /^CapEff:\s*([0-9a-f]+)$/m.exec(status ?? "")?.[1];
  if (cap !== undefined && (BigInt(`0x${cap}`) >> BigInt(CAP_IPC_LOCK)) & 1n) return undefined;
  const soft = /^Max locked memory\s+(\S+)/m.exec(limits ?? "")?.[1];
  if (soft === undefined || soft === "unlimited") return undefined;
  return Number(soft);
}

function readIfExists(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/**
 * Why this host's kernel may dump core where Faultline does not, or null: a child killed by SIGSEGV,
 * SIGABRT… reports CLD_DUMPED and WCOREDUMP when a core is written. Faultline's processes start with
 * RLIMIT_CORE 0 and model the kernel's default core_pattern ("core": no dump below a page of limit);
 * a host whose processes start with a larger limit, or whose core_pattern is a pipe (which ignores the
 * limit), dumps.
 */
export function coreDumpMismatch(
  pattern = readIfExists("/proc/sys/kernel/core_pattern"),
  limits = readIfExists("/proc/self/limits"),
): string | null {
  if (pattern?.startsWith("|"))
    return `core_pattern is a pipe (${pattern.trim()}): every fatal fault dumps core`;
  const soft = /^Max core file size\s+(\S+)/m.exec(limits ?? "")?.[1];
  if (soft !== undefined && soft !== "0")
    return `RLIMIT_CORE is ${soft} here (Faultline's processes start with 0): a fatal fault dumps core`;
  return null;
}

/** The kernel series whose rules Faultline's modern era reproduces (mm/mremap.c, mm/vma.c of 6.18). */
export const MODELLED_SERIES = "6.18";

/**
 * Why this machine's kernel cannot judge Faultline's modern era, or null when it can: no oracle (no
 * C compiler, not Linux x86-64), or a kernel series whose mm rules differ (6.12 answers some mremap
 * and munmap cases otherwise).
 */
export function liveKernelMismatch(): string | null {
  if (!compileOracle()) return oracleUnavailableReason ?? "no oracle";
  const series = kernelRelease().split(".").slice(0, 2).join(".");
  if (series !== MODELLED_SERIES)
    return `kernel ${kernelRelease()} is not the ${MODELLED_SERIES} series Faultline models`;
  return null;
}

/**
 * Why this kernel's MADV_MERGEABLE / MADV_UNMERGEABLE cannot be compared with Faultline's, or null when
 * it can: Faultline models a kernel built with KSM, as distributions build it; without CONFIG_KSM
 * (no /sys/kernel/mm/ksm) both are -EINVAL (madvise_behavior_valid()).
 */
export function ksmMismatch(): string | null {
  return existsSync("/sys/kernel/mm/ksm")
    ? null
    : "this kernel has no KSM (CONFIG_KSM): MADV_MERGEABLE is -EINVAL";
}

/**
 * Why this host's hugetlb cannot be compared with Faultline's, or null when it can. Every Faultline
 * machine has an empty huge page pool and only the 2 MiB hstate (hugetlb.ts); a host with hugetlbfs
 * (CONFIG_HUGETLBFS), 2 MiB default pages, no 1 GiB hstate (a CPU without gbpages, pdpe1gb) and no
 * pages in its 2 MiB pool, free or surplus, answers MAP_HUGETLB the same way.
 */
export function hugetlbMismatch(
  read: (path: string) => string | null = readIfExists,
  exists: (path: string) => boolean = existsSync,
): string | null {
  if (!/\bhugetlbfs\b/.test(read("/proc/filesystems") ?? "")) return "this kernel has no hugetlbfs";
  const size = /^Hugepagesize:\s+(\d+) kB/m.exec(read("/proc/meminfo") ?? "")?.[1];
  if (size !== "2048")
    return `the default huge page size is ${size ?? "unknown"} kB here, Faultline's 2048 kB`;
  if (exists("/sys/kernel/mm/hugepages/hugepages-1048576kB"))
    return "this host has a 1 GiB hstate (gbpages); Faultline models a CPU without one";
  const dir = "/sys/kernel/mm/hugepages/hugepages-2048kB";
  for (const f of ["nr_hugepages", "free_hugepages", "nr_overcommit_hugepages"]) {
    const v = read(`${dir}/${f}`)?.trim();
    if (v !== "0") return `${f} is ${v ?? "unreadable"} here: Faultline's huge page pool is empty`;
  }
  return null;
}

/** Two pkey_alloc(0, 0) calls: on a CPU without PKU, the answers the kernel's version gives. */
export const PKEY_ALLOC_PROBE = "arena 0x100000000000 0x400000\npkey_alloc 0x0 0x0\npkey_alloc 0x0 0x0\n";

let pkeyCached: string | null | undefined;

/**
 * Why this kernel's pkey_alloc cannot be compared with Faultline's, or null when it can. Without PKU,
 * 6.18.44 (what Faultline models) answers -EINVAL, then -ENOSPC (mm_pkey_alloc keeps the key that
 * arch_set_user_pkey_access refused); upstream changed that in Aug 2026 (dee87e09b0dd), and a 6.18.y
 * host carrying the backport answers otherwise: the live comparisons of scripts that allocate keys say
 * so and skip, instead of failing on a kernel difference Faultline does not model.
 */
export function pkeyAllocMismatch(modelled: readonly string[]): string | null {
  if (pkeyCached !== undefined) return pkeyCached;
  if (!compileOracle() || hostFeatures().pku) {
    pkeyCached = null;
    return null;
  }
  pkeyCached = pkeyAllocDifference(runTextOnLinux(PKEY_ALLOC_PROBE), modelled);
  return pkeyCached;
}

/** The skip reason when the live and the modelled transcripts of PKEY_ALLOC_PROBE differ, else null. */
export function pkeyAllocDifference(live: readonly string[], modelled: readonly string[]): string | null {
  const results = (t: readonly string[]) => t.map((l) => l.replace(/^.* = /, ""));
  const got = results(live);
  const want = results(modelled);
  return got.join(",") === want.join(",")
    ? null
    : `without PKU this kernel answers pkey_alloc with ${got.join(", ")}; Faultline models 6.18.44's ${want.join(", ")} (before upstream dee87e09b0dd)`;
}
