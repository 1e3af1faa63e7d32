// A driver whose timer keeps running across a machine snapshot: the timer is named in its hooks.
import {
  type DriverDefinition,
  defineDriver,
  jiffies,
  Machine,
  modTimer,
  msecsToJiffies,
  type TimerList,
  timerSetup,
} from "@faultline/kernel";

/** "blinker": a timer_list that runs every 100 ms of virtual time and counts its runs. */
export function blinker(): DriverDefinition & { readonly blinks: () => number } {
  let blinks = 0;
  let timer: TimerList | null = null;
  const def = defineDriver({
    name: "blinker",
    apiVersion: 1,
    version: "1.0.0",
    snapshot: {
      version: 1,
      save: () => ({ blinks }),
      restore: (state) => {
        blinks = (state as { blinks: number }).blinks;
      },
      // The timer's function is code: the snapshot keeps its expiry under this name, and the
      // restored machine re-arms the timer init set up again under the same name.
      timers: () => (timer ? { blink: timer } : {}),
    },
    init() {
      timer = timerSetup({}, function blink(t) {
        blinks++;
        modTimer(t, jiffies() + msecsToJiffies(100));
      });
      modTimer(timer, jiffies() + msecsToJiffies(100));
      return 0;
    },
  });
  return { ...def, blinks: () => blinks };
}

export async function blinkAcrossSnapshot(): Promise<{ original: number; restored: number; clock: boolean }> {
  const drv = blinker();
  const m = await Machine.create({ ramBytes: 32 * 1024 * 1024, drivers: [drv] });
  m.advanceClock(250_000_000); // two blinks; the third is due at 300 ms (and a tick)
  const again = blinker();
  const r = await Machine.restore(m.snapshot(), { drivers: [again] });
  const clock = r.clockNs === m.clockNs && r.nextClockDeadline() === m.nextClockDeadline();
  m.advanceClock(1_000_000_000);
  r.advanceClock(1_000_000_000);
  return { original: drv.blinks(), restored: again.blinks(), clock };
}
