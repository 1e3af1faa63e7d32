// The Faultline side of the differential test: runs a script against Mm + Mmu (modern era) and
// prints the transcript the C oracle prints on the real kernel.
import { PhysMemory } from "@faultline/phys";
import {
  EBADF,
  EINVAL,
  errnoName,
  isErr,
  Mm,
  Mmu,
  renderMaps,
  ShmemFile,
  ShmemInode,
  ShmemSb,
  SignalError,
  smapsCounters,
} from "../../src/index";
import {
  DEFAULT_HOST_FEATURES,
  type HostMmFeatures,
  hostFeatures,
  PKEY_ALLOC_PROBE,
  pkeyAllocMismatch,
} from "./linux";
import { allocatesPkeys, type Op, parseScript, type Script } from "./script";
import { formatOpLines, type OpResult } from "./transcript";

const ARENA_LO = 0x1000_0000_0000;
const ARENA_HI = ARENA_LO + 0x1_0000_0000;

function sys(ret: number, addrResult: boolean): OpResult {
  if (isErr(ret)) return { type: "errno", errno: errnoName(ret) };
  return addrResult ? { type: "addr", addr: BigInt(ret) } : { type: "ok" };
}

function access(fn: () => bigint | undefined): OpResult {
  try {
    const v = fn();
    return v === undefined ? { type: "ok" } : { type: "value", value: v };
  } catch (e) {
    if (!SignalError.is(e)) throw e;
    return {
      type: "fault",
      signal: e.signal === "SIGBUS" ? "SIGBUS" : "SIGSEGV",
      // Faults only: SI_KERNEL (the kernel killed the process) prints as the oracle sees it.
      code: (e.code === "SI_KERNEL" ? "SEGV_MAPERR" : e.code) as Extract<OpResult, { type: "fault" }>["code"],
      addr: BigInt(e.addr),
    };
  }
}

/** A C int argument from its 64-bit script value. */
const cInt = (b: bigint) => Number(BigInt.asIntN(32, b));
/**
 * A 64-bit argument as the kernel's syscall layer passes one: its two's-complement value (2^64 - 1 is
 * -1, exact, where Number() would round it to 2^64).
 */
const s64 = (b: bigint) => Number(BigInt.asIntN(64, b));

/** A process's memfd slots (oracle.c's fds): the file of each, null once closed. */
type Slots = (ShmemFile | null)[];

/** The memfd ops, as the kernel's memfd_create/ftruncate/fallocate/pwrite/pread/fcntl/close answer them. */
function fileOp(mm: Mm, op: Op, slots: Slots): OpResult | null {
  const errno = (e: number): OpResult => ({ type: "errno", errno: errnoName(e) });
  const count = (r: number): OpResult =>
    isErr(r) ? errno(r) : r === 0 ? { type: "ok" } : { type: "value", value: BigInt(r) };
  const file = (slot: number) => slots[slot] ?? null;
  switch (op.kind) {
    case "memfd": {
      const inode = new ShmemInode(mm.mem, new ShmemSb(), "memfd:oracle");
      const r = inode.setSize(s64(op.size));
      if (r < 0) return errno(r);
      const f = new ShmemFile(inode, 0, "/memfd:oracle (deleted)");
      f.get();
      slots.push(f);
      return { type: "value", value: BigInt(slots.length - 1) };
    }
    case "mmapfd": {
      // ksys_mmap_pgoff(): the offset's alignment first, then the fd (unless MAP_ANONYMOUS).
      if (op.offset % 4096n) return errno(-EINVAL);
      const f = op.flags & 0x20 ? null : file(op.slot);
      if (!f && !(op.flags & 0x20)) return errno(-EBADF);
      const r = mm.mmap(Number(op.addr), Number(op.len), op.prot, op.flags, f, Number(op.offset));
      return isErr(r) ? errno(r) : { type: "addr", addr: BigInt(r) };
    }
    case "ftruncate": {
      const f = file(op.slot);
      if (!f) return errno(-EBADF);
      const size = s64(op.size);
      return count(size < 0 ? -EINVAL : f.inode.setSize(size));
    }
    case "fallocate": {
      const f = file(op.slot);
      return f ? count(f.inode.fallocate(op.mode, s64(op.offset), s64(op.len))) : errno(-EBADF);
    }
    case "pwrite": {
      const f = file(op.slot);
      if (!f) return errno(-EBADF);
      if (s64(op.offset) < 0) return errno(-EINVAL);
      return count(f.inode.write(s64(op.offset), new Uint8Array(Number(op.len)).fill(op.byte)));
    }
    case "pread": {
      const f = file(op.slot);
      if (!f) return errno(-EBADF);
      if (s64(op.offset) < 0) return errno(-EINVAL);
      const b = new Uint8Array(8);
      const n = f.inode.read(s64(op.offset), b);
      return { type: "read", count: n, value: new DataView(b.buffer).getBigUint64(0, true) };
    }
    case "seal": {
      const f = file(op.slot);
      return f ? count(f.inode.addSeals(op.seals)) : errno(-EBADF);
    }
    case "close": {
      const f = file(op.slot);
      if (!f) return errno(-EBADF);
      slots[op.slot] = null;
      f.put();
      return { type: "ok" };
    }
    default:
      return null;
  }
}

