// FOLL_LONGTERM's refusal of writable file mappings that need dirty tracking (mm/gup.c
// writable_file_mapping_allowed, vma_needs_dirty_tracking): a driver whose shared mapping wants write
// notification (->page_mkwrite) cannot have its pages pinned writable for the long term; short-term
// pins, reads, and anonymous or tmpfs memory are allowed.
import { describe, expect, it } from "vitest";
import { FOLL_LONGTERM, FOLL_WRITE, pinUserPages, unpinUserPages } from "./gup";
import {
  allocPages,
  defineDriver,
  EFAULT,
  freePages,
  getPage,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  Machine,
  O_CREAT,
  O_RDWR,
  type Page,
  PROT_READ,
  PROT_WRITE,
  VM_FAULT_SIGBUS,
} from "./index";

function notifyDriver(withMkwrite: boolean) {
  const pages: Page[] = [];
  return defineDriver({
    name: withMkwrite ? "notify" : "plain",
    apiVersion: 1,
    init(ctx) {
      for (let i = 0; i < 2; i++) pages.push(allocPages(0, 0)!);
      const major = ctx.allocChrdevRegion(0, 1, "notify");
      ctx.cdevAdd(major, 0, 1, {
        mmap(_file, vma) {
          vma.vmOps = {
            fault(vmf) {
              const p = pages[vmf.pgoff];
              if (!p) return VM_FAULT_SIGBUS;
              getPage(p);
              vmf.page = p;
              return 0;
            },
            ...(withMkwrite ? { pageMkwrite: () => 0 } : {}),
          };
          return 0;
        },
      });
      ctx.createDevNode(withMkwrite ? "notify" : "plain", major, 0);
      return 0;
    },
    exit() {
      for (const p of pages) freePages(p, 0);
    },
  });
}

describe("FOLL_LONGTERM | FOLL_WRITE pins", () => {
  it("are refused on a shared mapping whose driver wants write notification, allowed elsewhere", async () => {
    const m = await Machine.create({
      ramBytes: 16 << 20,
      drivers: [notifyDriver(true), notifyDriver(false)],
    });
    const p = m.spawn({ name: "dio" });
    const RW = PROT_READ | PROT_WRITE;
    const notify = p.libc.mmap(0, 8192, RW, MAP_SHARED, p.libc.open("/dev/notify", O_RDWR), 0);
    const plain = p.libc.mmap(0, 8192, RW, MAP_SHARED, p.libc.open("/dev/plain", O_RDWR), 0);
    const tmp = p.libc.open("/tmp/f", O_RDWR | O_CREAT, 0o600);
    p.libc.ftruncate(tmp, 8192);
    const shm = p.libc.mmap(0, 8192, RW, MAP_SHARED, tmp, 0);
    const anon = p.libc.mmap(0, 8192, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    const pin = (addr: number, flags: number) =>
      m.syscall(p, "ioctl", () => {
        const got: Page[] = [];
        const r = pinUserPages(addr, 1, flags, got);
        unpinUserPages(got);
        return r;
      });
    expect(pin(notify, FOLL_WRITE | FOLL_LONGTERM)).toBe(-EFAULT);
    expect(pin(notify, FOLL_WRITE)).toBe(1);
    expect(pin(notify, FOLL_LONGTERM)).toBe(1);
    expect(pin(plain, FOLL_WRITE | FOLL_LONGTERM)).toBe(1);
    expect(pin(shm, FOLL_WRITE | FOLL_LONGTERM)).toBe(1);
    expect(pin(anon, FOLL_WRITE | FOLL_LONGTERM)).toBe(1);
    m.checkInvariants();
  });
});
