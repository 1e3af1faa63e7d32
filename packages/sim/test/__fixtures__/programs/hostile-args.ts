// Calls a program should not be able to make: names that are properties of the kernel's objects but
// not syscalls (-ENOSYS), and arguments C could not pass (a TypeError thrown here, nothing changed).
import { defineProgram, type SyscallArg } from "@faultline/sim";

const ENOSYS = -38;
const RW = 3;
const MAP_PRIVATE_ANON = 0x22;

/** The TypeError `fn` throws, or null when it returns. */
function typeErrorOf(fn: () => unknown): TypeError | null {
  try {
    fn();
  } catch (e) {
    if (e instanceof TypeError) return e;
    throw e;
  }
  return null;
}

export default defineProgram((sys, mmu) => {
  const notSyscalls: Array<[string, SyscallArg[]]> = [
    ["constructor", []],
    ["file", [0]],
    ["run", [0]],
    ["__proto__", []],
    ["toString", []],
    ["hasOwnProperty", ["getpid"]],
    ["call", ["getpid"]],
    ["pkeyGet", [0]],
    // The calls the simulator implements itself, under the kernel's names and numbers.
    ["wait4", [-1, 0]],
    ["exit", [0]],
    [57 as unknown as string, []],
    [60 as unknown as string, [0]],
    [61 as unknown as string, [-1, 0]],
  ];
  for (const [i, [name, args]] of notSyscalls.entries())
    if (sys.call(name, ...args) !== ENOSYS) return 10 + i;

  const a = sys.mmap(0, 4096, RW, MAP_PRIVATE_ANON, -1, 0);
  mmu.store32(a, 7);
  const refused: Array<[RegExp, () => unknown]> = [
    [
      /^mmap: length must be an integer, got NaN$/,
      () => sys.mmap(0, Number.NaN, RW, MAP_PRIVATE_ANON, -1, 0),
    ],
    [/^munmap: length must be an integer, got NaN$/, () => sys.munmap(a, Number.NaN)],
    [/^mprotect: prot must be an integer, got NaN$/, () => sys.mprotect(a, 4096, Number.NaN)],
    [/^mprotect: len must be an integer, got Infinity$/, () => sys.mprotect(a, Number.POSITIVE_INFINITY, 0)],
    [/^open: pathname must be a string, got 42$/, () => sys.open(42 as unknown as string, 0)],
    [/^write: buf must be a Uint8Array or a string, got 5$/, () => sys.write(1, 5)],
    [/^read: buf must be a Uint8Array or an integer count, got null$/, () => sys.read(0, null)],
    [/^msync: flags must be an integer, got 1\.5$/, () => sys.call("msync", a, 4096, 1.5)],
    [/^mlock: len must be an integer, got "4096"$/, () => sys.call("mlock", a, "4096")],
  ];
  for (const [i, [message, fn]] of refused.entries()) {
    const e = typeErrorOf(fn);
    if (!e || !message.test(e.message)) return 30 + i;
  }
  // 64-bit values as bigints, read as in-thread: exactly beyond 2^53 (an offset 2^53 + 1 is not
  // page-aligned: -EINVAL), and modulo 2^64 beyond 64 bits (a register holds no more: munmap(2^70)
  // is munmap(0), which unmaps nothing), in an rlimit's fields too (-1 is RLIM_INFINITY).
  const EINVAL = -22;
  if (sys.mmap(0, 4096n, RW, MAP_PRIVATE_ANON, -1, 2n ** 53n + 1n) !== EINVAL) return 60;
  if (sys.mprotect(2n ** 53n + 1n, 4096, 1) !== EINVAL) return 61;
  if (sys.mprotect(a, 4096, 2n ** 32n + 3n) !== EINVAL) return 62;
  if (sys.munmap(2n ** 70n, 4096n) !== 0) return 63;
  if (typeof sys.call("prlimit64", 0, 8, { cur: 2n ** 64n - 1n + 2n ** 70n, max: -1n }) !== "object")
    return 64;
  if ((sys.call("getrlimit", 8) as { cur: number }).cur !== -1) return 65;
  // Nothing changed: the page is mapped, writable and holds what it held.
  if (mmu.load32(a) !== 7) return 50;
  mmu.store32(a, 8);
  // By number, as the table lists them: SYS_getpid = 39, SYS_munmap = 11.
  if (sys.call(39 as unknown as string) !== sys.pid) return 51;
  if (sys.call(11 as unknown as string, a, 4096) !== 0) return 52;
  if (sys.call(100_000 as unknown as string) !== ENOSYS) return 53;
  return 0;
});
