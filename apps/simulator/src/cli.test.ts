import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { faultline } from "../test/cli-runner";
import { parseScenario, ScenarioError } from "./scenario";

const run = promisify(execFile);
const fixture = (f: string) => fileURLToPath(new URL(`../test/__fixtures__/${f}`, import.meta.url));

interface JsonRun {
  processes: Array<{
    era: string;
    pid: number;
    program: string;
    threadId: number;
    exit: { code?: number; signal?: string };
    minflt: number;
    majflt: number;
    rssKb: number;
    handledSignals: { count: number; first: Array<{ signal: string; code: string; addr: number }> };
  }>;
  runs: Array<{ era: string; console: string[]; dmesg: string[] }>;
}

describe("faultline run (the built-in LDD3 chapter 15 scenario)", () => {
  it("tells the story in 2.6.10 and today's kernel, with one worker thread per process", async () => {
    const { stdout, code } = await faultline("run", "--json");
    expect(code).toBe(0);
    const out = JSON.parse(stdout) as JsonRun;
    const proc = (era: string, program: string) =>
      out.processes.find((p) => p.era === era && p.program === program)!;
    for (const p of out.processes) {
      expect(p).toEqual(
        expect.objectContaining({
          pid: expect.any(Number),
          threadId: expect.any(Number),
          minflt: expect.any(Number),
          majflt: expect.any(Number),
          rssKb: expect.any(Number),
        }),
      );
    }
    // Every process of one era ran on its own thread.
    const threads = out.processes.filter((p) => p.era === "modern").map((p) => p.threadId);
    expect(new Set(threads).size).toBe(threads.length);
    // Two processes sharing /dev/simplen: the child's store is the parent's page.
    const c26 = out.runs[0]!.console.join("\n");
    expect(c26).toContain("child reads 0xcafe0001");
    expect(c26).toContain("second page reads 0xbeef0002");
    expect(c26).toContain("the device still 0xcafe0001 (copy-on-write)");
    // mremap growth of a VMA without a fault handler: zeros then, SIGBUS now.
    expect(proc("2.6.10", "builtin:grow").exit).toEqual({ code: 0 });
    expect(c26).toContain("it reads 0x0 (zero-filled)");
    expect(proc("modern", "builtin:grow").exit).toEqual({ signal: "SIGBUS" });
    // region-remap offsets and -EINVAL for vsize > psize and an offset past the end.
    expect(c26).toContain("the whole mapping reads 0x5e9100 there");
    expect(c26).toMatch(/vsize > psize\) -> -EINVAL/);
    expect(c26).toMatch(/past the end\) -> -EINVAL/);
    // The PCI BAR through remap_pfn_range; growing it: allowed in 2.6.10, -EFAULT today.
    expect(c26).toContain("stored 0xba5e in the BAR, reads back 0xba5e");
    expect(out.runs[1]!.console.join("\n")).toContain("mremap the remapped VMA to 4 pages -> -EFAULT");
    // nopage cannot serve PCI memory (no struct page): SIGBUS in both eras.
    expect(proc("2.6.10", "builtin:pci-nopage").exit).toEqual({ signal: "SIGBUS" });
    expect(proc("modern", "builtin:pci-nopage").exit).toEqual({ signal: "SIGBUS" });
    // The driver's VMA open/close lines are in the kernel log.
    expect(out.runs[0]!.dmesg.join("\n")).toContain("Simple VMA open, virt");
    // Act three: PCI drivers probed for their functions, the framebuffer's claim under its BAR, VRAM
    // shared by two processes, a DMA copy into pinned user pages completed by MSI.
    for (const run of out.runs) {
      const c = run.console.join("\n");
      expect(c).toMatch(/\/proc\/iomem: [0-9a-f]+-[0-9a-f]+ : fl_fb \(under its BAR\)/);
      expect(c).toContain("shows 64 of 64 pixels of row 5 lit");
      // The vblank: 60 Hz from the virtual clock, counted by fl_fb's handler while one process draws a
      // frame per vblank and the other watches them appear; /proc/interrupts' count grows.
      const [, v0, v1] = /drew 5 frames; vblank interrupts counted by fl_fb: (\d+) -> (\d+)/.exec(c) ?? [];
      expect(Number(v1) - Number(v0)).toBeGreaterThanOrEqual(5);
      expect(c).toMatch(/viewer: saw frames (\d, )*5 appear through its own mapping/);
      const irqs = [...c.matchAll(/\/proc\/interrupts: +\d+: +(\d+) +IO-APIC +\d+-fasteoi +fl_fb/g)];
      expect(irqs.length).toBe(2);
      expect(Number(irqs[1]![1])).toBeGreaterThan(Number(irqs[0]![1]));
      expect(c).toContain('the destination now reads "a DMA write into pinned user pages"');
      expect(c).toMatch(/\/proc\/interrupts: 24: +1 +PCI-MSI \d+-edge +fl_dma/);
      expect(run.dmesg.join("\n")).toContain("fl_fb 0000:00:03.0: 64x48 framebuffer");
    }
    expect(proc("modern", "builtin:dma").exit).toEqual({ code: 0 });
  }, 120_000);

  it("prints the story, the summary table and every process's maps as text", async () => {
    const { stdout, code } = await faultline("run", "--era", "modern");
    expect(code).toBe(0);
    expect(stdout).toContain("=== today's kernel ===");
    expect(stdout).toMatch(/│ pid │ program/);
    expect(stdout).toMatch(
      /\/proc\/\d+\/maps \(builtin:share, at exit\):\n[0-9a-f]+-[0-9a-f]+ rw-[sp] 000d0000 00:05 \d+ +\/dev\/simplen/,
    );
  }, 120_000);
});

