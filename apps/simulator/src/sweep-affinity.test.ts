import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  allowedCpus,
  coreOf,
  cpuOrder,
  idleTimes,
  pinning,
  spinPays,
  spreadOverCores,
} from "./sweep-affinity";

const status = (list: string) =>
  `Name:\tnode\nCpus_allowed:\tff\nCpus_allowed_list:\t${list}\nMems_allowed:\t1\n`;

describe("allowedCpus", () => {
  it("reads Cpus_allowed_list: single CPUs, ranges, both", () => {
    expect(allowedCpus(status("0"))).toEqual([0]);
    expect(allowedCpus(status("0-3,8,10-11"))).toEqual([0, 1, 2, 3, 8, 10, 11]);
    expect(allowedCpus(status("5-5"))).toEqual([5]);
  });

  it("gives null for what it cannot read, instead of a wrong list", () => {
    expect(allowedCpus(null)).toBeNull();
    expect(allowedCpus("Name:\tnode\n")).toBeNull();
    for (const bad of ["", "3-1", "a", "0,,1", "0-", "1-9999"])
      expect(allowedCpus(status(bad)), bad).toBeNull();
  });

  it("agrees with this host", () => {
    let own: string | null = null;
    try {
      own = readFileSync("/proc/self/status", "utf8");
    } catch {}
    const cpus = allowedCpus();
    if (own === null) expect(cpus).toBeNull();
    else {
      expect(cpus).not.toBeNull();
      // Node counts the same mask (sched_getaffinity) for availableParallelism.
      expect(cpus!.length).toBe(availableParallelism());
    }
  });
});

describe("which cores", () => {
  const stat = (idle: number[]) =>
    `cpu  1 2 3 4 5 6 7 0 0 0\n${idle.map((x, c) => `cpu${c} 100 0 50 ${x} 5 0 1 0 0 0`).join("\n")}\nintr 1 2\n`;

  it("reads each CPU's idle + iowait ticks from /proc/stat", () => {
    expect(idleTimes(stat([10, 20]))).toEqual(
      new Map([
        [0, 15],
        [1, 25],
      ]),
    );
    expect(idleTimes(null)).toBeNull();
    expect(idleTimes("cpu  1 2 3 4 5\n")).toBeNull();
    expect(idleTimes("cpu0 1 2 x 4 5\n")).toBeNull();
  });

  it("takes the idlest cores first, ties (and no samples) from the last CPU down", () => {
    const cpus = [0, 1, 2, 3];
    expect(cpuOrder(cpus, null, null)).toEqual([3, 2, 1, 0]);
    // Between the samples CPU 3 was busy (another program), 0 and 1 idle.
    expect(cpuOrder(cpus, idleTimes(stat([0, 0, 0, 0])), idleTimes(stat([10, 10, 4, 0])))).toEqual([
      1, 0, 2, 3,
    ]);
    // Only the allowed CPUs are handed out.
    expect(cpuOrder([1, 3], idleTimes(stat([0, 0, 0, 0])), idleTimes(stat([9, 1, 9, 2])))).toEqual([3, 1]);
  });

  it("gives each child a core of its own before two share one (SMT siblings, either numbering)", () => {
    // Siblings numbered apart (cpu N and N + 4, as on most x86 hosts): 7 and 3 are one core.
    const apart = (c: number) => `${c % 4},${(c % 4) + 4}`;
    expect(spreadOverCores([7, 3, 6, 2, 5, 1, 4, 0], apart)).toEqual([7, 6, 5, 4, 3, 2, 1, 0]);
    // Siblings numbered together ("0-1", "2-3"): the last CPU down would give two children one core.
    const together = (c: number) => `${c - (c % 2)}-${c - (c % 2) + 1}`;
    expect(spreadOverCores([3, 2, 1, 0], together)).toEqual([3, 1, 2, 0]);
    // The idlest order is kept within each pass; unknown topology (null) is a core per CPU.
    expect(spreadOverCores([1, 0, 2, 3], together)).toEqual([1, 2, 0, 3]);
    expect(spreadOverCores([3, 2, 1, 0], () => null)).toEqual([3, 2, 1, 0]);
  });

  it("reads a CPU's core from sysfs topology, null where it cannot", () => {
    const files: Record<string, string> = {
      "/sys/devices/system/cpu/cpu5/topology/thread_siblings_list": "1,5\n",
    };
    const read = (p: string) => files[p] ?? null;
    expect(coreOf(5, read)).toBe("1,5");
    expect(coreOf(6, read)).toBeNull();
    expect(coreOf(0, () => "\n")).toBeNull();
    // This host: every allowed CPU's core, when sysfs has one, lists that CPU among its threads.
    for (const c of allowedCpus() ?? []) {
      const k = coreOf(c);
      if (k !== null) expect(allowedCpus(`Cpus_allowed_list:\t${k}\n`)).toContain(c);
    }
  });
});

describe("spinPays", () => {
  it("lets threads spin only when unpinned and each run has a second core for it (2 x jobs <= cores)", () => {
    expect(spinPays(1, false, 2)).toBe(true);
    expect(spinPays(2, false, 4)).toBe(true);
    expect(spinPays(2, false, 3)).toBe(false);
    expect(spinPays(2, false, 2)).toBe(false);
    expect(spinPays(1, false, 1)).toBe(false);
    // A pinned run has one core: a spinning thread would take it from the thread it waits for.
    expect(spinPays(1, true, 64)).toBe(false);
    // By default, the cores this process may use.
    expect(spinPays(1, false)).toBe(availableParallelism() >= 2);
  });
});

