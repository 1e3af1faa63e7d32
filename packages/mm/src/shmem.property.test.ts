// Property test of the shmem page cache against a simple model: a file is a size and a byte array.
// Random write/read/truncate/fallocate/punch-hole calls and loads/stores through a MAP_SHARED and a
// MAP_PRIVATE mapping must agree with the model (shared mappings see the file, SIGBUS past EOF, the
// private mapping keeps its COW copies except where truncation zapped them), and after every step each
// page-cache page's refcount is exactly the cache's reference plus the PTEs that map it.
import { PhysMemory } from "@faultline/phys";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
} from "./constants";
import { Mm } from "./mm";
import { Mmu } from "./mmu";
import { ramOnly } from "./phys-access";
import { ShmemFile, ShmemInode, ShmemSb } from "./shmem";
import { SignalError } from "./signal";

const PAGE = 4096;
const NPAGES = 6;
const RUNS = Number(process.env.FAULTLINE_PROPERTY_RUNS ?? 60);

type Cmd =
  | { op: "write"; pos: number; len: number; byte: number }
  | { op: "read"; pos: number; len: number }
  | { op: "truncate"; size: number }
  | { op: "fallocate"; mode: number; pos: number; len: number }
  | { op: "store"; shared: boolean; off: number; byte: number }
  | { op: "load"; shared: boolean; off: number };

