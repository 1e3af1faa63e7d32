/**
 * The rows of syscall_64.tbl for time (issue 11 §1): clock_gettime(2), nanosleep(2) and
 * clock_nanosleep(2) on the machine's virtual clock (internal/time.ts). syscall_64.tbl.ts merges them
 * into the one table in number order.
 *
 * A struct timespec is passed as its two fields (tv_sec, tv_nsec), and clock_gettime's answer is the
 * time in ns as the result (as rt_sigaction's old action is the result here); rem is never written
 * (no signal interrupts a sleep here).
 */
import { type SyscallEntry, syscall } from "./internal/syscall";
import { sysClockGettime, sysClockNanosleep, sysNanosleep } from "./internal/time";

export const SYS_nanosleep = 35;
export const SYS_clock_gettime = 228;
export const SYS_clock_nanosleep = 230;

const clockid = { name: "which_clock", kind: "int" } as const;
const tvSec = { name: "tv_sec", kind: "long" } as const;
const tvNsec = { name: "tv_nsec", kind: "long" } as const;

/** The time rows, in number order. */
export const TIME_SYSCALLS: readonly SyscallEntry[] = [
  syscall(SYS_nanosleep, "nanosleep", "nanosleep", [tvSec, tvNsec], sysNanosleep),
  syscall(SYS_clock_gettime, "clock_gettime", "clockGettime", [clockid], sysClockGettime),
  syscall(
    SYS_clock_nanosleep,
    "clock_nanosleep",
    "clockNanosleep",
    [clockid, { name: "flags", kind: "int" }, tvSec, tvNsec],
    sysClockNanosleep,
  ),
];
