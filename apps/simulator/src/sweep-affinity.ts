// Which core each of a sweep's children runs on. A deterministic run keeps one thread busy at a time
// (its kernel thread or one of its processes), handing the turn from thread to thread hundreds of times
// a run. Left to the scheduler, two sweeps' threads hop between cores and every hand-off wakes a thread
// on another core; pinned, each child's threads (and V8's helpers in that process) share one core, the
// hand-offs stay on it and the children do not compete: on this 2-core class, two pinned children run
// ~1.75× the runs of one pinned child, two unpinned ones ~1.25× (apps/simulator/bench). Linux only: a
// child is forked as usual, then pinned with util-linux's `taskset -a -p` (Node cannot set a thread's
// affinity); elsewhere the children run unpinned, and so does a child taskset refuses or that finds
// no taskset, with the reason handed to the sweep (which says so once).
import { type ExecFileException, execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";

/**
 * The CPUs this process may run on, from /proc/self/status's Cpus_allowed_list ("0-3,8,10-11"), or
 * null where that cannot be read (not Linux) or does not parse.
 */
export function allowedCpus(status = readStatus()): number[] | null {
  const line = status?.split("\n").find((l) => l.startsWith("Cpus_allowed_list:"));
  if (!line) return null;
  const cpus: number[] = [];
  for (const part of line
    .slice(line.indexOf(":") + 1)
    .trim()
    .split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return null;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    // CONFIG_NR_CPUS is at most 8192.
    if (hi < lo || hi >= 8192) return null;
    for (let c = lo; c <= hi; c++) cpus.push(c);
  }
  return cpus.length ? cpus : null;
}

const readText = (path: string): string | null => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
};

const readStatus = (): string | null => readText("/proc/self/status");

/** What became of one pin: the process runs on its core, or where the scheduler puts it, and why. */
export type PinResult = { readonly pinned: true } | { readonly pinned: false; readonly why: string };

export interface Pinning {
  /** The core of child slot i. */
  readonly cpuOf: (slot: number) => number;
  /**
   * Pins process `pid` (every thread it has, and so every thread it starts later) to slot `slot`'s
   * core: `taskset -a -p -c`, run beside the caller's event loop. Not pinned when there is no taskset
   * or it refuses (EPERM, a CPU offline or outside the cgroup's cpuset, a seccomp filter): `why` is
   * taskset's own message, and the process runs where the scheduler puts it.
   */
  readonly pin: (pid: number, slot: number) => Promise<PinResult>;
}

/**
 * Bound on one taskset (it takes milliseconds): a taskset that hangs leaves its child unpinned.
 * sweep.ts's GRACE_MS is never less (its hang clock runs while a new child's pin is pending).
 */
export const PIN_TIMEOUT_MS = 10_000;

/** Why a taskset run left its process unpinned, in a line: taskset's own message when it gave one. */
function pinFailure(taskset: string, args: readonly string[], e: ExecFileException, stderr: string): string {
  // A bare name is looked for on PATH; a path names the file (or its script's interpreter) missing.
  if (e.code === "ENOENT")
    return taskset.includes("/")
      ? `${taskset}: not found`
      : `${taskset}: not found (util-linux's taskset, looked for on PATH)`;
  const command = [taskset, ...args].join(" ");
  if (e.killed) return `${command}: no answer in ${PIN_TIMEOUT_MS / 1000} s`;
  const said = stderr.trim().split("\n").pop();
  if (said) return `${command}: ${said}`;
  // Not started (EACCES: e.code is the errno name), killed, or an exit status without a word.
  if (typeof e.code !== "number") return `${command}: ${e.signal ? `killed by ${e.signal}` : e.message}`;
  return `${command}: exit ${e.code}`;
}

/** Each CPU's idle time so far (idle + iowait, in USER_HZ ticks) from /proc/stat, or null. */
export function idleTimes(stat: string | null): Map<number, number> | null {
  if (stat === null) return null;
  const idle = new Map<number, number>();
  for (const line of stat.split("\n")) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    if (f.length < 5 || f.some((x) => !Number.isFinite(x))) return null;
    idle.set(Number(m[1]), f[3]! + f[4]!);
  }
  return idle.size ? idle : null;
}

