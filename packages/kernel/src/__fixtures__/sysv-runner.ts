// The SysV shm differential runner: sysv-oracle.c (beside this file) runs a script of shmget/shmat/
// shmdt/shmctl calls and accesses on the live kernel in a fresh IPC namespace; runSysvOnFaultline runs
// the same script on a Faultline process and prints the same lines. Used by ipc-shm.live.test.ts and
// ipc-shm.peer.test.ts.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  errnoName,
  IPC_INFO,
  IPC_SET,
  IPC_STAT,
  Machine,
  SHM_INFO,
  SHM_STAT,
  type ShmInfo,
  type ShmidDs,
  SIGBUS,
  SIGSEGV,
  SignalError,
} from "../index";

const SOURCE = fileURLToPath(new URL("./sysv-oracle.c", import.meta.url));

export function compileSysvOracle(): { bin: string | null; why: string } {
  if (process.platform !== "linux" || process.arch !== "x64") return { bin: null, why: "not Linux x86-64" };
  const cc = process.env.CC || "cc";
  const bin = join(mkdtempSync(join(tmpdir(), "faultline-sysv-")), "sysv-oracle");
  const r = spawnSync(cc, ["-O1", "-o", bin, SOURCE], { encoding: "utf8" });
  if (r.error || r.status !== 0) return { bin: null, why: `no C compiler (${cc})` };
  const probe = spawnSync(bin, [], { input: "", encoding: "utf8" });
  if (probe.status !== 0) return { bin: null, why: probe.stderr.trim() || "the oracle cannot run" };
  return { bin, why: "" };
}

/** The mode argument of a `set` line (its fifth word). */
const cnumMode = (line: string) => Number(line.split(" ")[4] ?? 0);

const SI_CODE: Record<string, number> = { SEGV_MAPERR: 1, SEGV_ACCERR: 2, BUS_ADRERR: 2, BUS_OBJERR: 3 };

