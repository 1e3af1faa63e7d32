// The kernel side of the kernel-level rows of the differential test: runs an oracle script (the text
// oracle.c reads, packages/mm/test/oracle) on a Faultline process and prints the transcript oracle.c
// prints on Linux. The ops: mmap, munmap, mprotect, mlock, munlock, loads and stores, maps, fork …
// end, exit, sigaction, sigprocmask, kill, mincore, mlock2, mlockall, munlockall, getrlimit, setrlimit,
// unprivileged, madvise, mremap, brk, mseal, msync, vmflags. Numbers written "H+<n>" / "H-<n>" are
// relative to the heap's start (start_brk), and so are the break and heap maps lines printed (oracle.c
// says how). Like oracle.c, the process starts with a handler on SIGSEGV and SIGBUS (a fault
// prints its signal and the script goes on). A fork's line says how waitpid found the child (exit,
// killed, -ECHILD when it was reaped at exit) and what the parent caught meanwhile (a SIGCHLD with
// its siginfo); a top-level process a signal kills ends the transcript with "killed <SIG>", as
// linux.ts reports oracle.c's death.
import { errnoName, isErr, signalName } from "@faultline/mm";
import {
  Machine,
  type Process,
  SA_RESTORER,
  SA_SIGINFO,
  SIG_DFL,
  SIG_IGN,
  type SigAction,
  type SigActionResult,
  type SigInfo,
  SignalError,
} from "../src/index";
import { dropCapIpcLock } from "../src/internal/resource";

const bitsToSignals = (bits: bigint): number[] => {
  const out: number[] = [];
  for (let n = 1; n <= 64; n++) if (bits & (1n << BigInt(n - 1))) out.push(n);
  return out;
};
const signalsToBits = (sigs: readonly number[]): bigint =>
  sigs.reduce((b, n) => b | (1n << BigInt(n - 1)), 0n);
const hex = (v: bigint | number): string => `0x${BigInt.asUintN(64, BigInt(v)).toString(16)}`;
const errText = (r: number): string => `-${errnoName(r)}`;
/** The names oracle.c's signal_name() knows; others print as SIG<n>. */
const KNOWN = new Set([
  "SIGSEGV",
  "SIGBUS",
  "SIGILL",
  "SIGFPE",
  "SIGKILL",
  "SIGABRT",
  "SIGUSR1",
  "SIGUSR2",
  "SIGTERM",
  "SIGINT",
  "SIGHUP",
  "SIGCHLD",
]);
const sigText = (n: number): string => {
  const s = signalName(n);
  return KNOWN.has(s) ? s : `SIG${n}`;
};

interface Op {
  readonly name: string;
  readonly args: readonly bigint[];
  /** For each argument written "H±<n>", its offset from start_brk (else null). */
  readonly rel: readonly (bigint | null)[];
  readonly child?: readonly Op[];
}

const heapRel = (tok: string): bigint | null => {
  const m = /^H([+-])(.+)$/.exec(tok);
  if (!m) return null;
  const v = BigInt(m[2]!);
  return m[1] === "-" ? -v : v;
};
/** The heap window oracle.c rewrites: lines starting in [start_brk, start_brk + 64 MiB). */
const HEAP_WINDOW = 64 * 1024 * 1024;
const heapText = (v: number, startBrk: number): string =>
  v >= startBrk ? `H+0x${(v - startBrk).toString(16)}` : `H-0x${(startBrk - v).toString(16)}`;

/** The script's `arena <base> <size>` header (oracle.c requires one; 4 MiB at ARENA if absent). */
function scriptArena(text: string): { base: number; size: number } {
  const m = /^\s*arena\s+(\S+)\s+(\S+)/m.exec(text);
  return m ? { base: Number(BigInt(m[1]!)), size: Number(BigInt(m[2]!)) } : { base: ARENA, size: 0x400000 };
}

/** The ops of a script (arena line dropped; fork … end nested). */
export function parseOracleScript(text: string): Op[] {
  const root: Op[] = [];
  const stack: Op[][] = [root];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    if (!line) continue;
    const [name, ...rest] = line.split(/\s+/) as [string, ...string[]];
    if (name === "arena") continue;
    if (name === "end") {
      stack.pop();
      continue;
    }
    const rel = rest.map(heapRel);
    const op: Op = {
      name,
      args: rest.map((t, k) => (rel[k] === null ? BigInt(t) : 0n)),
      rel,
      ...(name === "fork" ? { child: [] } : {}),
    };
    stack.at(-1)!.push(op);
    if (op.child) stack.push(op.child as Op[]);
  }
  return root;
}

