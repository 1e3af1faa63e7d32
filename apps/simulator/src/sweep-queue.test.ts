// `faultline sweep --queue` and `faultline worker` against a real Redis (Debian's redis-server, started
// here on a free loopback port and stopped after): 200 runs through two worker processes, one killed
// mid-sweep, must give the results a local sweep of the same seeds gives, seed for seed; a worker whose
// plugin version differs refuses the job. The compiled CLI (dist/, built before tests by turbo) runs
// a plain-JavaScript program, so a run costs what a user's would.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectionOf } from "./sweep-queue";
import { type RunRecord, readResults } from "./sweep-results";

const run = promisify(execFile);
const appDir = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(appDir, "dist/cli.js");
const RACE = fileURLToPath(new URL("../test/__fixtures__/queue/race.json", import.meta.url));
const REDIS = "/usr/bin/redis-server";
// The check: 200 runs (FAULTLINE_QUEUE_SEEDS=n for another count). A run costs tens of ms now
// that a worker keeps its threads from job to job (it cost ~1 s with a new thread per process).
const SEEDS = Number(process.env.FAULTLINE_QUEUE_SEEDS ?? 200);

describe("connectionOf", () => {
  it("reads host, port, database and credentials from a redis:// URL", () => {
    expect(connectionOf("redis://10.0.0.5:6380/3")).toMatchObject({ host: "10.0.0.5", port: 6380, db: 3 });
    expect(connectionOf("redis://u:p%40ss@h")).toMatchObject({
      host: "h",
      port: 6379,
      db: 0,
      username: "u",
      password: "p@ss",
    });
    expect(connectionOf("rediss://h:1/0")).toMatchObject({ tls: {} });
  });
  it("refuses what is not one, saying what it expected", () => {
    expect(() => connectionOf("localhost:6379")).toThrow(/--queue: expected a redis:\/\/ or rediss:\/\/ URL/);
    expect(() => connectionOf("http://h:1")).toThrow(
      /expected a redis:\/\/ or rediss:\/\/ URL, got "http:\/\/h:1"/,
    );
    expect(() => connectionOf("redis://h:1/x")).toThrow(/a database number/);
  });
});

