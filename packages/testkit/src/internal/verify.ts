/**
 * What the kit checks of a machine once a test is over, in this order (each step runs even when an
 * earlier one found a problem, so one report says everything):
 *  1. `checkInvariants()` on the machine as the test left it;
 *  2. every process still running is killed (SIGKILL, as the OOM killer would) and every driver still
 *     loaded is unloaded (rmmod, last loaded first), then `checkInvariants()` again;
 *  3. every RAM frame that was free when the machine booted (before its drivers loaded) is free
 *     again, but for frames a bad-page report quarantined and the page cache of tmpfs files and SysV
 *     shm segments, which outlive processes on Linux too (/proc/meminfo's Shmem once no process runs);
 *  4. over all the machines a test booted: no oops and no bad page report that the test did not
 *     declare (teardown's included), and every declared one happened.
 */

import type { BadPageRecord, Machine, OopsRecord } from "@faultline/kernel";
import type { BadPageExpectation, OopsExpectation } from "./expectations";
import { badPageMatches, claim, describeExpectation, errorMessage, oopsMatches } from "./expectations";

/** What the kit remembers of a machine it booted. */
export interface Booted {
  readonly machine: Machine;
  /** Free frames right after the devices were realized, before any driver loaded. */
  readonly freeAtBoot: number;
  /** Refcounts of every frame then (null on machines too big to copy them cheaply). */
  readonly refcountAtBoot: Int32Array | null;
  /** Quarantined frames then (none on a fresh machine, but the count is what is compared). */
  readonly quarantinedAtBoot: number;
  /** Shmem pages then (/proc/meminfo). */
  readonly shmemAtBoot: number;
}

/** Frames whose refcounts the kit copies at boot to name leaked pfns: 16 MiB of Int32 at most. */
const MAX_REFCOUNT_COPY = 1 << 22;

export function remember(machine: Machine): Booted {
  const mem = machine.mem;
  return {
    machine,
    freeAtBoot: mem.nrFreePages,
    refcountAtBoot: mem.refcount.length <= MAX_REFCOUNT_COPY ? mem.refcount.slice() : null,
    quarantinedAtBoot: mem.nrQuarantinedPages,
    shmemAtBoot: shmemPages(machine),
  };
}

/** /proc/meminfo's Shmem, in pages: tmpfs, memfd and SysV shm page cache, and shared anonymous memory. */
function shmemPages(m: Machine): number {
  const kb = /^Shmem:\s+(\d+) kB$/m.exec(m.procText("/proc/meminfo"));
  return kb ? Number(kb[1]) / 4 : 0;
}

const hex = (n: number) => `0x${n.toString(16)}`;

function describeOops(r: OopsRecord): string {
  const who = r.driver === "kernel" ? "kernel oops" : `driver ${r.driver} oops`;
  return `${who} in ${r.callback}${r.pid === null ? "" : ` (pid ${r.pid})`}: ${errorMessage(r.error)}`;
}

function describeBadPage(r: BadPageRecord): string {
  return `pfn ${hex(r.pfn)} in process ${r.comm}${r.driver ? ` (mapped by driver ${r.driver})` : ""}: ${r.reason}`;
}

/** Runs `step`; an exception it throws is a problem too (the kit never stops half way). */
function attempt(problems: string[], what: string, step: () => void): void {
  try {
    step();
  } catch (e) {
    problems.push(`${what}: ${errorMessage(e)}`);
  }
}

/** Steps 1-3 on one machine: the problems found, as sentences (empty when all is well). */
export function verifyMachine(b: Booted): string[] {
  const m = b.machine;
  const problems: string[] = [];
  attempt(problems, "checkInvariants() after the test", () => m.checkInvariants());

  for (const p of m.processes()) {
    if (p.alive)
      attempt(problems, `killing pid ${p.pid} (${p.comm})`, () => m.terminate(p, { signal: "SIGKILL" }));
  }
  for (const name of m.loadedDrivers().reverse()) {
    attempt(problems, `unloading driver ${name}`, () => {
      const r = m.unloadDriver(name);
      if (r !== 0) throw new Error(`unloadDriver returned ${r}`);
    });
  }
  attempt(problems, "checkInvariants() once every process exited and every driver was unloaded", () =>
    m.checkInvariants(),
  );

  const lost = lostFrames(b);
  if (lost) problems.push(lost);

  return problems;
}

