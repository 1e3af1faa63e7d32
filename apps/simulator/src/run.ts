// Runs a scenario: one machine per era, every program in its own worker thread.
import { Machine } from "@faultline/kernel";
import { PhysError } from "@faultline/phys";
import { type ProcessResult, Simulation, type TraceEvent } from "@faultline/sim";
import { EraCollector } from "./report/extract";
import type { EraModel } from "./report/model";
import { observedKernel } from "./report/observe";
import {
  DeviceSpecError,
  type Era,
  type ExitSpec,
  machineOptions,
  type Plugins,
  programUrl,
  Refusal,
  type Scenario,
  ScenarioError,
} from "./scenario";

/** A process of a run: its result, the name the scenario gave its program, and the verdict. */
export type RunProcess = ProcessResult & {
  readonly programName: string;
  /** What the scenario expects of it (spawned processes only; forks are not judged). */
  readonly expected: ExitSpec | null;
  /** False when it ended otherwise than expected. */
  readonly asExpected: boolean;
};

export interface EraRun {
  readonly era: Era;
  readonly processes: readonly RunProcess[];
  /** What the programs wrote to their console, grouped by pid in start order. */
  readonly console: string;
  readonly dmesg: readonly string[];
  readonly iomem: string;
  readonly meminfo: string;
  /** Syscall and fault events in order (deterministic runs only). */
  readonly events: readonly TraceEvent[];
  readonly ms: number;
  /** The memory map the report draws (RunOptions.observe only). */
  readonly map?: EraModel;
}

export interface RunOptions {
  readonly baseDir: string;
  /** The scenario file, for errors ("file: field: expected …, got …"). */
  readonly file?: string;
  /** Its plugins (loadPlugins), made afresh for each era. */
  readonly plugins?: Plugins;
  /** Serialize the programs under a seeded scheduler (reproducible output and a trace). */
  readonly seed?: number;
  readonly onProgress?: (text: string) => void;
  /** SimulationOptions.loadTimeoutMs (tests on a loaded machine give program modules longer to load). */
  readonly loadTimeoutMs?: number;
  /**
   * Watch the run for the report (report/observe.ts): each process's address space captured as it
   * exits, each fault classified. `onExit` hears of every process exit (a progress bar).
   */
  readonly observe?: { readonly onExit?: (era: Era, exited: number, started: number) => void };
  /**
   * Called at the end of each era, once every process has exited and the invariants hold: the
   * quiescent point where `faultline run --save` snapshots the machine (devices, drivers, files and
   * shared memory persist; no process is running).
   */
  readonly onEraEnd?: (era: Era, machine: Machine) => void | Promise<void>;
}

export async function runScenario(s: Scenario, opts: RunOptions): Promise<EraRun[]> {
  const runs: EraRun[] = [];
  for (const era of s.eras) {
    const t0 = performance.now();
    opts.onProgress?.(`${s.name} (${era}): booting`);
    const machine = await bootMachine(s, era, opts.file ?? s.name, opts.plugins);
    const spawned = new Map<number, (typeof s.programs)[number]>();
    const collector = opts.observe ? new EraCollector(machine) : null;
    let exited = 0;
    const nameOf = (pid: number): string => {
      const parent = machine.process(pid)?.parent?.pid;
      const spec = spawned.get(pid) ?? (parent !== undefined ? spawned.get(parent) : undefined);
      if (!spec) return machine.process(pid)?.comm ?? `pid ${pid}`;
      return spawned.has(pid) ? spec.program : `${spec.program} (forked)`;
    };
    const kernel = collector
      ? observedKernel(machine, collector, {
          nameOf,
          onExit: () => {
            exited++;
            const running = machine.processes().filter((p) => p.state === "running").length;
            opts.observe?.onExit?.(era, exited, exited + running);
          },
        })
      : undefined;
    const on = kernel ? { kernel } : { machine };
    const load = opts.loadTimeoutMs !== undefined ? { loadTimeoutMs: opts.loadTimeoutMs } : {};
    const sim =
      opts.seed === undefined
        ? await Simulation.create({ ...on, ...load, deadlineMs: 60_000 })
        : await Simulation.deterministic({ ...on, ...load, seed: opts.seed });
    const byUrl = new Map<string, string>();
    for (const [i, p] of s.programs.entries()) {
      const url = programUrl(p, opts.baseDir);
      let pid: number;
      try {
        pid = sim.spawn(url, p.argv);
      } catch (e) {
        // Refused before its worker starts (a TypeScript program without tsx installed): stop the
        // ones already started and say why.
        await Promise.all([...spawned.keys()].map((started) => sim.kill(started, "scenario refused")));
        throw new ScenarioError(
          opts.file ?? s.name,
          `programs[${i}].program`,
          "a program module this installation can load",
          new Refusal((e as Error).message),
        );
      }
      spawned.set(pid, p);
      byUrl.set(url.href, p.program);
    }
    opts.onProgress?.(`${s.name} (${era}): running ${s.programs.length} programs`);
    const results = await sim.run();
    machine.checkInvariants();
    await opts.onEraEnd?.(era, machine);
    runs.push({
      era,
      processes: results.map((r) => {
        const spec = spawned.get(r.pid);
        const expected = spec ? spec.expect[era] : null;
        return {
          ...r,
          // A fork runs the same module as its parent: name it after that program.
          programName: spec?.program ?? `${byUrl.get(r.program) ?? r.program} (forked)`,
          expected,
          asExpected: expected === null || sameExit(r.exit, expected),
        };
      }),
      console: groupByPid(machine.console()),
      dmesg: machine.dmesg(),
      iomem: machine.procText("/proc/iomem"),
      meminfo: machine.procText("/proc/meminfo"),
      events: opts.seed === undefined ? [] : sim.trace().events,
      ms: performance.now() - t0,
      ...(collector ? { map: collector.finish(era) } : {}),
    });
  }
  return runs;
}

export const sameExit = (a: ProcessResult["exit"], b: ExitSpec): boolean =>
  "code" in a ? "code" in b && a.code === b.code : "signal" in b && a.signal === b.signal;

/**
 * Builds the machine, reporting what its devices or drivers refuse (bad parameters, overlapping
 * ranges) as a scenario error naming the field, without a stack trace.
 */
export async function bootMachine(s: Scenario, era: Era, file: string, plugins?: Plugins): Promise<Machine> {
  let options: ReturnType<typeof machineOptions>;
  try {
    options = machineOptions(s, era, plugins);
  } catch (e) {
    const at = e instanceof DeviceSpecError ? e.field : "machine";
    throw new ScenarioError(
      file,
      at,
      "parameters the device or driver accepts",
      new Refusal((e as Error).message),
    );
  }
  try {
    return await Machine.create(options);
  } catch (e) {
    // What the bus refuses (overlapping or misplaced devices) is the scenario's fault; anything
    // else is a bug and keeps its stack trace.
    if (!PhysError.is(e)) throw e;
    throw new ScenarioError(
      file,
      "machine.devices",
      "devices that fit the machine's address space without overlapping",
      new Refusal((e as Error).message),
    );
  }
}

/** Console lines are "[pid N] text": keep each process's lines together, in the order pids first spoke. */
function groupByPid(text: string): string {
  const order: string[] = [];
  const byPid = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    if (!line) continue;
    const pid = /^\[pid (\d+)\]/.exec(line)?.[1] ?? "?";
    if (!byPid.has(pid)) {
      byPid.set(pid, []);
      order.push(pid);
    }
    byPid.get(pid)!.push(line);
  }
  return order.map((p) => byPid.get(p)!.join("\n")).join("\n");
}
