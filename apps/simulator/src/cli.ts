#!/usr/bin/env node
// The `faultline` command: runs a scenario (the built-in one tells LDD3 chapter 15's story) with its
// processes as worker threads, and prints what the kernel did.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { MACHINE_SNAPSHOT_KIND } from "@faultline/kernel";
import { Command, CommanderError, InvalidArgumentError } from "commander";
import ora from "ora";
import { builtinScenario, isBuiltinScenario } from "./builtin-scenarios";
import { DEFAULT_SCENARIO } from "./default-scenario";
import { chromeTrace, renderRun, summaryTable, toJson, verdicts } from "./report";
import { progressBar, reportModel, writeReport } from "./report/build";
import { decodeSnapshot, isSnapshot, SnapshotError } from "./report/snapshot";
import { type EraRun, runScenario } from "./run";
import {
  advanceWorkerThreadIds,
  decodeRunSnapshot,
  encodeRunSnapshot,
  nextWorkerThreadId,
  RUN_SNAPSHOT_KIND,
  type RunSnapshot,
  restoreSavedEra,
  runSource,
  snapshotKind,
} from "./run-snapshot";
import {
  type Era,
  loadPlugins,
  loadScenario,
  machineOptions,
  type Plugins,
  type Scenario,
  ScenarioError,
} from "./scenario";
import { sweep } from "./sweep";
import { parseSeeds } from "./sweep-matrix";
import { queueWorker } from "./sweep-queue";
import { replayTrace } from "./sweep-run";

interface Loaded {
  readonly scenario: Scenario;
  readonly baseDir: string;
  readonly file?: string;
  /** The scenario's device and driver plugins, imported and checked before anything runs. */
  readonly plugins: Plugins;
}

async function load(arg: string | undefined, era: Era | undefined): Promise<Loaded> {
  // `builtin:sharing` names a scenario the command carries, as no argument names the LDD3 story.
  const builtin = arg !== undefined && isBuiltinScenario(arg) ? builtinScenario(arg) : undefined;
  const file = builtin ? undefined : arg;
  const { scenario, baseDir } = file
    ? loadScenario(file)
    : { scenario: builtin ?? DEFAULT_SCENARIO, baseDir: process.cwd() };
  const plugins = await loadPlugins(scenario, file ?? scenario.name, baseDir);
  return {
    scenario: era ? { ...scenario, eras: [era] } : scenario,
    baseDir,
    plugins,
    ...(file ? { file } : {}),
  };
}

const parseEra = (v: string): Era => {
  if (v !== "2.6.10" && v !== "modern") throw new InvalidArgumentError('expected "2.6.10" or "modern"');
  return v;
};
const parseSeed = (v: string): number => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError("expected a non-negative integer");
  return n;
};

/** Exit status 1 (and the reasons on stderr) when a process ended otherwise than the scenario expects. */
function judge(runs: readonly EraRun[]): void {
  const bad = verdicts(runs);
  if (!bad.length) return;
  for (const line of bad) process.stderr.write(`faultline: ${line}\n`);
  process.exitCode = 1;
}

async function execute(
  l: Loaded,
  opts: { seed?: number; quiet?: boolean; observe?: boolean; onEraEnd?: RunOptionsOnEraEnd },
): Promise<EraRun[]> {
  const live = !opts.quiet && process.stderr.isTTY;
  const spinner = live ? ora({ text: `${l.scenario.name}: starting`, stream: process.stderr }).start() : null;
  try {
    const runs = await runScenario(l.scenario, {
      baseDir: l.baseDir,
      plugins: l.plugins,
      ...(l.file ? { file: l.file } : {}),
      ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
      ...(opts.onEraEnd ? { onEraEnd: opts.onEraEnd } : {}),
      onProgress: (t) => {
        if (spinner) spinner.text = t;
      },
      // The report watches the run; on a terminal, a bar counts the processes that have exited.
      ...(opts.observe
        ? {
            observe: {
              onExit: (era: Era, done: number, total: number) => {
                if (spinner)
                  spinner.text = `${l.scenario.name} (${era}): ${progressBar(done, total)} processes exited`;
              },
            },
          }
        : {}),
    });
    spinner?.succeed(`${l.scenario.name}: ${runs.map((r) => `${r.era} ${Math.round(r.ms)} ms`).join(", ")}`);
    return runs;
  } catch (e) {
    spinner?.fail(`${l.scenario.name}: failed`);
    throw e;
  }
}

