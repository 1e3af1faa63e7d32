// Machine snapshots of the kernel's time state: the wall clock (MachineOptions.bootTime, the offset
// clock_settime left, the coarse clocks' last settime), each task's CPU time, CAP_SYS_TIME, and
// processes' alarm(2) timers. A restored machine reads every clock as the original does and its
// alarms fire at the same virtual instants; the same operations afterwards give the same results
// (a property test over random operations split at a random point). A sleep the simulator parked
// cannot be saved and is refused when the snapshot is taken; tampered time sections are refused.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesOf, stateOf, timespec } from "../__fixtures__/test-helpers";
import {
  CLOCK_BOOTTIME,
  CLOCK_BOOTTIME_ALARM,
  CLOCK_MONOTONIC,
  CLOCK_MONOTONIC_COARSE,
  CLOCK_MONOTONIC_RAW,
  CLOCK_PROCESS_CPUTIME_ID,
  CLOCK_REALTIME,
  CLOCK_REALTIME_ALARM,
  CLOCK_REALTIME_COARSE,
  CLOCK_TAI,
  CLOCK_THREAD_CPUTIME_ID,
  CLONE_PTHREAD,
  CPUCLOCK_SCHED,
  driveClockExternally,
  EPERM,
  endSleep,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  Machine,
  makeProcessCpuclock,
  makeThreadCpuclock,
  PROT_READ,
  PROT_WRITE,
  SIGALRM,
  SnapshotError,
  takeSleep,
} from "../index";
import type { MachineState } from "./state";

const RAM = 16 * 1024 * 1024;
const S = 1_000_000_000;
const PAGE = 4096;
/** A user-space handler address: delivery leaves a frame and a handled-signal record. */
const HANDLER = 0x401000;
const BOOT = 1_600_000_000;
// Syscalls below are clock_gettime: getpid and gettid do not enter the kernel here (no CPU time, no
// signal delivery).

const CLOCKS = [
  CLOCK_REALTIME,
  CLOCK_MONOTONIC,
  CLOCK_PROCESS_CPUTIME_ID,
  CLOCK_THREAD_CPUTIME_ID,
  CLOCK_MONOTONIC_RAW,
  CLOCK_REALTIME_COARSE,
  CLOCK_MONOTONIC_COARSE,
  CLOCK_BOOTTIME,
  CLOCK_REALTIME_ALARM,
  CLOCK_BOOTTIME_ALARM,
  CLOCK_TAI,
];

/** Every clock as each live task reads it (clock_gettime into a timespec), and the other processes' CPU clocks. */
function clocks(m: Machine, pids: readonly number[]): string[] {
  const out: string[] = [];
  const tp = new Uint8Array(16);
  for (const pid of pids) {
    const p = m.process(pid);
    if (p?.state !== "running") continue;
    const ids = [
      ...CLOCKS,
      ...pids.flatMap((o) => [makeProcessCpuclock(o, CPUCLOCK_SCHED), makeThreadCpuclock(o, CPUCLOCK_SCHED)]),
    ];
    for (const id of ids) {
      tp.fill(0);
      const rc = p.sys.clockGettime(id, tp);
      out.push(`${pid} ${id}: ${rc} ${timespec(tp).join(".")}`);
    }
  }
  return out;
}

/** What a test compares: the clocks, each process's /proc stat, state, signals, the log, the clock's deadlines. */
function observe(m: Machine, pids: readonly number[]): string {
  const out = clocks(m, pids);
  for (const pid of pids) {
    const p = m.process(pid);
    out.push(
      `${pid} ${p?.state} ${p?.exitSignal ?? "-"} ${JSON.stringify(p?.handledSignals ?? [])}`,
      m.procText(`/proc/${pid}/stat`) ?? "",
    );
  }
  out.push(m.procText("/proc/interrupts") ?? "", m.dmesg().join("\n"));
  out.push(`clock ${m.clockNs} next ${m.nextClockDeadline()}`);
  return out.join("\n");
}

/**
 * A machine with a moved wall clock, CPU time spent (syscalls, faults, a thread's), a process
 * without CAP_SYS_TIME, and two alarms armed: one caught by a handler, one that kills.
 */