function runOps(mm: Mm, mmu: Mmu, script: Script, prefix: string, out: string[], slots: Slots = []): void {
  script.forEach((op: Op, i) => {
    const idx = `${prefix}${i}`;
    const n = (b: bigint) => Number(b);
    let r: OpResult;
    switch (op.kind) {
      case "mmap":
        r = sys(mm.mmap(s64(op.addr), s64(op.len), op.prot, op.flags, null, s64(op.offset ?? 0n)), true);
        break;
      case "munmap":
        r = sys(mm.munmap(s64(op.addr), s64(op.len)), false);
        break;
      case "mremap":
        r = sys(
          mm.mremap(s64(op.old), s64(op.oldLen), s64(op.newLen), op.flags, s64(op.newAddr ?? 0n)),
          true,
        );
        break;
      case "mprotect":
        r = sys(mm.mprotect(s64(op.addr), s64(op.len), op.prot), false);
        break;
      case "madvise":
        r = sys(mm.madvise(s64(op.addr), s64(op.len), op.advice), false);
        break;
      case "mlock":
        r = sys(mm.mlock(s64(op.addr), s64(op.len)), false);
        break;
      case "munlock":
        r = sys(mm.munlock(s64(op.addr), s64(op.len)), false);
        break;
      case "load":
        r = access(() => {
          const a = n(op.addr);
          if (op.width === 8) return BigInt(mmu.load8(a));
          if (op.width === 16) return BigInt(mmu.load16(a));
          if (op.width === 32) return BigInt(mmu.load32(a));
          return mmu.load64(a);
        });
        break;
      case "store":
        r = access(() => {
          const a = n(op.addr);
          const v = Number(op.value & 0xffffffffn);
          if (op.width === 8) mmu.store8(a, v & 0xff);
          else if (op.width === 16) mmu.store16(a, v & 0xffff);
          else if (op.width === 32) mmu.store32(a, v);
          else mmu.store64(a, op.value);
          return undefined;
        });
        break;
      case "maps": {
        const lines = renderMaps(mm)
          .split("\n")
          .filter((l) => {
            if (!l) return false;
            const [s, e] = l
              .split(" ")[0]!
              .split("-")
              .map((x) => Number.parseInt(x, 16));
            return e! > ARENA_LO && s! < ARENA_HI;
          });
        r = { type: "maps", lines };
        break;
      }
      case "rss": {
        let rssKb = 0;
        let anonKb = 0;
        for (const v of mm) {
          if (v.vmEnd <= ARENA_LO || v.vmStart >= ARENA_HI) continue;
          const c = smapsCounters(mm, v);
          rssKb += c.rss / 1024;
          anonKb += c.anonymous / 1024;
        }
        r = { type: "rss", rssKb, anonKb };
        break;
      }
      case "pkey_alloc": {
        // unsigned long arguments: keep "non-zero" and "above 3" exact for any 64-bit value
        const flags = op.flags === 0n ? 0 : 1;
        const init = op.init > 3n ? 4 : Number(op.init);
        const k = mm.pkeyAlloc(flags, init);
        r = k < 0 ? { type: "errno", errno: errnoName(k) } : { type: "addr", addr: BigInt(k) };
        break;
      }
      case "pkey_free":
        r = sys(mm.pkeyFree(cInt(op.pkey)), false);
        break;
      case "pkey_mprotect":
        r = sys(mm.pkeyMprotect(n(op.addr), n(op.len), op.prot, cInt(op.pkey)), false);
        break;
      case "pkey_get": {
        const v = mm.pkeyGet(cInt(op.key));
        r = v < 0 ? { type: "errno", errno: errnoName(v) } : { type: "value", value: BigInt(v) };
        break;
      }
      case "pkey_set":
        r = sys(mm.pkeySet(cInt(op.key), Number(BigInt.asUintN(32, op.rights))), false);
        break;
      case "memfd":
      case "mmapfd":
      case "ftruncate":
      case "fallocate":
      case "pwrite":
      case "pread":
      case "seal":
      case "close":
        r = fileOp(mm, op, slots) ?? { type: "ok" };
        break;
      case "fork": {
        const child = mm.fork();
        if (typeof child === "number") {
          r = { type: "errno", errno: errnoName(child) };
          break;
        }
        const cmmu = Mmu.forMm(child);
        // The child's fd table is a copy: each file gets a reference.
        const childSlots = slots.map((f) => {
          f?.get();
          return f;
        });
        runOps(child, cmmu, op.child, `${idx}.`, out, childSlots);
        child.exit();
        for (const f of childSlots) f?.put();
        r = { type: "exit", status: 0 };
        break;
      }
    }
    // The oracle catches a fault in a handler and siglongjmps out: the handler ran with PKRU reset.
    if (r.type === "fault") mm.pkeys.signalDelivered();
    out.push(...formatOpLines(idx, op, r));
    try {
      mm.checkInvariants();
    } catch (e) {
      throw new Error(`after op ${idx} (${formatOpLines(idx, op, r)[0]}): ${(e as Error).message}`);
    }
  });
}

