// tmpfs file syscalls against the live kernel (issue 12 §2): __fixtures__/fs-oracle.c runs a script on
// fresh tmpfs mounts of /dev/shm and /tmp in a private mount namespace; the same script on Faultline
// must print the same lines (results, errno, stat's mode/nlink/size/blocks, getdents order). Skipped,
// with the reason in its title, without a C compiler, Linux x86-64, or the right to mount.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { errnoName, Machine, type Stat } from "./index";

const SOURCE = fileURLToPath(new URL("./__fixtures__/fs-oracle.c", import.meta.url));

function compile(): { bin: string | null; why: string } {
  if (process.platform !== "linux" || process.arch !== "x64") return { bin: null, why: "not Linux x86-64" };
  const cc = process.env.CC || "cc";
  const bin = join(mkdtempSync(join(tmpdir(), "faultline-fs-")), "fs-oracle");
  const r = spawnSync(cc, ["-O1", "-o", bin, SOURCE], { encoding: "utf8" });
  if (r.error || r.status !== 0) return { bin: null, why: `no C compiler (${cc})` };
  const probe = spawnSync(bin, [], { input: "", encoding: "utf8" });
  if (probe.status !== 0) return { bin: null, why: probe.stderr.trim() || "the oracle cannot run" };
  return { bin, why: "" };
}

const O_RDONLY = 0;
const O_WRONLY = 1;
const O_RDWR = 2;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const O_TRUNC = 0o1000;
const O_APPEND = 0o2000;
const O_DIRECTORY = 0o200000;
const o = (n: number) => `0${n.toString(8)}`;
const D = "/dev/shm/d";

const SCRIPT = [
  `mkdir ${D} 0755`,
  `mkdir ${D} 0755`,
  `mkdir ${D}/x/y 0755`,
  `mkdir ${D}/. 0755`,
  `mkdir /dev/shm 0755`,
  `open ${D}/a ${o(O_RDWR)} 0`,
  `open ${D}/a ${o(O_RDWR | O_CREAT)} 0666`,
  `open ${D}/a ${o(O_RDWR | O_CREAT | O_EXCL)} 0666`,
  `open ${D}/a/b ${o(O_RDONLY)} 0`,
  `open ${D}/a/ ${o(O_RDONLY)} 0`,
  `open ${D}/a/ ${o(O_RDONLY | O_CREAT)} 0666`,
  `open ${D}/new/ ${o(O_RDONLY | O_CREAT)} 0666`,
  `open ${D} ${o(O_RDWR)} 0`,
  `open ${D} ${o(O_RDONLY | O_CREAT)} 0666`,
  `open ${D}/zz ${o(O_RDONLY | O_CREAT | O_DIRECTORY)} 0666`,
  `open ${D}/missing/.. ${o(O_RDONLY)} 0`,
  `open ${D}/a/.. ${o(O_RDONLY)} 0`,
  `open ${D} ${o(O_RDONLY | O_DIRECTORY)} 0`,
  "write 1 5000",
  "fstat 1",
  "lseek 1 0 1",
  "lseek 1 -10 2",
  "lseek 1 -6000 1",
  "lseek 1 0 3",
  "lseek 1 4096 4",
  "lseek 1 5000 3",
  "pwrite 1 1 20000",
  "fstat 1",
  "lseek 1 8192 3",
  "lseek 1 6000 4",
  "pread 1 100 19950",
  "pread 1 10 -1",
  "read 11 10",
  "ftruncate 1 -1",
  "ftruncate 11 0",
  "ftruncate 1 100",
  "fstat 1",
  `truncate ${D} 1`,
  `truncate ${D}/a 8193`,
  `stat ${D}/a`,
  "fallocate 1 0 0 0",
  "fallocate 1 2 0 1",
  "fallocate 1 16 0 1",
  "fallocate 1 0 0 12288",
  "fallocate 1 1 0 40960",
  `stat ${D}/a`,
  "fallocate 1 3 100 8192",
  `stat ${D}/a`,
  "fallocate 11 0 0 1",
  "fsync 1",
  "fsync 11",
  `open ${D}/b ${o(O_WRONLY | O_CREAT | O_APPEND)} 0600`,
  "write 18 10",
  "lseek 18 0 0",
  "write 18 10",
  "fstat 18",
  "read 18 1",
  `open ${D}/b ${o(O_RDONLY | O_TRUNC)} 0`,
  "fstat 18",
  `mkdir ${D}/c 0700`,
  `stat ${D}`,
  "getdents 11",
  "getdents 11",
  `rmdir ${D}`,
  `rmdir ${D}/a`,
  `rmdir ${D}/c/.`,
  `rmdir ${D}/c/..`,
  `rmdir /dev/shm`,
  `unlink ${D}`,
  `unlink ${D}/a/`,
  `unlink ${D}/c/.`,
  `rename ${D} ${D}/sub`,
  `rename ${D}/a /tmp/a`,
  `rename ${D}/a ${D}/c`,
  `rename ${D}/c ${D}/a`,
  `rename ${D}/a/ ${D}/e`,
  `rename ${D}/b ${D}/a`,
  `rename ${D}/c ${D}/f`,
  `stat ${D}/b`,
  `stat ${D}`,
  "fstat 1",
  `open ${D} ${o(O_RDONLY)} 0`,
  "getdents 82",
  `unlink ${D}/a`,
  "fstat 1",
  `rmdir ${D}/f`,
  `rmdir ${D}`,
  `stat /dev/shm`,
];

