// tmpfs files at /tmp and /dev/shm: open flags, read/write/pread/pwrite/lseek, ftruncate, fallocate,
// stat, unlink, rename, mkdir, getdents, and mmap sharing the page cache with read/write (issue 12 §2).
// The errno of each case is what Linux 6.x answers (open(2), ftruncate(2), fallocate(2), mmap(2)).
import { describe, expect, it } from "vitest";
import {
  EBADF,
  EEXIST,
  EINVAL,
  EISDIR,
  ENOENT,
  ENOMEM,
  ENOSPC,
  ENOTDIR,
  ENOTEMPTY,
  ENXIO,
  EOPNOTSUPP,
  EXDEV,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  MAP_PRIVATE,
  MAP_SHARED,
  Machine,
  O_APPEND,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_RDONLY,
  O_RDWR,
  O_TRUNC,
  O_WRONLY,
  PROT_READ,
  PROT_WRITE,
  S_IFDIR,
  S_IFREG,
  SEEK_CUR,
  SEEK_DATA,
  SEEK_END,
  SEEK_HOLE,
  SEEK_SET,
  SignalError,
} from "./index";

const PAGE = 4096;
const text = (b: Uint8Array | number) => (typeof b === "number" ? String(b) : new TextDecoder().decode(b));

async function boot() {
  const m = await Machine.create({ ramBytes: 64 * 1024 * 1024 });
  return { m, p: m.spawn({ name: "t" }) };
}

describe("tmpfs: open, read, write, lseek", () => {
  it("O_CREAT makes a file; O_EXCL refuses an existing one; a missing file is ENOENT", async () => {
    const { m, p } = await boot();
    expect(p.sys.open("/tmp/a", O_RDWR)).toBe(-ENOENT);
    const fd = p.sys.open("/tmp/a", O_RDWR | O_CREAT, 0o666);
    expect(fd).toBeGreaterThanOrEqual(3);
    expect(p.sys.open("/tmp/a", O_RDWR | O_CREAT | O_EXCL, 0o666)).toBe(-EEXIST);
    expect(p.sys.open("/tmp/a", O_RDWR | O_CREAT, 0o666)).toBeGreaterThan(fd);
    expect(p.sys.open("/tmp/missing/a", O_RDWR | O_CREAT, 0o666)).toBe(-ENOENT);
    expect(p.sys.open("/tmp/a/b", O_RDONLY)).toBe(-ENOTDIR);
    expect(p.sys.open("/tmp/a/", O_RDONLY)).toBe(-ENOTDIR);
    expect(p.sys.open("/tmp/a", O_RDONLY | O_DIRECTORY)).toBe(-ENOTDIR);
    expect(p.sys.open("/tmp", O_RDWR)).toBe(-EISDIR);
    expect(p.sys.open("/tmp", O_RDONLY | O_CREAT, 0o666)).toBe(-EISDIR);
    expect(p.sys.open("/tmp/b", O_RDONLY | O_CREAT | O_DIRECTORY, 0o666)).toBe(-EINVAL);
    const st = p.libc.fstat(fd);
    expect(st.stMode).toBe(S_IFREG | 0o644);
    expect(st.stSize).toBe(0);
    expect(st.stNlink).toBe(1);
    m.checkInvariants();
  });

  it("write then read through the file position; lseek SEEK_SET/CUR/END/DATA/HOLE", async () => {
    const { m, p } = await boot();
    const fd = p.libc.open("/dev/shm/x", O_RDWR | O_CREAT, 0o600);
    expect(p.sys.write(fd, "hello, world")).toBe(12);
    expect(p.sys.lseek(fd, 0, SEEK_CUR)).toBe(12);
    expect(p.sys.lseek(fd, 7, SEEK_SET)).toBe(7);
    expect(text(p.libc.read(fd, 100))).toBe("world");
    expect(p.libc.read(fd, 100).length).toBe(0);
    expect(p.sys.lseek(fd, -5, SEEK_END)).toBe(7);
    expect(p.sys.lseek(fd, -100, SEEK_CUR)).toBe(-EINVAL);
    // A write far out leaves a hole that reads as zeros and allocates nothing.
    expect(p.sys.pwrite(fd, "z", 5 * PAGE)).toBe(1);
    expect(p.libc.fstat(fd).stSize).toBe(5 * PAGE + 1);
    expect(p.libc.fstat(fd).stBlocks).toBe(16);
    expect(p.libc.pread(fd, 4, 2 * PAGE)).toEqual(new Uint8Array(4));
    expect(p.sys.lseek(fd, 100, SEEK_HOLE)).toBe(PAGE);
    expect(p.sys.lseek(fd, PAGE, SEEK_DATA)).toBe(5 * PAGE);
    expect(p.sys.lseek(fd, 5 * PAGE + 1, SEEK_DATA)).toBe(-ENXIO);
    expect(p.sys.lseek(fd, 0, SEEK_CUR)).toBe(5 * PAGE);
    expect(p.sys.pread(fd, 1, -1)).toBe(-EINVAL);
    m.checkInvariants();
  });

  it("O_APPEND writes at the end; O_TRUNC empties (even O_RDONLY); a read-only fd cannot write", async () => {
    const { m, p } = await boot();
    const fd = p.libc.open("/tmp/log", O_WRONLY | O_CREAT | O_APPEND, 0o644);
    p.libc.write(fd, "ab");
    p.libc.lseek(fd, 0, SEEK_SET);
    p.libc.write(fd, "cd");
    const r = p.libc.open("/tmp/log", O_RDONLY);
    expect(text(p.libc.read(r, 10))).toBe("abcd");
    expect(p.sys.write(r, "x")).toBe(-EBADF);
    expect(p.sys.read(fd, 1)).toBe(-EBADF);
    p.libc.open("/tmp/log", O_RDONLY | O_TRUNC);
    expect(p.libc.fstat(r).stSize).toBe(0);
    expect(p.libc.fstat(r).stBlocks).toBe(0);
    m.checkInvariants();
  });
});

