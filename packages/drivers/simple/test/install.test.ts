/**
 * Installs @faultline/driver-simple the way a third party would: built with tsup, resolved through its
 * package.json `exports` from a project outside the workspace (plain Node, no source condition), and
 * loaded into a machine. The package is built first, and so are its workspace dependencies when their
 * dist is missing or older than their sources (under turbo, `test` already depends on `^build`).
 */
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const pkgDir = resolve(import.meta.dirname, "..");
const packages = resolve(pkgDir, "../..");
let project = "";

/** Newest modification time of the files under `dir`. */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) t = Math.max(t, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return t;
}

function stale(dir: string): boolean {
  const out = join(dir, "dist/index.js");
  return !existsSync(out) || statSync(out).mtimeMs < newest(join(dir, "src"));
}

function build(filter: string): void {
  execFileSync("pnpm", ["--filter", filter, "build"], {
    cwd: pkgDir,
    stdio: "pipe",
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: "1" },
  });
}

const CONSUMER = `
import { simple } from "@faultline/driver-simple";
import { isaMemory } from "@faultline/devices";
import { Machine, MAP_SHARED, O_RDWR, PROT_READ, PROT_WRITE } from "@faultline/kernel";

const isa = isaMemory({ base: 0xd0000, size: 0x2000 });
const m = await Machine.create({ ramBytes: 32 << 20, devices: [isa], drivers: [simple()] });
const p = m.spawn();
const fd = p.libc.open("/dev/simplen", O_RDWR);
const a = p.libc.mmap(0, 0x2000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0xd0000);
p.mmu.store32(a + 0x1000, 0xabad1dea);
m.checkInvariants();
p.libc.exit(0);
m.checkInvariants();
console.log(JSON.stringify({
  driver: import.meta.resolve("@faultline/driver-simple"),
  kernel: import.meta.resolve("@faultline/kernel"),
  word: new DataView(isa.ram.buffer).getUint32(0x1000, true),
  log: m.dmesg().filter((l) => l.startsWith("Simple VMA")),
}));
`;

describe("@faultline/driver-simple as an installed package", () => {
  beforeAll(() => {
    const deps = ["phys", "mm", "devices", "kernel"].map((d) => join(packages, d));
    if (deps.some(stale)) build("@faultline/driver-simple^...");
    // Rebuilt only when stale: under turbo it was just built, and publint may be reading its dist.
    if (stale(pkgDir)) build("@faultline/driver-simple");
    project = mkdtempSync(join(tmpdir(), "faultline-consumer-"));
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", type: "module" }));
    writeFileSync(join(project, "main.mjs"), CONSUMER);
    mkdirSync(join(project, "node_modules/@faultline"), { recursive: true });
    for (const [name, dir] of [
      ["driver-simple", "drivers/simple"],
      ["kernel", "kernel"],
      ["devices", "devices"],
    ]) {
      symlinkSync(join(packages, dir!), join(project, "node_modules/@faultline", name!), "dir");
    }
  }, 240_000);

  afterAll(() => {
    if (project) rmSync(project, { recursive: true, force: true });
  });

  it("resolves to dist through `exports` and works in a machine", () => {
    const out = execFileSync(process.execPath, ["main.mjs"], { cwd: project, encoding: "utf8" });
    const r = JSON.parse(out.trim().split("\n").at(-1)!);
    expect(r.driver).toBe(`file://${pkgDir}/dist/index.js`);
    expect(r.kernel).toBe(`file://${packages}/kernel/dist/index.js`);
    expect(r.word).toBe(0xabad1dea);
    expect(r.log).toEqual(["Simple VMA open, virt 7ffff7ffd000, phys d0000", "Simple VMA close."]);
  });
});
