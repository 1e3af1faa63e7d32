import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  HW_DMA,
  HW_ISA_PROGRAM,
  HW_ISA_RESIDUE,
  HW_KICK,
  HW_MASTER,
  HW_MSIS,
  HW_POLL_TOGGLE,
  HW_POLLS,
  HW_POOL_ALLOC,
  HW_WATCHDOGS,
  hwDevice,
  hwDriver,
} from "../__fixtures__/hw-driver";
import {
  FOLL_LONGTERM,
  FOLL_WRITE,
  gupPinCount,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  Machine,
  MREMAP_MAYMOVE,
  O_CREAT,
  O_RDWR,
  type Page,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  pinUserPages,
  SignalError,
} from "../index";

const RAM = 8 * 1024 * 1024;
const PAGE = 4096;

/** One machine operation, its arguments as small numbers resolved against the machine's state. */
type Op =
  | { k: "mmap"; p: number; pages: number; prot: number; shared: boolean; file: number }
  | { k: "munmap"; p: number; v: number; off: number; pages: number }
  | { k: "mprotect"; p: number; v: number; prot: number }
  | { k: "mremap"; p: number; v: number; pages: number }
  | { k: "store"; p: number; v: number; off: number; byte: number }
  | { k: "load"; p: number; v: number; off: number }
  | { k: "fork"; p: number }
  | { k: "exit"; p: number }
  | { k: "write"; p: number; file: number; byte: number; off: number }
  | { k: "shmat"; p: number; key: number; pages: number; rmid: boolean }
  // The PCI device and its driver (hw-driver.ts): time passing, an ioctl, a mapping of its RAM BAR.
  | { k: "tick"; ms: number }
  | { k: "hw"; p: number; cmd: number; arg: number }
  | { k: "devmap"; p: number; pages: number };

const proc = fc.nat(7);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    k: fc.constant("mmap" as const),
    p: proc,
    pages: fc.integer({ min: 1, max: 4 }),
    prot: fc.constantFrom(PROT_READ, PROT_READ | PROT_WRITE, PROT_NONE),
    shared: fc.boolean(),
    file: fc.integer({ min: -1, max: 2 }),
  }),
  fc.record({
    k: fc.constant("munmap" as const),
    p: proc,
    v: fc.nat(5),
    off: fc.nat(3),
    pages: fc.integer({ min: 1, max: 3 }),
  }),
  fc.record({
    k: fc.constant("mprotect" as const),
    p: proc,
    v: fc.nat(5),
    prot: fc.constantFrom(PROT_READ, PROT_READ | PROT_WRITE, PROT_NONE),
  }),
  fc.record({
    k: fc.constant("mremap" as const),
    p: proc,
    v: fc.nat(5),
    pages: fc.integer({ min: 1, max: 6 }),
  }),
  fc.record({
    k: fc.constant("store" as const),
    p: proc,
    v: fc.nat(5),
    off: fc.nat(5 * PAGE),
    byte: fc.nat(255),
  }),
  fc.record({
    k: fc.constant("store" as const),
    p: proc,
    v: fc.nat(5),
    off: fc.nat(5 * PAGE),
    byte: fc.nat(255),
  }),
  fc.record({ k: fc.constant("load" as const), p: proc, v: fc.nat(5), off: fc.nat(5 * PAGE) }),
  fc.record({ k: fc.constant("fork" as const), p: proc }),
  fc.record({ k: fc.constant("exit" as const), p: proc }),
  fc.record({
    k: fc.constant("write" as const),
    p: proc,
    file: fc.nat(2),
    byte: fc.nat(255),
    off: fc.nat(3 * PAGE),
  }),
  fc.record({
    k: fc.constant("shmat" as const),
    p: proc,
    key: fc.nat(2),
    pages: fc.integer({ min: 1, max: 2 }),
    rmid: fc.boolean(),
  }),
  fc.record({ k: fc.constant("tick" as const), ms: fc.integer({ min: 1, max: 90 }) }),
  fc.record({
    k: fc.constant("hw" as const),
    p: proc,
    cmd: fc.constantFrom(HW_KICK, HW_POLL_TOGGLE, HW_DMA, HW_POOL_ALLOC, HW_ISA_PROGRAM, HW_MASTER),
    arg: fc.nat(0xffff),
  }),
  fc.record({ k: fc.constant("devmap" as const), p: proc, pages: fc.integer({ min: 1, max: 3 }) }),
);

/** Files the operations use: a tmpfs file, a memfd, /dev/zero, the PCI driver's node (opened per process as needed). */
const FILES = ["/tmp/f", "memfd", "/dev/zero", "/dev/hw0"] as const;

