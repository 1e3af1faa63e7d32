import { describe, expect, it } from "vitest";
import { setup } from "../test/fakes";
import {
  BusError,
  type GuestError,
  GuestLog,
  MEMTX_ACCESS_ERROR,
  MEMTX_DECODE_ERROR,
  MEMTX_ERROR,
  MEMTX_OK,
  PhysError,
} from "./index";
import { allOnes, maskValue } from "./memtx";

const entry = (addr: number): GuestError => ({
  kind: "unassigned-read",
  addr,
  size: 1,
  isWrite: false,
  region: null,
  message: `at ${addr}`,
});

describe("MemTxResult", () => {
  it("has QEMU's values: OK is 0, the errors are distinct bits so split results OR together", () => {
    expect(MEMTX_OK).toBe(0);
    expect([MEMTX_ERROR, MEMTX_DECODE_ERROR, MEMTX_ACCESS_ERROR]).toEqual([1, 2, 4]);
  });

  it("all-ones and masks per access size", () => {
    expect([1, 2, 4].map((s) => allOnes(s as 1 | 2 | 4))).toEqual([0xff, 0xffff, 0xffffffff]);
    expect(allOnes(8)).toBe(0xffffffffffffffffn);
    expect(maskValue(-1, 4)).toBe(0xffffffff);
    expect(maskValue(0x1234, 1)).toBe(0x34);
  });
});

describe("BusError", () => {
  it("is a PhysError with its code and details", () => {
    const e = new BusError("ENOSPC", "no room", { region: "bar" });
    expect(PhysError.is(e)).toBe(true);
    expect(e).toMatchObject({ name: "BusError", code: "ENOSPC", details: { region: "bar" } });
  });
});

describe("GuestLog", () => {
  it("the log of an address space is bounded", () => {
    const { as } = setup();
    for (let i = 0; i < 300; i++) as.physRead8(0x50000 + i);
    expect(as.log.length).toBe(256);
    expect(as.log.dropped).toBe(44);
    expect(as.log.list()[0]!.addr).toBe(0x50000 + 44);
  });

  it("keeps the newest entries, tells a sink about every one, and clears", () => {
    const seen: number[] = [];
    const log = new GuestLog(2, (e) => seen.push(e.addr));
    for (const a of [1, 2, 3]) log.record(entry(a));
    expect(log.list().map((e) => e.addr)).toEqual([2, 3]);
    expect(log.dropped).toBe(1);
    expect(seen).toEqual([1, 2, 3]);
    // list() is a copy: the log is not changed through it.
    (log.list() as GuestError[]).length = 0;
    expect(log.length).toBe(2);
    log.clear();
    expect([log.length, log.dropped]).toEqual([0, 0]);
  });
});