class Died extends Error {}
const ARENA = 0x1000_0000_0000;

/** What oracle.c keeps per process: the last child it forked (a SIGCHLD's si_pid prints as "child"). */
interface ProcState {
  lastChild: number;
  /** The script's arena (its header line): `maps` prints the VMAs that start in it, as oracle.c. */
  readonly arena: { readonly base: number; readonly size: number };
}

const CLD_NAMES = ["CLD_EXITED", "CLD_KILLED", "CLD_DUMPED", "CLD_TRAPPED", "CLD_STOPPED", "CLD_CONTINUED"];

/** oracle.c's print_caught(): " caught SIGUSR1,SIGCHLD{CLD_EXITED status=0 pid=child uid=self}". */
function caughtText(caught: readonly SigInfo[], st: ProcState): string {
  if (!caught.length) return "";
  const one = (i: SigInfo) => {
    const cld = i.signo === 17 ? CLD_NAMES[i.code - 1] : undefined;
    if (!cld) return sigText(i.signo);
    // Faultline's processes all run as root: uid 0 is the caller's own (oracle.c compares with getuid()).
    const uid = i.uid === 0 ? "self" : String(i.uid);
    return `SIGCHLD{${cld} status=${i.status} pid=${i.pid === st.lastChild ? "child" : "other"} uid=${uid}}`;
  };
  return ` caught ${caught.map(one).join(",")}`;
}

/** How the machine is configured: like the host whose kernel the transcript is compared with. */
export interface SignalScriptOptions {
  /** Anonymous read faults map the zero page (hostFeatures().zeroPage; the default, as Faultline's). */
  readonly zeroPage?: boolean;
}

/** Runs a script on a fresh machine; returns the transcript lines (oracle.c's format). */
export async function runSignalScript(text: string, options: SignalScriptOptions = {}): Promise<string[]> {
  const m = await Machine.create({
    ramBytes: 32 * 1024 * 1024,
    ...(options.zeroPage === undefined ? {} : { zeroPage: options.zeroPage }),
  });
  const p = m.spawn({ name: "oracle" });
  const out: string[] = [];
  const caught: SigInfo[] = [];
  // oracle.c's on_fault: a fault siglongjmps (SignalError handled), any other signal is noted.
  const handler = (i: SigInfo) => {
    if (i.signo !== 11 && i.signo !== 7) caught.push(i);
  };
  for (const s of [11, 7]) p.libc.sigaction(s, { handler });
  try {
    runOps(m, p, parseOracleScript(text), "", out, handler, caught, {
      lastChild: 0,
      arena: scriptArena(text),
    });
  } catch (e) {
    if (!(e instanceof Died)) throw e;
    out.push(`killed ${signalName(p.waitStatus! & 0x7f)}`);
  }
  m.checkInvariants();
  return out;
}

