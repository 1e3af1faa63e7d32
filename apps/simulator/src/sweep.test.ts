// faultline sweep and faultline replay, through the real command line (as cli.test.ts runs it).
// Runs cost seconds each on a busy 2-core machine (every process is a worker loading its program
// through tsx), so the sweeps here are a few seeds, and later tests reuse the first one's folder.
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { decodeTrace } from "@faultline/sim";
import { Unpackr } from "msgpackr";
import { describe, expect, it } from "vitest";
import { ScenarioError } from "./scenario";
import { allowedCpus, spinPays } from "./sweep-affinity";
import { loadMatrix, parseSeeds } from "./sweep-matrix";
import { appendResult, RESULTS_FILE, type RunRecord, readResults } from "./sweep-results";
import type { SweepTrace } from "./sweep-run";

const run = promisify(execFile);
const appDir = fileURLToPath(new URL("..", import.meta.url));
const fixture = (f: string) => fileURLToPath(new URL(`../test/__fixtures__/${f}`, import.meta.url));

/** Runs the real command line, as `pnpm faultline …` does. */
async function faultline(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return faultlineWith({}, ...args);
}

/** The same, with these variables added to the environment. */
async function faultlineWith(
  env: Record<string, string>,
  ...args: string[]
): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const r = await run(
      process.execPath,
      ["--import", "tsx", "--conditions=@faultline/source", "src/cli.ts", ...args],
      { cwd: appDir, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, NO_COLOR: "1", ...env } },
    );
    return { stdout: r.stdout, stderr: r.stderr, code: 0 };
  } catch (e) {
    const x = e as { stdout: string; stderr: string; code: number };
    return { stdout: x.stdout, stderr: x.stderr, code: x.code };
  }
}

const records = (dir: string): RunRecord[] =>
  new Unpackr({ useRecords: false }).unpackMultiple(
    readFileSync(join(dir, "results.msgpack")),
  ) as RunRecord[];