const off = fc.integer({ min: 0, max: NPAGES * PAGE - 1 });
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({
    op: fc.constant("write" as const),
    pos: off,
    len: fc.integer({ min: 0, max: 2 * PAGE }),
    byte: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({ op: fc.constant("read" as const), pos: off, len: fc.integer({ min: 0, max: 2 * PAGE }) }),
  fc.record({ op: fc.constant("truncate" as const), size: fc.integer({ min: 0, max: NPAGES * PAGE }) }),
  fc.record({
    op: fc.constant("fallocate" as const),
    mode: fc.constantFrom(0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE),
    pos: off,
    len: fc.integer({ min: 1, max: 3 * PAGE }),
  }),
  fc.record({
    op: fc.constant("store" as const),
    shared: fc.boolean(),
    off,
    byte: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({ op: fc.constant("load" as const), shared: fc.boolean(), off }),
);

/** What a fault-free access returns, or "SIGBUS". */
function access(fn: () => number): number | "SIGBUS" {
  try {
    return fn();
  } catch (e) {
    if (SignalError.is(e) && e.signal === "SIGBUS") return "SIGBUS";
    throw e;
  }
}

function run(cmds: Cmd[]): void {
  const mem = PhysMemory.create({ ramBytes: 16 * 1024 * 1024 });
  const free0 = mem.nrFreePages;
  const mm = new Mm(ramOnly(mem));
  // A fresh MMU per access: a dead-on-SIGBUS MMU is not what this models (the process goes on).
  const inode = new ShmemInode(mem, new ShmemSb(), "prop");
  const file = new ShmemFile(inode, 0, "/prop");
  const shared = mm.mmap(0, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, file, 0);
  const priv = mm.mmap(0, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, file, 0);
  expect(shared).toBeGreaterThan(0);
  expect(priv).toBeGreaterThan(0);
  // The model: the file's bytes and size; the private mapping's COW copies (page → bytes).
  let size = 0;
  const bytes = new Uint8Array(NPAGES * PAGE * 2);
  const cow = new Map<number, Uint8Array>();
  // Pages the cache must hold: written, fallocated or faulted in, and not truncated or punched away.
  const present = new Set<number>();
  const addPages = (from: number, to: number) => {
    for (let i = from; i < to; i++) present.add(i);
  };
  const zapCowFrom = (pg: number) => {
    for (const k of [...cow.keys()]) if (k >= pg) cow.delete(k);
  };
  for (const c of cmds) {
    switch (c.op) {
      case "write": {
        const r = inode.write(c.pos, new Uint8Array(c.len).fill(c.byte));
        expect(r).toBe(c.len);
        bytes.fill(c.byte, c.pos, c.pos + c.len);
        if (c.len) size = Math.max(size, c.pos + c.len);
        if (c.len) addPages(Math.floor(c.pos / PAGE), Math.floor((c.pos + c.len - 1) / PAGE) + 1);
        break;
      }
      case "read": {
        const dst = new Uint8Array(c.len);
        const n = inode.read(c.pos, dst);
        const want = Math.max(0, Math.min(c.len, size - c.pos));
        expect(n).toBe(want);
        expect(dst.subarray(0, n)).toEqual(bytes.subarray(c.pos, c.pos + n));
        break;
      }
      case "truncate":
        expect(inode.setSize(c.size)).toBe(0);
        if (c.size < size) {
          bytes.fill(0, c.size);
          // truncate_pagecache(): even private COW copies from the new EOF page up are zapped.
          zapCowFrom(Math.ceil(c.size / PAGE));
          for (const k of [...present]) if (k >= Math.ceil(c.size / PAGE)) present.delete(k);
        }
        size = c.size;
        break;
      case "fallocate": {
        expect(inode.fallocate(c.mode, c.pos, c.len)).toBe(0);
        if (c.mode & FALLOC_FL_PUNCH_HOLE) {
          bytes.fill(0, c.pos, c.pos + c.len);
          for (let i = Math.ceil(c.pos / PAGE); i < Math.floor((c.pos + c.len) / PAGE); i++)
            present.delete(i);
        } else {
          if (!(c.mode & FALLOC_FL_KEEP_SIZE)) size = Math.max(size, c.pos + c.len);
          addPages(Math.floor(c.pos / PAGE), Math.ceil((c.pos + c.len) / PAGE));
        }
        break;
      }
      case "store":
      case "load": {
        const pg = Math.floor(c.off / PAGE);
        const mmu = Mmu.forMm(mm);
        const addr = (c.shared ? shared : priv) + c.off;
        const beyond = pg >= Math.ceil(size / PAGE);
        // A fault that reaches the file (not a private page already copied) brings the page in.
        if (!beyond && (c.shared || !cow.has(pg))) present.add(pg);
        if (c.op === "store") {
          const r = access(() => {
            mmu.store8(addr, c.byte);
            return 0;
          });
          if (c.shared || !cow.has(pg)) expect(r).toBe(beyond ? "SIGBUS" : 0);
          if (r === 0) {
            if (c.shared) bytes[c.off] = c.byte;
            else {
              if (!cow.has(pg)) cow.set(pg, bytes.slice(pg * PAGE, (pg + 1) * PAGE));
              cow.get(pg)![c.off % PAGE] = c.byte;
            }
          }
        } else {
          const r = access(() => mmu.load8(addr));
          const copy = c.shared ? undefined : cow.get(pg);
          if (copy) expect(r).toBe(copy[c.off % PAGE]);
          else expect(r).toBe(beyond ? "SIGBUS" : bytes[c.off]);
        }
        mmu.release?.();
        break;
      }
    }
    // The refcount of every page-cache page: the cache's reference plus each PTE mapping it.
    const ptes = mm.checkInvariants();
    for (const pfn of inode.heldPages()) expect(mem.refcount[pfn]).toBe(1 + (ptes.get(pfn) ?? 0));
    expect(new Set(inode.pages.keys())).toEqual(present);
    mem.checkInvariants();
  }
  mm.exit();
  // The file's last reference went with the mappings: its pages are free again.
  expect(inode.evicted).toBe(true);
  expect(mem.nrFreePages).toBe(free0);
}

describe("shmem page cache against a byte-array model", () => {
  it(`${RUNS} runs × 40 steps: read/write/truncate/fallocate and shared/private mappings agree`, () => {
    fc.assert(
      fc.property(fc.array(cmdArb, { minLength: 40, maxLength: 40 }), (cmds) => run(cmds)),
      {
        numRuns: RUNS,
      },
    );
  }, 120_000);
});
