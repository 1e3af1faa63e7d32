// `faultline report` and `faultline run --html`: the report model of a run (one EraModel per era, as
// run.ts observed it) and the HTML file made of it.
import { writeFileSync } from "node:fs";
import pkg from "../../package.json" with { type: "json" };
import type { EraRun } from "../run";
import type { Scenario } from "../scenario";
import { renderReportHtml } from "./html";
import { REPORT_MODEL_FORMAT, REPORT_MODEL_VERSION, type ReportModel } from "./model";

/** The version of @faultline/simulator writing reports and snapshots. */
export const FAULTLINE_VERSION: string = pkg.version;

/** The report model of an observed run (runScenario with `observe`). */
export function reportModel(s: Scenario, runs: readonly EraRun[]): ReportModel {
  return {
    format: REPORT_MODEL_FORMAT,
    version: REPORT_MODEL_VERSION,
    faultline: FAULTLINE_VERSION,
    scenario: { name: s.name, description: s.description },
    eras: runs.map((r) => {
      if (!r.map) throw new Error(`the ${r.era} run was not observed (runScenario's observe option)`);
      return r.map;
    }),
  };
}

export function writeReport(path: string, model: ReportModel): void {
  writeFileSync(path, renderReportHtml(model));
}

/** "[#######-------------] 7/20": a progress bar for a terminal line. */
export function progressBar(done: number, total: number, width = 20): string {
  const t = Math.max(total, done, 1);
  const n = Math.round((done / t) * width);
  return `[${"#".repeat(n)}${"-".repeat(width - n)}] ${done}/${t}`;
}
