// What `faultline run` prints: the story per era, a summary table, the maps, and the differences.
import Table from "cli-table3";
import type { EraRun } from "./run";
import type { Scenario } from "./scenario";

const exitText = (e: { code: number } | { signal: string }) => ("signal" in e ? e.signal : `exit ${e.code}`);

/** The processes that ended otherwise than the scenario expects, one line each (empty: all as expected). */
export function verdicts(runs: readonly EraRun[]): string[] {
  return runs.flatMap((r) =>
    r.processes
      .filter((p) => !p.asExpected)
      .map(
        (p) =>
          `pid ${p.pid} (${p.programName}, ${r.era}) ended with ${exitText(p.exit)}, the scenario expects ${exitText(p.expected!)}${p.error ? `: ${firstLine(p.error)}` : ""}`,
      ),
  );
}

const firstLine = (s: string) => s.split("\n")[0]!;

export function summaryTable(run: EraRun): string {
  const t = new Table({
    head: ["pid", "program", "thread", "exit", "minflt", "majflt", "RSS kB", "shared kB", "private kB"],
    style: { head: [], border: [] },
  });
  for (const p of run.processes) {
    t.push([
      p.pid,
      p.programName,
      p.threadId,
      exitText(p.exit),
      p.minflt,
      p.majflt,
      p.rssKb,
      p.sharedKb,
      p.privateKb,
    ]);
  }
  return t.toString();
}

export function renderRun(s: Scenario, runs: readonly EraRun[]): string {
  const out: string[] = [`${s.name}: ${s.description}`.trim(), ""];
  for (const run of runs) {
    out.push(`=== ${run.era === "2.6.10" ? "Linux 2.6.10 (the book)" : "today's kernel"} ===`, "");
    out.push(run.console, "", "Kernel log:", ...run.dmesg.map((l) => `  ${l}`), "", summaryTable(run), "");
    const errors = run.processes.filter((p) => p.error);
    if (errors.length) {
      out.push("Errors:");
      for (const p of errors) out.push(`  pid ${p.pid} (${p.programName}): ${p.error}`);
      out.push("");
    }
    for (const p of run.processes) {
      out.push(`/proc/${p.pid}/maps (${p.programName}, at exit):`);
      out.push(p.maps.trimEnd() || "  (nothing mapped)", "");
    }
  }
  if (runs.length > 1) out.push(...differences(runs));
  const bad = verdicts(runs);
  out.push(
    bad.length
      ? `NOT AS EXPECTED:\n${bad.map((l) => `  ${l}`).join("\n")}`
      : "Every process ended as the scenario expects.",
  );
  return out.join("\n");
}

/** Side by side: what each program's run ended as in each era, and the lines that changed. */
function differences(runs: readonly EraRun[]): string[] {
  const t = new Table({ head: ["program", ...runs.map((r) => r.era)], style: { head: [], border: [] } });
  const programs = [...new Set(runs.flatMap((r) => r.processes.map((p) => p.programName)))];
  for (const prog of programs) {
    t.push([
      prog,
      ...runs.map(
        (r) =>
          r.processes
            .filter((p) => p.programName === prog)
            .map((p) => exitText(p.exit))
            .join(", ") || "-",
      ),
    ]);
  }
  const strip = (l: string) => l.replace(/^\[pid \d+\] /, "").replace(/0x[0-9a-f]{6,}/g, "<addr>");
  const a = new Set(runs[0]!.console.split("\n").map(strip));
  const changed = runs[1]!.console.split("\n").filter((l) => !a.has(strip(l)));
  return [
    `=== What changed between ${runs.map((r) => r.era).join(" and ")} ===`,
    "",
    t.toString(),
    "",
    `Lines only ${runs[1]!.era} printed:`,
    ...changed.map((l) => `  ${l}`),
    "",
  ];
}

export function toJson(s: Scenario, runs: readonly EraRun[]): unknown {
  return {
    scenario: s.name,
    eras: runs.map((r) => r.era),
    ok: verdicts(runs).length === 0,
    processes: runs.flatMap((r) =>
      r.processes.map((p) => ({
        era: r.era,
        pid: p.pid,
        program: p.programName,
        threadId: p.threadId,
        exit: p.exit,
        expected: p.expected,
        asExpected: p.asExpected,
        ...(p.error ? { error: p.error } : {}),
        minflt: p.minflt,
        majflt: p.majflt,
        rssKb: p.rssKb,
        sharedKb: p.sharedKb,
        privateKb: p.privateKb,
        // Signals its handlers caught (issue 12 §1): how many, and the first ones.
        handledSignals: { count: p.handledSignalCount, first: p.handledSignals },
      })),
    ),
    runs: runs.map((r) => ({
      era: r.era,
      console: r.console.split("\n"),
      dmesg: r.dmesg,
      ms: Math.round(r.ms),
    })),
  };
}

/**
 * Chrome Trace Event JSON (opens in Perfetto or chrome://tracing): one track per process, and one for
 * the machine's clock (tid 0: the timers and interrupts of a deterministic run, category "clock").
 */
export function chromeTrace(runs: readonly EraRun[]): unknown {
  const traceEvents: unknown[] = [];
  runs.forEach((run, r) => {
    const pid = r + 1;
    traceEvents.push({ name: "process_name", ph: "M", pid, args: { name: `faultline ${run.era}` } });
    for (const p of run.processes) {
      traceEvents.push({
        name: "thread_name",
        ph: "M",
        pid,
        tid: p.pid,
        args: { name: `pid ${p.pid} ${p.programName}` },
      });
    }
    if (run.events.some((e) => e.pid === 0))
      traceEvents.push({
        name: "thread_name",
        ph: "M",
        pid,
        tid: 0,
        args: { name: "clock: timers and interrupts" },
      });
    run.events.forEach((e, i) => {
      traceEvents.push({
        name: e.op,
        cat: e.op === "fault" ? "fault" : e.pid === 0 ? "clock" : "syscall",
        ph: "X",
        ts: i * 10,
        dur: 8,
        pid,
        tid: e.pid,
        args: {
          args: JSON.parse(JSON.stringify(e.args, big)),
          ret: JSON.parse(JSON.stringify(e.ret ?? null, big)),
        },
      });
    });
  });
  return { traceEvents, displayTimeUnit: "ns" };
}

const big = (_k: string, v: unknown) =>
  typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? `<${v.length} bytes>` : v;