/** The same script on Faultline, printed as sysv-oracle.c prints it. */
export async function runSysvOnFaultline(script: readonly string[]): Promise<string[]> {
  const m = await Machine.create({ ramBytes: 32 * 1024 * 1024 });
  const p = m.spawn({ name: "sysv" });
  // The oracle catches SIGSEGV/SIGBUS and goes on: so does this process.
  p.sys.sigaction(SIGSEGV, { handler: () => {} });
  p.sys.sigaction(SIGBUS, { handler: () => {} });
  const ids: number[] = [];
  const out: string[] = [];
  const errno = (r: number) => `-${errnoName(r)}`;
  for (const line of script) {
    const [op, ...rest] = line.split(" ");
    const [a = 0, b = 0, c = 0] = rest.map((x) => Number(x));
    const head = `${line} = `;
    switch (op) {
      case "get": {
        const id = p.sys.shmget(a, b, c);
        ids.push(id < 0 ? -1 : id);
        out.push(head + (id < 0 ? errno(id) : String(id)));
        break;
      }
      case "at": {
        const r = p.sys.shmat(ids[a]!, b, c);
        out.push(head + (r < 0 && r > -4096 ? errno(r) : `0x${r.toString(16)}`));
        break;
      }
      case "dt": {
        const r = p.sys.shmdt(a);
        out.push(head + (r < 0 ? errno(r) : "0"));
        break;
      }
      case "set": {
        const r = p.sys.shmctl(ids[a]!, IPC_SET, {
          shmPerm: { uid: b, gid: c, mode: cnumMode(line) },
        }) as number;
        out.push(head + (r < 0 ? errno(r) : "0"));
        break;
      }
      case "rm": {
        const r = p.sys.shmctl(ids[a]!, 0) as number;
        out.push(head + (r < 0 ? errno(r) : "0"));
        break;
      }
      case "st": {
        const r = p.sys.shmctl(ids[a]!, IPC_STAT);
        if (typeof r === "number") out.push(head + errno(r));
        else {
          const ds = r as ShmidDs;
          out.push(
            `${head}key 0x${ds.shmPerm.key.toString(16)} mode 0${ds.shmPerm.mode.toString(8)} size ${ds.shmSegsz} nattch ${ds.shmNattch}`,
          );
        }
        break;
      }
      case "w":
      case "r":
        try {
          if (op === "w") {
            p.mmu.store32(a, b);
            out.push(`${head}0`);
          } else out.push(`${head}0x${p.mmu.load32(a).toString(16)}`);
        } catch (e) {
          if (!SignalError.is(e)) throw e;
          out.push(`${head}${e.signal} ${SI_CODE[e.code] ?? e.code}`);
        }
        break;
      case "maps":
        out.push(head);
        for (const l of p.procMaps().split("\n")) if (l.includes("/SYSV")) out.push(`  ${l}`);
        break;
      case "proc": {
        out.push(head);
        const text = new TextDecoder().decode(p.libc.read(p.libc.open("/proc/sysvipc/shm", 0), 65536));
        for (const l of text.split("\n").slice(1)) {
          if (!l.trim()) continue;
          const f = l.trim().split(/\s+/);
          out.push(`  ${f[0]} ${f[1]} ${f[2]} ${f[3]} ${f[6]} ${f[14]}`);
        }
        break;
      }
      case "stx": {
        const r = p.sys.shmctl(ids[a]!, IPC_STAT);
        if (typeof r === "number") out.push(head + errno(r));
        else {
          const ds = r as ShmidDs;
          const who = (v: number, self: number) => (v === self ? "self" : "other");
          out.push(
            `${head}uid ${who(ds.shmPerm.uid, 0)} gid ${who(ds.shmPerm.gid, 0)} cuid ${who(ds.shmPerm.cuid, 0)} ` +
              `cgid ${who(ds.shmPerm.cgid, 0)} cpid ${who(ds.shmCpid, p.pid)} ` +
              `lpid ${ds.shmLpid === 0 ? "0" : who(ds.shmLpid, p.pid)} atime ${ds.shmAtime ? "set" : "0"} ` +
              `dtime ${ds.shmDtime ? "set" : "0"} ctime ${ds.shmCtime ? "set" : "0"}`,
          );
        }
        break;
      }
      case "sst": {
        const r = p.sys.shmctl(a, SHM_STAT);
        if (typeof r === "number") out.push(head + errno(r));
        else
          out.push(`${head}key 0x${(r as ShmidDs).shmPerm.key.toString(16)} size ${(r as ShmidDs).shmSegsz}`);
        break;
      }
      case "info": {
        const r = p.sys.shmctl(0, IPC_INFO);
        if (typeof r === "number") out.push(head + errno(r));
        else {
          const i = r as ShmInfo;
          out.push(
            `${head}shmmin ${i.shmmin} shmmni ${i.shmmni} shmseg ${i.shmseg} shmmax>shmmin ${i.shmmax > i.shmmin ? "yes" : "no"} shmall>0 ${i.shmall > 0 ? "yes" : "no"}`,
          );
        }
        break;
      }
      case "sinfo": {
        const r = p.sys.shmctl(0, SHM_INFO) as number;
        out.push(head + (r < 0 ? errno(r) : String(r)));
        break;
      }
      case "mprot": {
        const r = p.sys.mprotect(a, b, c);
        out.push(head + (r < 0 ? errno(r) : "0"));
        break;
      }
      case "unmap": {
        const r = p.sys.munmap(a, b);
        out.push(head + (r < 0 ? errno(r) : "0"));
        break;
      }
      default:
        out.push(`${head}?`);
    }
    m.checkInvariants();
  }
  return out;
}

/** The script's transcript on this machine's kernel. */
export function runSysvOnLinux(bin: string, script: readonly string[]): string[] {
  return execFileSync(bin, [], { input: `${script.join("\n")}\n`, encoding: "utf8" })
    .trimEnd()
    .split("\n");
}