/**
 * One 64 MiB physical memory reused by every run that is not given its own: each run frees everything
 * it took (checked below), and a fresh 64 MiB buffer per script made a test file running thousands of
 * scripts hold gigabytes of not-yet-collected buffers, so that spawning the C oracle failed with ENOMEM
 * (fork's commit accounting).
 */
let sharedMem: PhysMemory | null = null;

function defaultMem(): PhysMemory {
  if (!sharedMem) sharedMem = PhysMemory.create({ ramBytes: 64 * 1024 * 1024 });
  return sharedMem;
}

/**
 * A fresh process (mm) per script on a physical memory whose frames are all free; checks the mm and
 * allocator invariants and that every frame came back. `host` configures Faultline like the kernel it
 * is compared with (hostFeatures(), or a fixture's record).
 */
export function runOnFaultline(
  script: Script,
  mem: PhysMemory = defaultMem(),
  inspect?: (mm: Mm) => void,
  host: HostMmFeatures = DEFAULT_HOST_FEATURES,
): string[] {
  const before = mem.nrFreePages;
  const mm = new Mm(
    {
      mem,
      locatePage: (p) => mem.ramLocate(p),
      pageWritable: () => true,
      physRead: () => 0xffffffff,
      physWrite: () => {},
    },
    { pku: host.pku, zeroPage: host.zeroPage, mlockLimit: host.mlockLimit ?? Number.POSITIVE_INFINITY },
  );
  const mmu = Mmu.forMm(mm);
  const out: string[] = [];
  const slots: Slots = [];
  runOps(mm, mmu, script, "", out, slots);
  inspect?.(mm);
  mm.checkInvariants();
  mm.exit();
  for (const f of slots) f?.put();
  mem.checkInvariants();
  if (mem.nrFreePages !== before)
    throw new Error(`leak: ${before - mem.nrFreePages} pages not freed after exit`);
  return out;
}

/** Faultline configured like this machine's kernel (PKU, zero page): the side to diff with runOnLinux. */
export function runLikeHost(script: Script): string[] {
  return runOnFaultline(script, undefined, undefined, hostFeatures());
}

/**
 * Why a live comparison of `script` must be skipped on this host (it allocates protection keys and the
 * kernel's pkey_alloc without PKU is not the one Faultline models: pkeyAllocMismatch), or "".
 */
export function pkeyLiveSkip(script: Script): string {
  if (!allocatesPkeys(script)) return "";
  const modelled = runOnFaultline(parseScript(PKEY_ALLOC_PROBE), undefined, undefined, {
    ...hostFeatures(),
    pku: false,
  });
  const why = pkeyAllocMismatch(modelled);
  return why ? ` [SKIPPED: ${why}]` : "";
}
