/**
 * kernel/time/timekeeping.c on the virtual clock: the wall clock (CLOCK_REALTIME) and the clocks
 * derived from CLOCK_MONOTONIC, which is the virtual clock itself (ns since boot).
 *
 * - CLOCK_REALTIME = CLOCK_MONOTONIC + offs_real (tk->offs_real, minus wall_to_monotonic). At boot
 *   offs_real is the machine's boot time (MachineOptions.bootTime, seconds since the Epoch; a fixed
 *   default, so a deterministic run reads the same wall clock every time). clock_settime moves it
 *   (do_settimeofday64); nothing else does: there is no NTP and no RTC.
 * - CLOCK_TAI = CLOCK_REALTIME + tai_offset, which is 0 until adjtimex sets it (never here).
 * - CLOCK_BOOTTIME = CLOCK_MONOTONIC + offs_boot, the time spent suspended: 0 (no suspend).
 * - CLOCK_MONOTONIC_RAW: the clocksource without NTP's frequency correction: CLOCK_MONOTONIC.
 * - The *_COARSE clocks read tk_xtime, updated at each tick (jiffy) and by settime (which first
 *   forwards the timekeeper to the exact time: timekeeping_forward_now): the later of the last
 *   tick and the last settime.
 *
 * Wall-clock times do not fit a double's 53 bits in ns (2^53 ns is 104 days), so they are bigints.
 */
import { EINVAL } from "../constants";
import type { Kernel } from "./kernel";
import { TICK_NSEC } from "./timer";

/** The default boot time: 2025-01-01T00:00:00Z, in seconds since the Epoch. */
export const DEFAULT_BOOT_TIME = 1_735_689_600;
/** KTIME_SEC_MAX - TIME_UPTIME_SEC_MAX: the latest time settimeofday accepts (timespec64_valid_settod). */
export const TIME_SETTOD_SEC_MAX = 9_223_372_036 - 30 * 365 * 24 * 3600;

const NSEC = 1_000_000_000n;

interface Timekeeper {
  /** offs_real: CLOCK_REALTIME - CLOCK_MONOTONIC, ns. */
  offsReal: bigint;
  /** The monotonic time of the last settime (tk_xtime was brought up to it), ns. */
  setAt: number;
  /** MachineOptions.bootTime: the wall clock at boot, s (what a snapshot boots its machine with). */
  readonly bootTime: number;
}

const keepers = new WeakMap<Kernel, Timekeeper>();

function tk(k: Kernel): Timekeeper {
  let t = keepers.get(k);
  if (!t) {
    t = { offsReal: BigInt(DEFAULT_BOOT_TIME) * NSEC, setAt: 0, bootTime: DEFAULT_BOOT_TIME };
    keepers.set(k, t);
  }
  return t;
}

/** timekeeping_init(): the wall clock reads `bootTime` seconds since the Epoch at monotonic time 0. */
export function timekeepingInit(k: Kernel, bootTime: number): void {
  keepers.set(k, { offsReal: BigInt(bootTime) * NSEC, setAt: 0, bootTime });
}

/** The boot time the machine was created with (MachineOptions.bootTime, or the default), s. */
export function bootTimeOf(k: Kernel): number {
  return tk(k).bootTime;
}

/** ktime_get_real(): CLOCK_REALTIME in ns since the Epoch. */
export function ktimeGetReal(k: Kernel): bigint {
  return tk(k).offsReal + BigInt(k.phys.clock.now);
}

/** offs_real: what CLOCK_REALTIME reads more than CLOCK_MONOTONIC, ns. */
export function offsReal(k: Kernel): bigint {
  return tk(k).offsReal;
}

/** ktime_get_coarse(): CLOCK_MONOTONIC as of the last tick or settime, ns. */
export function ktimeGetCoarse(k: Kernel): number {
  const now = k.phys.clock.now;
  return Math.max(Math.floor(now / TICK_NSEC) * TICK_NSEC, Math.min(tk(k).setAt, now));
}

/** ktime_get_coarse_real(): CLOCK_REALTIME_COARSE, ns. */
export function ktimeGetCoarseReal(k: Kernel): bigint {
  return tk(k).offsReal + BigInt(ktimeGetCoarse(k));
}

/**
 * do_settimeofday64(): the wall clock reads `ns` from now on. -EINVAL when that is earlier than
 * the time since boot (the new wall_to_monotonic would be positive). The caller checked the
 * timespec and the capability.
 */
export function doSettimeofday(k: Kernel, ns: bigint): number {
  const now = k.phys.clock.now;
  const off = ns - BigInt(now);
  if (off < 0n) return -EINVAL;
  const t = tk(k);
  t.offsReal = off;
  t.setAt = now;
  return 0;
}

/** The timekeeper as a machine snapshot keeps it: offs_real (ns, as a decimal string) and the last settime. */
export function saveTimekeeper(k: Kernel): readonly [string, number] {
  const t = tk(k);
  return [t.offsReal.toString(), t.setAt];
}

/** Puts a saved timekeeper back (checked first: an Error names a bad field). */
export function restoreTimekeeper(k: Kernel, s: unknown): void {
  const [off, setAt] = Array.isArray(s) ? s : [];
  if (typeof off !== "string" || !/^\d{1,30}$/.test(off)) throw new Error("timekeeper: offs_real");
  if (typeof setAt !== "number" || !Number.isSafeInteger(setAt) || setAt < 0)
    throw new Error("timekeeper: the last settime");
  keepers.set(k, { offsReal: BigInt(off), setAt, bootTime: tk(k).bootTime });
}