/**
 * The order children take the allowed CPUs in: the idlest between the two /proc/stat samples first
 * (a core another program keeps busy last), ties from the last CPU down (CPU 0 is where interrupts
 * tend to land). Without samples, from the last CPU down.
 */
export function cpuOrder(
  cpus: readonly number[],
  before: ReadonlyMap<number, number> | null,
  after: ReadonlyMap<number, number> | null,
): number[] {
  const idle = (c: number) => (before && after ? (after.get(c) ?? 0) - (before.get(c) ?? 0) : 0);
  return [...cpus].sort((a, b) => idle(b) - idle(a) || b - a);
}

/**
 * The core a CPU belongs to: its SMT siblings as sysfs lists them (topology/thread_siblings_list, "0,4"
 * or "0-1"; the same text for every thread of one core), or null where sysfs does not say.
 */
export function coreOf(cpu: number, read: (path: string) => string | null = readText): string | null {
  return read(`/sys/devices/system/cpu/cpu${cpu}/topology/thread_siblings_list`)?.trim() || null;
}

/**
 * A core per child before two children share one: from `order`, the first CPU of each core not yet
 * taken, then the SMT siblings left, in `order`. Two children on the two threads of one core run
 * each other's hand-offs on half a core while another core may sit idle.
 */
export function spreadOverCores(order: readonly number[], core: (cpu: number) => string | null): number[] {
  const taken = new Set<string>();
  const first: number[] = [];
  const rest: number[] = [];
  for (const c of order) {
    const k = core(c) ?? `cpu ${c}`;
    if (taken.has(k)) rest.push(c);
    else {
      taken.add(k);
      first.push(c);
    }
  }
  return [...first, ...rest];
}

const readStat = (): string | null => readText("/proc/stat");

/**
 * Whether the threads of `jobs` runs going on at once should spin before they sleep while they wait
 * for each other (SimulationOptions.spin). A run keeps one thread busy at a time, two when its threads
 * spin: spinning pays only while each run has a free core for that second thread (2 × jobs ≤ cores).
 * A pinned run has one core, where a spinning thread only takes it from the thread it waits for.
 */
export function spinPays(jobs: number, pinned: boolean, cores = availableParallelism()): boolean {
  return !pinned && 2 * jobs <= cores;
}

/**
 * How to pin `jobs` children, one per core, or null when they should not be pinned: not Linux, or
 * more children than cores (pinned, two would share a core while another sat idle). One
 * child is pinned too: on one core its hand-offs cost less than spinning threads on two save
 * (apps/simulator/bench: a --jobs 1 sweep pinned runs ~15% more runs a second than unpinned). With
 * fewer children than CPUs, which is decided by how idle each was over the last 100 ms, one child per
 * physical core before any two share one (SMT siblings).
 */
export async function pinning(jobs: number, taskset = "taskset"): Promise<Pinning | null> {
  if (process.platform !== "linux" || jobs < 1) return null;
  const cpus = allowedCpus();
  if (!cpus || jobs > cpus.length) return null;
  let order = cpuOrder(cpus, null, null);
  if (jobs < cpus.length) {
    const before = idleTimes(readStat());
    await new Promise((r) => setTimeout(r, 100));
    order = spreadOverCores(cpuOrder(cpus, before, idleTimes(readStat())), (c) => coreOf(c));
  }
  const cpuOf = (slot: number) => order[slot]!;
  // Asynchronous, a slow taskset holds up only the child being pinned (whose first run waits for it,
  // and whose modules take longer to load), not the sweep's event loop feeding the other children.
  // Where taskset is looked for on PATH, libuv does it as it starts it: no second look that could differ.
  const pin = (pid: number, slot: number) =>
    new Promise<PinResult>((settle) => {
      const args = ["-a", "-p", "-c", String(cpuOf(slot)), String(pid)];
      execFile(taskset, args, { timeout: PIN_TIMEOUT_MS }, (e, _stdout, stderr) =>
        settle(e ? { pinned: false, why: pinFailure(taskset, args, e, stderr) } : { pinned: true }),
      );
    });
  return { cpuOf, pin };
}
