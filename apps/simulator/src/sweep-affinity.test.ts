import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { allowedCpus, pinning } from "./sweep-affinity";

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

describe("pinning", () => {
  it("pins 1..cores children one per core, from the last CPU down, and no more children than cores", () => {
    const cpus = allowedCpus();
    expect(pinning(0)).toBeNull();
    if (!cpus) {
      expect(pinning(1)).toBeNull();
      return;
    }
    expect(pinning(cpus.length + 1)).toBeNull();
    const p = pinning(cpus.length);
    // On Linux hosts with util-linux (every CI and dev machine here); else the children run unpinned.
    if (!p) return void expect(process.platform !== "linux" || !hasTaskset()).toBe(true);
    expect(cpus.map((_, i) => p.cpuOf(i))).toEqual([...cpus].reverse());
    expect(pinning(1)?.cpuOf(0)).toBe(cpus.at(-1));
    expect(p.taskset).toMatch(/\/taskset$/);
  });
});

function hasTaskset(): boolean {
  return (process.env.PATH ?? "").split(":").some((d) => {
    try {
      readFileSync(`${d}/taskset`);
      return true;
    } catch {
      return false;
    }
  });
}
