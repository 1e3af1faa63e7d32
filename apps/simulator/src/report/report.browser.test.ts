// The report in a real browser: Debian's Chromium (apt-get install -y chromium), driven by
// playwright-core; never a downloaded browser. Screenshots land in apps/simulator/test-results/
// (gitignored) for a person to look at.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { MAP_ANONYMOUS, MAP_PRIVATE, Machine, PROT_READ, PROT_WRITE } from "@faultline/kernel";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appDir, faultline } from "../../test/cli-runner";
import { FAULTLINE_VERSION } from "./build";
import { extractMachine } from "./extract";
import { renderReportHtml } from "./html";
import type { ReportModel } from "./model";

const CHROMIUM = "/usr/bin/chromium";
const results = join(appDir, "test-results");

let context: BrowserContext;
let profile: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: the report's browser test drives Debian's Chromium. Install it with ` +
        "`apt-get install -y chromium` (as root, or with sudo); the README's test command does this on CI.",
    );
  }
  mkdirSync(results, { recursive: true });
  profile = mkdtempSync(join(tmpdir(), "faultline-chromium-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
    viewport: { width: 1600, height: 1000 },
  });
}, 60_000);

afterAll(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

/** Opens a report file; collects what the page logs as an error, and every request that is not file://. */
async function open(file: string): Promise<{ page: Page; errors: string[]; requests: string[] }> {
  const page = await context.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("request", (r) => {
    if (!r.url().startsWith("file:")) requests.push(r.url());
  });
  await page.goto(pathToFileURL(file).href);
  await page.waitForSelector("body[data-ready='1']", { timeout: 60_000 });
  return { page, errors, requests };
}

describe("faultline report in Chromium", () => {
  it("draws the default story: the BAR, a shared frame, a COW pair, refcounts on hover, both eras side by side", async () => {
    const file = join(results, "default-story.html");
    const r = await faultline("report", "-o", file);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`to ${file}`);
    const { page, errors, requests } = await open(file);

    const eras = page.locator("section.era");
    expect(await eras.count()).toBe(2);
    const [a, b] = [(await eras.nth(0).boundingBox())!, (await eras.nth(1).boundingBox())!];
    expect(a.y).toBe(b.y);
    expect(b.x).toBeGreaterThan(a.x + a.width - 1);

    for (const name of ["2.6.10", "modern"]) {
      const era = page.locator(`section.era[data-era="${name}"]`);
      // The BAR in the iomem tree, and frames of it mapped (remap_pfn_range by builtin:pci).
      await expect(era.locator('.res[data-kind="bar"]').first().textContent()).resolves.toContain(
        "0000:00:02.0",
      );
      expect(await era.locator('.frame[data-region="bar"]').count()).toBeGreaterThanOrEqual(2);
      // The ISA page parent and child both map.
      const shared = era.locator('.frame[data-shared="1"][data-pfn="208"]');
      expect(await shared.count()).toBe(1);
      // The COW pair: the private copy, its original, and the arc between them.
      const link = era.locator('.cow-link[data-from="208"]');
      expect(await link.count()).toBe(1);
      const from = await link.getAttribute("data-from");
      const to = await link.getAttribute("data-to");
      expect(from).toBe("208");
      expect(await era.locator(`.frame[data-pfn="${to}"][data-cow-of="${from}"]`).count()).toBe(1);
      // Hovering a frame shows its refcount and mapcount.
      await shared.hover();
      const tip = page.locator("#tip");
      await expect(tip.isVisible()).resolves.toBe(true);
      const text = (await tip.textContent()) ?? "";
      expect(text).toContain("refcount 3");
      expect(text).toContain("mapcount 2");
      expect(text).toContain("isa-mem");
      await page.mouse.move(0, 0);
      // Every fault kind of the story is in the legend with its count.
      await expect(era.locator('.fault-kind[data-kind="cow"]').textContent()).resolves.toMatch(
        /^cow [1-9]\d*$/,
      );
    }
    // The zero page under the grown VMA in the book's era (today the grown part is SIGBUS).
    expect(await page.locator('section.era[data-era="2.6.10"] .frame[data-zero="1"]').count()).toBe(1);

    await page.screenshot({ path: join(results, "default-story.png"), fullPage: true });
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  }, 600_000);

  it("stays usable at 64 GiB of RAM and 10,000 VMAs: a virtualised VMA list, canvases, and its render time measured", async () => {
    const model = await bigMachineModel();
    const e = model.eras[0]!;
    expect(e.ramBytes).toBe(64 * 2 ** 30);
    expect(e.processes.reduce((n, p) => n + p.vmas.length, 0)).toBe(10_000);
    const file = join(results, "large.html");
    writeFileSync(file, renderReportHtml(model));
    const { page, errors } = await open(file);
    // From the script's start to the first frame, and from navigation (the 3 MB file read and parsed too).
    const ms = Number(await page.getAttribute("body", "data-render-ms"));
    const sinceNavigation = Number(await page.getAttribute("body", "data-ready-ms"));
    expect(ms).toBeGreaterThan(0);
    expect(sinceNavigation).toBeGreaterThanOrEqual(ms);
    // Measured, not asserted (tests never assert wall-clock limits): the budget is 2 s.
    const parts = await page.evaluate(() => (globalThis as { faultlineTimings?: unknown }).faultlineTimings);
    writeFileSync(
      join(results, "large-render.json"),
      `${JSON.stringify({ vmas: 10_000, ramGiB: 64, renderMs: ms, sinceNavigationMs: sinceNavigation, parts })}\n`,
    );
    process.stdout.write(
      `report: 64 GiB, 10,000 VMAs rendered in ${ms} ms (${sinceNavigation} ms from navigation; budget 2000 ms)\n`,
    );
    // Only the visible rows of the VMA list are in the page; scrolling to the end shows the last VMA.
    const rows = page.locator(".vrow.vma");
    expect(await rows.count()).toBeLessThan(60);
    const last = e.processes.at(-1)!.vmas.at(-1)!;
    await page.locator(".vlist").evaluate((el) => {
      el.scrollTop = el.scrollHeight;
    });
    await page.locator(".vrow.vma", { hasText: `0x${last.start.toString(16)}-` }).waitFor();
    // The diagram draws a bounded number of PTEs and says so.
    // (fork copies no PTEs of a VMA without an anon_vma, so the child has only the written pages)
    const ptes = e.processes.reduce((n, p) => n + p.vmas.reduce((k, v) => k + v.ptes.length, 0), 0);
    expect(ptes).toBe(7500 + 5000);
    await expect(page.getByText(`showing the first 500 of ${ptes} PTEs`).count()).resolves.toBe(1);
    await page.screenshot({ path: join(results, "large.png") });
    expect(errors).toEqual([]);
    await page.close();
  }, 300_000);
});

/**
 * A real 64 GiB machine: a process with 5,000 private anonymous VMAs (alternately read-only, so they do
 * not merge), written to (two pages each) or read (the zero page), then forked: 10,000 VMAs in all,
 * every written frame shared by parent and child.
 */
async function bigMachineModel(): Promise<ReportModel> {
  const PAGE = 4096;
  const m = await Machine.create({ ramBytes: 64 * 2 ** 30 });
  const p = m.spawn({ name: "parent" });
  for (let i = 0; i < 5000; i++) {
    const rw = i % 2 === 0;
    const a = p.sys.mmap(
      0,
      8 * PAGE,
      rw ? PROT_READ | PROT_WRITE : PROT_READ,
      MAP_PRIVATE | MAP_ANONYMOUS,
      -1,
      0,
    );
    if (rw) {
      p.mmu.store32(a, i);
      p.mmu.store32(a + 5 * PAGE, i);
    } else p.mmu.load32(a);
  }
  const child = p.sys.fork();
  m.checkInvariants();
  const era = extractMachine(m, "modern", new Map([[child, "child (forked)"]]));
  return {
    format: "faultline-report",
    version: 1,
    faultline: FAULTLINE_VERSION,
    scenario: { name: "64 GiB", description: "a 64 GiB machine, two processes, 10,000 VMAs" },
    eras: [era],
  };
}