/** Applies `op` to `m`; returns what a program would observe (a number or a fault's description). */
function apply(m: Machine, op: Op): string {
  if (op.k === "tick") return String(m.advanceClock(op.ms * 1_000_000).length);
  const live = m.processes().filter((p) => p.state === "running");
  if (live.length === 0) return "none";
  const p = live[op.p % live.length]!;
  const vmas = [...p.mm.vmas];
  const vma = "v" in op && vmas.length ? vmas[op.v % vmas.length]! : null;
  const fdOf = (i: number): number => {
    const key = `${p.pid}:${i}`;
    const fd = fds.get(m)?.get(key);
    if (fd !== undefined) return fd;
    const n = FILES[i]! === "memfd" ? p.sys.memfdCreate("m") : p.sys.open(FILES[i]!, O_RDWR | O_CREAT, 0o600);
    if (n >= 0 && !FILES[i]!.startsWith("/dev/")) p.sys.ftruncate(n, 4 * PAGE);
    fds.get(m)!.set(key, n);
    return n;
  };
  try {
    switch (op.k) {
      case "mmap": {
        const fd = op.file < 0 ? -1 : fdOf(op.file);
        const flags = (op.shared ? MAP_SHARED : MAP_PRIVATE) | (fd < 0 ? MAP_ANONYMOUS : 0);
        return String(p.sys.mmap(0, op.pages * PAGE, op.prot, flags, fd, 0));
      }
      case "munmap":
        return vma ? String(p.sys.munmap(vma.vmStart + op.off * PAGE, op.pages * PAGE)) : "-";
      case "mprotect":
        return vma ? String(p.sys.mprotect(vma.vmStart, vma.vmEnd - vma.vmStart, op.prot)) : "-";
      case "mremap":
        return vma
          ? String(p.sys.mremap(vma.vmStart, vma.vmEnd - vma.vmStart, op.pages * PAGE, MREMAP_MAYMOVE))
          : "-";
      case "store":
        if (!vma) return "-";
        p.mmu.store8(vma.vmStart + (op.off % (vma.vmEnd - vma.vmStart)), op.byte);
        return "ok";
      case "load":
        return vma ? String(p.mmu.load8(vma.vmStart + (op.off % (vma.vmEnd - vma.vmStart)))) : "-";
      case "fork": {
        const pid = p.sys.fork();
        // The child's fds are the parent's.
        for (const [key, fd] of [...fds.get(m)!])
          if (key.startsWith(`${p.pid}:`)) fds.get(m)!.set(`${pid}:${key.split(":")[1]}`, fd);
        return String(pid);
      }
      case "exit":
        return String(p.sys.exit(0));
      case "shmat": {
        // SysV: a keyed or private segment, attached; IPC_RMID marks it for destruction at the last detach.
        const id = p.sys.shmget(op.key, op.pages * PAGE, 0o1000 | 0o600);
        if (id < 0) return String(id);
        const at = p.sys.shmat(id, 0, 0);
        return `${at} ${op.rmid ? p.sys.shmctl(id, 0, null) : ""}`;
      }
      case "hw":
        return String(p.sys.ioctl(fdOf(3), op.cmd, op.arg));
      case "devmap":
        return String(p.sys.mmap(0, op.pages * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fdOf(3), 0));
      case "write": {
        const fd = fdOf(op.file);
        p.sys.lseek(fd, op.off, 0);
        return String(p.sys.write(fd, new Uint8Array([op.byte, op.byte ^ 0x5a])));
      }
    }
  } catch (e) {
    if (SignalError.is(e)) return `signal ${e.signal} ${e.code}`;
    throw e;
  }
}

const fds = new WeakMap<Machine, Map<string, number>>();