describe("scenario files", () => {
  it("reports the signals each process's handlers caught", async () => {
    const { stdout, code } = await faultline("run", fixture("signals.json"), "--json");
    expect(code).toBe(0);
    const out = JSON.parse(stdout) as JsonRun;
    expect(out.processes[0]!.exit).toEqual({ code: 0 });
    expect(out.processes[0]!.handledSignals.count).toBe(2);
    expect(out.processes[0]!.handledSignals.first[0]).toEqual({
      signal: "SIGSEGV",
      code: "SEGV_MAPERR",
      addr: 0x1000,
    });
    expect(out.processes[0]!.handledSignals.first[1]!.code).toBe("SEGV_ACCERR");
    expect(out.runs[0]!.console).toContain("[pid 1] caught 2");
  }, 60_000);

  it("runs a user's scenario with its own program module", async () => {
    const { stdout, code } = await faultline("run", fixture("custom.json"), "--json");
    expect(code).toBe(0);
    const out = JSON.parse(stdout) as JsonRun;
    expect(out.processes).toHaveLength(1);
    expect(out.processes[0]!.exit).toEqual({ code: 3 });
    expect(out.processes[0]!.minflt).toBe(3);
    expect(out.runs[0]!.console).toContain("[pid 1] touched 3 pages");
  }, 60_000);

  it("rejects a bad file saying which file, which field and what was expected", async () => {
    const { stderr, code } = await faultline("run", fixture("bad-driver.json"));
    expect(code).toBe(2);
    expect(stderr).toContain(
      `${fixture("bad-driver.json")}: machine.drivers[1].size: expected a non-negative integer`,
    );
    expect(() => parseScenario({ programs: [] }, "x.json")).toThrow(ScenarioError);
    expect(() => parseScenario({ machine: {}, programs: [{ program: "builtin:nope" }] }, "x.json")).toThrow(
      /x\.json: programs\[0\]\.program: expected a built-in program/,
    );
    expect(() =>
      parseScenario({ machine: {}, eras: ["2.4"], programs: [{ program: "builtin:grow" }] }, "x.json"),
    ).toThrow(/eras\[0\]: expected "2\.6\.10" or "modern", got "2\.4"/);
  }, 60_000);
});

