// Runs a scenario: one machine per era, every program in its own worker thread.
import { Machine } from "@faultline/kernel";
import { type ProcessResult, Simulation, type TraceEvent } from "@faultline/sim";
import { type Era, machineOptions, programUrl, type Scenario } from "./scenario";

export interface EraRun {
  readonly era: Era;
  readonly processes: readonly (ProcessResult & { readonly programName: string })[];
  /** What the programs wrote to their console, grouped by pid in start order. */
  readonly console: string;
  readonly dmesg: readonly string[];
  readonly iomem: string;
  readonly meminfo: string;
  /** Syscall and fault events in order (deterministic runs only). */
  readonly events: readonly TraceEvent[];
  readonly ms: number;
}

export interface RunOptions {
  readonly baseDir: string;
  /** Serialize the programs under a seeded scheduler (reproducible output and a trace). */
  readonly seed?: number;
  readonly onProgress?: (text: string) => void;
}

export async function runScenario(s: Scenario, opts: RunOptions): Promise<EraRun[]> {
  const runs: EraRun[] = [];
  for (const era of s.eras) {
    const t0 = performance.now();
    opts.onProgress?.(`${s.name} (${era}): booting`);
    const machine = await Machine.create(machineOptions(s, era));
    const sim =
      opts.seed === undefined
        ? await Simulation.create({ machine, deadlineMs: 60_000 })
        : await Simulation.deterministic({ machine, seed: opts.seed });
    const names = new Map<number, string>();
    for (const p of s.programs) {
      const pid = sim.spawn(programUrl(p, opts.baseDir), p.argv);
      names.set(pid, p.program);
    }
    opts.onProgress?.(`${s.name} (${era}): running ${s.programs.length} programs`);
    const results = await sim.run();
    machine.checkInvariants();
    runs.push({
      era,
      processes: results.map((r) => ({ ...r, programName: names.get(r.pid) ?? forkedFrom(r) })),
      console: groupByPid(machine.console()),
      dmesg: machine.dmesg(),
      iomem: machine.procText("/proc/iomem"),
      meminfo: machine.procText("/proc/meminfo"),
      events: opts.seed === undefined ? [] : sim.trace().events,
      ms: performance.now() - t0,
    });
  }
  return runs;
}

function forkedFrom(r: ProcessResult): string {
  const base =
    r.program
      .split("/")
      .pop()
      ?.replace(/\.program\.ts$/, "") ?? "?";
  return `builtin:${base} (forked)`;
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
