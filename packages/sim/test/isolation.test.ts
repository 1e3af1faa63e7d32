// A program reaches memory only through its own MMU (issue 9 §4), and a module that never finishes
// loading cannot stop a run (issue 9 §5).

import {
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  Machine,
  PKEY_DISABLE_ACCESS,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
} from "@faultline/kernel";
import { FAULT_SEGV_ACCERR, FAULT_SEGV_MAPERR, FAULT_SEGV_PKUERR } from "@faultline/mm";
import { describe, expect, it } from "vitest";
import { Simulation } from "../src/index";
import { mmioTranslate } from "../src/internal/mmio";
import { machineKernel } from "../src/machine-kernel";

const P = 4096;
const RW = PROT_READ | PROT_WRITE;
const PRIV = MAP_PRIVATE | MAP_ANONYMOUS;

const program = (name: string) => new URL(`./__fixtures__/programs/${name}`, import.meta.url);

describe("program isolation", () => {
  it("an attacker finds no RAM, channel or kernel object behind sys, mmu or workerData; the victim's memory and the allocator are untouched", async () => {
    for (const deterministic of [false, true]) {
      const options = { machine: { ramBytes: 32 * 1024 * 1024 }, deadlineMs: 30_000 };
      const sim = deterministic
        ? await Simulation.deterministic({ ...options, seed: 7 })
        : await Simulation.create(options);
      const m = sim.machine!;
      const baseline = m.mem.nrAllocatedPages;
      const victim = sim.spawn(program("victim.ts"), ["100"]);
      const attacker = sim.spawn(program("attacker.ts"));
      const r = await sim.run();
      expect(r.find((x) => x.pid === attacker)!.exit, r.find((x) => x.pid === attacker)!.error).toEqual({
        code: 0,
      });
      expect(r.find((x) => x.pid === victim)!.exit).toEqual({ code: 0 });
      expect(m.mem.nrAllocatedPages).toBe(baseline);
      m.checkInvariants();
    }
  });
});

describe("the kernel side of a worker's MMIO request (mmioTranslate)", () => {
  it("serves only an address the caller's own page tables map with the rights the access needs", async () => {
    const m = await Machine.create({ ramBytes: 16 * 1024 * 1024, cpu: { pku: true } });
    const k = machineKernel(m);
    const victim = m.spawn();
    const secret = victim.sys.mmap(0, P, RW, PRIV, -1, 0);
    victim.mmu.store32(secret, 0x5ec2e7);
    const p = m.spawn();
    const ro = p.sys.mmap(0, P, PROT_READ, PRIV, -1, 0);
    const none = p.sys.mmap(0, P, PROT_NONE, PRIV, -1, 0);
    const keyed = p.sys.mmap(0, P, RW, PRIV, -1, 0);
    const key = p.sys.pkeyAlloc(0, PKEY_DISABLE_ACCESS);
    expect(p.sys.pkeyMprotect(keyed, P, RW, key)).toBe(0);
    // Read of a mapped page: the physical address its PTE names (after the fault handler filled it).
    const pa = mmioTranslate(k, p.pid, ro + 8, 4, false);
    expect(pa).toBeGreaterThanOrEqual(0);
    expect(pa % P).toBe(8);
    expect(mmioTranslate(k, p.pid, ro, 4, true)).toBe(-FAULT_SEGV_ACCERR);
    expect(mmioTranslate(k, p.pid, none, 1, false)).toBe(-FAULT_SEGV_ACCERR);
    expect(-mmioTranslate(k, p.pid, keyed, 4, false) & 0xff).toBe(FAULT_SEGV_PKUERR);
    // Addresses resolve in p's own page tables only (the victim's first mapping sits at the same
    // virtual address as p's read-only one); unmapped and malformed requests are refused.
    expect(secret).toBe(ro);
    expect(mmioTranslate(k, p.pid, secret, 4, true)).toBe(-FAULT_SEGV_ACCERR);
    expect(mmioTranslate(k, p.pid, 0x7000_0000_0000, 4, true)).toBe(-FAULT_SEGV_MAPERR);
    expect(mmioTranslate(k, p.pid, Number.NaN, 4, true)).toBe(-FAULT_SEGV_MAPERR);
    expect(mmioTranslate(k, p.pid, ro + P - 2, 4, false)).toBe(-FAULT_SEGV_MAPERR);
    expect(mmioTranslate(k, p.pid, ro, 3, false)).toBe(-FAULT_SEGV_ACCERR);
    expect(victim.mmu.load32(secret)).toBe(0x5ec2e7);
    m.checkInvariants();
  });
});

describe("module loading is bounded", () => {
  for (const deterministic of [false, true]) {
    it(`a top level that never finishes is killed after loadTimeoutMs, naming the program (${deterministic ? "deterministic" : "free"} mode)`, async () => {
      // Long enough for the other program's module to load on a loaded 2-core machine (tsx compiles
      // it in the worker), which must not be mistaken for a module that never finishes.
      const options = { machine: { ramBytes: 16 * 1024 * 1024 }, loadTimeoutMs: 15_000, deadlineMs: 90_000 };
      const sim = deterministic
        ? await Simulation.deterministic({ ...options, seed: 1 })
        : await Simulation.create(options);
      const stuck = sim.spawn(program("never-loads.ts"));
      const ok = sim.spawn(program("victim.ts"), ["5"]);
      const r = await sim.run();
      expect(r.find((x) => x.pid === stuck)!.exit).toEqual({ signal: "SIGKILL" });
      expect(r.find((x) => x.pid === stuck)!.error).toMatch(
        /did not finish loading its program module in 15000 ms/,
      );
      expect(r.find((x) => x.pid === stuck)!.error).toContain("never-loads.ts");
      expect(r.find((x) => x.pid === ok)!.exit).toEqual({ code: 0 });
    }, 150_000);
  }
});