describe("tmpfs: ftruncate, fallocate, unlink, rename, mkdir, getdents", () => {
  it("ftruncate: -EINVAL negative, read-only fd, or not a regular file; shrink zeroes the tail", async () => {
    const { m, p } = await boot();
    const fd = p.libc.open("/tmp/f", O_RDWR | O_CREAT, 0o644);
    p.libc.write(fd, new Uint8Array(6000).fill(0x41));
    expect(p.sys.ftruncate(fd, -1)).toBe(-EINVAL);
    expect(p.sys.ftruncate(p.libc.open("/tmp/f", O_RDONLY), 0)).toBe(-EINVAL);
    expect(p.sys.ftruncate(p.libc.open("/tmp", O_RDONLY), 0)).toBe(-EINVAL);
    expect(p.sys.ftruncate(99, 0)).toBe(-EBADF);
    expect(p.sys.ftruncate(fd, 10)).toBe(0);
    expect(p.libc.fstat(fd).stBlocks).toBe(8);
    expect(p.sys.ftruncate(fd, 3 * PAGE)).toBe(0);
    const back = p.libc.pread(fd, 20, 0);
    expect([...back.subarray(0, 10)]).toEqual(new Array(10).fill(0x41));
    expect([...back.subarray(10)]).toEqual(new Array(10).fill(0));
    expect(p.sys.truncate("/tmp/f", 1)).toBe(0);
    expect(p.libc.fstat(fd).stSize).toBe(1);
    expect(p.sys.truncate("/tmp", 1)).toBe(-EISDIR);
    expect(p.sys.truncate("/tmp/nope", 1)).toBe(-ENOENT);
    m.checkInvariants();
  });

  it("fallocate: allocates and grows, KEEP_SIZE does not grow, PUNCH_HOLE needs KEEP_SIZE and frees", async () => {
    const { m, p } = await boot();
    const fd = p.libc.open("/tmp/f", O_RDWR | O_CREAT, 0o644);
    expect(p.sys.fallocate(fd, 0, 0, 0)).toBe(-EINVAL);
    expect(p.sys.fallocate(fd, 0, -1, 1)).toBe(-EINVAL);
    expect(p.sys.fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 1)).toBe(-EOPNOTSUPP);
    expect(p.sys.fallocate(fd, 0x10, 0, 1)).toBe(-EOPNOTSUPP);
    expect(p.sys.fallocate(fd, 0, 0, 2 * PAGE + 1)).toBe(0);
    expect(p.libc.fstat(fd)).toMatchObject({ stSize: 2 * PAGE + 1, stBlocks: 24 });
    expect(p.sys.fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 5 * PAGE)).toBe(0);
    expect(p.libc.fstat(fd)).toMatchObject({ stSize: 2 * PAGE + 1, stBlocks: 40 });
    p.libc.pwrite(fd, new Uint8Array(3 * PAGE).fill(7), 0);
    expect(p.sys.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100, 2 * PAGE)).toBe(0);
    // Only page 1 lies wholly inside [100, 100 + 2 pages): freed; the edges are zeroed in place.
    expect(p.libc.fstat(fd).stBlocks).toBe(32);
    const all = p.libc.pread(fd, 3 * PAGE, 0);
    expect(all[99]).toBe(7);
    expect(all[100]).toBe(0);
    expect(all[2 * PAGE + 99]).toBe(0);
    expect(all[2 * PAGE + 100]).toBe(7);
    expect(p.sys.fallocate(p.libc.open("/tmp/f", O_RDONLY), 0, 0, 1)).toBe(-EBADF);
    // Huge ranges answer at once: more than the mount holds, more than memory holds.
    expect(p.sys.fallocate(fd, 0, 0, 2 ** 40)).toBe(-ENOSPC);
    const mfd = p.libc.memfdCreate("huge");
    expect(p.sys.fallocate(mfd, 0, 0, 2 ** 40)).toBe(-ENOMEM);
    p.libc.ftruncate(mfd, 2 ** 50);
    p.libc.pwrite(mfd, "x", 2 ** 45);
    expect(p.sys.lseek(mfd, 0, SEEK_DATA)).toBe(2 ** 45);
    expect(p.sys.lseek(mfd, 2 ** 45, SEEK_HOLE)).toBe(2 ** 45 + PAGE);
    expect(p.sys.lseek(mfd, 2 ** 45 + PAGE, SEEK_DATA)).toBe(-ENXIO);
    m.checkInvariants();
  });

  it("mkdir, getdents, rename, rmdir, unlink with their errno", async () => {
    const { m, p } = await boot();
    expect(p.sys.mkdir("/tmp/d", 0o755)).toBe(0);
    expect(p.sys.mkdir("/tmp/d", 0o755)).toBe(-EEXIST);
    expect(p.sys.mkdir("/tmp/x/y", 0o755)).toBe(-ENOENT);
    p.libc.close(p.libc.open("/tmp/d/one", O_CREAT | O_RDWR, 0o644));
    p.libc.close(p.libc.open("/tmp/d/two", O_CREAT | O_RDWR, 0o644));
    expect(p.libc.stat("/tmp/d").stMode).toBe(S_IFDIR | 0o755);
    const dfd = p.libc.open("/tmp/d", O_RDONLY | O_DIRECTORY);
    expect(p.sys.read(dfd, 10)).toBe(-EISDIR);
    const names = p.libc.getdents(dfd).map((e) => e.dName);
    expect(names).toEqual([".", "..", "two", "one"]);
    expect(p.libc.getdents(dfd)).toEqual([]);
    expect(p.sys.getdents(dfd, 10)).toEqual([]);
    p.libc.lseek(dfd, 0, SEEK_SET);
    expect(p.sys.getdents(dfd, 10)).toBe(-EINVAL);
    expect(p.libc.getdents(dfd, 24).map((e) => e.dName)).toEqual(["."]);
    expect(p.sys.rmdir("/tmp/d")).toBe(-ENOTEMPTY);
    expect(p.sys.rmdir("/tmp/d/one")).toBe(-ENOTDIR);
    expect(p.sys.unlink("/tmp/d")).toBe(-EISDIR);
    expect(p.sys.rename("/tmp/d/one", "/dev/shm/one")).toBe(-EXDEV);
    expect(p.sys.rename("/tmp/d", "/tmp/d/sub")).toBe(-EINVAL);
    expect(p.sys.rename("/tmp/d/one", "/tmp/d/two")).toBe(0);
    expect(p.libc.stat("/tmp/d/two").stIno).not.toBe(0);
    expect(p.sys.stat("/tmp/d/one")).toBe(-ENOENT);
    expect(p.sys.unlink("/tmp/d/two")).toBe(0);
    expect(p.sys.rmdir("/tmp/d")).toBe(0);
    expect(p.sys.stat("/tmp/d")).toBe(-ENOENT);
    m.checkInvariants();
  });
});