type RunOptionsOnEraEnd = NonNullable<Parameters<typeof runScenario>[1]["onEraEnd"]>;

/** Reads a run snapshot for --from, or says why not (exit status 2). */
function readRunSnapshot(file: string): RunSnapshot | null {
  try {
    return decodeRunSnapshot(readFileSync(file));
  } catch (e) {
    if (!(e instanceof SnapshotError) && (e as NodeJS.ErrnoException).code === undefined) throw e;
    process.stderr.write(`faultline: ${file}: ${(e as Error).message}\n`);
    process.exitCode = 2;
    return null;
  }
}

/**
 * `run --from state.flsnap`: the saved era from the restored machine, then every era after it. The
 * text output is that of the run straight through (deterministic runs: byte for byte).
 */
async function resume(file: string, json: boolean): Promise<void> {
  const snap = readRunSnapshot(file);
  if (!snap) return;
  const { scenario: arg, era, seed } = snap.source;
  const l = await load(arg ?? undefined, era ?? undefined);
  const saved = snap.eras.map((r) => r.era);
  const last = saved[saved.length - 1]!;
  const order = l.scenario.eras;
  if (saved.some((e, i) => order[i] !== e))
    throw new SnapshotError(
      `run snapshot: its eras (${saved.join(", ")}) are not how ${l.scenario.name} starts`,
    );
  let restored: EraRun;
  try {
    restored = await restoreSavedEra(snap, machineOptions(l.scenario, last, l.plugins));
  } catch (e) {
    if (!(e instanceof SnapshotError)) throw e;
    process.stderr.write(`faultline: ${file}: ${e.message}\n`);
    process.exitCode = 2;
    return;
  }
  const rest = order.slice(saved.length);
  await advanceWorkerThreadIds(snap.nextThreadId);
  const more = rest.length
    ? await execute(
        { ...l, scenario: { ...l.scenario, eras: rest } },
        {
          ...(seed !== null ? { seed } : {}),
          quiet: json,
        },
      )
    : [];
  const runs = [...snap.eras.slice(0, -1), restored, ...more];
  process.stdout.write(
    json ? `${JSON.stringify(toJson(l.scenario, runs), null, 2)}\n` : `${renderRun(l.scenario, runs)}\n`,
  );
  judge(runs);
}

const program = new Command()
  .name("faultline")
  .description("Emulates how the Linux kernel maps device memory into processes (LDD3 chapter 15).")
  .showHelpAfterError();

const scenarioArg = "[scenario]";
const scenarioHelp =
  "scenario file (JSON), or builtin:sharing (processes sharing tmpfs, memfd and SysV memory); the built-in LDD3 chapter 15 story when omitted";