/** Everything observable: /proc files, the log, each process's memory through its MMU. */
function observe(m: Machine): string {
  const out = [
    m.procText("/proc/sysvipc/shm"),
    m.procText("/proc/meminfo"),
    m.procText("/proc/iomem"),
    m.procText("/proc/buddyinfo"),
    m.procText("/proc/interrupts"),
    m.procText("/proc/dma"),
    m.procText("/proc/bus/pci/devices"),
    m.procText("/sys/kernel/debug/x86/pat_memtype_list"),
    `clock ${m.clockNs} next ${m.nextClockDeadline()}`,
    m.dmesg().join("\n"),
    m.console(),
  ];
  const init = m.process(1)!;
  if (init.state === "running") {
    const fd = init.sys.open("/dev/hw0", O_RDWR) as number;
    for (const c of [HW_MSIS, HW_POLLS, HW_WATCHDOGS, HW_ISA_RESIDUE])
      out.push(`hw ${c} ${init.sys.ioctl(fd, c)}`);
    init.sys.close(fd);
  }
  for (const p of m.processes()) {
    out.push(`pid ${p.pid} ${p.state}`);
    if (p.state !== "running") continue;
    // CLOCK_PROCESS_CPUTIME_ID and CLOCK_REALTIME (both machines charge this syscall alike).
    out.push(`cpu ${p.sys.clockGettime(2)} real ${p.sys.clockGettime(0)}`);
    out.push(m.procText(`/proc/${p.pid}/maps`), m.procText(`/proc/${p.pid}/smaps`));
    for (const v of p.mm.vmas) {
      if (!(v.vmFlags & 1)) continue; // VM_READ
      try {
        out.push(Buffer.from(p.mmu.read(v.vmStart, v.vmEnd - v.vmStart)).toString("base64"));
      } catch (e) {
        out.push(SignalError.is(e) ? `signal ${e.signal}` : String(e));
      }
    }
  }
  return out.join("\n---\n");
}

/** The PCI device and driver, new instances for each machine. */
const parts = () => ({ devices: [hwDevice()], drivers: [hwDriver()] });

async function run(ops: readonly Op[], cut: number): Promise<void> {
  const a = await Machine.create({ ramBytes: RAM, ...parts() });
  fds.set(a, new Map());
  a.spawn({ name: "init" });
  const before = ops.slice(0, cut).map((op) => apply(a, op));
  a.checkInvariants();
  const bytes = a.snapshot();
  const b = await Machine.restore(bytes, parts());
  b.checkInvariants();
  fds.set(b, new Map(fds.get(a)));
  expect(observe(b)).toBe(observe(a));
  for (const op of ops.slice(cut)) expect(apply(b, op)).toBe(apply(a, op));
  a.checkInvariants();
  b.checkInvariants();
  expect(observe(b)).toBe(observe(a));
  expect(before.length).toBe(cut);
}

describe("machine snapshots: restore and continue", () => {
  it("a restored machine does what the original does, byte for byte (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), fc.nat(40), async (ops, cut) => {
        await run(ops, cut % (ops.length + 1));
      }),
      { numRuns: 40 },
    );
  }, 120_000);

  it("keeps FOLL_PIN pins (a driver holding user pages for DMA across syscalls)", async () => {
    const a = await Machine.create({ ramBytes: RAM });
    const p = a.spawn({ name: "dio" });
    const buf = p.sys.mmap(0, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    const pages: Page[] = [];
    expect(a.syscall(p, "ioctl", () => pinUserPages(buf, 2, FOLL_WRITE | FOLL_LONGTERM, pages))).toBe(2);
    const b = await Machine.restore(a.snapshot());
    b.checkInvariants();
    for (const pg of pages) expect(gupPinCount(b, pg.pfn)).toBe(gupPinCount(a, pg.pfn));
    expect(gupPinCount(b, pages[0]!.pfn)).toBe(1);
  });

  it("keeps anonymous memory, COW sharing after fork, and tmpfs/memfd page caches", async () => {
    const a = await Machine.create({ ramBytes: RAM });
    fds.set(a, new Map());
    const p = a.spawn({ name: "w" });
    const addr = p.sys.mmap(0, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    p.mmu.write(addr, [1, 2, 3]);
    const child = a.process(p.sys.fork())!;
    const fd = p.sys.open("/tmp/x", O_RDWR | O_CREAT, 0o644);
    p.sys.write(fd, "hello");
    const b = await Machine.restore(a.snapshot());
    const q = b.process(p.pid)!;
    const c = b.process(child.pid)!;
    expect([...q.mmu.read(addr, 3)]).toEqual([1, 2, 3]);
    // COW: the child's write does not reach the parent, on the restored machine too.
    c.mmu.store8(addr, 9);
    expect(q.mmu.load8(addr)).toBe(1);
    expect(c.mmu.load8(addr)).toBe(9);
    q.sys.lseek(fd, 0, 0);
    expect(new TextDecoder().decode(q.sys.read(fd, 5) as Uint8Array)).toBe("hello");
    expect(b.procText(`/proc/${p.pid}/maps`)).toBe(a.procText(`/proc/${p.pid}/maps`));
    b.checkInvariants();
    expect(MAP_FIXED).toBeGreaterThan(0);
  });
});
