// SysV shm against the live kernel (issue 12 §2): __fixtures__/sysv-oracle.c runs a script of
// shmget/shmat/shmdt/shmctl calls and accesses in a fresh IPC namespace; the same script on Faultline
// must print the same lines (ids, errno, fault codes, /SYSV maps lines with the id as inode, the
// key/id/perms/size/nattch/rss columns of /proc/sysvipc/shm). Skipped, with the reason in its title,
// where there is no C compiler, no Linux x86-64, or no private IPC namespace.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { errnoName, IPC_SET, IPC_STAT, Machine, type ShmidDs, SIGBUS, SIGSEGV, SignalError } from "./index";

const SOURCE = fileURLToPath(new URL("./__fixtures__/sysv-oracle.c", import.meta.url));

function compile(): { bin: string | null; why: string } {
  if (process.platform !== "linux" || process.arch !== "x64") return { bin: null, why: "not Linux x86-64" };
  const cc = process.env.CC || "cc";
  const bin = join(mkdtempSync(join(tmpdir(), "faultline-sysv-")), "sysv-oracle");
  const r = spawnSync(cc, ["-O1", "-o", bin, SOURCE], { encoding: "utf8" });
  if (r.error || r.status !== 0) return { bin: null, why: `no C compiler (${cc})` };
  const probe = spawnSync(bin, [], { input: "", encoding: "utf8" });
  if (probe.status !== 0) return { bin: null, why: probe.stderr.trim() || "the oracle cannot run" };
  return { bin, why: "" };
}

const ARENA = 0x2000_0000_0000;
const at = (page: number, byte = 0) => `0x${(ARENA + page * 4096 + byte).toString(16)}`;
const SHM_RDONLY = 0o10000;
const SHM_RND = 0o20000;
const SHM_REMAP = 0o40000;

// Ids are remembered in order, failures too (#0 … #6 below): the segments are #2 (key 0x5eed) and #6.
const SCRIPT = [
  `get 0 0 ${0o600}`,
  "get 0x5eed 100 0",
  `get 0x5eed 100 ${0o1640}`,
  `get 0x5eed 100 ${0o3600}`,
  "get 0x5eed 101 0",
  "get 0x5eed 50 0",
  `get 0 ${3 * 4096} ${0o600}`,
  `at 2 ${at(0)} 0`,
  `at 2 ${at(4, 12)} 0`,
  `at 2 ${at(4, 12)} ${SHM_RND}`,
  `at 2 ${at(0)} 0`,
  `at 6 ${at(8)} 0`,
  `at 6 ${at(9)} ${SHM_REMAP}`,
  `at 6 0 ${SHM_REMAP}`,
  `at 2 ${at(16)} ${SHM_RDONLY}`,
  `w ${at(0)} 0xabcd`,
  `r ${at(4)}`,
  `r ${at(16)}`,
  `w ${at(16)} 1`,
  `r ${at(1)}`,
  `w ${at(8, 4)} 0x77`,
  `r ${at(9, 4)}`,
  `r ${at(11)}`,
  "st 2",
  "st 6",
  `set 6 0 0 ${0o1640}`,
  "st 6",
  "set 5 0 0 0",
  "maps",
  "proc",
  "rm 2",
  "st 2",
  "get 0x5eed 100 0",
  `dt ${at(4, 1)}`,
  `dt ${at(1)}`,
  `dt ${at(4)}`,
  `dt ${at(0)}`,
  "st 2",
  "maps",
  `dt ${at(16)}`,
  "st 2",
  "rm 6",
  "st 6",
  `r ${at(9, 4)}`,
  "proc",
  `dt ${at(8)}`,
  `dt ${at(9)}`,
  "st 6",
  "proc",
];

/** The mode argument of a `set` line (its fifth word). */
const cnumMode = (line: string) => Number(line.split(" ")[4] ?? 0);

const SI_CODE: Record<string, number> = { SEGV_MAPERR: 1, SEGV_ACCERR: 2, BUS_ADRERR: 2, BUS_OBJERR: 3 };

/** The same script on Faultline, printed as sysv-oracle.c prints it. */
async function runOnFaultline(script: readonly string[]): Promise<string[]> {
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
      default:
        out.push(`${head}?`);
    }
    m.checkInvariants();
  }
  return out;
}

const { bin, why } = compile();

describe("SysV shm: Faultline prints what the live kernel prints", () => {
  it.skipIf(bin === null)(`the script's transcript matches${bin ? "" : ` [SKIPPED: ${why}]`}`, async () => {
    const linux = execFileSync(bin!, [], { input: `${SCRIPT.join("\n")}\n`, encoding: "utf8" })
      .trimEnd()
      .split("\n");
    const faultline = await runOnFaultline(SCRIPT);
    const trim = (ls: readonly string[]) => ls.map((l) => l.trimEnd()).join("\n");
    expect(trim(faultline)).toBe(trim(linux));
  });
});
