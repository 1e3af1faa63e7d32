// The tmpfs differential runner: fs-oracle.c (beside this file) runs a script of file and memfd
// syscalls on fresh tmpfs mounts in a private mount namespace; runFsOnFaultline runs the same script on
// a Faultline process and prints the same lines. Used by tmpfs.live.test.ts and memfd.peer.test.ts.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { errnoName, Machine, SIGBUS, SIGSEGV, SignalError, type Stat } from "../index";

const SOURCE = fileURLToPath(new URL("./fs-oracle.c", import.meta.url));

export function compileFsOracle(): { bin: string | null; why: string } {
  if (process.platform !== "linux" || process.arch !== "x64") return { bin: null, why: "not Linux x86-64" };
  const cc = process.env.CC || "cc";
  const bin = join(mkdtempSync(join(tmpdir(), "faultline-fs-")), "fs-oracle");
  const r = spawnSync(cc, ["-O1", "-o", bin, SOURCE], { encoding: "utf8" });
  if (r.error || r.status !== 0) return { bin: null, why: `no C compiler (${cc})` };
  const probe = spawnSync(bin, [], { input: "", encoding: "utf8" });
  if (probe.status !== 0) return { bin: null, why: probe.stderr.trim() || "the oracle cannot run" };
  return { bin, why: "" };
}

/** C-syntax numbers: 0x…, 0… (octal), decimal, with a sign. */
export function cnum(s: string | undefined): number {
  if (s === undefined) return 0;
  const neg = s.startsWith("-");
  const t = neg ? s.slice(1) : s;
  const v = /^0x/i.test(t) ? Number.parseInt(t, 16) : /^0[0-7]+$/.test(t) ? Number.parseInt(t, 8) : Number(t);
  return neg ? -v : v;
}

export async function runFsOnFaultline(script: readonly string[]): Promise<string[]> {
  const m = await Machine.create({ ramBytes: 32 * 1024 * 1024 });
  const p = m.spawn({ name: "fs" });
  // The oracle catches SIGSEGV/SIGBUS and goes on: so does this process.
  p.sys.sigaction(SIGSEGV, { handler: () => {} });
  p.sys.sigaction(SIGBUS, { handler: () => {} });
  const fds: number[] = [];
  const maps: number[] = [];
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
      case "memfd":
      case "dup": {
        const f = op === "memfd" ? p.sys.memfdCreate(a, cnum(b)) : p.sys.dup(fd());
        fds.push(f);
        r = f < 0 ? num(f) : "fd";
        break;
      }
      case "fcntl":
        r = num(p.sys.fcntl(fd(), cnum(b), cnum(c)));
        break;
      case "peek": {
        const one = new Uint8Array(1);
        const n = p.sys.pread(fd(), one, cnum(b));
        r = n < 0 ? num(n) : n === 0 ? "eof" : `0x${one[0]!.toString(16)}`;
        break;
      }
      case "mmap": {
        const addr = p.sys.mmap(0, cnum(b), cnum(c), cnum(d), fd(), cnum(line.split(" ")[5]));
        maps.push(addr < 0 && addr > -4096 ? 0 : addr);
        r = addr < 0 && addr > -4096 ? num(addr) : "map";
        break;
      }
      case "munmap":
        r = num(p.sys.munmap(maps[cnum(a)] ?? 0, cnum(b)));
        break;
      case "mstore":
      case "mload": {
        const addr = maps[cnum(a)];
        if (!addr) {
          r = "nomap";
          break;
        }
        try {
          if (op === "mstore") {
            p.mmu.store8(addr + cnum(b), cnum(c));
            r = "0";
          } else r = `0x${p.mmu.load8(addr + cnum(b)).toString(16)}`;
        } catch (e) {
          if (!SignalError.is(e) || !e.handled) throw e;
          r = `${e.signal} ${e.code === "BUS_ADRERR" ? 2 : e.code === "SEGV_ACCERR" ? 2 : e.code === "SEGV_MAPERR" ? 1 : e.code}`;
        }
        break;
      }
      case "childopen": {
        // A child (fork) opens /proc/<parent>/fd/<fd> and closes it.
        const pid = p.sys.fork();
        const c = m.process(pid)!;
        const f = c.sys.open(`/proc/${p.pid}/fd/${cnum(a)}`, cnum(b), 0);
        if (f >= 0) c.sys.close(f);
        c.sys.exit(0);
        p.sys.waitpid(pid);
        r = f < 0 ? num(f) : "fd";
        break;
      }
      case "mname": {
        const start = (maps[cnum(a)] ?? 0).toString(16).padStart(8, "0");
        const l = p
          .procMaps()
          .split("\n")
          .find((x) => x.startsWith(`${start}-`));
        r = l?.includes("/") ? l.slice(l.indexOf("/")) : "-";
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

/** The script's transcript on this machine's kernel. */
export function runFsOnLinux(bin: string, script: readonly string[]): string[] {
  const out = execFileSync(bin, [], { input: `${script.join("\n")}\n`, encoding: "utf8" }).split("\n");
  if (out[out.length - 1] === "") out.pop();
  return out;
}
