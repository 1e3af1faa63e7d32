// The report as one self-contained HTML file: the model as JSON in the page, the script and style
// inline (client.ts). Nothing is fetched, so it opens from file:// and offline.
import { REPORT_CSS, REPORT_JS } from "./client";
import type { FaultKind, ReportModel } from "./model";

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const FAULT_KINDS: readonly FaultKind[] = ["minor", "cow", "driver", "sigbus", "segv", "oom", "killed"];

/**
 * The model as the page carries it: PTEs, frames and faults as number tuples instead of objects (a
 * third of the bytes for a large machine); the page's script expands them back (client.ts `expand`).
 */
export function packForPage(model: ReportModel): unknown {
  return {
    ...model,
    eras: model.eras.map((e) => ({
      ...e,
      processes: e.processes.map((p) => ({
        ...p,
        vmas: p.vmas.map((v) => ({
          ...v,
          ptes: v.ptes.flatMap((t) => [t.index, t.pfn, (t.writable ? 1 : 0) | (t.special ? 2 : 0)]),
        })),
      })),
      frames: e.frames.map((f) => [
        f.pfn,
        (f.hasPage ? 1 : 0) | (f.zero ? 2 : 0),
        f.refcount,
        f.mapcount,
        f.flags,
        f.cowOf,
        f.mappers,
      ]),
      faults: e.faults.map((f) => [
        f.tick,
        f.pid,
        f.addr,
        f.write ? 1 : 0,
        FAULT_KINDS.indexOf(f.kind),
        f.pfn,
        f.fromPfn,
      ]),
    })),
  };
}

/** JSON safe inside a <script> element: no "</script>", no "<!--". */
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, "\\u003c");

export function renderReportHtml(model: ReportModel): string {
  const title = `Faultline memory map: ${model.scenario.name}`;
  const legend = [
    ["--ram", "System RAM"],
    ["--isa", "ISA device memory"],
    ["--bar", "PCI BAR / no struct page"],
    ["--claim", "driver claim"],
    ["--legacy", "legacy (VGA, ROM)"],
    ["--window", "PCI window"],
  ]
    .map(([v, t]) => `<span><span class="chip" style="background:var(${v})"></span>${t}</span>`)
    .join("");
  const frames = [
    ["#f57c00", "frame shared by several processes"],
    ["var(--cow)", "COW copy (dashed arc to its original)"],
    ["#9e9e9e", "the zero page"],
  ]
    .map(([c, t]) => `<span><span class="chip" style="background:${c}"></span>${t}</span>`)
    .join("");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="faultline ${escapeHtml(model.faultline)}">
<title>${escapeHtml(title)}</title>
<style>${REPORT_CSS}</style>
</head>
<body>
<header>
<h1>${escapeHtml(title)}</h1>
<div class="mute">${escapeHtml(model.scenario.description)}</div>
<div class="legend">${legend}</div>
<div class="legend">${frames}</div>
</header>
<main id="eras" class="eras"></main>
<div id="tip" class="tip" hidden></div>
<footer>Written by faultline ${escapeHtml(model.faultline)} (report format ${model.version}) · rendered in <span id="render-ms">…</span></footer>
<script type="application/json" id="faultline-data">${scriptJson(packForPage(model))}</script>
<script>${REPORT_JS}</script>
</body>
</html>
`;
}