const jsonl = (dir: string): RunRecord[] =>
  readFileSync(join(dir, "results.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as RunRecord);
/** The records in run order, but for how each run went on this host (durationMs, spin): its results. */
const resultsOnly = (rs: readonly RunRecord[]) =>
  [...rs].sort((a, b) => a.cell - b.cell || a.seed - b.seed).map(({ durationMs: _, spin: _s, ...r }) => r);
/** Whether each run's threads spun while they waited, as its child reported in its record. */
const spins = (rs: readonly RunRecord[]) => rs.map((r) => r.spin);
const tmp = () => mkdtempSync(join(tmpdir(), "faultline-sweep-"));

// race.json: parent and forked child bump a shared counter across a getpid(); seed 2 loses an update.
const RACE = fixture("race.json");

describe("results folder and seed lists", () => {
  it("reads back every complete record and cuts a record that a crash left half-written", () => {
    const dir = tmp();
    const rec = (seed: number): RunRecord => ({
      version: 1,
      seed,
      cell: 0,
      params: { era: "modern" },
      outcome: "ok",
      processes: [],
      minflt: seed,
      majflt: 0,
      peakRssKb: 4,
      invariant: "held",
      trace: null,
      durationMs: 10,
    });
    appendResult(dir, rec(1));
    appendResult(dir, rec(2));
    const whole = readFileSync(join(dir, RESULTS_FILE));
    appendResult(dir, rec(3));
    const three = readFileSync(join(dir, RESULTS_FILE));
    writeFileSync(join(dir, RESULTS_FILE), three.subarray(0, three.length - 5));
    expect(readResults(dir).map((r) => r.seed)).toEqual([1, 2]);
    expect(readFileSync(join(dir, RESULTS_FILE))).toEqual(whole);
    appendResult(dir, rec(3));
    expect(readResults(dir)).toEqual([rec(1), rec(2), rec(3)]);
  });

  it("parses seed lists: ranges, single seeds, both, without repeats", () => {
    expect(parseSeeds("1-5")).toEqual([1, 2, 3, 4, 5]);
    expect(parseSeeds("7")).toEqual([7]);
    expect(parseSeeds("1-3,2,9-10")).toEqual([1, 2, 3, 9, 10]);
    for (const bad of ["", "5-1", "a", "1-", "-3", "1.5"])
      expect(() => parseSeeds(bad)).toThrow(/expected seeds/);
  });
});

describe("faultline sweep", () => {
  const out = tmp();

  it("records every run (msgpack and JSON lines), keeps the failing seed's trace, exits 1, and replay reproduces the failure", async () => {
    const r = await faultline("sweep", RACE, "--seeds", "1-3", "--jobs", "2", "-o", out);
    expect(r.code, r.stderr).toBe(1);
    const rs = records(out);
    expect(rs.map((x) => x.seed).sort()).toEqual([1, 2, 3]); // in the order they ended
    expect(jsonl(out)).toEqual(rs);
    for (const x of rs) {
      expect(x).toMatchObject({ version: 1, cell: 0, params: { era: "modern" }, invariant: "held" });
      expect(x.processes.map((p) => p.program)).toEqual([
        "./racer.program.ts",
        "./racer.program.ts (forked)",
      ]);
      expect(x.minflt).toBe(x.processes.reduce((n, p) => n + p.minflt, 0));
      expect(x.peakRssKb).toBeGreaterThan(0);
      expect(x.durationMs).toBeGreaterThan(0);
    }
    const bad = rs.find((x) => x.seed === 2)!;
    expect(bad.outcome).toBe("unexpected");
    expect(bad.processes[0]).toMatchObject({ exit: { code: 1 }, expected: { code: 0 }, asExpected: false });
    expect(bad.trace).toBe("seed-2.trace");
    expect(rs.filter((x) => x.seed !== 2).every((x) => x.outcome === "ok" && x.trace === null)).toBe(true);
    expect(existsSync(join(out, "seed-1.trace"))).toBe(false);
    // The summary: counts per cell, percentiles, the failing seed with its replay command.
    expect(r.stdout).toMatch(/minflt p50\/p90\/p99/);
    expect(r.stdout).toContain("Not as expected: 1 of 3 runs");
    expect(r.stdout).toContain(`seed 2: unexpected (pid 1 (./racer.program.ts) ended with exit 1`);
    expect(r.stdout).toContain(`faultline replay ${join(out, "seed-2.trace")}`);

    // The trace is a SimTrace (decodeTrace) that also carries the scenario and the cell.
    const t = decodeTrace(readFileSync(join(out, "seed-2.trace"))) as SweepTrace;
    expect(t.seed).toBe(2);
    expect(t.events.length).toBeGreaterThan(0);
    expect(t.faultline).toMatchObject({ seed: 2, outcome: "unexpected", cell: { index: 0 } });

    const replay = await faultline("replay", join(out, "seed-2.trace"));
    expect(replay.code, replay.stderr).toBe(1);
    expect(replay.stdout).toBe("reproduced: seed 2, cell 0 (era=modern) ended unexpected, as recorded\n");
    expect(replay.stderr).toContain(
      "pid 1 (./racer.program.ts, modern) ended with exit 1, the scenario expects exit 0",
    );
  }, 180_000);

  it("resumes: the same command again runs nothing, more seeds run only the new ones", async () => {
    const again = await faultline("sweep", RACE, "--seeds", "1-3", "--jobs", "2", "-o", out);
    expect(again.code).toBe(1);
    expect(again.stdout).toContain("resuming: 3 runs already recorded");
    expect(again.stdout).toContain("0 to go");
    expect(records(out)).toHaveLength(3);
    const more = await faultline("sweep", RACE, "--seeds", "1-4", "--jobs", "2", "-o", out);
    expect(more.stdout).toContain("resuming: 3 runs already recorded");
    expect(more.stdout).toContain("1 to go");
    // Records are in the order runs ended (two at a time here), the new one last.
    expect(records(out).map((x) => x.seed)).toEqual([
      ...records(out)
        .slice(0, 3)
        .map((x) => x.seed),
      4,
    ]);
    expect(
      records(out)
        .map((x) => x.seed)
        .sort(),
    ).toEqual([1, 2, 3, 4]);
    expect(jsonl(out)).toEqual(records(out));
  }, 120_000);

  it("is deterministic: the same seed again, in a matrix cell, gives the same record but for its duration, and the same trace", async () => {
    const first = records(out).find((x) => x.seed === 2)!;
    const dir = tmp();
    // Two cells: race.json's own RAM size (as the matrix spells it) and twice that.
    const matrix = join(dir, "matrix.json");
    writeFileSync(matrix, JSON.stringify({ era: ["modern"], ramBytes: ["0x2000000", 67108864] }));
    const m = await faultline(
      "sweep",
      RACE,
      "--seeds",
      "2",
      "--matrix",
      matrix,
      "--jobs",
      "2",
      "-o",
      join(dir, "m"),
    );
    expect(m.code).toBe(1);
    const cells = resultsOnly(records(join(dir, "m")));
    expect(cells.map((x) => [x.cell, x.params, x.trace])).toEqual([
      [0, { era: "modern", ramBytes: "0x2000000" }, "seed-2-cell-0.trace"],
      [1, { era: "modern", ramBytes: 67108864 }, "seed-2-cell-1.trace"],
    ]);
    // Cell 0 is race.json as it is: the run is the first sweep's seed 2 again, event for event.
    const { params: _p, trace: _t, ...same } = resultsOnly([first])[0]!;
    expect(cells[0]).toMatchObject(same);
    const events = (f: string) => {
      const t = decodeTrace(readFileSync(f));
      return { seed: t.seed, spawns: t.spawns, events: t.events };
    };
    expect(events(join(dir, "m", "seed-2-cell-0.trace"))).toEqual(events(join(out, "seed-2.trace")));
    expect(m.stdout).toMatch(/│ 1 +│ era=modern ramBytes=67108864 +│ 1 /);
    expect(m.stdout).toContain("seed 2 cell 1: unexpected");
  }, 180_000);

  it("reuses its processes: the same records and trace bytes as a new process and threads per run (--no-reuse)", async () => {
    // `out` holds seeds 1-4 of race.json, run two at a time by children that kept their threads.
    const dir = tmp();
    const fresh = await faultline("sweep", RACE, "--seeds", "1-4", "--jobs", "2", "--no-reuse", "-o", dir);
    expect(fresh.code, fresh.stderr).toBe(1);
    expect(resultsOnly(records(dir))).toEqual(resultsOnly(records(out)));
    expect(readFileSync(join(dir, "seed-2.trace"))).toEqual(readFileSync(join(out, "seed-2.trace")));
  }, 180_000);

  it("pins two children one per core through taskset (--no-pin: the scheduler places them), with the same records and traces", async () => {
    // A taskset on PATH that logs how it is called, then does what the real one does (on a host
    // without one, nothing): the sweep pins each child it forks through it.
    const dir = tmp();
    const bin = join(dir, "bin");
    mkdirSync(bin);
    const log = join(dir, "taskset.log");
    const real = execFileSync("sh", ["-c", "command -v taskset || true"], { encoding: "utf8" }).trim();
    writeFileSync(
      join(bin, "taskset"),
      `#!/bin/sh\necho "$*" >> ${JSON.stringify(log)}\n${real ? `exec ${real} "$@"` : "exit 0"}\n`,
      { mode: 0o755 },
    );
    const env = { PATH: `${bin}${delimiter}${process.env.PATH ?? ""}` };
    const cpus = allowedCpus();
    // Seeds 1 and 2, one per child, as the first sweep recorded them (seed 2 fails, with a trace).
    const firstTwo = resultsOnly(records(out)).filter((r) => r.seed <= 2);
    const sweepTo = (folder: string, ...extra: string[]) =>
      faultlineWith(env, "sweep", RACE, "--seeds", "1-2", "--jobs", "2", ...extra, "-o", join(dir, folder));
    const pinned = await sweepTo("p");
    expect(pinned.code, pinned.stderr).toBe(1);
    const calls = existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : [];
    if (cpus && cpus.length >= 2) {
      // One child per slot, each pinned (all its threads) to a core of its own: with as many children
      // as cores, from the last CPU down; with more cores, the idlest ones of the moment.
      const cores = calls.map((c) => {
        const m = /^-a -p -c (\d+) (\d+)$/.exec(c);
        expect(m, c).not.toBeNull();
        return Number(m![1]);
      });
      expect(cores).toHaveLength(2);
      expect(cores[0]).not.toBe(cores[1]);
      for (const c of cores) expect(cpus).toContain(c);
      if (cpus.length === 2) expect(cores).toEqual([cpus[1], cpus[0]]);
      // A pinned child's threads do not spin: its one core is the one the thread it waits for needs.
      // (Unless this host's own taskset refused, which the sweep says: those children are unpinned.)
      const refusedHere = pinned.stderr.includes("could not be pinned");
      expect(spins(records(join(dir, "p")))).toEqual(Array(2).fill(spinPays(2, !refusedHere)));
      if (!refusedHere) expect(spins(records(join(dir, "p")))).toEqual([false, false]);
    } else {
      // One core: two children would share it, so they are not pinned.
      expect(calls).toEqual([]);
      expect(spins(records(join(dir, "p")))).toEqual(Array(2).fill(spinPays(2, false)));
    }
    expect(resultsOnly(records(join(dir, "p")))).toEqual(firstTwo);
    expect(readFileSync(join(dir, "p", "seed-2.trace"))).toEqual(readFileSync(join(out, "seed-2.trace")));

    writeFileSync(log, "");
    const free = await sweepTo("f", "--no-pin");
    expect(free.code, free.stderr).toBe(1);
    expect(readFileSync(log, "utf8")).toBe("");
    expect(resultsOnly(records(join(dir, "f")))).toEqual(firstTwo);
    expect(spins(records(join(dir, "f")))).toEqual(Array(2).fill(spinPays(2, false)));
  }, 180_000);

  it("goes on unpinned when taskset refuses or is missing, says so once with taskset's reason, and lets unpinned threads spin when a core is free for it", async () => {
    const dir = tmp();
    const bin = join(dir, "bin");
    mkdirSync(bin);
    // taskset as a host that refuses answers (a CPU outside the cgroup's cpuset): once per child.
    writeFileSync(
      join(bin, "taskset"),
      `#!/bin/sh\necho x >> ${JSON.stringify(join(dir, "calls"))}\necho "taskset: failed to set pid $5's affinity: Invalid argument" >&2\nexit 1\n`,
      { mode: 0o755 },
    );
    const cpus = allowedCpus();
    const firstTwo = resultsOnly(records(out)).filter((r) => r.seed <= 2);
    // Two children refused; and one child on a host without taskset (nothing on PATH).
    const [refused, missing] = await Promise.all([
      faultlineWith({ PATH: bin }, "sweep", RACE, "--seeds", "1-2", "--jobs", "2", "-o", join(dir, "r")),
      faultlineWith(
        { PATH: join(dir, "empty") },
        "sweep",
        RACE,
        "--seeds",
        "1-2",
        "--jobs",
        "1",
        "-o",
        join(dir, "m"),
      ),
    ]);
    for (const [r, folder] of [
      [refused, "r"],
      [missing, "m"],
    ] as const) {
      expect(r.code, r.stderr).toBe(1);
      expect(resultsOnly(records(join(dir, folder)))).toEqual(firstTwo);
      expect(readFileSync(join(dir, folder, "seed-2.trace"))).toEqual(
        readFileSync(join(out, "seed-2.trace")),
      );
    }
    // What the children did, as each reported in its records: unpinned, their threads spin by the rule
    // (spinPays): one child with a second core for it spins, two children on 2 or 3 cores sleep. On a
    // host with two cores or more the lone child must spin, so a child that ignored the sweep's
    // decision (or a sweep that sent the pinned rule to an unpinned child) fails here.
    expect(spins(records(join(dir, "r")))).toEqual(Array(2).fill(spinPays(2, false)));
    expect(spins(records(join(dir, "m")))).toEqual(Array(2).fill(spinPays(1, false)));
    if (cpus && cpus.length >= 2) expect(spins(records(join(dir, "m")))).toEqual([true, true]);
    const notes = (r: { stderr: string }) =>
      r.stderr.split("\n").filter((l) => l.includes("could not be pinned"));
    if (!cpus || cpus.length < 2) {
      // One core: two children are not pinned at all (nothing to refuse); one child is.
      expect(notes(refused)).toEqual([]);
    } else {
      expect(readFileSync(join(dir, "calls"), "utf8")).toBe("x\nx\n");
      // Unpinned, two children on 2 or 3 cores sleep while they wait; one child spins on a second core.
      const threads = spinPays(2, false) ? "spinning" : "sleeping";
      expect(notes(refused)).toEqual([
        expect.stringMatching(
          new RegExp(
            `^faultline sweep: a child could not be pinned to its core: taskset -a -p -c \\d+ (\\d+): taskset: failed to set pid \\1's affinity: Invalid argument\\. Children not pinned run where the scheduler puts them, their threads ${threads} while they wait \\(--no-pin: do not try to pin\\)\\.$`,
          ),
        ),
      ]);
    }
    if (cpus)
      expect(notes(missing)).toEqual([
        `faultline sweep: a child could not be pinned to its core: taskset: not found (util-linux's taskset, looked for on PATH). Children not pinned run where the scheduler puts them, their threads ${spinPays(1, false) ? "spinning" : "sleeping"} while they wait (--no-pin: do not try to pin).`,
      ]);
  }, 180_000);

  it("kills a run that hangs past --timeout, records it as hung with its trace, goes on in the same process, and replay follows it to that point", async () => {
    const dir = tmp();
    // One child, two hung runs: the second starts after the first's spinning thread was killed.
    const args = ["sweep", fixture("hang.json"), "--seeds", "1-2", "--jobs", "1", "--timeout", "2000"];
    const [r, fresh] = await Promise.all([
      faultline(...args, "-o", dir),
      faultline(...args, "--no-reuse", "-o", join(dir, "fresh")),
    ]);
    expect(r.code).toBe(1);
    const xs = records(dir);
    expect(xs.map((x) => [x.seed, x.outcome, x.trace])).toEqual([
      [1, "hung", "seed-1.trace"],
      [2, "hung", "seed-2.trace"],
    ]);
    for (const x of xs) expect(x.error).toMatch(/deadline of 2000 ms passed/);
    // A new process and threads per run gives the same records. The spinner never stops calling
    // getpid, so how many calls the deadline lets through depends on the host's speed: the traces
    // follow one schedule, the shorter a prefix of the longer.
    expect(fresh.code).toBe(1);
    expect(resultsOnly(records(join(dir, "fresh")))).toEqual(resultsOnly(xs));
    for (const t of ["seed-1.trace", "seed-2.trace"]) {
      const [a, b] = [join(dir, "fresh", t), join(dir, t)].map(
        (f) => decodeTrace(readFileSync(f)) as SweepTrace,
      );
      const { events: ea, ...ra } = a!;
      const { events: eb, ...rb } = b!;
      expect(ra).toEqual(rb);
      const n = Math.min(ea.length, eb.length);
      expect(n).toBeGreaterThan(2);
      expect(ea.slice(0, n)).toEqual(eb.slice(0, n));
    }
    const replay = await faultline("replay", join(dir, "seed-2.trace"), fixture("hang.json"));
    expect(replay.stdout).toBe("reproduced: seed 2, cell 0 (era=modern) ended hung, as recorded\n");
    expect(replay.code).toBe(1);
  }, 240_000);

  it("survives a run that takes its process down: recorded as crashed, the next run goes on in a new process", async () => {
    const dir = tmp();
    const r = await faultline("sweep", fixture("crash.json"), "--seeds", "1-2", "--jobs", "1", "-o", dir);
    expect(r.code).toBe(1);
    expect(records(dir).map((x) => [x.seed, x.outcome, x.error, x.trace])).toEqual([
      [1, "crashed", "the run's process died (SIGKILL)", "seed-1.trace"],
      [2, "crashed", "the run's process died (SIGKILL)", "seed-2.trace"],
    ]);
    // No events could be kept: the trace rebuilds the run, and replay runs the seed again.
    const t = decodeTrace(readFileSync(join(dir, "seed-1.trace"))) as SweepTrace;
    expect(t.events).toEqual([]);
    expect(t.faultline).toMatchObject({ recipe: true, seed: 1, outcome: "crashed" });
  }, 120_000);

  it("refuses a bad matrix or seed list before running anything (exit 2, file: field: expected …, got …); --help names every option", async () => {
    const dir = tmp();
    const raw = JSON.parse(readFileSync(RACE, "utf8")) as unknown;
    const bad = (matrix: unknown) => {
      const f = join(dir, "m.json");
      writeFileSync(f, JSON.stringify(matrix));
      try {
        loadMatrix(f, raw, RACE, ["modern"]);
      } catch (e) {
        expect(e).toBeInstanceOf(ScenarioError);
        return (e as Error).message.replace(`${f}: `, "m.json: ");
      }
      return "accepted";
    };
    expect(bad({ colour: ["red"] })).toBe(
      'm.json: colour: expected one of era, ramBytes, zeroPage, cpu.pku, "devices[i].<field>" or "drivers[i].<field>", got "colour"',
    );
    expect(bad({ era: ["2.4"] })).toBe('m.json: era[0]: expected "2.6.10" or "modern", got "2.4"');
    expect(bad({ ramBytes: [33554432, 1000] })).toBe(
      "m.json: ramBytes[1]: expected a multiple of 4096, at least 2 MiB, got 1000",
    );
    expect(bad({ ramBytes: [] })).toBe("m.json: ramBytes: expected a non-empty array of values, got []");
    expect(bad({ "devices[0].size": [4096] })).toBe(
      "m.json: devices[0].size: expected an index of the scenario's machine.devices (it has 0), got 0",
    );
    expect(bad([1])).toBe("m.json: (top level): expected an object of arrays, got [1]");
    expect(bad({ era: ["2.6.10", "modern"], ramBytes: [33554432, "0x4000000"] })).toBe("accepted");
    expect(loadMatrix(undefined, raw, RACE, ["2.6.10", "modern"]).map((c) => c.params)).toEqual([
      { era: "2.6.10" },
      { era: "modern" },
    ]);

    // Through the command line: exit 2, nothing run, nothing written; the same for a bad --seeds.
    writeFileSync(join(dir, "m.json"), JSON.stringify({ ramBytes: [1000] }));
    const [cli, seeds, sweepHelp, replayHelp] = await Promise.all([
      faultline("sweep", RACE, "--seeds", "1", "--matrix", join(dir, "m.json"), "-o", join(dir, "out")),
      faultline("sweep", RACE, "--seeds", "5-1", "-o", join(dir, "out")),
      faultline("sweep", "--help"),
      faultline("replay", "--help"),
    ]);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toBe(
      `faultline: ${join(dir, "m.json")}: ramBytes[0]: expected a multiple of 4096, at least 2 MiB, got 1000\n`,
    );
    expect(seeds.code).toBe(2);
    expect(seeds.stderr).toContain('expected seeds as "1-1000", "7" or "1-10,20", got "5-1"');
    expect(existsSync(join(dir, "out"))).toBe(false);
    // And --help documents both commands.
    expect(sweepHelp.code).toBe(0);
    for (const opt of ["--seeds", "--matrix", "--jobs", "--output", "--timeout", "--no-reuse", "--no-pin"])
      expect(sweepHelp.stdout).toContain(opt);
    expect(replayHelp.stdout).toContain("<trace> [scenario]");
  }, 120_000);
});
