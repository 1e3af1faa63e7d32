import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { KERNEL_VERSION, Machine, SNAPSHOT_FORMAT_VERSION } from "@faultline/kernel";
import { describe, expect, it } from "vitest";
import { FAULTLINE_VERSION } from "./report/build";
import { encodeSnapshot } from "./report/snapshot";
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

/** `bytes` with only the container's format version rewritten (the CRC covers the payload alone). */
function withVersion(bytes: Uint8Array, version: number): Uint8Array {
  const out = new Uint8Array(bytes); // a copy (a Buffer's slice() is a view)
  new DataView(out.buffer).setUint16(8, version);
  return out;
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

  it("reads a run or report model of an older format that is still readable, and says why not otherwise", async () => {
    const dir = mkdtempSync(join(tmpdir(), "faultline-run-snap-"));
    const snap = join(dir, "state.flsnap");
    expect((await faultline("run", fixture, "--seed", "7", "--save", snap)).code).toBe(0);
    const bytes = readFileSync(snap);
    const s = decodeRunSnapshot(bytes);
    const html = join(dir, "r.html");
    expect((await faultline("report", snap, "-o", html)).code).toBe(0);
    // A run's own fields and its report model are as formats 1 and 2 wrote them. Only the version
    // bytes rewritten (they are outside the checksum): read as it is; `faultline report` draws the same map.
    const v2 = join(dir, "v2.flsnap");
    writeFileSync(v2, withVersion(bytes, 2));
    expect(decodeRunSnapshot(readFileSync(v2))).toEqual(s);
    expect(decodeRunSnapshot(withVersion(bytes, 1))).toEqual(s);
    const html2 = join(dir, "r2.html");
    const rep2 = await faultline("report", v2, "-o", html2);
    expect(rep2.stderr).toBe("");
    expect(rep2.code).toBe(0);
    expect(readFileSync(html2, "utf8")).toBe(readFileSync(html, "utf8"));
    // A format-2 report-model file too.
    const model2 = join(dir, "model2.flsnap");
    writeFileSync(model2, withVersion(encodeSnapshot(s.model!), 2));
    const html3 = join(dir, "r3.html");
    expect((await faultline("report", model2, "-o", html3)).code).toBe(0);
    expect(readFileSync(html3, "utf8")).toBe(readFileSync(html, "utf8"));
    // A run that format 2 wrote holds a format-2 machine, which no restore reads (its time state is
    // missing): its report is drawn, --from is refused naming the machine's format and the writer.
    const old = join(dir, "old.flsnap");
    writeFileSync(old, withVersion(encodeRunSnapshot({ ...s, machine: withVersion(s.machine, 2) }), 2));
    expect((await faultline("report", old, "-o", join(dir, "r4.html"))).code).toBe(0);
    const oldFrom = await faultline("run", "--from", old);
    expect(oldFrom.code).toBe(2);
    expect(oldFrom.stdout).toBe("");
    expect(oldFrom.stderr).toBe(
      `faultline: ${old}: run snapshot: its machine: unsupported snapshot format 2 (written by faultline "${KERNEL_VERSION}"): this faultline (${KERNEL_VERSION}) reads format 3 only\n`,
    );
    // Newer than this faultline, or older than its kind is read from: refused, naming both versions
    // and the writer.
    const reportModel = encodeSnapshot(s.model!);
    for (const [file, message] of [
      [
        withVersion(bytes, SNAPSHOT_FORMAT_VERSION + 1),
        `snapshot format 4 (written by faultline "${FAULTLINE_VERSION}") is newer than this faultline (${FAULTLINE_VERSION}) reads: format 3`,
      ],
      [
        withVersion(bytes, 0),
        `unsupported snapshot format 0 (written by faultline "${FAULTLINE_VERSION}"): this faultline (${FAULTLINE_VERSION}) reads formats 1 to 3`,
      ],
      [
        withVersion(reportModel, 1),
        `unsupported snapshot format 1 (written by faultline "${FAULTLINE_VERSION}"): this faultline (${FAULTLINE_VERSION}) reads "report-model" snapshots of formats 2 to 3`,
      ],
      // A machine of any format is named for what it is, not refused for its version.
      ...[s.machine, withVersion(s.machine, 2)].map(
        (m) =>
          [
            m,
            "a machine snapshot (m.snapshot()) holds no memory map: faultline report draws a run saved with faultline run --save",
          ] as const,
      ),
    ] as const) {
      writeFileSync(v2, file);
      const r = await faultline("report", v2, "-o", html2);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`faultline: ${v2}: ${message}\n`);
    }
    expect(() => decodeRunSnapshot(withVersion(bytes, 4))).toThrow(/is newer than/);
  }, 900_000);
});