describe("pinning", () => {
  it("pins 1..cores children one per core, and no more children than cores", async () => {
    const cpus = allowedCpus();
    expect(await pinning(0)).toBeNull();
    if (!cpus) {
      expect(await pinning(1)).toBeNull();
      return;
    }
    expect(await pinning(cpus.length + 1)).toBeNull();
    const p = await pinning(cpus.length);
    // On Linux; elsewhere the children run unpinned.
    if (!p) return void expect(process.platform).not.toBe("linux");
    // Every core used: from the last CPU down, no sampling.
    expect(cpus.map((_, i) => p.cpuOf(i))).toEqual([...cpus].reverse());
    // A process pinned to slot 0's core: its mask says so.
    const child = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      // With util-linux (every CI and dev machine here); without, the reason.
      if (!whichTaskset())
        return void expect(await p.pin(child.pid!, 0)).toEqual({
          pinned: false,
          why: "taskset: not found (util-linux's taskset, looked for on PATH)",
        });
      expect(await p.pin(child.pid!, 0)).toEqual({ pinned: true });
      expect(allowedCpus(readFileSync(`/proc/${child.pid}/status`, "utf8"))).toEqual([p.cpuOf(0)]);
    } finally {
      child.kill();
    }
    // Fewer children than cores: the idlest core of the moment, one of the allowed.
    expect(cpus).toContain((await pinning(1))?.cpuOf(0));
  });

  it("pins without blocking the event loop (a slow taskset holds up only its own child)", async () => {
    const real = whichTaskset();
    if (process.platform !== "linux" || !allowedCpus() || !real) return;
    const dir = mkdtempSync(join(tmpdir(), "faultline-affinity-"));
    const slow = join(dir, "taskset");
    writeFileSync(slow, `#!/bin/sh\nsleep 0.5\nexec ${real} "$@"\n`, { mode: 0o755 });
    const p = (await pinning(1, slow))!;
    const child = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      const t0 = performance.now();
      const pinned = p.pin(child.pid!, 0);
      expect(performance.now() - t0).toBeLessThan(250);
      // The loop runs timers while taskset sleeps.
      let ticks = 0;
      const timer = setInterval(() => ticks++, 20);
      expect(await pinned).toEqual({ pinned: true });
      clearInterval(timer);
      expect(ticks).toBeGreaterThan(5);
      expect(allowedCpus(readFileSync(`/proc/${child.pid}/status`, "utf8"))).toEqual([p.cpuOf(0)]);
    } finally {
      child.kill();
    }
  });
});

describe("a refused pin", () => {
  // taskset as it answers on a host that refuses: a CPU offline or outside the cgroup's cpuset (EINVAL),
  // another user's process (EPERM), or no taskset at all.
  const refuse = (dir: string, said: string) => {
    const bin = join(dir, "taskset");
    writeFileSync(bin, `#!/bin/sh\necho "pid $5's current affinity list: 0-1" \n${said}\nexit 1\n`, {
      mode: 0o755,
    });
    return bin;
  };

  it("says why, in taskset's own words, and leaves the process as it was", async () => {
    if (process.platform !== "linux" || !allowedCpus()) return;
    const dir = mkdtempSync(join(tmpdir(), "faultline-affinity-"));
    const child = spawn("sleep", ["30"], { stdio: "ignore" });
    const pid = child.pid!;
    const before = readFileSync(`/proc/${pid}/status`, "utf8");
    try {
      const einval = refuse(dir, `echo "taskset: failed to set pid $5's affinity: Invalid argument" >&2`);
      const p = (await pinning(1, einval))!;
      expect(await p.pin(pid, 0)).toEqual({
        pinned: false,
        why: `${einval} -a -p -c ${p.cpuOf(0)} ${pid}: taskset: failed to set pid ${pid}'s affinity: Invalid argument`,
      });
      expect(allowedCpus(readFileSync(`/proc/${pid}/status`, "utf8"))).toEqual(allowedCpus(before));
      // Nothing said: its exit status.
      const silent = refuse(mkdtempSync(join(dir, "s")), "");
      const q = (await pinning(1, silent))!;
      expect(await q.pin(pid, 0)).toEqual({
        pinned: false,
        why: `${silent} -a -p -c ${q.cpuOf(0)} ${pid}: exit 1`,
      });
      // Not executable: the errno of its start, not an "exit EACCES".
      const plain = join(dir, "plain");
      writeFileSync(plain, "", { mode: 0o644 });
      const r = (await pinning(1, plain))!;
      expect(await r.pin(pid, 0)).toEqual({
        pinned: false,
        why: `${plain} -a -p -c ${r.cpuOf(0)} ${pid}: spawn ${plain} EACCES`,
      });
      const missing = join(dir, "no-such-taskset");
      expect(await (await pinning(1, missing))!.pin(pid, 0)).toEqual({
        pinned: false,
        why: `${missing}: not found`, // a path: no PATH search to speak of
      });
    } finally {
      child.kill();
    }
  });
});

function whichTaskset(): string | null {
  for (const d of (process.env.PATH ?? "").split(delimiter)) {
    const p = join(d, "taskset");
    if (d && existsSync(p)) return p;
  }
  return null;
}
