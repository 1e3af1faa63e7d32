import { AssertionError } from "node:assert";
import {
  BUS_ADRERR,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PAGE_SIZE,
  PROT_READ,
  SEGV_ACCERR,
  SEGV_MAPERR,
  SIGBUS,
  SIGSEGV,
} from "@faultline/kernel";
import { describe, expect, it } from "vitest";
import { buggy } from "../test/__fixtures__/buggy-driver";
import { expectSignal, mapDevice } from "./index";
import { useMachine } from "./vitest";

const kit = useMachine({ ramBytes: 16 << 20 });

/** The AssertionError `f` throws. */
function failure(f: () => unknown): AssertionError {
  try {
    f();
  } catch (e) {
    if (e instanceof AssertionError) return e;
    throw e;
  }
  throw new Error("expected an AssertionError");
}

describe("expectSignal", () => {
  it("returns the signal when number, code and address match (numbers or names)", async () => {
    const { p } = await kit.boot({ drivers: [buggy()] });
    const a = mapDevice(p, "/dev/buggy", { length: 2 * PAGE_SIZE });
    const q = p.sys.fork();
    expect(q).toBeGreaterThan(0);
    const sig = expectSignal(() => p.mmu.load32(a + PAGE_SIZE + 4), {
      signo: SIGBUS,
      code: BUS_ADRERR,
      addr: a + PAGE_SIZE + 4,
    });
    expect([sig.signal, sig.code, sig.addr]).toEqual(["SIGBUS", "BUS_ADRERR", a + PAGE_SIZE + 4]);
    expect(p.alive).toBe(false);
    const child = kit.machines[0]!.process(q)!;
    expectSignal(() => child.mmu.store8(a + 2 * PAGE_SIZE, 1), { signal: "SIGSEGV", code: "SEGV_MAPERR" });
  });

  it("fails with a diff when the signal, code or address differs", async () => {
    const { p, m } = await kit.boot();
    const r = p.libc.mmap(0, PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    const e = failure(() =>
      expectSignal(() => p.mmu.store8(r + 3, 1), { signo: SIGSEGV, code: SEGV_MAPERR, addr: r }),
    );
    expect(e.message).toMatch(
      /^expected signo 11, signal SIGSEGV, code 1, addr 0x[0-9a-f]+, got SIGSEGV \(SEGV_ACCERR\) at 0x[0-9a-f]+/,
    );
    expect(e.actual).toEqual({
      signo: SIGSEGV,
      signal: "SIGSEGV",
      code: SEGV_ACCERR,
      addr: `0x${(r + 3).toString(16)}`,
    });
    expect(e.expected).toEqual({
      signo: SIGSEGV,
      signal: "SIGSEGV",
      code: SEGV_MAPERR,
      addr: `0x${r.toString(16)}`,
    });
    const q = m.spawn();
    const b = q.libc.mmap(0, PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    expect(failure(() => expectSignal(() => q.mmu.store8(b, 1), { signal: "SIGBUS" })).message).toMatch(
      /^expected signal SIGBUS, got SIGSEGV \(SEGV_ACCERR\)/,
    );
  });

  it("fails when the access completes, or throws something else", async () => {
    const { p } = await kit.boot();
    const r = p.libc.mmap(0, PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    expect(failure(() => expectSignal(() => p.mmu.load8(r), { signo: SIGBUS })).message).toBe(
      "expected a signal (signo 7, signal SIGBUS), but the access completed and returned 0x0",
    );
    expect(failure(() => expectSignal(() => p.libc.munmap(r + 1, PAGE_SIZE))).message).toMatch(
      /^expected a signal \(any signal\), but the access threw ErrnoError: munmap: Invalid argument$/,
    );
  });
});