/** C-syntax numbers: 0x…, 0… (octal), decimal, with a sign. */
function cnum(s: string | undefined): number {
  if (s === undefined) return 0;
  const neg = s.startsWith("-");
  const t = neg ? s.slice(1) : s;
  const v = /^0x/i.test(t) ? Number.parseInt(t, 16) : /^0[0-7]+$/.test(t) ? Number.parseInt(t, 8) : Number(t);
  return neg ? -v : v;
}

async function runOnFaultline(script: readonly string[]): Promise<string[]> {
  const m = await Machine.create({ ramBytes: 32 * 1024 * 1024 });
  const p = m.spawn({ name: "fs" });
  const fds: number[] = [];
  const out: string[] = [];
  const num = (r: number) => (r < 0 ? `-${errnoName(r)}` : String(r));
  const stat = (r: Stat | number) =>
    typeof r === "number"
      ? num(r)
      : `mode 0${r.stMode.toString(8)} nlink ${r.stNlink} size ${r.stSize} blocks ${r.stBlocks}`;
  const x = new Uint8Array(1 << 20).fill(0x78);
  for (const line of script) {
    const [op, a, b, c, d] = line.split(" ") as [string, string, string?, string?, string?];
    const fd = () => fds[cnum(a)] ?? -1;
    let r: string;
    switch (op) {
      case "open": {
        const f = p.sys.open(a, cnum(b), cnum(c));
        fds.push(f);
        r = f < 0 ? num(f) : "fd";
        break;
      }
      case "close":
        r = num(p.sys.close(fd()));
        break;
      case "fsync":
        r = num(p.sys.fsync(fd()));
        break;
      case "fstat":
        r = stat(p.sys.fstat(fd()));
        break;
      case "stat":
        r = stat(p.sys.stat(a));
        break;
      case "read":
        r = num(p.sys.read(fd(), new Uint8Array(cnum(b))));
        break;
      case "write":
        r = num(p.sys.write(fd(), x.subarray(0, cnum(b))));
        break;
      case "pread":
        r = num(p.sys.pread(fd(), new Uint8Array(cnum(b)), cnum(c)));
        break;
      case "pwrite":
        r = num(p.sys.pwrite(fd(), x.subarray(0, cnum(b)), cnum(c)));
        break;
      case "lseek":
        r = num(p.sys.lseek(fd(), cnum(b), cnum(c)));
        break;
      case "ftruncate":
        r = num(p.sys.ftruncate(fd(), cnum(b)));
        break;
      case "fallocate":
        r = num(p.sys.fallocate(fd(), cnum(b), cnum(c), cnum(d)));
        break;
      case "mkdir":
        r = num(p.sys.mkdir(a, cnum(b)));
        break;
      case "rmdir":
        r = num(p.sys.rmdir(a));
        break;
      case "unlink":
        r = num(p.sys.unlink(a));
        break;
      case "truncate":
        r = num(p.sys.truncate(a, cnum(b)));
        break;
      case "rename":
        r = num(p.sys.rename(a, b!));
        break;
      case "getdents": {
        const e = p.sys.getdents(fd(), 4096);
        r = typeof e === "number" ? num(e) : e.map((x) => x.dName).join(" ");
        break;
      }
      default:
        r = "?";
    }
    out.push(`${line} = ${r}`);
    m.checkInvariants();
  }
  return out;
}

const { bin, why } = compile();

describe("tmpfs: Faultline prints what the live kernel prints", () => {
  it.skipIf(bin === null)(
    `the file script's transcript matches${bin ? "" : ` [SKIPPED: ${why}]`}`,
    async () => {
      const linux = execFileSync(bin!, [], { input: `${SCRIPT.join("\n")}\n`, encoding: "utf8" }).split("\n");
      if (linux[linux.length - 1] === "") linux.pop();
      const faultline = await runOnFaultline(SCRIPT);
      const trim = (ls: readonly string[]) => ls.map((l) => l.trimEnd()).join("\n");
      expect(trim(faultline)).toBe(trim(linux));
    },
  );
});
