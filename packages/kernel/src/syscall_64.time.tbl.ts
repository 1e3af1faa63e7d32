/**
 * The rows of syscall_64.tbl for time (issue 11 §1): alarm(2), clock_settime(2), clock_gettime(2),
 * clock_getres(2), nanosleep(2) and clock_nanosleep(2) on the machine's virtual clock
 * (internal/time.ts). syscall_64.tbl.ts merges them into the one table in number order.
 *
 * A struct timespec the call reads is passed as its two fields (tv_sec, tv_nsec); one it writes (tp,
 * res, rem) is a 16-byte buffer or null. clock_gettime and clock_getres without a buffer return the
 * time in ns as the result (as rt_sigaction's old action is the result here).
 */
import { sysAlarm } from "./internal/itimer";
import { type SyscallEntry, syscall } from "./internal/syscall";
import {
  sysClockGetres,
  sysClockGettime,
  sysClockNanosleep,
  sysClockSettime,
  sysNanosleep,
} from "./internal/time";

export const SYS_nanosleep = 35;
export const SYS_alarm = 37;
export const SYS_clock_settime = 227;
export const SYS_clock_gettime = 228;
export const SYS_clock_getres = 229;
export const SYS_clock_nanosleep = 230;

const clockid = { name: "which_clock", kind: "int" } as const;
const tvSec = { name: "tv_sec", kind: "long" } as const;
const tvNsec = { name: "tv_nsec", kind: "long" } as const;
const out = (name: string) => ({ name, kind: "struct timespec *", default: null }) as const;

/** The time rows, in number order. */
export const TIME_SYSCALLS: readonly SyscallEntry[] = [
  syscall(SYS_nanosleep, "nanosleep", "nanosleep", [tvSec, tvNsec, out("rem")], sysNanosleep),
  syscall(SYS_alarm, "alarm", "alarm", [{ name: "seconds", kind: "unsigned int" }], sysAlarm),
  syscall(SYS_clock_settime, "clock_settime", "clockSettime", [clockid, tvSec, tvNsec], sysClockSettime),
  syscall(SYS_clock_gettime, "clock_gettime", "clockGettime", [clockid, out("tp")], sysClockGettime),
  syscall(SYS_clock_getres, "clock_getres", "clockGetres", [clockid, out("res")], sysClockGetres),
  syscall(
    SYS_clock_nanosleep,
    "clock_nanosleep",
    "clockNanosleep",
    [clockid, { name: "flags", kind: "int" }, tvSec, tvNsec, out("rem")],
    sysClockNanosleep,
  ),
];
