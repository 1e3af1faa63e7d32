// The kernel log is a ring as Linux's log_buf is (issue 9 §5): fixed size, oldest records dropped
// and counted.
import { describe, expect, it } from "vitest";
import {
  LOG_BUF_LEN,
  LOG_BUF_RECORDS,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  Machine,
  PROT_NONE,
  SignalError,
} from "../index";
import { LogBuffer } from "./printk";

describe("printk's ring buffer", () => {
  it("keeps the newest records, in order, and counts what it dropped", () => {
    const log = new LogBuffer();
    const n = LOG_BUF_RECORDS + 123;
    for (let i = 0; i < n; i++) log.printk(6, `line ${i}`);
    const recs = log.records();
    expect(recs.length).toBe(LOG_BUF_RECORDS);
    expect(log.dropped).toBe(123);
    expect(recs[0]).toEqual({ level: 6, text: "line 123", seq: 123 });
    expect(recs.at(-1)!.text).toBe(`line ${n - 1}`);
  });

  it("also bounds the text: LOG_BUF_LEN bytes, a longer record cut to fit", () => {
    const log = new LogBuffer();
    const big = "x".repeat(LOG_BUF_LEN / 4);
    for (let i = 0; i < 10; i++) log.printk(4, big);
    expect(log.records().length).toBe(4);
    expect(log.dropped).toBe(6);
    log.printk(4, "y".repeat(LOG_BUF_LEN * 2));
    expect(log.records().map((r) => r.text.length)).toEqual([LOG_BUF_LEN]);
  });

  it("10,000 spawn/segfault/exit cycles stay within the ring; dmesg shows the newest, the rest are counted", async () => {
    const m = await Machine.create({ ramBytes: 16 * 1024 * 1024 });
    for (let i = 0; i < 10_000; i++) {
      const p = m.spawn({ name: `cycle${i}` });
      const a = p.sys.mmap(0, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      expect(() => p.mmu.load8(a)).toThrow(SignalError);
      m.reap(p); // what init's wait() does for an orphan
      expect(m.dmesgRecords().length).toBeLessThanOrEqual(LOG_BUF_RECORDS);
    }
    const log = m.dmesg();
    // ~90-byte lines: the LOG_BUF_LEN bytes of text fill before the descriptors do.
    expect(log.join("").length).toBeLessThanOrEqual(LOG_BUF_LEN);
    expect(log.length).toBeGreaterThan(1000);
    expect(log.at(-1)).toMatch(/^cycle9999\[\d+\]: segfault at /);
    expect(log.length + m.dmesgDropped()).toBe(2 + 10_000);
    expect(m.processes()).toEqual([]);
    m.checkInvariants();
  });
});
