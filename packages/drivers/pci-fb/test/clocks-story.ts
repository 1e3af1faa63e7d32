// Processes' clocks (docs/write-a-pci-driver.md, "Time"): the wall clock from the machine's boot
// time, a sleep that an alarm cuts short (-EINTR, the time left in rem), CPU time, and a driver's
// deferrable timer that waits for the CPU to be busy.
import {
  CLOCK_PROCESS_CPUTIME_ID,
  CLOCK_REALTIME,
  defineDriver,
  INITIAL_JIFFIES,
  jiffies,
  Machine,
  modTimer,
  SIGALRM,
  TICK_NSEC,
  TIMER_DEFERRABLE,
  timerSetup,
} from "@faultline/kernel";

/** A module whose deferrable timer is due 100 ms after boot: it notes the jiffy it ran at. */
function lazy(ran: number[]) {
  return defineDriver({
    name: "lazy",
    apiVersion: 1,
    init() {
      const t = timerSetup({}, () => ran.push(jiffies() - INITIAL_JIFFIES), TIMER_DEFERRABLE);
      modTimer(t, jiffies() + 25);
      return 0;
    },
  });
}

/** The two fields of a struct timespec buffer. */
const timespec = (b: Uint8Array) => {
  const v = new DataView(b.buffer);
  return [v.getBigInt64(0, true), v.getBigInt64(8, true)];
};

export async function main() {
  const ran: number[] = [];
  // The wall clock reads bootTime (seconds since the Epoch) at boot: 2026-01-01T00:00:00Z here.
  const m = await Machine.create({ ramBytes: 16 << 20, bootTime: 1_767_225_600, drivers: [lazy(ran)] });
  const p = m.spawn();
  const tp = new Uint8Array(16);
  p.sys.clockGettime(CLOCK_REALTIME, tp);
  const wallAtBoot = timespec(tp);
  // An alarm in 1 s, caught: the 3 s sleep ends early with -EINTR and the time left.
  const caught: number[] = [];
  p.sys.sigaction(SIGALRM, { handler: () => caught.push(m.clockNs) });
  p.sys.alarm(1);
  const rem = new Uint8Array(16);
  const slept = p.sys.nanosleep(3, 0, rem);
  // The CPU idled through the sleep: the deferrable timer, due at 100 ms, has not run.
  const ranDuringSleep = ran.length;
  // Five kernel entries so far, 1 µs of CPU time each (this one included).
  const cpuNs = p.sys.clockGettime(CLOCK_PROCESS_CPUTIME_ID);
  // That entry made the CPU busy: its next tick runs the deferrable timer.
  m.advanceClock(TICK_NSEC);
  return { machine: m, wallAtBoot, slept, left: timespec(rem), caught, ranDuringSleep, cpuNs, ran };
}
