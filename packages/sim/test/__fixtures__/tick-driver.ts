// A test-local driver with a kernel timer: every 5 jiffies (20 ms of virtual time) it counts a tick;
// ioctl(TICKS) on /dev/ticker answers the count.
import {
  type DriverDefinition,
  defineDriver,
  jiffies,
  modTimer,
  type TimerList,
  timerSetup,
} from "@faultline/kernel";

export const TICKS = 0x5401;

export function ticker(): DriverDefinition {
  let ticks = 0;
  let timer: TimerList | null = null;
  return defineDriver({
    name: "ticker",
    apiVersion: 1,
    init(ctx) {
      timer = timerSetup({}, function tick(t) {
        ticks++;
        modTimer(t, jiffies() + 5);
      });
      modTimer(timer, jiffies() + 5);
      const major = ctx.allocChrdevRegion(0, 1, "ticker");
      ctx.cdevAdd(major, 0, 1, {
        unlockedIoctl: (_file, cmd) => (cmd === TICKS ? ticks : -25),
      });
      ctx.createDevNode("ticker", major, 0);
      return 0;
    },
  });
}
