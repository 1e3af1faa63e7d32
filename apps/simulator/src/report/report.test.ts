import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { MAP_ANONYMOUS, MAP_PRIVATE, Machine, PROT_READ, PROT_WRITE } from "@faultline/kernel";
import { PG_anon } from "@faultline/phys";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { faultline } from "../../test/cli-runner";
import { DEFAULT_SCENARIO } from "../default-scenario";
import { verdicts } from "../report";
import { type EraRun, runScenario } from "../run";
import { progressBar, reportModel } from "./build";
import { EraCollector, extractMachine } from "./extract";
import { packForPage, renderReportHtml } from "./html";
import type { EraModel, ReportModel } from "./model";

const PAGE = 4096;
/** Worker module loads may take minutes on a loaded 2-core machine (tsx compiles each program). */
const SLOW = 300_000;

/** The default story, observed once for every test here (deterministic: seed 1). */
let story: Promise<{ runs: EraRun[]; model: ReportModel }> | null = null;
const defaultStory = () => {
  story ??= runScenario(DEFAULT_SCENARIO, {
    baseDir: process.cwd(),
    seed: 1,
    observe: {},
    loadTimeoutMs: SLOW,
  }).then((runs) => ({
    runs,
    model: reportModel(DEFAULT_SCENARIO, runs),
  }));
  return story;
};

const era = (m: ReportModel, name: string): EraModel => m.eras.find((e) => e.era === name)!;
const proc = (e: EraModel, name: string) => e.processes.find((p) => p.name === name)!;

