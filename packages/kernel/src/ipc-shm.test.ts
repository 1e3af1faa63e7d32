// SysV shared memory (issue 12 §2): shmget, shmat, shmdt, shmctl and /proc/sysvipc/shm. The expected
// values are what a 6.18 kernel printed for the same calls (a C program run in a fresh IPC namespace:
// ids from 0, the segment's file inode = its id, maps name /SYSV<key> (deleted) on 00:01).
import { describe, expect, it } from "vitest";
import {
  EEXIST,
  EFAULT,
  EINVAL,
  ENOENT,
  ENOMEM,
  ENOSPC,
  EPERM,
  IPC_CREAT,
  IPC_EXCL,
  IPC_PRIVATE,
  IPC_RMID,
  IPC_SET,
  IPC_STAT,
  Machine,
  O_RDONLY,
  SHM_HUGETLB,
  SHM_NORESERVE,
  SHM_RDONLY,
  SHM_REMAP,
  SHM_RND,
  type ShmidDs,
} from "./index";
import { shmIds } from "./internal/ipc-shm-state";
import { dropCapIpcLock } from "./internal/resource";

const PAGE = 4096;
const KEY = 0x7e57ab;

async function boot() {
  const m = await Machine.create({ ramBytes: 64 * 1024 * 1024 });
  return { m, p: m.spawn({ name: "t" }) };
}

const stat = (r: unknown) => r as ShmidDs;

describe("shmget", () => {
  it("SHM_HUGETLB: -EPERM without CAP_IPC_LOCK (can_do_hugetlb_shm), before the empty pool's -ENOMEM; a bad size -EINVAL first; SHMMNI is checked after the file (ENOMEM before ENOSPC)", async () => {
    const { m, p } = await boot();
    dropCapIpcLock(p.task);
    expect(p.sys.shmget(IPC_PRIVATE, PAGE, SHM_HUGETLB | (30 << 26) | 0o600)).toBe(-EINVAL);
    expect(p.sys.shmget(IPC_PRIVATE, PAGE, SHM_HUGETLB | 0o600)).toBe(-EPERM);
    expect(p.sys.shmget(IPC_PRIVATE, PAGE, SHM_HUGETLB | SHM_NORESERVE | 0o600)).toBe(-EPERM);
    // Plain shmem does not ask for the capability.
    expect(p.sys.shmget(IPC_PRIVATE, PAGE, 0o600)).toBeGreaterThanOrEqual(0);
    const q = m.spawn({ name: "root" });
    q.sys.shmctl(0, IPC_RMID);
    // A namespace at SHMMNI: the huge segment's reservation fails first (ipc_addid() comes after).
    shmIds(m.kernel).shmmni = 0;
    expect(q.sys.shmget(IPC_PRIVATE, PAGE, SHM_HUGETLB | 0o600)).toBe(-ENOMEM);
    expect(q.sys.shmget(IPC_PRIVATE, 2 ** 62, 0o600)).toBe(-ENOMEM);
    expect(q.sys.shmget(IPC_PRIVATE, PAGE, SHM_HUGETLB | SHM_NORESERVE | 0o600)).toBe(-ENOSPC);
    m.checkInvariants();
  });

  it("ids, keys and errors as the live kernel gave them", async () => {
    const { m, p } = await boot();
    const ids = [0, 1, 2].map(() => p.libc.shmget(IPC_PRIVATE, PAGE, 0o600));
    expect(ids).toEqual([0, 1, 2]);
    for (const id of ids) p.libc.shmctl(id, IPC_RMID);
    // The index moves on cyclically, so a new segment does not reuse a fresh id at once.
    const a = p.libc.shmget(IPC_PRIVATE, PAGE, 0o600);
    expect(a).toBe(3);
    p.libc.shmctl(a, IPC_RMID);
    expect(p.sys.shmget(IPC_PRIVATE, 0, 0o600)).toBe(-EINVAL);
    expect(p.sys.shmget(KEY, 100, 0o600)).toBe(-ENOENT);
    const k = p.libc.shmget(KEY, 100, IPC_CREAT | 0o640);
    expect(k).toBe(4);
    expect(p.sys.shmget(KEY, 100, IPC_CREAT | IPC_EXCL | 0o600)).toBe(-EEXIST);
    expect(p.sys.shmget(KEY, 101, 0)).toBe(-EINVAL);
    expect(p.sys.shmget(KEY, 50, 0)).toBe(k);
    expect(p.sys.shmget(IPC_PRIVATE, 2 ** 62, 0o600)).toBe(-ENOMEM);
    // IPC_SET: uid, gid and the permission bits; a NULL buffer is -EFAULT; a malformed one never gets in.
    expect(p.sys.shmctl(k, IPC_SET, { shmPerm: { uid: 7, gid: 8, mode: 0o7604 } })).toBe(0);
    expect(stat(p.libc.shmctl(k, IPC_STAT)).shmPerm).toMatchObject({ uid: 7, gid: 8, mode: 0o604 });
    expect(p.sys.shmctl(k, IPC_SET)).toBe(-EFAULT);
    expect(p.sys.shmctl(999, IPC_SET, { shmPerm: { uid: 0, gid: 0, mode: 0 } })).toBe(-EINVAL);
    expect(() => p.sys.shmctl(k, IPC_SET, { shmPerm: { uid: 0.5, gid: 0, mode: 0 } })).toThrow(TypeError);
    m.checkInvariants();
  });
});