program
  .command("run", { isDefault: true })
  .description("run a scenario and print the story, a summary per process and every process's maps")
  .argument(scenarioArg, scenarioHelp)
  .option("--era <era>", "run in one era only: 2.6.10 or modern", parseEra)
  .option("--json", "print one JSON object (for machines) instead of text")
  .option("--seed <n>", "serialize the programs under a seeded scheduler (reproducible)", parseSeed)
  .option("--html <file>", "also write the memory-map report (one self-contained HTML file)")
  .option(
    "--save <file>",
    "also save a snapshot: the machine at the end of the first era (every process exited) with the results so far, and the run's memory map (faultline report <file> draws it; faultline run --from <file> runs the rest)",
  )
  .option("--from <file>", "run the rest of a run saved with --save: the eras after the saved one")
  .action(
    async (
      file: string | undefined,
      o: { era?: Era; json?: boolean; seed?: number; html?: string; save?: string; from?: string },
    ) => {
      if (o.from !== undefined) {
        if (file !== undefined || o.era !== undefined || o.seed !== undefined || o.save !== undefined)
          throw new InvalidArgumentError(
            "--from takes no scenario, --era, --seed or --save: the snapshot says what ran",
          );
        return resume(o.from, o.json === true);
      }
      const l = await load(file, o.era);
      // The quiescent point: the end of the first era, every process of it exited.
      let machine: Uint8Array | null = null;
      let nextThreadId = 0;
      let saveError: string | null = null;
      const runs = await execute(l, {
        ...(o.seed !== undefined ? { seed: o.seed } : {}),
        quiet: o.json === true,
        observe: o.html !== undefined || o.save !== undefined,
        ...(o.save !== undefined
          ? {
              onEraEnd: async (_era, m) => {
                if (machine || saveError) return;
                try {
                  machine = m.snapshot();
                } catch (e) {
                  // What a snapshot cannot hold (a driver without hooks, a JS-function signal handler) is named.
                  if (!(e instanceof SnapshotError)) throw e;
                  saveError = e.message;
                  return;
                }
                // The probe takes the id the next era's first worker would have had (stopped before
                // that era starts): this run's later ids shift by one, and --from reproduces the table
                // of a run without --save.
                nextThreadId = await nextWorkerThreadId();
              },
            }
          : {}),
      });
      process.stdout.write(
        o.json
          ? `${JSON.stringify(toJson(l.scenario, runs), null, 2)}\n`
          : `${renderRun(l.scenario, runs)}\n`,
      );
      if (o.html !== undefined) {
        writeReport(o.html, reportModel(l.scenario, runs));
        process.stderr.write(`faultline: wrote the memory-map report to ${o.html}\n`);
      }
      if (o.save !== undefined && saveError) {
        process.stderr.write(`faultline: cannot save ${o.save}: ${saveError}\n`);
        process.exitCode = 2;
      }
      if (o.save !== undefined && machine) {
        const snap: RunSnapshot = {
          nextThreadId,
          source: runSource(file, l.file === undefined && file !== undefined, o.era, o.seed),
          eras: runs.slice(0, 1),
          machine,
          model: reportModel(l.scenario, runs),
        };
        writeFileSync(o.save, encodeRunSnapshot(snap));
        process.stderr.write(`faultline: saved the snapshot to ${o.save}\n`);
      }
      judge(runs);
    },
  );

program
  .command("report")
  .description(
    "run a scenario (deterministically) and write its memory-map report: one self-contained HTML file " +
      "with the physical address map, every process's VMAs and the frames they map, and the faults",
  )
  .argument(
    "[scenario | snapshot]",
    "a scenario file (JSON; the built-in story when omitted), or a snapshot saved by faultline run --save",
  )
  .option("-o, --output <file>", "where to write the report", "faultline-report.html")
  .option("--era <era>", "one era only: 2.6.10 or modern", parseEra)
  .option("--seed <n>", "scheduler seed", parseSeed, 1)
  .action(async (file: string | undefined, o: { output: string; era?: Era; seed: number }) => {
    const head = file && existsSync(file) ? readFileSync(file) : null;
    if (head && isSnapshot(head)) {
      let snap: ReturnType<typeof decodeSnapshot>;
      try {
        const kind = snapshotKind(head);
        if (kind === MACHINE_SNAPSHOT_KIND)
          throw new SnapshotError(
            "a machine snapshot (m.snapshot()) holds no memory map: faultline report draws a run saved with faultline run --save",
          );
        if (kind === RUN_SNAPSHOT_KIND) {
          const run = decodeRunSnapshot(head);
          if (!run.model) throw new SnapshotError("run snapshot: it holds no memory map");
          snap = { formatVersion: 1, faultline: "", model: run.model };
        } else snap = decodeSnapshot(head);
      } catch (e) {
        if (!(e instanceof SnapshotError)) throw e;
        process.stderr.write(`faultline: ${file}: ${e.message}\n`);
        process.exitCode = 2;
        return;
      }
      const eras = o.era ? snap.model.eras.filter((x) => x.era === o.era) : snap.model.eras;
      writeReport(o.output, { ...snap.model, eras });
      process.stdout.write(
        `wrote the memory-map report of ${snap.model.scenario.name} (snapshot) to ${o.output}\n`,
      );
      return;
    }
    const l = await load(file, o.era);
    const runs = await execute(l, { seed: o.seed, observe: true });
    writeReport(o.output, reportModel(l.scenario, runs));
    process.stdout.write(`wrote the memory-map report of ${l.scenario.name} to ${o.output}\n`);
    judge(runs);
  });