describe("the report model of the default story", () => {
  it("has both eras, the machine's iomem tree with the PCI BAR, and every process", async () => {
    const { model, runs } = await defaultStory();
    // Every process ended as the story expects (a worker that could not even load says why here).
    expect(verdicts(runs)).toEqual([]);
    expect(model).toMatchObject({
      format: "faultline-report",
      version: 1,
      scenario: { name: "ldd3-chapter-15" },
    });
    expect(model.eras.map((e) => e.era)).toEqual(["2.6.10", "modern"]);
    for (const e of model.eras) {
      const bar = e.iomem.find((r) => r.kind === "bar" && r.name === "0000:00:02.0");
      expect(bar && bar.end - bar.start + 1).toBe(0x100000);
      expect(e.iomem.find((r) => r.kind === "isa")).toMatchObject({
        start: 0xd0000,
        end: 0xdffff,
        name: "isa-mem",
      });
      expect(e.iomem.filter((r) => r.kind === "ram").length).toBeGreaterThan(0);
      expect(e.processes.map((p) => p.name)).toEqual(
        expect.arrayContaining([
          "builtin:share",
          "builtin:grow",
          "builtin:region",
          "builtin:pci",
          "builtin:pci-nopage",
          "builtin:share (forked)",
        ]),
      );
      // builtin:pci maps the BAR with remap_pfn_range: special PTEs onto frames without a struct page.
      const pci = proc(e, "builtin:pci").vmas[0]!;
      expect(pci.name).toBe("/dev/simpler");
      const barPfn = bar!.start / PAGE;
      expect(pci.ptes.slice(0, 2)).toEqual([
        { index: 0, pfn: barPfn, writable: true, special: true },
        { index: 1, pfn: barPfn + 1, writable: true, special: true },
      ]);
      expect(e.frames.find((f) => f.pfn === barPfn)).toMatchObject({
        hasPage: false,
        mappers: [proc(e, "builtin:pci").pid],
      });
    }
  }, 600_000);

  it("marks the frames parent and child share, and the COW copy of the private mapping with its original", async () => {
    const { model } = await defaultStory();
    for (const e of model.eras) {
      const parent = proc(e, "builtin:share");
      const child = proc(e, "builtin:share (forked)");
      const shared = parent.vmas.find((v) => v.perms === "rw-s")!;
      expect(shared.ptes.map((p) => p.pfn)).toEqual([0xd0, 0xd1]);
      expect(child.vmas[0]!.ptes.map((p) => p.pfn)).toEqual([0xd0, 0xd1]);
      const first = e.frames.find((f) => f.pfn === 0xd0)!;
      expect(first.mappers).toEqual([parent.pid, child.pid]);
      // Both PTEs map it when the child exits (and nopage's get_page and the ISA reservation hold it too).
      expect(first.mapcount).toBe(2);
      expect(first.refcount).toBe(3);
      const priv = parent.vmas.find((v) => v.perms === "rw-p")!;
      // (the pfn may have served an earlier process too: its record is the one with the parent in it)
      const copy = e.frames.find((f) => f.pfn === priv.ptes[0]!.pfn && f.mappers.includes(parent.pid))!;
      expect(copy.cowOf).toBe(0xd0);
      expect(copy.flags & PG_anon).toBe(PG_anon);
      expect(copy.mappers).toEqual([parent.pid]);
      const cow = e.faults.filter((f) => f.kind === "cow" && f.pid === parent.pid);
      expect(cow).toEqual([
        expect.objectContaining({ pid: parent.pid, write: true, pfn: copy.pfn, fromPfn: 0xd0 }),
      ]);
    }
  }, 600_000);

  it("shows the eras' difference: the zero page behind a grown VMA in 2.6.10, SIGBUS today", async () => {
    const { model } = await defaultStory();
    const old = era(model, "2.6.10");
    const now = era(model, "modern");
    const grown = proc(old, "builtin:grow").vmas[0]!;
    expect(grown.ptes).toEqual([{ index: 2, pfn: old.zeroPfn, writable: false, special: true }]);
    expect(old.frames.find((f) => f.pfn === old.zeroPfn)?.zero).toBe(true);
    const nopage = proc(old, "builtin:pci-nopage").pid;
    expect(old.faults.filter((f) => f.pid === nopage).map((f) => f.kind)).toEqual(["sigbus"]);
    expect(proc(now, "builtin:grow").exit).toBe("SIGBUS");
    expect(now.faults.filter((f) => f.pid === proc(now, "builtin:grow").pid).map((f) => f.kind)).toEqual([
      "sigbus",
    ]);
    // Drivers' fault handlers served the shared /dev/simplen pages, in both eras.
    for (const e of model.eras)
      expect(e.faults.filter((f) => f.kind === "driver").length).toBeGreaterThanOrEqual(4);
  }, 600_000);

  it("observing a run changes nothing in it", async () => {
    const { runs } = await defaultStory();
    // Today's era alone (a machine per era: the same pids, the same schedule for seed 1).
    const plain = await runScenario(
      { ...DEFAULT_SCENARIO, eras: ["modern"] },
      { baseDir: process.cwd(), seed: 1, loadTimeoutMs: SLOW },
    );
    const observed = runs.filter((r) => r.era === "modern");
    expect(plain.map((r) => [r.console, r.dmesg, r.events])).toEqual(
      observed.map((r) => [r.console, r.dmesg, r.events]),
    );
    expect(plain.every((r) => r.map === undefined)).toBe(true);
  }, 600_000);

  it("renders as one self-contained page: the model inline, nothing fetched", async () => {
    const { model } = await defaultStory();
    const html = renderReportHtml(model);
    expect(html.startsWith("<!doctype html>")).toBe(true);
    // No external script, style, image or font; the only URL is the SVG namespace name.
    expect(html).not.toMatch(/<(link|img|iframe)\b|\bsrc=|@import|url\(/);
    expect(html.match(/https?:\/\/[^\s"')]+/g)).toEqual(["http://www.w3.org/2000/svg"]);
    const json = /<script type="application\/json" id="faultline-data">([\s\S]*?)<\/script>/.exec(html)![1]!;
    expect(JSON.parse(json)).toEqual(JSON.parse(JSON.stringify(packForPage(model))));
    // A name with markup in it stays text.
    const hostile = renderReportHtml({
      ...model,
      scenario: { name: "</script><script>alert(1)</script>", description: "<b>x</b>" },
    });
    expect(hostile).not.toContain("<script>alert(1)");
    expect(hostile).not.toContain("<b>x</b>");
  }, 600_000);
});

describe("extractMachine (a machine's live processes at once)", () => {
  it("matches a reference model of anonymous private pages: untouched, the zero page, or a page of its own", async () => {
    const m = await Machine.create({ ramBytes: 16 * 1024 * 1024 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ page: fc.nat(15), write: fc.boolean() }), { maxLength: 40 }),
        async (touches) => {
          const p = m.spawn({ name: "toucher" });
          const addr = p.sys.mmap(0, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
          const ref = new Map<number, "zero" | "own">();
          for (const t of touches) {
            if (t.write) {
              p.mmu.store32(addr + t.page * PAGE, 1);
              ref.set(t.page, "own");
            } else {
              p.mmu.load32(addr + t.page * PAGE);
              if (!ref.has(t.page)) ref.set(t.page, "zero");
            }
          }
          const e = extractMachine(m);
          const model = e.processes.find((x) => x.pid === p.pid)!;
          expect(model.exit).toBe("running");
          const vma = model.vmas.find((v) => v.start === addr)!;
          expect(vma.backing).toBe("anon");
          expect(vma.ptes.map((x) => x.index)).toEqual([...ref.keys()].sort((a, b) => a - b));
          for (const pte of vma.ptes) {
            const f = e.frames.find((x) => x.pfn === pte.pfn)!;
            if (ref.get(pte.index) === "zero") {
              expect(pte.pfn).toBe(e.zeroPfn);
              expect(f.zero).toBe(true);
              expect(pte.writable).toBe(false);
            } else {
              expect(f).toMatchObject({
                zero: false,
                hasPage: true,
                mapcount: 1,
                refcount: 1,
                mappers: [p.pid],
              });
              expect(f.flags & PG_anon).toBe(PG_anon);
              expect(pte.writable).toBe(true);
            }
          }
          const own = vma.ptes.filter((x) => ref.get(x.index) === "own").map((x) => x.pfn);
          expect(new Set(own).size).toBe(own.length);
          p.sys.exit(0);
          m.checkInvariants();
        },
      ),
      { numRuns: 25 },
    );
  });

  it("after fork, parent and child map the same anonymous frames", async () => {
    const m = await Machine.create({ ramBytes: 16 * 1024 * 1024 });
    const p = m.spawn({ name: "parent" });
    const addr = p.sys.mmap(0, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    p.mmu.store32(addr, 7);
    const child = p.sys.fork();
    const e = extractMachine(m, "modern", new Map([[child, "child"]]));
    const frame = e.frames.find((f) => f.mappers.length === 2)!;
    expect(frame).toMatchObject({ mapcount: 2, mappers: [p.pid, child] });
    expect(e.processes.map((x) => x.name)).toEqual(["parent", "child"]);
    for (const x of e.processes) expect(x.vmas.find((v) => v.start === addr)!.ptes[0]!.writable).toBe(false);
  });
});

describe("EraCollector", () => {
  it("gives a frame freed by one process's exit and allocated to the next a record of its own", async () => {
    const m = await Machine.create({ ramBytes: 16 * 1024 * 1024 });
    const c = new EraCollector(m);
    const touch = (name: string) => {
      const p = m.spawn({ name });
      const addr = p.sys.mmap(0, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      for (let i = 0; i < 8; i++) p.mmu.store32(addr + i * PAGE, i);
      return p;
    };
    const a = touch("a");
    c.capture(a.pid, "a", "exit 0");
    a.sys.exit(0);
    c.released(a.pid);
    const b = touch("b");
    c.capture(b.pid, "b", "exit 0");
    const e = c.finish("modern");
    const pfns = (pid: number) =>
      e.processes.find((p) => p.pid === pid)!.vmas.flatMap((v) => v.ptes.map((t) => t.pfn));
    const reused = pfns(b.pid).filter((pfn) => pfns(a.pid).includes(pfn));
    expect(reused.length).toBeGreaterThan(0);
    for (const pfn of reused) {
      expect(e.frames.filter((f) => f.pfn === pfn).map((f) => f.mappers)).toEqual([[a.pid], [b.pid]]);
    }
    expect(e.frames.filter((f) => f.mappers.length > 1)).toEqual([]);
    m.checkInvariants();
  });
});

describe("progressBar", () => {
  it("fills in proportion and never overflows", () => {
    expect(progressBar(0, 4, 8)).toBe("[--------] 0/4");
    expect(progressBar(2, 4, 8)).toBe("[####----] 2/4");
    expect(progressBar(5, 4, 8)).toBe("[########] 5/5");
  });
});

describe("the command line", () => {
  const custom = fileURLToPath(new URL("../../test/__fixtures__/custom.json", import.meta.url));

  it("run --html and --save write the report and a snapshot after the run; report <snapshot> draws the same", async () => {
    const dir = mkdtempSync(join(tmpdir(), "faultline-report-"));
    const out = join(dir, "custom.html");
    const snap = join(dir, "custom.flsnap");
    const r = await faultline("run", custom, "--html", out, "--save", snap);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("touched 3 pages");
    expect(r.stderr).toContain(`wrote the memory-map report to ${out}`);
    expect(r.stderr).toContain(`saved the snapshot to ${snap}`);
    const pageData = (file: string) =>
      JSON.parse(
        /<script type="application\/json" id="faultline-data">([\s\S]*?)<\/script>/.exec(
          readFileSync(file, "utf8"),
        )![1]!,
      );
    const page = pageData(out) as {
      scenario: { name: string };
      eras: Array<{
        era: string;
        processes: Array<{ vmas: Array<{ backing: string; ptes: number[] }> }>;
        faults: unknown[][];
      }>;
    };
    expect(page.scenario.name).toBe("custom");
    expect(page.eras.map((e) => [e.era, e.processes.length])).toEqual([["modern", 1]]);
    // Free-running (no --seed), the three stores still show: three anonymous pages, three minor faults.
    const anon = page.eras[0]!.processes[0]!.vmas.find((v) => v.backing === "anon")!;
    expect(anon.ptes.length / 3).toBe(3);
    expect(page.eras[0]!.faults.map((f) => f[4])).toEqual([0, 0, 0]);
    // The snapshot holds the same model: its report carries the same data.
    const fromSnap = join(dir, "from-snapshot.html");
    const again = await faultline("report", snap, "-o", fromSnap);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("(snapshot)");
    expect(pageData(fromSnap)).toEqual(page);
    // A damaged one is refused with the reason, exit status 2, and no report.
    const bytes = readFileSync(snap);
    writeFileSync(snap, bytes.subarray(0, bytes.length - 5));
    const bad = await faultline("report", snap, "-o", join(dir, "bad.html"));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`faultline: ${snap}: truncated: the header says`);
    expect(existsSync(join(dir, "bad.html"))).toBe(false);
  }, 180_000);

  it("report refuses a bad scenario as run does, and writes nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "faultline-report-"));
    const out = join(dir, "nothing.html");
    const r = await faultline(
      "report",
      fileURLToPath(new URL("../../test/__fixtures__/bad-device.json", import.meta.url)),
      "-o",
      out,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad-device\.json: machine\.devices/);
    expect(existsSync(out)).toBe(false);
  }, 600_000);
});