describe("shmat, shmdt, shmctl", () => {
  it("attach errors, IPC_RMID with attaches, /SYSV maps names, destruction at the last detach", async () => {
    const { m, p } = await boot();
    const k = p.libc.shmget(KEY, 100, IPC_CREAT | 0o640);
    const a = p.libc.shmat(k, 0, 0);
    expect(p.sys.shmat(k, a + 1, 0)).toBe(-EINVAL);
    expect(p.sys.shmat(k, 0, SHM_REMAP)).toBe(-EINVAL);
    expect(p.sys.shmat(k, a, 0)).toBe(-EINVAL);
    expect(p.sys.shmdt(a + PAGE)).toBe(-EINVAL);
    expect(p.sys.shmdt(a + 1)).toBe(-EINVAL);
    p.mmu.store32(a + 96, 0x12345678);
    let ds = stat(p.libc.shmctl(k, IPC_STAT));
    expect(ds).toMatchObject({ shmSegsz: 100, shmNattch: 1, shmCpid: p.pid });
    expect(ds.shmPerm.mode).toBe(0o640);
    expect(ds.shmPerm.key).toBe(KEY);
    expect(p.libc.shmctl(k, IPC_RMID)).toBe(0);
    ds = stat(p.libc.shmctl(k, IPC_STAT));
    expect(ds.shmPerm).toMatchObject({ key: 0, mode: 0o1640 });
    expect(ds.shmNattch).toBe(1);
    expect(p.sys.shmget(KEY, 100, 0)).toBe(-ENOENT);
    // A segment marked for destruction can still be attached (Linux, not POSIX).
    const q = p.libc.shmat(k, 0, SHM_RDONLY);
    expect(p.mmu.load32(q + 96)).toBe(0x12345678);
    const sysv = p
      .procMaps()
      .split("\n")
      .filter((l) => l.includes("SYSV"));
    expect(sysv.map((l) => l.split(/\s+/).slice(1, 5).join(" ")).sort()).toEqual([
      `r--s 00000000 00:01 ${k}`,
      `rw-s 00000000 00:01 ${k}`,
    ]);
    expect(sysv.every((l) => l.endsWith(" /SYSV007e57ab (deleted)"))).toBe(true);
    expect(() => p.mmu.store8(q, 1)).toThrow(/SIGSEGV/);
    // The store killed the process: its exit detached both, and the marked segment went with them.
    expect(m.spawn().sys.shmctl(k, IPC_STAT)).toBe(-EINVAL);
    m.checkInvariants();
  });

  it("IPC_RMID frees the pages at the last detach; fork attaches, exit detaches", async () => {
    const { m, p } = await boot();
    const free0 = m.mem.nrFreePages;
    const id = p.libc.shmget(IPC_PRIVATE, 4 * PAGE, 0o600);
    const a = p.libc.shmat(id, 0, 0);
    for (let i = 0; i < 4; i++) p.mmu.store8(a + i * PAGE, i);
    const pid = p.libc.fork();
    expect(stat(p.libc.shmctl(id, IPC_STAT)).shmNattch).toBe(2);
    const c = m.process(pid)!;
    expect(c.mmu.load8(a + 3 * PAGE)).toBe(3);
    c.mmu.store8(a, 0x77);
    expect(p.mmu.load8(a)).toBe(0x77);
    c.libc.exit(0);
    p.libc.waitpid(pid);
    expect(stat(p.libc.shmctl(id, IPC_STAT)).shmNattch).toBe(1);
    p.libc.shmctl(id, IPC_RMID);
    m.checkInvariants();
    const listed = p.libc.read(p.libc.open("/proc/sysvipc/shm", O_RDONLY), 4096);
    const lines = new TextDecoder().decode(listed).trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ {7}key {6}shmid perms {18}size {2}cpid {2}lpid nattch/);
    expect(lines[1]!.trim().split(/\s+/).slice(0, 7)).toEqual([
      "0",
      String(id),
      "1600",
      String(4 * PAGE),
      String(p.pid),
      String(pid),
      "1",
    ]);
    expect(p.libc.shmdt(a)).toBe(0);
    expect(p.sys.shmctl(id, IPC_STAT)).toBe(-EINVAL);
    m.checkInvariants();
    expect(m.mem.nrFreePages).toBeGreaterThanOrEqual(free0 - 4);
  });

  it("SHM_RND rounds an unaligned address down; SHM_REMAP replaces what is there", async () => {
    const { m, p } = await boot();
    const id = p.libc.shmget(IPC_PRIVATE, PAGE, 0o600);
    const base = p.libc.mmap(0, 4 * PAGE, 3, 0x22, -1, 0);
    expect(p.libc.shmat(id, base + PAGE + 123, SHM_RND | SHM_REMAP)).toBe(base + PAGE);
    expect(p.sys.shmat(id, base + 2 * PAGE, 0)).toBe(-EINVAL);
    expect(p.libc.shmat(id, base + 2 * PAGE, SHM_REMAP)).toBe(base + 2 * PAGE);
    p.mmu.store8(base + PAGE, 9);
    expect(p.mmu.load8(base + 2 * PAGE)).toBe(9);
    expect(stat(p.libc.shmctl(id, IPC_STAT)).shmNattch).toBe(2);
    p.libc.exit(0);
    expect(stat(m.spawn().libc.shmctl(id, IPC_STAT)).shmNattch).toBe(0);
    m.checkInvariants();
  });
});
