/**
 * A fault handler that forgets getPage (issue 9 §3): every teardown path finds the PTE's reference
 * missing and treats it as Linux's bad_page() does: "BUG: Bad page state" in dmesg, the frame
 * quarantined (never handed out again), the driver blamed, the teardown finished, nothing corrupted.
 */
import { __GFP_MEMALLOC } from "@faultline/phys";
import { describe, expect, it } from "vitest";
import { type ForgetfulControl, forgetfulDriver } from "./__fixtures__/test-drivers";
import {
  MADV_DONTNEED,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  Machine,
  O_RDWR,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  type Process,
} from "./index";

const RAM = 16 * 1024 * 1024;
const RW = PROT_READ | PROT_WRITE;

async function setup() {
  const ctl: ForgetfulControl = { block: null };
  const m = await Machine.create({ ramBytes: RAM, drivers: [forgetfulDriver(ctl)] });
  const freeAtBoot = m.mem.nrFreePages;
  const p = m.spawn({ name: "victim" });
  const fd = p.sys.open("/dev/forgetful", O_RDWR);
  expect(fd).toBeGreaterThanOrEqual(0);
  const a = p.sys.mmap(0, 3 * PAGE_SIZE, RW, MAP_SHARED, fd, 0);
  expect(a).toBeGreaterThan(0);
  expect(p.sys.close(fd)).toBe(0);
  for (let i = 0; i < 3; i++) p.mmu.load8(a + i * PAGE_SIZE);
  const head = ctl.block!.pfn;
  const tails = [head + 1, head + 2, head + 3];
  for (const pfn of tails) expect(m.mem.pageCount(pfn)).toBe(0); // mapped with no reference
  return { m, p, a, ctl, freeAtBoot, tails };
}

const pfn5 = (pfn: number) => pfn.toString(16).padStart(5, "0");

/** The report, the quarantine and the accounting for `bad`, after the teardown returned. */
function expectReported(m: Machine, bad: readonly number[]) {
  const log = m.dmesg().join("\n");
  for (const pfn of bad) {
    expect(log).toContain(`BUG: Bad page state in process victim  pfn:${pfn5(pfn)}`);
    expect(log).toContain(
      `page: refcount:0 mapcount:0 mapping:0000000000000000 index:0x0 pfn:0x${pfn.toString(16)}`,
    );
    expect(m.mem.isQuarantined(pfn)).toBe(true);
  }
  expect(log).toContain("page dumped because: put_page: refcount 0 would go below zero");
  expect(log).toContain(
    "page mapped by driver forgetful's vm_ops->fault, which took no reference on it (getPage)",
  );
  expect(log).toContain("Modules linked in: forgetful");
  expect(log).not.toContain("PhysError");
  expect(m.badPages().map((b) => [b.pfn, b.driver, b.comm])).toEqual(
    bad.map((pfn) => [pfn, "forgetful", "victim"]),
  );
  expect(m.mem.nrQuarantinedPages).toBe(bad.length);
  expect(m.oopses()).toEqual([]);
  m.mem.checkInvariants();
}

/** Exit, rmmod, then: every other frame is free again and no allocation ever returns a quarantined one. */
function expectNothingCorrupted(m: Machine, p: Process, freeAtBoot: number, bad: readonly number[]) {
  if (p.alive) expect(p.sys.exit(0)).toBe(0);
  expect(p.state).toBe("zombie");
  m.checkInvariants(); // a zombie's mm must be dead: checked there
  expect(m.unloadDriver("forgetful")).toBe(0);
  m.checkInvariants();
  // The driver's block is back but for its quarantined frames.
  expect(m.mem.nrFreePages).toBe(freeAtBoot + 4 - bad.length);
  const got = new Set<number>();
  // __GFP_MEMALLOC: the reserves below the zones' min watermarks too, every last free frame.
  for (let pfn = m.mem.allocPfn(0, __GFP_MEMALLOC); pfn >= 0; pfn = m.mem.allocPfn(0, __GFP_MEMALLOC))
    got.add(pfn);
  expect(got.size).toBe(freeAtBoot + 4 - bad.length);
  for (const pfn of bad) expect(got.has(pfn)).toBe(false);
  expect(m.mem.nrFreePages).toBe(0);
  m.mem.checkInvariants();
  for (const pfn of got) m.mem.putPage(pfn);
  m.mem.checkInvariants();
  expect(m.mem.nrFreePages).toBe(freeAtBoot + 4 - bad.length);
}

describe("a fault handler that forgets getPage: a bad page on every teardown path", () => {
  it("exit(2): sys.exit returns 0, a zombie with its mm released, three bad pages", async () => {
    const { m, p, freeAtBoot, tails } = await setup();
    expect(p.sys.exit(3)).toBe(0);
    expect(p.state).toBe("zombie");
    expect(p.exitCode).toBe(3);
    expectReported(m, tails);
    m.checkInvariants();
    expectNothingCorrupted(m, p, freeAtBoot, tails);
  });

  it("a kill (how the simulator reaps a crashed worker): the same, and the machine goes on", async () => {
    const { m, p, freeAtBoot, tails } = await setup();
    m.terminate(p, { signal: "SIGKILL" });
    expect(p.state).toBe("zombie");
    expect(p.exitSignal).toBe("SIGKILL");
    expectReported(m, tails);
    const q = m.spawn({ name: "after" });
    const b = q.sys.mmap(0, PAGE_SIZE, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    q.mmu.store8(b, 7);
    expect(q.mmu.load8(b)).toBe(7);
    expect(q.sys.exit(0)).toBe(0);
    expectNothingCorrupted(m, p, freeAtBoot, tails);
  });

  it("munmap: returns 0, the process lives on", async () => {
    const { m, p, a, freeAtBoot, tails } = await setup();
    expect(p.sys.munmap(a, 3 * PAGE_SIZE)).toBe(0);
    expect(p.alive).toBe(true);
    expectReported(m, tails);
    m.checkInvariants();
    expectNothingCorrupted(m, p, freeAtBoot, tails);
  });

  it("MADV_DONTNEED: returns 0, the process lives on", async () => {
    const { m, p, a, freeAtBoot, tails } = await setup();
    expect(p.sys.madvise(a, 3 * PAGE_SIZE, MADV_DONTNEED)).toBe(0);
    expect(p.alive).toBe(true);
    expectReported(m, tails);
    m.checkInvariants();
    expectNothingCorrupted(m, p, freeAtBoot, tails);
  });

  it("mmap(MAP_FIXED) over the mapping: the new mapping is in place", async () => {
    const { m, p, a, freeAtBoot, tails } = await setup();
    expect(p.sys.mmap(a, 3 * PAGE_SIZE, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0)).toBe(a);
    expect(p.mmu.load8(a)).toBe(0);
    expectReported(m, tails);
    m.checkInvariants();
    expectNothingCorrupted(m, p, freeAtBoot, tails);
  });

  it("mremap shrinking: the cut pages are reported, the kept one at exit", async () => {
    const { m, p, a, freeAtBoot, tails } = await setup();
    expect(p.sys.mremap(a, 3 * PAGE_SIZE, PAGE_SIZE, 0)).toBe(a);
    expect(p.alive).toBe(true);
    expectReported(m, tails.slice(1));
    expect(m.mem.isQuarantined(tails[0]!)).toBe(false);
    expect(p.sys.exit(0)).toBe(0);
    expectReported(m, [...tails.slice(1), tails[0]!]);
    expectNothingCorrupted(m, p, freeAtBoot, tails);
  });
});
