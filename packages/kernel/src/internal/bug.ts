/**
 * include/asm-generic/bug.h and kernel/panic.c's __warn(): WARN() for the driver API's argument
 * checks. A driver that passes an impossible pfn or address gets what Linux returns for it and a
 * WARNING report in dmesg saying why, instead of a silent error code or a bogus PTE.
 */
import { PAGE_SIZE, PHYS_ADDR_LIMIT } from "@faultline/phys";
import type { Kernel } from "./kernel";

/** One past the highest pfn a physical address below MAXPHYADDR (2^52) can have. */
export const PFN_LIMIT = PHYS_ADDR_LIMIT / PAGE_SIZE;

/**
 * WARN(1, msg) in `fn` (the kernel function's name): the cut-here report, the message, the WARNING
 * line naming the process and the driver whose code is running, the loaded modules, the end marker.
 * Outside any machine (k null) there is no log to write to.
 */
export function warn(k: Kernel | null, fn: string, msg: string): void {
  if (!k) return;
  const t = k.current;
  const driver = k.currentDriver;
  k.log.printk(4, "------------[ cut here ]------------");
  k.log.printk(4, msg);
  k.log.printk(
    4,
    `WARNING: CPU: 0 PID: ${t?.pid ?? 0} at ${fn}${driver !== null && driver !== "kernel" ? ` [${driver}]` : ""}`,
  );
  k.log.printk(4, `Modules linked in: ${[...k.drivers.keys()].join(" ")}`);
  k.log.printk(4, "---[ end trace 0000000000000000 ]---");
}

const warnedOnce = new WeakMap<Kernel, Set<string>>();
/**
 * WARN_ON_ONCE / WARN_ONCE at `fn`: the report the first time that site warns on this machine,
 * nothing after (the kernel keeps one __warned flag per call site).
 */
export function warnOnce(k: Kernel | null, fn: string, msg: string): void {
  if (!k) return;
  let sites = warnedOnce.get(k);
  if (!sites) {
    sites = new Set();
    warnedOnce.set(k, sites);
  }
  if (sites.has(fn)) return;
  sites.add(fn);
  warn(k, fn, msg);
}

/** A non-negative safe integer below `limit`: what the driver API's size, address and count arguments must be. */
export const isUint = (n: unknown, limit = Number.MAX_SAFE_INTEGER + 1): n is number =>
  typeof n === "number" && Number.isSafeInteger(n) && n >= 0 && n < limit;

/** hex of a number, with its sign in front (-0x80000). */
const hex = (n: number) => (n < 0 ? `-0x${(-n).toString(16)}` : `0x${n.toString(16)}`);

/** What is wrong with `pfn` as a page frame number (negative, not an integer, beyond MAXPHYADDR), or null. */
export function badPfnReason(pfn: unknown): string | null {
  if (typeof pfn !== "number")
    return `pfn ${typeof pfn === "bigint" ? `${pfn}n` : String(pfn)} is not a number (${typeof pfn})`;
  if (!Number.isInteger(pfn)) {
    return `pfn ${pfn} is not an integer (an address divided by PAGE_SIZE without rounding? PFN_DOWN(addr) rounds down)`;
  }
  if (pfn < 0) {
    // (addr >> PAGE_SHIFT) for addr in [2^31, 2^32): JavaScript shifts the address as a signed 32-bit
    // integer, so the pfn comes out 2^20 too low, in [-2^19, 0).
    const shifted = pfn >= -(2 ** 19);
    return `pfn ${pfn} (${hex(pfn)}) is negative${
      shifted
        ? `: addr >> PAGE_SHIFT of an address at or above 2 GiB is negative in JavaScript (a signed 32-bit shift); PFN_DOWN(addr) would give ${hex(pfn + 2 ** 20)}`
        : ""
    }`;
  }
  if (pfn >= PFN_LIMIT) {
    return `pfn ${hex(pfn)} is beyond MAXPHYADDR (52 bits; pfns end below ${hex(PFN_LIMIT)}): an address passed as a pfn? PFN_DOWN(addr) gives its pfn`;
  }
  return null;
}

/** What is wrong with `paddr` as a physical address (negative, not an integer, beyond MAXPHYADDR), or null. */
export function badPhysReason(paddr: unknown): string | null {
  if (typeof paddr !== "number")
    return `physical address ${typeof paddr === "bigint" ? `${paddr}n` : String(paddr)} is not a number (${typeof paddr})`;
  if (!Number.isInteger(paddr)) return `physical address ${paddr} is not an integer`;
  if (paddr < 0) {
    const wrapped = paddr >= -(2 ** 31);
    return `physical address ${hex(paddr)} is negative${
      wrapped
        ? `: a | or & on an address at or above 2 GiB makes it a signed 32-bit number in JavaScript; ${hex(paddr + 2 ** 32)} was probably meant`
        : ""
    }`;
  }
  if (paddr >= PHYS_ADDR_LIMIT) return `physical address ${hex(paddr)} is beyond MAXPHYADDR (52 bits)`;
  return null;
}
