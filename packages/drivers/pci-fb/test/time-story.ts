// Time (docs/write-a-pci-driver.md, "Time"): the machine's virtual clock moves only when told to.
// fl-fb raises its vblank 60 times a second from a device timer, fl_fb's handler counts them, and a
// second module keeps a timer_list on the same clock.
import { pciFramebuffer } from "@faultline/devices";
import {
  defineDriver,
  INITIAL_JIFFIES,
  jiffies,
  Machine,
  modTimer,
  msecsToJiffies,
  O_RDWR,
  type TimerList,
  timerDelete,
  timerSetup,
} from "@faultline/kernel";
import { FLFB_GET_VBLANKS, pciFb } from "../src/index";

/** A module whose timer runs every 250 ms and notes the jiffy it ran at (counted from boot). */
function heartbeat(beats: number[]) {
  let timer: TimerList | null = null;
  return defineDriver({
    name: "heartbeat",
    apiVersion: 1,
    init() {
      timer = timerSetup({}, function beat(t) {
        beats.push(jiffies() - INITIAL_JIFFIES);
        modTimer(t, jiffies() + msecsToJiffies(250));
      });
      modTimer(timer, jiffies() + msecsToJiffies(250));
      return 0;
    },
    exit() {
      timerDelete(timer!);
    },
  });
}

export async function main() {
  const beats: number[] = [];
  const m = await Machine.create({
    ramBytes: 16 << 20,
    devices: [pciFramebuffer()],
    drivers: [pciFb(), heartbeat(beats)],
  });
  const p = m.spawn();
  const fd = p.libc.open("/dev/flfb0", O_RDWR);
  // One second of virtual time: every timer fires at its own instant, with the interrupts it raises.
  const events = m.advanceClock(1_000_000_000);
  const vblanksAfterOneSecond = p.libc.ioctl(fd, FLFB_GET_VBLANKS, 0);
  // A process that sleeps lets time pass too (on an in-thread machine nothing else runs meanwhile).
  p.libc.nanosleep(0, 100_000_000);
  return {
    machine: m,
    firstEvents: events.slice(0, 4),
    vblanksAfterOneSecond,
    vblanksAfterSleep: p.libc.ioctl(fd, FLFB_GET_VBLANKS, 0),
    clockNs: m.clockNs,
    beats,
    interrupts: m.procText("/proc/interrupts"),
  };
}