/** The frames that did not come back, named when the boot-time refcounts allow it; null if none. */
function lostFrames(b: Booted): string | null {
  const mem = b.machine.mem;
  // A quarantined RAM frame is neither free nor in use: it left circulation on purpose (bad_page()).
  const quarantinedRam = b.machine
    .badPages()
    .filter((r) => mem.ramFrameOf(r.pfn) >= 0 && mem.isQuarantined(r.pfn)).length;
  const cached = shmemPages(b.machine) - b.shmemAtBoot;
  const lost = b.freeAtBoot - mem.nrFreePages - quarantinedRam - cached;
  if (lost === 0) return null;
  if (lost < 0)
    return `${-lost} more frames are free than at boot (${b.freeAtBoot} then, ${mem.nrFreePages} now): a frame was freed twice or one the kernel holds was freed`;
  const named: string[] = [];
  const base = b.refcountAtBoot;
  if (base) {
    for (let pfn = 0; pfn < base.length && named.length < 8; pfn++) {
      const now = Atomics.load(mem.refcount, pfn);
      if (base[pfn] === 0 && now !== 0 && mem.ramFrameOf(pfn) >= 0 && !mem.isQuarantined(pfn))
        named.push(`pfn ${hex(pfn)} (refcount ${now}, mapcount ${Atomics.load(mem.mapcount, pfn)})`);
    }
  }
  return (
    `${lost} frame(s) not back once every process exited and every driver was unloaded ` +
    `(${b.freeAtBoot} free at boot, ${mem.nrFreePages} now${cached ? `, ${cached} in tmpfs or SysV shm` : ""})` +
    (named.length ? `: ${named.join(", ")}${lost > named.length ? ", …" : ""}` : "") +
    "\n     (a page allocated and never freed: allocPages without freePages in exit, or a getPage without its putPage)"
  );
}

/** Step 4 over the machines of one test, in boot order; `label(i)` prefixes machine i's problems. */
export function verifyReports(
  machines: readonly Booted[],
  oopsExpected: readonly OopsExpectation[],
  badPagesExpected: readonly BadPageExpectation[],
  options: { readonly testFailed: boolean; readonly label: (i: number) => string },
): string[] {
  const problems: string[] = [];
  const tag = <R>(all: (m: Machine) => readonly R[]) =>
    machines.flatMap((b, i) => all(b.machine).map((r) => ({ r, i })));
  const oopses = claim(
    oopsExpected,
    tag((m) => m.oopses()),
    (x, t) => oopsMatches(x, t.r),
  );
  for (const { r, i } of oopses.unclaimed) {
    problems.push(
      `${options.label(i)}unexpected ${describeOops(r)}\n     (a test that means it says so: kit.expectOops({ driver: ${JSON.stringify(r.driver)}, callback: ${JSON.stringify(r.callback)} }))`,
    );
  }
  const bad = claim(
    badPagesExpected,
    tag((m) => m.badPages()),
    (x, t) => badPageMatches(x, t.r),
  );
  for (const { r, i } of bad.unclaimed) {
    problems.push(
      `${options.label(i)}unexpected bad page state: ${describeBadPage(r)}\n     (a test that means it says so: kit.expectBadPage({ pfn: ${hex(r.pfn)} }))`,
    );
  }
  if (options.testFailed) return problems;
  oopsExpected.forEach((x, j) => {
    const want = x.times ?? 1;
    if (oopses.got[j] !== want)
      problems.push(`expected ${want} oops(es) matching ${describeExpectation(x)}, got ${oopses.got[j]}`);
  });
  badPagesExpected.forEach((x, j) => {
    const want = x.times ?? 1;
    if (bad.got[j] !== want)
      problems.push(
        `expected ${want} bad page report(s) matching ${describeExpectation(x)}, got ${bad.got[j]}`,
      );
  });
  return problems;
}