describe("mmap of tmpfs files shares the page cache", () => {
  it("MAP_SHARED stores are read() back and seen by another process; write() is seen by mappings", async () => {
    const { m, p } = await boot();
    const fd = p.libc.open("/dev/shm/s", O_RDWR | O_CREAT, 0o600);
    p.libc.ftruncate(fd, 2 * PAGE);
    const a = p.libc.mmap(0, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    p.mmu.write(a + 10, new TextEncoder().encode("from mmap"));
    expect(text(p.libc.pread(fd, 9, 10))).toBe("from mmap");
    const q = m.spawn({ name: "q" });
    const qfd = q.libc.open("/dev/shm/s", O_RDWR);
    const b = q.libc.mmap(0, 2 * PAGE, PROT_READ, MAP_SHARED, qfd, 0);
    expect(text(q.mmu.read(b + 10, 9))).toBe("from mmap");
    p.libc.pwrite(fd, "by write", PAGE);
    expect(text(q.mmu.read(b + PAGE, 8))).toBe("by write");
    expect(p.procMaps()).toMatch(/rw-s 00000000 00:19 \d+ +\/dev\/shm\/s\n/);
    m.checkInvariants();
  });

  it("MAP_PRIVATE copies on write: the file and other mappings keep the old bytes", async () => {
    const { m, p } = await boot();
    const fd = p.libc.open("/tmp/p", O_RDWR | O_CREAT, 0o600);
    p.libc.write(fd, "original");
    const a = p.libc.mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    const s = p.libc.mmap(0, PAGE, PROT_READ, MAP_SHARED, fd, 0);
    expect(text(p.mmu.read(a, 8))).toBe("original");
    p.mmu.write(a, new TextEncoder().encode("CHANGED!"));
    expect(text(p.mmu.read(a, 8))).toBe("CHANGED!");
    expect(text(p.mmu.read(s, 8))).toBe("original");
    expect(text(p.libc.pread(fd, 8, 0))).toBe("original");
    // A later write() reaches the shared mapping, not the private copy.
    p.libc.pwrite(fd, "rewritten", 0);
    expect(text(p.mmu.read(s, 9))).toBe("rewritten");
    expect(text(p.mmu.read(a, 8))).toBe("CHANGED!");
    m.checkInvariants();
  });

  it("access past EOF is SIGBUS BUS_ADRERR; ftruncate shrink zaps every process's pages", async () => {
    const { m, p } = await boot();
    const fd = p.libc.open("/tmp/t", O_RDWR | O_CREAT, 0o600);
    p.libc.ftruncate(fd, PAGE + 1);
    const a = p.libc.mmap(0, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    p.mmu.store8(a + PAGE + 100, 1); // inside the page holding EOF: fine
    let err: unknown;
    try {
      p.mmu.load8(a + 2 * PAGE);
    } catch (e) {
      err = e;
    }
    expect(SignalError.is(err) && err.signal === "SIGBUS" && err.code === "BUS_ADRERR").toBe(true);
    expect(p.alive).toBe(false);

    const q = m.spawn({ name: "q" });
    const qfd = q.libc.open("/tmp/t", O_RDWR);
    const b = q.libc.mmap(0, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, qfd, 0);
    const c = q.libc.mmap(0, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, qfd, 0);
    q.mmu.store8(b + PAGE, 9);
    q.mmu.store8(c + PAGE + 1, 8); // a private COW copy of page 1
    q.libc.ftruncate(qfd, PAGE);
    expect(() => q.mmu.load8(c + PAGE + 1)).toThrow(/SIGBUS/);
    expect(q.alive).toBe(false);
    m.checkInvariants();
  });

  it("unlink keeps a mapped file's pages until the last unmap; maps shows (deleted)", async () => {
    const { m, p } = await boot();
    const free0 = m.mem.nrFreePages;
    const fd = p.libc.open("/dev/shm/u", O_RDWR | O_CREAT, 0o600);
    p.libc.ftruncate(fd, 4 * PAGE);
    const a = p.libc.mmap(0, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    for (let i = 0; i < 4; i++) p.mmu.store32(a + i * PAGE, i + 1);
    p.libc.close(fd);
    p.libc.unlink("/dev/shm/u");
    expect(p.sys.open("/dev/shm/u", O_RDONLY)).toBe(-ENOENT);
    expect(p.mmu.load32(a + 3 * PAGE)).toBe(4);
    expect(p.procMaps()).toMatch(/\/dev\/shm\/u \(deleted\)\n/);
    expect(m.mem.nrFreePages).toBeLessThan(free0 - 3);
    m.checkInvariants();
    p.libc.munmap(a, 4 * PAGE);
    m.checkInvariants();
    // Page tables may stay allocated; the four data pages are back.
    expect(m.mem.nrFreePages).toBeGreaterThanOrEqual(free0 - 4);
    const meminfo = text(p.libc.read(p.libc.open("/proc/meminfo", O_RDONLY), 8192));
    expect(meminfo).toMatch(/Shmem:\s+0 kB/);
  });
});

describe("/dev/zero", () => {
  it("reads zeros, swallows writes, stays at offset 0; MAP_SHARED is shmem, MAP_PRIVATE anonymous (as 6.18 shows them)", async () => {
    const { m, p } = await boot();
    const fd = p.libc.open("/dev/zero", O_RDWR);
    const buf = new Uint8Array([1, 2, 3]);
    expect(p.libc.read(fd, buf)).toBe(3);
    expect([...buf]).toEqual([0, 0, 0]);
    expect(p.libc.write(fd, "abc")).toBe(3);
    expect(p.libc.lseek(fd, 100, SEEK_SET)).toBe(0);
    const s = p.libc.mmap(0, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const q = p.libc.mmap(0, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    p.mmu.store8(s, 1);
    p.mmu.store8(q, 2);
    const maps = p.procMaps();
    expect(maps).toMatch(/rw-s 00000000 00:01 \d+ +\/dev\/zero \(deleted\)\n/);
    expect(maps).toMatch(/rw-p 00000000 00:05 4 +\/dev\/zero\n/);
    const pid = p.libc.fork();
    const c = m.process(pid)!;
    c.mmu.store8(s + 1, 3);
    c.mmu.store8(q + 1, 4);
    expect(p.mmu.load8(s + 1)).toBe(3);
    expect(p.mmu.load8(q + 1)).toBe(0);
    // mmap_zero() keeps the offset but sizes the shmem file to the mapping: the page is past its end.
    const r = p.libc.mmap(0, PAGE, PROT_READ, MAP_SHARED, fd, PAGE);
    expect(p.procMaps()).toMatch(/r--s 00001000 00:01 \d+ +\/dev\/zero \(deleted\)\n/);
    expect(() => p.mmu.load8(r)).toThrow(/SIGBUS/);
    const ro = c.libc.open("/dev/zero", O_RDONLY);
    expect(c.sys.mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0)).toBe(-13);
    m.checkInvariants();
  });

  it("MAP_SHARED of more than RAM is ENOMEM (shmem_zero_setup charges it), MAP_PRIVATE read-only is not charged", async () => {
    const { m, p } = await boot();
    const fd = p.libc.open("/dev/zero", O_RDWR);
    const big = (m.mem.totalRamPages + 1) * PAGE;
    const before = p.procMaps();
    expect(p.sys.mmap(0, big, PROT_READ, MAP_SHARED, fd, 0)).toBe(-ENOMEM);
    expect(p.procMaps()).toBe(before);
    expect(p.sys.mmap(0, big, PROT_READ, MAP_PRIVATE, fd, 0)).toBeGreaterThan(0);
    m.checkInvariants();
  });
});

describe("tmpfs size limit", () => {
  it("a mount holds half of RAM (tmpfs's default size=): writes past it are short, then -ENOSPC; faults SIGBUS", async () => {
    const m = await Machine.create({ ramBytes: 16 * 1024 * 1024 });
    const p = m.spawn();
    const mounts = new TextDecoder().decode(p.libc.read(p.libc.open("/proc/mounts", O_RDONLY), 4096));
    expect(mounts).toContain("tmpfs /dev/shm tmpfs rw,nosuid,nodev,inode64 0 0\n");
    // shmem_default_max_blocks(): totalram_pages() / 2.
    const limit = Math.floor(m.mem.totalRamPages / 2) * PAGE;
    const fd = p.libc.open("/dev/shm/big", O_RDWR | O_CREAT, 0o600);
    const chunk = new Uint8Array(1024 * 1024).fill(1);
    let total = 0;
    for (let i = 0; i < 8; i++) total += p.libc.write(fd, chunk);
    expect(total).toBe(limit);
    expect(total).toBeLessThan(8 * 1024 * 1024);
    expect(p.sys.write(fd, chunk)).toBe(-ENOSPC);
    // The other mount has its own blocks; a fault that needs a page of a full mount is SIGBUS.
    const other = p.libc.open("/tmp/t", O_RDWR | O_CREAT, 0o600);
    expect(p.libc.write(other, "x")).toBe(1);
    p.libc.ftruncate(fd, limit + PAGE);
    const a = p.libc.mmap(0, limit + PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    expect(p.mmu.load8(a)).toBe(1);
    expect(() => p.mmu.store8(a + limit, 1)).toThrow(/SIGBUS/);
    m.checkInvariants();
  });
});