for (const [view, what] of [
  ["maps", "every process's /proc/PID/maps at exit"],
  ["smaps", "every process's /proc/PID/smaps at exit"],
  ["iomem", "/proc/iomem of the machine"],
  ["meminfo", "/proc/meminfo after the run"],
  ["dmesg", "the kernel log of the run"],
  ["summary", "the per-process summary table"],
] as const) {
  program
    .command(view)
    .description(`run a scenario and print ${what}`)
    .argument(scenarioArg, scenarioHelp)
    .option("--era <era>", "era: 2.6.10 or modern (default: the scenario's first)", parseEra)
    .action(async (file: string | undefined, o: { era?: Era }) => {
      const l = await load(file, o.era);
      const one = { ...l, scenario: { ...l.scenario, eras: [l.scenario.eras[0]!] } };
      const [run] = await execute(one, { quiet: true });
      const r = run!;
      const text =
        view === "maps"
          ? r.processes.map((p) => `/proc/${p.pid}/maps (${p.programName}):\n${p.maps}`).join("\n")
          : view === "smaps"
            ? r.processes.map((p) => `/proc/${p.pid}/smaps (${p.programName}):\n${p.smaps}`).join("\n")
            : view === "iomem"
              ? r.iomem
              : view === "meminfo"
                ? r.meminfo
                : view === "dmesg"
                  ? `${r.dmesg.join("\n")}\n`
                  : `${summaryTable(r)}\n`;
      process.stdout.write(text);
    });
}

program
  .command("trace")
  .description(
    "run a scenario deterministically and export its syscalls and faults as Chrome Trace Event JSON",
  )
  .argument(scenarioArg, scenarioHelp)
  .option("-o, --output <file>", "where to write the trace", "faultline-trace.json")
  .option("--seed <n>", "scheduler seed", parseSeed, 1)
  .option("--era <era>", "era: 2.6.10 or modern", parseEra)
  .action(async (file: string | undefined, o: { output: string; seed: number; era?: Era }) => {
    const l = await load(file, o.era);
    const runs = await execute(l, { seed: o.seed });
    writeFileSync(o.output, JSON.stringify(chromeTrace(runs)));
    const n = runs.reduce((k, r) => k + r.events.length, 0);
    process.stdout.write(`wrote ${n} events to ${o.output} (open it in Perfetto or chrome://tracing)\n`);
  });