function runOps(
  m: Machine,
  p: Process,
  ops: readonly Op[],
  prefix: string,
  out: string[],
  handler: (i: SigInfo) => void,
  caught: SigInfo[],
  st: ProcState,
): void {
  ops.forEach((op, i) => {
    const idx = `${prefix}${i}`;
    const startBrk = p.mm.startBrk;
    const text = [op.name, ...op.args.map((v, k) => relText(op.rel[k] ?? null) ?? hex(v))].join(" ");
    const big = op.args.map((v, k) => {
      const r = op.rel[k];
      return r === null || r === undefined ? v : BigInt.asUintN(64, BigInt(startBrk) + r);
    });
    // As C receives them: a 64-bit value at or above 2^63 is passed negative, which is exact for the
    // small negatives scripts use (-1 as a length) where a double would round 2^64 - 1 up to 2^64.
    const a = big.map((v) => Number(BigInt.asIntN(64, v)));
    if (op.child) {
      const pid = p.libc.fork();
      const c = m.process(pid)!;
      try {
        runOps(m, c, op.child, `${idx}.`, out, handler, caught, {
          lastChild: st.lastChild,
          arena: st.arena,
        });
        if (c.alive) c.libc.exit(0);
      } catch (e) {
        if (!(e instanceof Died)) throw e;
      }
      st.lastChild = pid;
      // The child's ops shared `caught` (one handler function here, one per process in oracle.c): what
      // the parent catches is what its waitpid's return delivers (a SIGCHLD, when it has a handler).
      caught.length = 0;
      const w = p.sys.waitpid(pid);
      const res =
        typeof w === "number"
          ? errText(w)
          : w.status & 0x7f
            ? `killed ${sigText(w.status & 0x7f)}`
            : `exit ${(w.status >> 8) & 0xff}`;
      out.push(`${idx} ${text} = ${res}${caughtText(caught, st)}`);
      return;
    }
    if (op.name === "exit") {
      // exit_group(2) prints nothing: the process is gone (its parent's fork line says how).
      p.libc.exitGroup(a[0]!);
      throw new Died();
    }
    let r: string;
    caught.length = 0;
    try {
      r = runOp(p, op.name, a, big, handler, st.arena);
    } catch (e) {
      if (SignalError.is(e) && !p.alive) throw new Died();
      throw e;
    }
    r += caughtText(caught, st);
    out.push(...`${idx} ${text} = ${r}`.split("\n"));
  });
}

/** An address as oracle.c prints it: relative to start_brk inside the heap window. */
const addrText = (p: Process, v: number): string => {
  const startBrk = p.mm.startBrk;
  return v >= startBrk && v < startBrk + HEAP_WINDOW ? heapText(v, startBrk) : hex(v);
};

const relText = (r: bigint | null): string | null =>
  r === null ? null : r < 0n ? `H-0x${(-r).toString(16)}` : `H+0x${r.toString(16)}`;