async function freePort(): Promise<number> {
  return await new Promise((res) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** A child's output so far, and a promise of its exit code; `onOutput` hears the output as it comes. */
function start(
  args: string[],
  onOutput?: (text: string, child: ChildProcess) => void,
): { child: ChildProcess; out: () => string; exit: Promise<number> } {
  let text = "";
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: appDir,
    env: { ...process.env, NO_COLOR: "1" },
  });
  child.stdout!.on("data", (d) => {
    text += d;
    onOutput?.(text, child);
  });
  child.stderr!.on("data", (d) => {
    text += d;
  });
  const exit = new Promise<number>((r) => child.on("exit", (code, sig) => r(code ?? (sig ? 128 : 1))));
  return { child, out: () => text, exit };
}

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`waited ${ms} ms for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The records in run order, but for how each run went on its host (durationMs, spin). */
const byRun = (rs: readonly RunRecord[]) =>
  [...rs].sort((a, b) => a.cell - b.cell || a.seed - b.seed).map(({ durationMs: _, spin: _s, ...r }) => r);

describe("sweeps on a BullMQ queue (Redis)", () => {
  let redis: ChildProcess | null = null;
  let url = "";
  const workers: ChildProcess[] = [];

  beforeAll(async () => {
    if (!existsSync(REDIS))
      throw new Error(
        `${REDIS} is missing: apt-get install -y redis-server (the README's test command and .ci/run install it)`,
      );
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: pnpm --filter @faultline/simulator build`);
    const port = await freePort();
    redis = spawn(
      REDIS,
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      {
        stdio: "ignore",
      },
    );
    url = `redis://127.0.0.1:${port}/0`;
    for (let i = 0; ; i++) {
      try {
        const r = await run("redis-cli", ["-p", String(port), "ping"]);
        if (r.stdout.trim() === "PONG") break;
      } catch {
        if (i > 50) throw new Error("redis-server did not start");
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 30_000);

  afterAll(() => {
    for (const w of workers) w.kill("SIGKILL");
    redis?.kill("SIGTERM");
  });

  it(`${SEEDS} runs on two workers, one killed mid-sweep: every seed recorded once, as a local sweep records it`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "faultline-queue-"));
    // Kill the first worker in the middle of a run: after ten, as it says it has taken the next one
    // (killed from the output handler, while the run is going: runs are short now).
    let interrupted = "";
    const w1 = start(["worker", "--queue", url, "--jobs", "1", "--lock", "2000"], (text, child) => {
      const taken = /running (\S+)\n$/.exec(text);
      if (interrupted || !taken || (text.match(/^ran /gm) ?? []).length < 10) return;
      interrupted = taken[1]!;
      child.kill("SIGKILL");
    });
    const w2 = start(["worker", "--queue", url, "--jobs", "1", "--lock", "2000"]);
    workers.push(w1.child, w2.child);
    const sub = start(["sweep", RACE, "--seeds", `1-${SEEDS}`, "-o", join(dir, "queue"), "--queue", url]);
    await until("worker 1 to be killed in a run", () => interrupted !== "", 600_000);
    expect(await sub.exit, sub.out()).toBe(1); // some seeds lose an update: not every run as expected
    w2.child.kill("SIGTERM");
    // The interrupted run was taken over by the other worker and recorded once.
    expect(w2.out()).toContain(`ran ${interrupted}\n`);
    const queued = readResults(join(dir, "queue"));
    expect(queued.map((r) => r.seed).sort((a, b) => a - b)).toEqual(
      Array.from({ length: SEEDS }, (_, i) => i + 1),
    );

    const local = await run(
      process.execPath,
      [CLI, "sweep", RACE, "--seeds", `1-${SEEDS}`, "--jobs", "2", "-o", join(dir, "local")],
      {
        cwd: appDir,
      },
    ).catch((e: { code: number }) => e);
    expect((local as { code?: number }).code).toBe(1);
    expect(byRun(queued)).toEqual(byRun(readResults(join(dir, "local"))));
    expect(byRun(queued).some((r) => r.outcome === "unexpected")).toBe(true);
    // The traces of the runs that did not end as expected are there, under the same names.
    const traces = (d: string) =>
      readdirSync(join(dir, d))
        .filter((f) => f.endsWith(".trace"))
        .sort();
    expect(traces("queue")).toEqual(traces("local"));
    expect(traces("queue").length).toBe(queued.filter((r) => r.outcome !== "ok").length);
    // Submitting the same sweep again finds everything recorded.
    const again = await run(
      process.execPath,
      [CLI, "sweep", RACE, "--seeds", `1-${SEEDS}`, "-o", join(dir, "queue"), "--queue", url],
      {
        cwd: appDir,
      },
    ).catch((e: { stdout: string }) => e);
    expect((again as { stdout: string }).stdout).toContain(`resuming: ${SEEDS} runs already recorded`);
  }, 900_000);

  it("a worker whose plugin version differs refuses the job with both versions named", async () => {
    const dir = mkdtempSync(join(tmpdir(), "faultline-queue-plugins-"));
    const real = join(appDir, "node_modules/@faultline/driver-simple");
    // The submitter's folder has the real package; the worker's a copy that says it is version 9.9.9.
    mkdirSync(join(dir, "submit/node_modules/@faultline"), { recursive: true });
    symlinkSync(real, join(dir, "submit/node_modules/@faultline/driver-simple"));
    const fake = join(dir, "work/node_modules/@faultline/driver-simple");
    mkdirSync(fake, { recursive: true });
    writeFileSync(
      join(fake, "package.json"),
      JSON.stringify({
        name: "@faultline/driver-simple",
        version: "9.9.9",
        type: "module",
        exports: "./index.js",
      }),
    );
    writeFileSync(join(fake, "index.js"), `export * from ${JSON.stringify(join(real, "dist/index.js"))};\n`);
    writeFileSync(
      join(dir, "submit/scenario.json"),
      JSON.stringify({
        name: "plugged",
        eras: ["modern"],
        machine: {
          ramBytes: "0x1000000",
          drivers: [{ module: "@faultline/driver-simple", export: "simple" }],
        },
        programs: [{ program: "./racer.program.mjs" }],
      }),
    );
    copyFileSync(
      fileURLToPath(new URL("../test/__fixtures__/queue/racer.program.mjs", import.meta.url)),
      join(dir, "submit/racer.program.mjs"),
    );
    const w = start(["worker", "--queue", url, "--jobs", "1", "--dir", join(dir, "work")]);
    workers.push(w.child);
    const sub = await run(
      process.execPath,
      [
        CLI,
        "sweep",
        join(dir, "submit/scenario.json"),
        "--seeds",
        "1",
        "-o",
        join(dir, "out"),
        "--queue",
        url,
      ],
      {
        cwd: appDir,
      },
    ).catch((e: { code: number; stdout: string }) => e);
    expect((sub as { code?: number }).code).toBe(1);
    const [r] = readResults(join(dir, "out"));
    expect(r!.outcome).toBe("crashed");
    expect(r!.error).toMatch(
      /plugin @faultline\/driver-simple: the sweep was submitted with version 0\.\d+\.\d+, .* has 9\.9\.9/,
    );
    w.child.kill("SIGTERM");
  }, 120_000);
});
