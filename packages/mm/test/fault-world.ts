// The world the fault and fork tests run in: one machine's memory, the processes made in a test, and
// the audit after each test (mm and allocator invariants, every frame back on the free list).
import { PhysMemory } from "@faultline/phys";
import { afterEach, expect } from "vitest";
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from "../src/constants";
import { Mm } from "../src/mm";
import { Mmu } from "../src/mmu";
import { ptePfn } from "../src/pgtable";
import { ramOnly } from "../src/phys-access";
import { SignalError } from "../src/signal";

export const P = 4096;
export const A = 0x1000_0000_0000;
export const at = (n: number, byte = 0) => A + n * P + byte;
export const RW = PROT_READ | PROT_WRITE;
export const PRIV = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
export const SHARED = MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED;

export interface World {
  mem: PhysMemory;
  free: number;
  procs: Array<{ mm: Mm; mmu: Mmu }>;
  /** Run after the test, before the audit (e.g. a driver dropping the references it holds). */
  teardown: Array<() => void>;
}
export let world: World | null = null;

export function setup(): { mem: PhysMemory; mm: Mm; mmu: Mmu } {
  const mem = PhysMemory.create({ ramBytes: 32 * 1024 * 1024 });
  const free = mem.nrFreePages;
  const mm = new Mm(ramOnly(mem));
  const mmu = Mmu.forMm(mm);
  world = { mem, free, procs: [{ mm, mmu }], teardown: [] };
  return { mem, mm, mmu };
}

export function forkOf(mm: Mm): { mm: Mm; mmu: Mmu } {
  const child = mm.fork();
  if (typeof child === "number") throw new Error(`fork failed: ${child}`);
  const p = { mm: child, mmu: Mmu.forMm(child) };
  world!.procs.push(p);
  return p;
}

/** mm and allocator invariants plus global refcount agreement (every PTE reference accounted for). */
export function check(w: World = world!): void {
  for (const p of w.procs) p.mm.checkInvariants();
  w.mem.checkInvariants();
}

/** Registers the audit after each test of the calling file. */
export function auditEachTest(): void {
  afterEach(() => {
    const w = world;
    world = null;
    if (!w) return;
    for (const t of w.teardown) t();
    check(w);
    for (const p of w.procs) p.mm.exit();
    w.mem.checkInvariants();
    expect(w.mem.nrFreePages).toBe(w.free);
  });
}

export function signalOf(fn: () => unknown): { signal: string; code: string; addr: number } | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (!SignalError.is(e)) throw e;
    return { signal: e.signal, code: e.code, addr: e.addr };
  }
}

export const pfnAt = (mm: Mm, addr: number) => ptePfn(mm.pgd.getPte(addr));
