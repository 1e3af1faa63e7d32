// mmap(2) with MAP_HUGETLB through the syscall entry (mm/mmap.c ksys_mmap_pgoff()): the fd is resolved
// first (-EBADF), then a file that is not hugetlbfs's is -EINVAL (no file here is). The anonymous cases
// are test/oracle-hugetlb.test.ts's, against the live kernel.
import { describe, expect, it } from "vitest";
import {
  EBADF,
  EINVAL,
  MAP_ANONYMOUS,
  MAP_HUGETLB,
  MAP_NORESERVE,
  MAP_SHARED,
  Machine,
  PROT_READ,
  PROT_WRITE,
} from "./index";

const RW = PROT_READ | PROT_WRITE;

describe("mmap(MAP_HUGETLB) of a file", () => {
  it("a memfd with MAP_HUGETLB is EINVAL, a bad fd EBADF first; without MAP_HUGETLB it maps", async () => {
    const m = await Machine.create({ ramBytes: 16 * 1024 * 1024 });
    const p = m.spawn({ name: "t" });
    const fd = p.libc.memfdCreate("f", 0);
    p.libc.ftruncate(fd, 4096);
    expect(p.sys.mmap(0, 4096, RW, MAP_SHARED | MAP_HUGETLB | MAP_NORESERVE, fd, 0)).toBe(-EINVAL);
    expect(p.sys.mmap(0, 4096, RW, MAP_SHARED | MAP_HUGETLB, 99, 0)).toBe(-EBADF);
    expect(p.sys.mmap(0, 4096, RW, MAP_SHARED, fd, 0)).toBeGreaterThan(0);
    // MAP_ANONYMOUS ignores the fd.
    expect(
      p.sys.mmap(0, 4096, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB | MAP_NORESERVE, 99, 0),
    ).toBeGreaterThan(0);
    m.checkInvariants();
  });
});