async function sample() {
  const m = await Machine.create({ ramBytes: RAM, bootTime: BOOT });
  const a = m.spawn({ name: "caught" });
  const b = m.spawn({ name: "killed" });
  const c = m.spawn({ name: "nocap" });
  a.sys.sigaction(SIGALRM, { handler: HANDLER });
  m.advanceClock(1_234_567_891); // not on a tick: the coarse clocks lag
  expect(a.sys.clockSettime(CLOCK_REALTIME, BOOT + 86_400, 500)).toBe(0);
  m.advanceClock(3_333_333); // the coarse clocks: the later of the last tick and the settime
  const addr = a.sys.mmap(0, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  for (let i = 0; i < 4; i++) a.mmu.store8(addr + i * PAGE, i + 1); // page faults: CPU time
  for (let i = 0; i < 7; i++) b.sys.clockGettime(CLOCK_MONOTONIC);
  const tid = a.libc.clone(CLONE_PTHREAD);
  m.process(tid)!.sys.clockGettime(CLOCK_MONOTONIC);
  c.task.capSysTime = false;
  expect(a.sys.alarm(3)).toBe(0);
  expect(b.sys.alarm(5)).toBe(0);
  const armedAt = m.clockNs;
  m.advanceClock(777);
  return { m, pids: [a.pid, b.pid, c.pid, tid], armedAt };
}

describe("the kernel's time state across a snapshot", () => {
  it("every clock, CPU clock and /proc view reads the same; the alarms fire at the same instants", async () => {
    const { m, pids, armedAt: armed } = await sample();
    const [a, b, c] = pids as [number, number, number];
    const r = await Machine.restore(m.snapshot());
    r.checkInvariants();
    const before = observe(m, pids);
    expect(observe(r, pids)).toBe(before);
    // The wall clock is the settime's, not the boot time's; the coarse one the settime's instant.
    expect(before).toMatch(new RegExp(`${a} 0: 0 ${BOOT + 86_400}\\.`));
    // CAP_SYS_TIME: the process that lacked it still does; the one that had it sets the clock.
    for (const x of [m, r]) {
      expect(x.process(c)!.sys.clockSettime(CLOCK_REALTIME, BOOT, 0)).toBe(-EPERM);
      expect(x.process(a)!.sys.clockSettime(CLOCK_REALTIME, BOOT + 100, 0)).toBe(0);
    }
    expect(observe(r, pids)).toBe(observe(m, pids));
    // The alarms: a's at 3 s after arming (caught at its next syscall), b's at 5 s (kills at once).
    for (const x of [m, r]) {
      x.advanceClock(armed + 3 * S - x.clockNs - 1);
      expect(x.process(a)!.sys.alarm(0)).toBe(1); // 1 ns left: never 0 while pending
      expect(x.process(a)!.sys.alarm(1)).toBe(0);
    }
    for (const x of [m, r]) {
      x.advanceClock(Math.floor(1.5 * S));
      x.process(a)!.sys.clockGettime(CLOCK_MONOTONIC);
      expect(x.process(a)!.handledSignals.map((h) => h.signal)).toEqual(["SIGALRM"]);
      x.advanceClock(armed + 5 * S - x.clockNs - 1);
      expect(x.process(b)!.state).toBe("running");
      x.advanceClock(1);
      expect(x.process(b)!.state).toBe("zombie");
      expect(x.process(b)!.exitSignal).toBe("SIGALRM");
    }
    expect(observe(r, pids)).toBe(observe(m, pids));
    expect(r.nextClockDeadline()).toBe(m.nextClockDeadline());
    r.checkInvariants();
  });

  it("the saved config carries bootTime and a restored machine boots with it", async () => {
    const m = await Machine.create({ ramBytes: RAM, bootTime: BOOT });
    const p = m.spawn();
    m.advanceClock(5 * S);
    const bytes = m.snapshot();
    const st = stateOf(bytes);
    expect(st.config.bootTime).toBe(BOOT);
    expect(st.kernel.tasks[0]!.capSysTime).toBe(true);
    const r = await Machine.restore(bytes);
    expect(r.process(p.pid)!.sys.clockGettime(CLOCK_REALTIME)).toBe((BOOT + 5) * S);
    expect(bootTimeOfRestored(r)).toBe(BOOT);
  });

  it("alarms whose timers have a free one between them: each fires for its process at its instant, and the free timer serves the next alarm", async () => {
    const m = await Machine.create({ ramBytes: RAM });
    const [a, b, c] = [m.spawn(), m.spawn(), m.spawn()];
    expect([a.sys.alarm(3), b.sys.alarm(2), c.sys.alarm(4)]).toEqual([0, 0, 0]);
    expect(b.sys.alarm(0)).toBe(2); // its timer (the second) is free
    m.advanceClock(S);
    expect(stateOf(m.snapshot()).hw.alarms).toEqual([
      [0, a.pid],
      [2, c.pid],
    ]);
    const r = await Machine.restore(m.snapshot());
    expect(r.nextClockDeadline()).toBe(m.nextClockDeadline());
    for (const x of [m, r]) expect(x.process(b.pid)!.sys.alarm(1)).toBe(0);
    const [before, after] = [m, r].map((x) => x.advanceClock(4 * S));
    expect(after).toEqual(before);
    expect(before!.map((e) => [e.ns, (e as { name: string }).name])).toEqual([
      [2 * S, `pid ${b.pid}: it_real_fn`],
      [3 * S, `pid ${a.pid}: it_real_fn`],
      [4 * S, `pid ${c.pid}: it_real_fn`],
    ]);
    for (const x of [m, r])
      expect([a, b, c].map((p) => x.process(p.pid)!.exitSignal)).toEqual(["SIGALRM", "SIGALRM", "SIGALRM"]);
  });

  it("an alarm disarmed before the snapshot stays disarmed; one armed after restore works", async () => {
    const m = await Machine.create({ ramBytes: RAM });
    const p = m.spawn();
    p.sys.alarm(4);
    expect(p.sys.alarm(0)).toBe(4);
    const r = await Machine.restore(m.snapshot());
    for (const x of [m, r]) {
      const q = x.process(p.pid)!;
      expect(x.nextClockDeadline()).toBeNull();
      expect(q.sys.alarm(2)).toBe(0);
      x.advanceClock(2 * S);
      expect(q.state).toBe("zombie");
    }
    expect(r.clockNs).toBe(m.clockNs);
  });
});

/** The boot time the restored machine was created with, read back through its own snapshot's config. */
function bootTimeOfRestored(r: Machine): number | undefined {
  return stateOf(r.snapshot()).config.bootTime;
}

describe("time state that cannot be saved, or that is tampered with", () => {
  it("refuses a sleep the simulator parked, naming the process, and takes the snapshot once it ended", async () => {
    const m = await Machine.create({ ramBytes: RAM });
    const p = m.spawn();
    driveClockExternally(m);
    expect(p.sys.nanosleep(1, 0)).toBe(0); // parked: the simulator would hold its worker here
    expect(takeSleep(m, p.pid)).toBe(S + 50_000);
    expect(() => m.snapshot()).toThrow(SnapshotError);
    expect(() => m.snapshot()).toThrow(
      new RegExp(
        `process ${p.pid} is asleep in nanosleep/clock_nanosleep .*cannot hold a syscall in progress`,
      ),
    );
    m.advanceClock(S + 50_000);
    expect(endSleep(m, p.pid)).toBe(0);
    const r = await Machine.restore(m.snapshot());
    expect(r.clockNs).toBe(m.clockNs);
  });

  it("refuses an armed alarm of a process the snapshot does not have, a bad wall clock, a bad bootTime", async () => {
    const { m } = await sample();
    const good = m.snapshot();
    const reject = async (s: MachineState) => {
      try {
        await Machine.restore(bytesOf(s));
        return "restored";
      } catch (e) {
        expect(e).toBeInstanceOf(SnapshotError);
        return (e as Error).message;
      }
    };
    const s1 = stateOf(good);
    (s1.hw.alarms as [number, number][])[0]![1] = 99;
    expect(await reject(s1)).toMatch(/alarm of pid 99: armed in the snapshot, and no such process runs/);
    const s5 = stateOf(good);
    (s5.hw.alarms as [number, number][]).pop();
    expect(await reject(s5)).toMatch(
      /timer ITIMER_REAL #1 was armed in the snapshot and no process's alarm holds it/,
    );
    const s6 = stateOf(good);
    (s6.hw.clock.armed as [string, number, number, number][]).splice(
      s6.hw.clock.armed.findIndex((a) => a[0] === "ITIMER_REAL"),
      1,
    );
    expect(await reject(s6)).toMatch(/alarms: 2 in the snapshot, 1 of them armed on its clock/);
    const s2 = stateOf(good);
    (s2.hw as { timekeeper: unknown }).timekeeper = ["-5", 0];
    expect(await reject(s2)).toMatch(/timekeeper: offs_real/);
    const s3 = stateOf(good);
    (s3.config as { bootTime: unknown }).bootTime = -1;
    expect(await reject(s3)).toMatch(/does not boot: bootTime/);
    const s4 = stateOf(good);
    (s4.config as { bootTime: unknown }).bootTime = "soon";
    expect(await reject(s4)).toMatch(/does not boot: bootTime/);
    expect(await reject(stateOf(good))).toBe("restored");
  });
});

describe("property: the same operations after a restore give the same results", () => {
  type Op =
    | { readonly k: "advance"; readonly ns: number }
    | { readonly k: "settime"; readonly sec: number; readonly who: number }
    | { readonly k: "alarm"; readonly sec: number; readonly who: number }
    | { readonly k: "syscalls"; readonly n: number; readonly who: number }
    | { readonly k: "dropcap"; readonly who: number };
  const who = fc.integer({ min: 0, max: 1 });
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ k: fc.constant("advance" as const), ns: fc.integer({ min: 0, max: 3 * S }) }),
    fc.record({ k: fc.constant("settime" as const), sec: fc.integer({ min: 0, max: 2 * BOOT }), who }),
    fc.record({ k: fc.constant("alarm" as const), sec: fc.integer({ min: 0, max: 4 }), who }),
    fc.record({ k: fc.constant("syscalls" as const), n: fc.integer({ min: 1, max: 5 }), who }),
    fc.record({ k: fc.constant("dropcap" as const), who }),
  );

  /** Runs `ops` on `m`, each op's result as a line. */
  function run(m: Machine, pids: readonly number[], ops: readonly Op[]): string[] {
    const out: string[] = [];
    for (const o of ops) {
      if (o.k === "advance") {
        m.advanceClock(o.ns);
        out.push(`t ${m.clockNs}`);
        continue;
      }
      const p = m.process(pids[o.who]!);
      if (p?.state !== "running") {
        out.push("gone");
        continue;
      }
      if (o.k === "settime") out.push(`settime ${p.sys.clockSettime(CLOCK_REALTIME, o.sec, 0)}`);
      else if (o.k === "alarm") out.push(`alarm ${p.sys.alarm(o.sec)}`);
      else if (o.k === "syscalls") for (let i = 0; i < o.n; i++) p.sys.clockGettime(CLOCK_MONOTONIC);
      else p.task.capSysTime = false;
    }
    return out;
  }

  it("wall clock, coarse clocks, CPU clocks, CAP_SYS_TIME and alarms", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { maxLength: 12 }),
        fc.array(op, { maxLength: 12 }),
        async (pre, post) => {
          const m = await Machine.create({ ramBytes: RAM, bootTime: BOOT });
          const a = m.spawn();
          const b = m.spawn();
          a.sys.sigaction(SIGALRM, { handler: HANDLER });
          const pids = [a.pid, b.pid];
          run(m, pids, pre);
          const r = await Machine.restore(m.snapshot());
          expect(observe(r, pids)).toBe(observe(m, pids));
          expect(run(r, pids, post)).toEqual(run(m, pids, post));
          expect(observe(r, pids)).toBe(observe(m, pids));
        },
      ),
      { numRuns: 8 },
    );
  });
});
