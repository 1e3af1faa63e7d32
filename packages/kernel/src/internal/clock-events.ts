/**
 * What happened on the virtual clock while it advanced: timers that expired (device models' and
 * drivers') and interrupts delivered, in order, each at its virtual time. Machine.advanceClock hands
 * them out; the simulator writes them into a deterministic run's trace.
 */
import type { Kernel } from "./kernel";
import { RECORDED_BY_HOLDER } from "./timer-pool";

/** One thing the clock made happen. */
export type ClockEvent =
  | {
      /** Virtual time (ns since boot). */
      readonly ns: number;
      readonly kind: "timer";
      /** "<device>: <name>" for a device model's timer, "<module>: <function>" for a driver's. */
      readonly name: string;
    }
  | {
      readonly ns: number;
      readonly kind: "irq";
      readonly irq: number;
      /** The irq's count in /proc/interrupts after this one. */
      readonly count: number;
    };

const sinks = new WeakMap<Kernel, ClockEvent[]>();

/** Starts collecting `k`'s clock events (returns the list that fills up until `stopClockEvents`). */
export function startClockEvents(k: Kernel): ClockEvent[] {
  const list: ClockEvent[] = [];
  sinks.set(k, list);
  return list;
}

export function stopClockEvents(k: Kernel): void {
  sinks.delete(k);
}

export function recordClockEvent(k: Kernel, e: ClockEvent): void {
  sinks.get(k)?.push(e);
}

/**
 * Wires the machine's virtual clock to the kernel at boot: every expiry goes into the events being
 * collected (the timer softirq records each timer it runs instead of itself, an hrtimer's or an
 * alarm's pooled timer the hrtimer or the process), and a timer callback
 * that throws outside driver code (a device model's: hardware has no process to kill) is reported
 * in dmesg with the timer's name, the timer left disarmed, and time goes on.
 */
export function installClock(k: Kernel): void {
  const clock = k.phys.clock;
  clock.onFire = (name, ns) => {
    // The timer softirq records each timer it runs, the pools' timers (timer-pool.ts) their holder.
    if (!RECORDED_BY_HOLDER.has(name)) recordClockEvent(k, { ns, kind: "timer", name });
  };
  clock.onError = (name, e) => {
    k.log.printk(
      3,
      `${name}: timer callback threw: ${e instanceof Error ? e.message : String(e)}; timer stopped`,
    );
  };
}