const parsePositive = (v: string): number => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError("expected a positive integer");
  return n;
};
const parseSeedList = (v: string): number[] => {
  try {
    return parseSeeds(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
};

program
  .command("sweep")
  .description(
    "run a scenario deterministically once per seed (and matrix cell) on a pool of child processes; " +
      "results in <dir>/results.msgpack and results.jsonl, a trace per run that did not end as expected " +
      "(faultline replay); exit 0 only if every run ended as expected; run it again to resume",
  )
  .argument(scenarioArg, scenarioHelp)
  .requiredOption("--seeds <list>", 'the seeds: "1-1000", "7" or "1-10,20"', parseSeedList)
  .option(
    "--matrix <file>",
    'JSON of value lists, one run per combination: { "era": [...], "ramBytes": [...], "devices[0].size": [...] }',
  )
  .option("--jobs <n>", "child processes running at once (default: the number of cores)", parsePositive)
  .option("-o, --output <dir>", "the results folder", "results")
  .option(
    "--timeout <ms>",
    "a run still going after this long is killed and recorded as hung",
    parsePositive,
    60_000,
  )
  .option(
    "--queue <url>",
    "run on a BullMQ queue at redis://host:port/db instead of a local pool: `faultline worker --queue <url>` " +
      "processes, on any machines, take the runs; this command waits and writes the same results folder",
  )
  .option(
    "--no-reuse",
    "a new child process for every run and a new worker thread for every simulated process, instead of " +
      "keeping both from run to run (the same results, slower: a check, or for programs whose imported " +
      "modules keep state between processes)",
  )
  .option(
    "--no-pin",
    "let the scheduler place the child processes instead of giving each its own core (by default, up to " +
      "one child per core, each is pinned to its core through taskset, on Linux)",
  )
  // A usage error is exit 2 here: 1 already means "a run did not end as expected".
  .exitOverride()
  .action(
    async (
      file: string | undefined,
      o: {
        seeds: number[];
        matrix?: string;
        jobs?: number;
        output: string;
        timeout: number;
        queue?: string;
        reuse: boolean;
        pin: boolean;
      },
    ) => {
      process.exitCode = await sweep({
        scenarioFile: file,
        seeds: o.seeds,
        matrixFile: o.matrix,
        jobs: o.jobs ?? availableParallelism(),
        outDir: o.output,
        timeoutMs: o.timeout,
        progress: process.stderr.isTTY === true,
        write: (t) => process.stdout.write(t),
        reuse: o.reuse,
        pin: o.pin,
        ...(o.queue !== undefined ? { queueUrl: o.queue } : {}),
      });
    },
  );

program
  .command("worker")
  .description(
    "take the runs of `faultline sweep --queue` sweeps from a BullMQ queue on Redis and run them, until " +
      "interrupted; the scenarios' plugins must be installed here in the versions the sweep was submitted with",
  )
  .requiredOption("--queue <url>", "the Redis the sweeps use: redis://host:port/db")
  .option("--jobs <n>", "runs at once in this process (default: the number of cores)", parsePositive)
  .option(
    "--dir <folder>",
    "where scenario programs given as relative paths, and plugins, resolve on this machine (default: the " +
      "submitter's scenario folder if it exists here, else the current folder)",
  )
  .option(
    "--lock <ms>",
    "a run whose worker stops renewing its lock for this long is given to another worker",
    parsePositive,
    30_000,
  )
  .option(
    "--no-reuse",
    "a new worker thread for every simulated process instead of keeping them from job to job",
  )
  .action(async (o: { queue: string; jobs?: number; dir?: string; lock: number; reuse: boolean }) => {
    const w = queueWorker({
      queueUrl: o.queue,
      jobs: o.jobs ?? availableParallelism(),
      dir: o.dir,
      lockMs: o.lock,
      reuse: o.reuse,
      write: (t) => process.stdout.write(t),
    });
    await w.closed;
  });

program
  .command("replay")
  .description(
    "run a trace kept by faultline sweep again, event for event: exit 1 when it ends as recorded (the failure " +
      "is reproduced), 3 when it does something else than the recording",
  )
  .argument("<trace>", "a seed-<seed>[-cell-<n>].trace file from a sweep's results folder")
  .argument(
    "[scenario]",
    "the scenario file to use instead of the copy the trace carries (programs resolve from its folder)",
  )
  .action(async (trace: string, file: string | undefined) => {
    // loadScenario checks the file (and that its programs exist); the cell applies to its raw JSON.
    const scenario = file
      ? { file, baseDir: loadScenario(file).baseDir, raw: JSON.parse(readFileSync(file, "utf8")) as unknown }
      : null;
    const r = await replayTrace(trace, scenario);
    const what = `seed ${r.info.seed}, cell ${r.info.cell.index} (${Object.entries(r.info.cell.params)
      .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
      .join(" ")})`;
    for (const line of r.lines) process.stderr.write(`faultline: ${line}\n`);
    process.stdout.write(
      r.reproduced
        ? `reproduced: ${what} ended ${r.outcome}, as recorded\n`
        : `NOT reproduced: ${what} ended ${r.outcome}, the recording says ${r.info.outcome}\n`,
    );
    process.exitCode = !r.reproduced ? 3 : r.outcome === "ok" ? 0 : 1;
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  // Only from sweep (exitOverride): commander has printed the message (or the help) already.
  if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
  process.stderr.write(
    `faultline: ${e instanceof ScenarioError ? e.message : ((e as Error).stack ?? String(e))}\n`,
  );
  process.exitCode = e instanceof ScenarioError ? 2 : 1;
}