function runOp(
  p: Process,
  name: string,
  a: number[],
  big: readonly bigint[],
  handler: (i: SigInfo) => void,
  arena: ProcState["arena"],
): string {
  // The 64-bit arguments as C passes them: exact, as a bigint where a double cannot hold the value.
  const x = big.map((v) => {
    const s = BigInt.asIntN(64, v);
    return s < 2n ** 52n && s > -(2n ** 52n) ? Number(s) : s;
  });
  const zero = (r: number) => (isErr(r) ? errText(r) : r === 0 ? "0" : hex(r));
  switch (name) {
    case "mmap": {
      const r = p.sys.mmap(x[0]!, x[1]!, x[2]!, x[3]!, -1, x[4] ?? 0);
      return isErr(r) ? errText(r) : addrText(p, r);
    }
    case "munmap":
      return zero(p.sys.munmap(x[0]!, x[1]!));
    case "mprotect":
      return zero(p.sys.mprotect(x[0]!, x[1]!, x[2]!));
    case "load8":
    case "load16":
    case "load32":
    case "load64":
    case "store8":
    case "store16":
    case "store32":
    case "store64":
      return access(p, name, a[0]!, big[1] ?? 0n);
    case "sigaction": {
      const disp = a[1]!;
      const flags = a[2] ?? 0;
      const mask = bitsToSignals(big[3] ?? 0n);
      const act: SigAction = { handler: disp === 2 ? handler : disp, flags, mask };
      const r = p.sys.sigaction(a[0]!, act);
      if (typeof r === "number") return errText(r);
      return actionText(r);
    }
    case "sigprocmask": {
      const r = p.sys.sigprocmask(a[0]!, bitsToSignals(big[1]!));
      return typeof r === "number" ? errText(r) : hex(signalsToBits(r));
    }
    case "kill":
      return zero(p.sys.kill(p.pid, a[0]!));
    case "mlock":
      return zero(p.sys.mlock(x[0]!, x[1]!));
    case "munlock":
      return zero(p.sys.munlock(x[0]!, x[1]!));
    case "mlock2":
      return zero(p.sys.mlock2(x[0]!, x[1]!, a[2]!));
    case "mlockall":
      return zero(p.sys.mlockall(a[0]!));
    case "munlockall":
      return zero(p.sys.munlockall());
    case "mincore": {
      const pages = Math.ceil(Number(BigInt.asUintN(64, big[1]!)) / 4096);
      const v = new Uint8Array(Math.min(pages, 4096));
      const r = p.sys.mincore(x[0]!, x[1]!, v);
      return r < 0 ? errText(r) : `0 ${[...v.subarray(0, pages)].map((x) => x & 1).join("")}`;
    }
    case "getrlimit": {
      const r = p.sys.getrlimit(a[0]!);
      return typeof r === "number" ? errText(r) : `${hex(r.cur)} ${hex(r.max)}`;
    }
    case "setrlimit": {
      // Exact 64-bit values (RLIM_INFINITY is 2^64 - 1, beyond a double's integers).
      const r = p.sys.prlimit(0, a[0]!, { cur: big[1]!, max: big[2]! } as never);
      return typeof r === "number" ? errText(r) : "0";
    }
    case "unprivileged":
      dropCapIpcLock(p.task);
      return "0";
    case "madvise":
      return zero(p.sys.madvise(x[0]!, x[1]!, a[2]!));
    case "mremap": {
      const r = p.sys.mremap(x[0]!, x[1]!, x[2]!, x[3]!, x[4] ?? 0);
      return isErr(r) ? errText(r) : addrText(p, r);
    }
    case "brk":
      return heapText(p.sys.brk(x[0]!), p.mm.startBrk);
    case "mseal":
      return zero(p.sys.mseal(x[0]!, x[1]!, x[2]!));
    case "msync":
      return zero(p.sys.msync(x[0]!, x[1]!, a[2]!));
    case "vmflags": {
      let inVma = false;
      for (const l of p.procSmaps().split("\n")) {
        const m = /^([0-9a-f]+)-([0-9a-f]+) /.exec(l);
        if (m) inVma = Number.parseInt(m[1]!, 16) <= a[0]! && a[0]! < Number.parseInt(m[2]!, 16);
        // "sd" (VM_SOFTDIRTY) needs CONFIG_MEM_SOFT_DIRTY, which the recording host's kernel lacks.
        else if (inVma && l.startsWith("VmFlags:")) return l.slice(8).replace(" sd ", " ").trim();
      }
      return "none";
    }
    case "maps": {
      const startBrk = p.mm.startBrk;
      const lines: string[] = [];
      for (const l of p.procMaps().split("\n")) {
        if (!l) continue;
        const start = Number.parseInt(l, 16);
        if (start >= arena.base && start < arena.base + arena.size) lines.push(l);
        else if (start >= startBrk && start < startBrk + HEAP_WINDOW) {
          // oracle.c's heap lines: addresses from start_brk, blanks collapsed.
          const [range, ...rest] = l.trim().split(/\s+/);
          const end = Number.parseInt(range!.split("-")[1]!, 16);
          lines.push([`${heapText(start, startBrk)}-${heapText(end, startBrk)}`, ...rest].join(" "));
        }
      }
      return [String(lines.length), ...lines.map((l) => `  ${l}`)].join("\n");
    }
    default:
      throw new Error(`oracle-signals: op ${name} is not supported here`);
  }
}

function actionText(r: SigActionResult): string {
  const h = r.handler === SIG_DFL ? "dfl" : r.handler === SIG_IGN ? "ign" : "catch";
  const flags = (r.flags & ~(SA_SIGINFO | SA_RESTORER)) >>> 0;
  return `${h} ${hex(flags)} ${hex(signalsToBits(r.mask))}`;
}

function access(p: Process, name: string, addr: number, value: bigint): string {
  try {
    const mmu = p.mmu;
    switch (name) {
      case "load8":
        return hex(mmu.load8(addr));
      case "load16":
        return hex(mmu.load16(addr));
      case "load32":
        return hex(mmu.load32(addr));
      case "load64":
        return hex(mmu.load64(addr));
      case "store8":
        mmu.store8(addr, Number(value & 0xffn));
        return "0";
      case "store16":
        mmu.store16(addr, Number(value & 0xffffn));
        return "0";
      case "store32":
        mmu.store32(addr, Number(value & 0xffffffffn));
        return "0";
      default:
        mmu.store64(addr, value);
        return "0";
    }
  } catch (e) {
    if (!SignalError.is(e) || !e.handled) throw e;
    return `${e.signal} ${e.code} ${addrText(p, e.addr)}`;
  }
}
