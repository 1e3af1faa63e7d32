// memfd_create(2) and the seals of fcntl(2) (issue 12 §2), with the errno Linux 6.x answers
// (memfd_create(2), fcntl(2) "File Sealing", mm/memfd.c, mm/shmem.c).
import { describe, expect, it } from "vitest";
import {
  EACCES,
  EBADF,
  EBUSY,
  EINVAL,
  EPERM,
  F_ADD_SEALS,
  F_GET_SEALS,
  F_GETFD,
  F_SEAL_FUTURE_WRITE,
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
  F_SETFD,
  FALLOC_FL_KEEP_SIZE,
  FD_CLOEXEC,
  MADV_REMOVE,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  Machine,
  MFD_ALLOW_SEALING,
  MFD_CLOEXEC,
  MFD_EXEC,
  MFD_HUGETLB,
  MFD_NOEXEC_SEAL,
  O_CREAT,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  S_IFREG,
} from "./index";

const PAGE = 4096;

async function boot() {
  const m = await Machine.create({ ramBytes: 64 * 1024 * 1024 });
  return { m, p: m.spawn({ name: "t" }) };
}

describe("memfd_create", () => {
  it("argument errors: unknown flags, MFD_EXEC with MFD_NOEXEC_SEAL, a name over 249 bytes", async () => {
    const { m, p } = await boot();
    expect(p.sys.memfdCreate("x", 0x100)).toBe(-EINVAL);
    expect(p.sys.memfdCreate("x", MFD_EXEC | MFD_NOEXEC_SEAL)).toBe(-EINVAL);
    expect(p.sys.memfdCreate("x", MFD_HUGETLB)).toBe(-EINVAL);
    expect(p.sys.memfdCreate("n".repeat(250), 0)).toBe(-EINVAL);
    expect(p.sys.memfdCreate("n".repeat(249), 0)).toBeGreaterThanOrEqual(3);
    m.checkInvariants();
  });

  it("an empty O_RDWR file: write/read, ftruncate, mmap; maps shows /memfd:NAME (deleted) on 00:01", async () => {
    const { m, p } = await boot();
    const fd = p.libc.memfdCreate("buf", MFD_CLOEXEC);
    expect(p.libc.fcntl(fd, F_GETFD)).toBe(FD_CLOEXEC);
    expect(p.libc.fstat(fd)).toMatchObject({ stSize: 0, stNlink: 0 });
    expect(p.libc.fstat(fd).stMode & S_IFREG).toBe(S_IFREG);
    p.libc.ftruncate(fd, 2 * PAGE);
    const a = p.libc.mmap(0, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    p.mmu.store32(a + PAGE, 0xdeadbeef);
    const back = p.libc.pread(fd, 4, PAGE);
    expect(new DataView(back.buffer).getUint32(0, true)).toBe(0xdeadbeef);
    const ino = p.libc.fstat(fd).stIno;
    expect(p.procMaps()).toContain(`rw-s 00000000 00:01 ${ino}`);
    expect(p.procMaps()).toMatch(/ \/memfd:buf \(deleted\)\n/);
    p.libc.fcntl(fd, F_SETFD, 0);
    expect(p.libc.fcntl(fd, F_GETFD)).toBe(0);
    m.checkInvariants();
  });

  it("a child of fork shares the pages; the last close and unmap free them", async () => {
    const { m, p } = await boot();
    const free0 = m.mem.nrFreePages;
    const fd = p.libc.memfdCreate("shared");
    p.libc.ftruncate(fd, 3 * PAGE);
    const a = p.libc.mmap(0, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const pid = p.libc.fork();
    const c = m.process(pid)!;
    c.mmu.store8(a + 2 * PAGE, 0x5a);
    expect(p.mmu.load8(a + 2 * PAGE)).toBe(0x5a);
    expect(c.libc.fcntl(fd, F_GETFD)).toBe(0);
    c.libc.exit(0);
    p.libc.waitpid(pid);
    p.libc.close(fd);
    expect(p.mmu.load8(a + 2 * PAGE)).toBe(0x5a);
    m.checkInvariants();
    p.libc.munmap(a, 3 * PAGE);
    m.checkInvariants();
    expect(m.mem.nrFreePages).toBeGreaterThanOrEqual(free0 - 4);
  });
});

describe("seals (F_ADD_SEALS / F_GET_SEALS)", () => {
  it("without MFD_ALLOW_SEALING the file is F_SEAL_SEAL; tmpfs files too; other files -EINVAL", async () => {
    const { m, p } = await boot();
    const fd = p.libc.memfdCreate("s");
    expect(p.sys.fcntl(fd, F_GET_SEALS)).toBe(F_SEAL_SEAL);
    expect(p.sys.fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE)).toBe(-EPERM);
    const t = p.libc.open("/tmp/f", O_RDWR | O_CREAT, 0o600);
    expect(p.sys.fcntl(t, F_GET_SEALS)).toBe(F_SEAL_SEAL);
    expect(p.sys.fcntl(t, F_ADD_SEALS, F_SEAL_WRITE)).toBe(-EPERM);
    expect(p.sys.fcntl(1, F_GET_SEALS)).toBe(-EINVAL);
    expect(p.sys.fcntl(99, F_GET_SEALS)).toBe(-EBADF);
    const n = p.libc.memfdCreate("noexec", MFD_NOEXEC_SEAL);
    expect(p.sys.fcntl(n, F_GET_SEALS)).toBe(0x20);
    m.checkInvariants();
  });

  it("F_SEAL_SHRINK, F_SEAL_GROW: ftruncate, write and fallocate past the size are -EPERM", async () => {
    const { m, p } = await boot();
    const fd = p.libc.memfdCreate("g", MFD_ALLOW_SEALING);
    expect(p.sys.fcntl(fd, F_GET_SEALS)).toBe(0);
    p.libc.ftruncate(fd, 2 * PAGE);
    expect(p.sys.fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK)).toBe(0);
    expect(p.sys.ftruncate(fd, PAGE)).toBe(-EPERM);
    expect(p.sys.ftruncate(fd, 3 * PAGE)).toBe(0);
    expect(p.sys.fcntl(fd, F_ADD_SEALS, F_SEAL_GROW)).toBe(0);
    expect(p.sys.fcntl(fd, F_GET_SEALS)).toBe(F_SEAL_SHRINK | F_SEAL_GROW);
    expect(p.sys.ftruncate(fd, 4 * PAGE)).toBe(-EPERM);
    expect(p.sys.ftruncate(fd, 3 * PAGE)).toBe(0);
    // shmem_write_begin() checks each page: the part inside the size is written, then it stops.
    expect(p.sys.pwrite(fd, "ab", 3 * PAGE - 1)).toBe(1);
    expect(p.sys.pwrite(fd, "ab", 3 * PAGE)).toBe(-EPERM);
    expect(p.sys.fallocate(fd, 0, 0, 4 * PAGE)).toBe(-EPERM);
    // shmem_fallocate() asks F_SEAL_GROW before it looks at FALLOC_FL_KEEP_SIZE: past the size is
    // -EPERM even when the size would not change (Linux 6.18.44); inside it, fine.
    expect(p.sys.fallocate(fd, FALLOC_FL_KEEP_SIZE, 2 * PAGE, 2 * PAGE)).toBe(-EPERM);
    expect(p.sys.fallocate(fd, FALLOC_FL_KEEP_SIZE, 2 * PAGE, PAGE)).toBe(0);
    expect(p.sys.fcntl(fd, F_ADD_SEALS, 0x40)).toBe(-EINVAL);
    m.checkInvariants();
  });

  it("F_SEAL_WRITE: -EBUSY while a shared mapping may write; then write and shared writable mmap -EPERM", async () => {
    const { m, p } = await boot();
    const fd = p.libc.memfdCreate("w", MFD_ALLOW_SEALING);
    p.libc.ftruncate(fd, PAGE);
    const a = p.libc.mmap(0, PAGE, PROT_READ, MAP_SHARED, fd, 0);
    // A read-only shared mapping of an O_RDWR file keeps VM_MAYWRITE: it counts (i_mmap_writable).
    expect(p.sys.fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE)).toBe(-EBUSY);
    const priv = p.libc.mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    p.libc.munmap(a, PAGE);
    expect(p.sys.fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE)).toBe(0);
    expect(p.sys.write(fd, "x")).toBe(-EPERM);
    expect(p.sys.mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)).toBe(-EPERM);
    // do_mmap() checks the seals before it unmaps anything (memfd_check_seals_mmap(), v6.13): a
    // MAP_FIXED over the private mapping fails and leaves it (Linux 6.18.44).
    expect(p.sys.mmap(priv, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0)).toBe(-EPERM);
    expect(p.mm.vmaLookup(priv)?.vmStart).toBe(priv);
    const ro = p.libc.mmap(0, PAGE, PROT_READ, MAP_SHARED, fd, 0);
    expect(p.sys.mprotect(ro, PAGE, PROT_READ | PROT_WRITE)).toBe(-EACCES);
    // A private mapping still copies on write.
    p.mmu.store8(priv, 1);
    expect(p.mmu.load8(ro)).toBe(0);
    expect(p.sys.ftruncate(fd, 2 * PAGE)).toBe(0);
    expect(p.sys.fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL)).toBe(0);
    expect(p.sys.fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK)).toBe(-EPERM);
    m.checkInvariants();
  });

  it("F_SEAL_FUTURE_WRITE: existing writable mappings keep writing; new ones and write() are -EPERM", async () => {
    const { m, p } = await boot();
    const fd = p.libc.memfdCreate("fw", MFD_ALLOW_SEALING);
    p.libc.ftruncate(fd, PAGE);
    const a = p.libc.mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    // Unsealed, MADV_REMOVE punches the page out of the memfd (it read zeros again).
    p.mmu.store8(a, 5);
    expect(p.sys.madvise(a, PAGE, MADV_REMOVE)).toBe(0);
    expect(p.mmu.load8(a)).toBe(0);
    expect(p.sys.fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE)).toBe(0);
    p.mmu.store8(a, 7);
    expect(p.libc.pread(fd, 1, 0)[0]).toBe(7);
    expect(p.sys.pwrite(fd, "x", 0)).toBe(-EPERM);
    expect(p.sys.mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)).toBe(-EPERM);
    // MADV_REMOVE punches the hole through shmem_fallocate(), which the seal refuses; the page and
    // its data stay (Linux 6.18.44).
    expect(p.sys.madvise(a, PAGE, MADV_REMOVE)).toBe(-EPERM);
    expect(p.mmu.load8(a)).toBe(7);
    m.checkInvariants();
  });
});
