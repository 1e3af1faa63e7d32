import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Machine } from "@faultline/kernel";
import { describe, expect, it } from "vitest";
import { decodeRunSnapshot, encodeRunSnapshot, snapshotKind } from "./run-snapshot";

const exec = promisify(execFile);
const appDir = fileURLToPath(new URL("..", import.meta.url));
const fixture = fileURLToPath(new URL("../test/__fixtures__/two-eras.json", import.meta.url));

/** The faultline command from source (tsx), as `pnpm faultline` runs it. */
async function faultline(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(
      process.execPath,
      ["--import", "tsx", "--conditions=@faultline/source", join(appDir, "src/cli.ts"), ...args],
      { cwd: appDir, maxBuffer: 64 * 1024 * 1024 },
    );
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === "number" ? x.code : 1, stdout: x.stdout ?? "", stderr: x.stderr ?? "" };
  }
}

describe("faultline run --save / --from", () => {
  it("running the rest from the snapshot prints what the run straight through prints, byte for byte", async () => {
    const dir = mkdtempSync(join(tmpdir(), "faultline-run-snap-"));
    const snap = join(dir, "state.flsnap");
    const straight = await faultline("run", fixture, "--seed", "7");
    expect(straight.code).toBe(0);
    expect(straight.stdout).toContain("touched 3 pages");
    const saved = await faultline("run", fixture, "--seed", "7", "--save", snap);
    expect(saved.code).toBe(0);
    expect(saved.stderr).toContain(`saved the snapshot to ${snap}`);
    const bytes = readFileSync(snap);
    expect(snapshotKind(bytes)).toBe("run");
    const s = decodeRunSnapshot(bytes);
    expect(s.eras.map((e) => e.era)).toEqual(["2.6.10"]);
    expect(s.source.seed).toBe(7);
    // The machine inside is a machine snapshot of its own: its processes exited (zombies), drivers kept.
    const m = await Machine.restore(s.machine, {
      devices: [(await import("@faultline/devices")).isaMemory({ base: 0xd0000, size: 0x4000 })],
      drivers: [
        (await import("@faultline/driver-simple")).simple(),
        (await import("@faultline/driver-scullp")).scullp(),
      ],
    });
    expect(m.processes().every((p) => p.state === "zombie")).toBe(true);
    expect(m.loadedDrivers()).toEqual(["simple", "scullp"]);
    const resumed = await faultline("run", "--from", snap);
    expect(resumed.stderr).toBe("");
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toBe(straight.stdout);
    // faultline report draws the run's memory map from the same file.
    const html = join(dir, "r.html");
    const rep = await faultline("report", snap, "-o", html);
    expect(rep.code).toBe(0);
    expect(readFileSync(html, "utf8")).toContain("faultline-data");
    // A damaged snapshot is refused with a message and exit status 2.
    const bad = join(dir, "bad.flsnap");
    writeFileSync(bad, bytes.subarray(0, bytes.length - 9));
    const refused = await faultline("run", "--from", bad);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/truncated/);
    // A run snapshot whose machine does not match what the run printed is refused.
    const other = encodeRunSnapshot({ ...s, eras: [{ ...s.eras[0]!, meminfo: "MemTotal: 1 kB\n" }] });
    writeFileSync(bad, other);
    const mismatch = await faultline("run", "--from", bad);
    expect(mismatch.code).toBe(2);
    expect(mismatch.stderr).toMatch(/restored machine's \/proc\/meminfo is not the one the run printed/);
  }, 900_000);
});