describe("exit status and errors", () => {
  it("exits 1 naming each process that ended otherwise than expected, with its error, in text and JSON", async () => {
    const text = await faultline("run", fixture("unexpected.json"));
    expect(text.code).toBe(1);
    expect(text.stderr).toContain(
      "faultline: pid 1 (./touch.program.ts, modern) ended with exit 2, the scenario expects exit 0",
    );
    expect(text.stderr).toMatch(
      /faultline: pid 3 \(\.\/not-a-program\.ts, modern\) ended with exit 127, the scenario expects exit 0: cannot load program file:.*not-a-program\.ts: the default export is not defineProgram/,
    );
    expect(text.stderr).not.toContain("forker");
    expect(text.stdout).toMatch(/Errors:\n {2}pid 3 \(\.\/not-a-program\.ts\): cannot load program/);
    expect(text.stdout).toContain("NOT AS EXPECTED:");
    // A fork of a user's program is named after it.
    expect(text.stdout).toMatch(/│ 4 +│ \.\/forker\.program\.ts \(forked\) +│/);
    const json = await faultline("run", fixture("unexpected.json"), "--json");
    expect(json.code).toBe(1);
    const out = JSON.parse(json.stdout) as {
      ok: boolean;
      processes: Array<{ pid: number; program: string; exit: object; asExpected: boolean; error?: string }>;
    };
    expect(out.ok).toBe(false);
    expect(out.processes.map((p) => [p.pid, p.program, p.exit, p.asExpected])).toEqual([
      [1, "./touch.program.ts", { code: 2 }, false],
      [2, "./forker.program.ts", { code: 4 }, true],
      [3, "./not-a-program.ts", { code: 127 }, false],
      [4, "./forker.program.ts (forked)", { code: 4 }, true],
    ]);
    expect(out.processes[2]!.error).toMatch(/the default export is not defineProgram/);
  }, 120_000);

  it("reports device parameters, overlaps, BAR sizes, unknown keys and missing programs as file: field: errors", async () => {
    const dev = await faultline("run", fixture("bad-device.json"));
    expect(dev.code).toBe(2);
    expect(dev.stderr).toMatch(
      new RegExp(
        `^faultline: ${fixture("bad-device.json")}: machine\\.devices\\[0\\]: expected parameters the device or driver accepts, got isaMemory "isa-memory" \\[0xd0010, 0xd4010\\): base must be page aligned.*\n$`,
      ),
    );
    expect(dev.stderr).not.toMatch(/\n\s+at /); // no stack trace
    const overlap = await faultline("run", fixture("overlap.json"));
    expect(overlap.code).toBe(2);
    expect(overlap.stderr).toContain(
      `${fixture("overlap.json")}: machine.devices: expected devices that fit the machine's address space without overlapping, got`,
    );
    expect(overlap.stderr).not.toMatch(/\n\s+at /);
    const f = "x.json";
    const parse =
      (machine: unknown, programs: unknown = [{ program: "builtin:grow" }]) =>
      () =>
        parseScenario({ machine, programs }, f);
    expect(parse({ devices: [{ type: "pciMemoryDevice", barSize: 0x3000 }] })).toThrow(
      "x.json: machine.devices[0].barSize: expected a power of two from 4096 (0x1000) to 1 GiB, got 12288",
    );
    expect(parse({ devices: [{ type: "isaMemory", base: 0xd0000, size: 0x1000, color: 1 }] })).toThrow(
      'x.json: machine.devices[0].color: expected one of type, base, size, name, got "color"',
    );
    expect(parse({ drivers: [{ type: "simple", handlr: "fault" }] })).toThrow(
      'x.json: machine.drivers[0].handlr: expected one of type, handler, got "handlr"',
    );
    expect(parse({ ramBytes: 0x2000000, cpu: { pku: "yes" } })).toThrow(
      'x.json: machine.cpu.pku: expected true or false, got "yes"',
    );
    expect(parse({ gpu: {} })).toThrow(
      'x.json: machine.gpu: expected one of ramBytes, devices, drivers, cpu, zeroPage, got "gpu"',
    );
    expect(parse({}, [{ program: "builtin:grow", expect: { signal: "SIGFPE" } }])).toThrow(
      /x\.json: programs\[0\]\.expect: expected \{ "code": 0\.\.255 \} or \{ "signal"/,
    );
    const missing = join(mkdtempSync(join(tmpdir(), "faultline-")), "s.json");
    writeFileSync(missing, JSON.stringify({ programs: [{ program: "./nowhere.ts" }] }));
    const m = await faultline("run", missing);
    expect(m.code).toBe(2);
    expect(m.stderr).toContain(`${missing}: programs[0].program: expected a module file (looked for`);
  }, 120_000);

  it("`pnpm faultline` in this repository prints the command's output only, no pnpm banner", async () => {
    const r = await run("pnpm", ["faultline", "--help"], {
      cwd: fileURLToPath(new URL("../../..", import.meta.url)),
    });
    expect(r.stdout.startsWith("Usage: faultline")).toBe(true);
  });
});

describe("scenario plugins", () => {
  it("loads devices and drivers by module specifier from the scenario's folder, with their options", async () => {
    const r = await faultline("run", fixture("plugins.json"), "--json");
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as JsonRun & { ok: boolean };
    expect(out.ok).toBe(true);
    expect(out.runs[0]!.console.join("\n")).toContain("child reads 0xcafe0001");
    const iomem = await faultline("iomem", fixture("plugins.json"));
    expect(iomem.stdout).toMatch(/000d0000-000d3fff : plugged-isa/);
  }, 120_000);

  it("a plugin that is not found, exports the wrong thing or refuses its options is a file: field: error", async () => {
    const dir = mkdtempSync(join(tmpdir(), "faultline-plugins-"));
    const bad = fixture("plugins/bad-plugins.ts");
    const cases: Array<[unknown, string]> = [
      [
        { drivers: [{ module: "faultline-driver-nowhere" }] },
        `machine.drivers[0].module: expected a module that an import in ${dir} finds (is it installed?), got "faultline-driver-nowhere": Cannot find package`,
      ],
      [
        { drivers: [{ module: bad, export: "notAFunction" }] },
        `machine.drivers[0].export: expected the name of a function ${bad} exports (notADriver, picky), got "notAFunction"`,
      ],
      [
        { drivers: [{ module: bad, export: "notADriver" }] },
        'machine.drivers[0].export: expected a driver factory (notADriver(options) returned an object without name, apiVersion and init(): not a driver (defineDriver)), got "notADriver"',
      ],
      [
        { devices: [{ module: bad, export: "picky", options: { size: 1 } }] },
        `machine.devices[0].options: expected options ${bad}'s picky accepts, got size must be 4096, got 1`,
      ],
      [
        { devices: [{ module: bad, export: "picky", options: { size: 4096 }, extra: 1 }] },
        'machine.devices[0].extra: expected one of module, export, options, got "extra"',
      ],
    ];
    for (const [i, [machine, message]] of cases.entries()) {
      const file = join(dir, `s${i}.json`);
      writeFileSync(file, JSON.stringify({ machine, programs: [{ program: "builtin:grow" }] }));
      const r = await faultline("run", file);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`faultline: ${file}: ${message}`);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  }, 120_000);
});

describe("views and traces", () => {
  it("iomem shows the PCI BAR under its 0000:00:02.0 name; dmesg the driver's log", async () => {
    const iomem = await faultline("iomem");
    expect(iomem.stdout).toMatch(/c0000000-c00fffff : 0000:00:02\.0/);
    const dmesg = await faultline("dmesg", "--era", "2.6.10");
    expect(dmesg.stdout).toContain("Simple VMA close.");
    const smaps = await faultline("smaps", "--era", "modern");
    // The PCI BAR mapping (VM_PFNMAP) adds nothing to Rss; its VmFlags show pf io de dd.
    expect(smaps.stdout).toMatch(
      /rw-s c0000000 00:05 \d+ +\/dev\/simpler\nSize: +8 kB\n(?:.*\n){2}Rss: +0 kB/,
    );
    expect(smaps.stdout).toContain("VmFlags: rd wr sh mr mw me ms pf io de dd sd ");
  }, 120_000);

  it("exports a deterministic run as Chrome Trace Event JSON, byte for byte the same twice", async () => {
    const dir = mkdtempSync(join(tmpdir(), "faultline-"));
    const out = join(dir, "trace.json");
    const again = join(dir, "again.json");
    expect((await faultline("trace", fixture("custom.json"), "-o", out)).code).toBe(0);
    expect((await faultline("trace", fixture("custom.json"), "-o", again)).code).toBe(0);
    expect(readFileSync(again, "utf8")).toBe(readFileSync(out, "utf8"));
    const trace = JSON.parse(readFileSync(out, "utf8")) as {
      traceEvents: Array<{ ph: string; name: string; tid?: number }>;
    };
    const names = trace.traceEvents.filter((e) => e.ph === "X").map((e) => e.name);
    expect(names).toContain("mmap");
    expect(trace.traceEvents.some((e) => e.ph === "M" && e.name === "thread_name")).toBe(true);
  }, 60_000);

  it("answers --help", async () => {
    const { stdout } = await faultline("--help");
    expect(stdout).toContain("Usage: faultline");
    expect(stdout).toContain("trace");
  });
});

describe("README.md", () => {
  const repo = fileURLToPath(new URL("../../..", import.meta.url));
  const readme = readFileSync(join(repo, "README.md"), "utf8");

  it("starts with the two commands .ci/run runs, word for word", () => {
    const sh = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!.trim());
    const ci = readFileSync(join(repo, ".ci/run"), "utf8");
    expect(sh[0]).toMatch(/&& pnpm faultline run$/);
    expect(sh[1]).toMatch(/&& pnpm test$/);
    expect(ci).toContain(`\n${sh[0]}\n`);
    expect(ci).toContain(`\n${sh[1]}\n`);
  });

  it("shows the scenario file the CLI tests run (test/__fixtures__/custom.json), and it parses", () => {
    const shown = [...readme.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(shown).toHaveLength(1);
    expect(shown[0]).toBe(readFileSync(fixture("custom.json"), "utf8"));
    expect(() => parseScenario(JSON.parse(shown[0]!), "README.md")).not.toThrow();
  });

  it("names only commands and options the CLI has", async () => {
    const lines = [...readme.matchAll(/^pnpm faultline (.*?)(?:\s+#.*)?$/gm)].map((m) => m[1]!.trim());
    expect(lines.length).toBeGreaterThanOrEqual(5);
    const help = (await faultline("--help")).stdout;
    // Each command's --help once, however many README lines name it (`run` has six).
    const helps = new Map<string, Promise<string>>();
    const commandHelp = (cmd: string) => {
      if (!helps.has(cmd))
        helps.set(
          cmd,
          faultline(cmd, "--help").then((r) => r.stdout),
        );
      return helps.get(cmd)!;
    };
    for (const alt of lines.flatMap((l) => l.split("|"))) {
      const [cmd, ...rest] = alt.trim().split(/\s+/);
      if (cmd!.startsWith("-")) {
        expect(help, cmd).toContain(cmd);
        continue;
      }
      expect(help, cmd).toMatch(new RegExp(`^  ${cmd}\\b`, "m"));
      const subHelp = await commandHelp(cmd!);
      for (const opt of rest.filter((w) => w.startsWith("-")))
        expect(subHelp, `${cmd} ${opt}`).toContain(opt);
    }
  }, 120_000);
});
