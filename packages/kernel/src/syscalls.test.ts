// Raw syscalls outside the mmap family, against what Linux answers (checked on a 6.18 kernel).
import { describe, expect, it } from "vitest";
import {
  DRIVER_API_VERSION,
  defineDriver,
  EBADF,
  ECHILD,
  EEXIST,
  EFAULT,
  EINVAL,
  ENOMEM,
  ENOTDIR,
  ENOTTY,
  ESPIPE,
  FIOCLEX,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_NORESERVE,
  MAP_PRIVATE,
  Machine,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_PATH,
  O_RDONLY,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  SEEK_DATA,
  SEEK_END,
  SEEK_SET,
  WNOHANG,
} from "./index";

/** A character device whose ioctl says "not mine" (-ENOIOCTLCMD) and whose read fills zeros. */
const zeroish = defineDriver({
  name: "zeroish",
  apiVersion: DRIVER_API_VERSION,
  init(ctx) {
    const major = ctx.allocChrdevRegion(0, 1, "zeroish");
    ctx.cdevAdd(major, 0, 1, {
      read: (_f, buf) => {
        buf.fill(0);
        return buf.length;
      },
      unlockedIoctl: () => -515,
    });
    ctx.createDevNode("zeroish", major, 0);
    return 0;
  },
});

describe("read, lseek, ioctl, waitpid, getppid and the console", () => {
  it("a huge read count is a short read (MAX_RW_COUNT), a negative one -EFAULT; the process lives", async () => {
    const m = await Machine.create({ drivers: [zeroish] });
    const p = m.spawn();
    const fd = p.sys.open("/dev/zeroish", O_RDONLY);
    const r = p.sys.read(fd, 2 ** 40);
    expect(r).toBeInstanceOf(Uint8Array);
    expect((r as Uint8Array).length).toBeGreaterThan(0);
    expect(p.sys.read(fd, -1)).toBe(-EFAULT);
    expect(p.state).toBe("running");
    m.checkInvariants();
  });

  it("/proc files are built when read from offset 0, so a new mapping shows after lseek(0)", async () => {
    const m = await Machine.create();
    const p = m.spawn();
    const fd = p.sys.open("/proc/self/maps", O_RDONLY);
    expect(p.sys.read(fd, 4096)).toEqual(new Uint8Array(0));
    const a = p.sys.mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    expect(p.sys.lseek(fd, 0, SEEK_SET)).toBe(0);
    const text = new TextDecoder().decode(p.sys.read(fd, 4096) as Uint8Array);
    expect(text).toContain(`${a.toString(16)}-`);
    // seq_lseek(): SEEK_SET and SEEK_CUR only.
    expect(p.sys.lseek(fd, 0, SEEK_END)).toBe(-EINVAL);
  });

  it("lseek refuses only whence > SEEK_HOLE before the driver; ioctl generic commands and -ENOIOCTLCMD", async () => {
    const m = await Machine.create({ drivers: [zeroish] });
    const p = m.spawn();
    expect(p.sys.lseek(1, 0, SEEK_DATA)).toBe(-ESPIPE);
    expect(p.sys.lseek(1, 0, 9)).toBe(-EINVAL);
    const fd = p.sys.open("/dev/zeroish", O_RDWR);
    expect(p.sys.ioctl(fd, FIOCLEX)).toBe(0);
    expect(p.sys.ioctl(fd, 0x1234)).toBe(-ENOTTY);
  });

  it("waitpid(0) waits for any child of the group; unknown options are -EINVAL; a spawned process's parent is 0", async () => {
    const m = await Machine.create();
    const p = m.spawn();
    expect(p.sys.getppid()).toBe(0);
    const child = p.sys.fork() as number;
    m.process(child)!.sys.exit(3);
    expect(p.sys.waitpid(0, 0x100)).toBe(-EINVAL);
    expect(p.sys.waitpid(0, WNOHANG)).toEqual({ pid: child, status: 3 << 8 });
  });

  it("fork is -ENOMEM when a private writable VMA is larger than RAM (dup_mmap's commit charge); no child is left", async () => {
    const m = await Machine.create({ ramBytes: 32 * 1024 * 1024 });
    const p = m.spawn();
    const MiB = 1024 * 1024;
    const a = p.sys.mmap(
      0,
      40 * MiB,
      PROT_READ | PROT_WRITE,
      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
      -1,
      0,
    );
    expect(a).toBeGreaterThan(0);
    // Without MAP_NORESERVE, two halves that merge: each mmap passes, the fork does not.
    expect(
      p.sys.mmap(a, 20 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
    ).toBe(a);
    const b = a + 20 * MiB;
    expect(
      p.sys.mmap(b, 20 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
    ).toBe(b);
    expect(p.mm.vmaLookup(a)?.vmEnd).toBe(a + 40 * MiB);
    const before = m.processes().length;
    expect(p.sys.fork()).toBe(-ENOMEM);
    expect(m.processes().length).toBe(before);
    expect(p.sys.waitpid(-1, WNOHANG)).toBe(-ECHILD);
    m.checkInvariants();
  });

  it("fds 0-2 are one /dev/console opened read-write", async () => {
    const m = await Machine.create();
    const p = m.spawn();
    expect(p.sys.write(0, "to stdin\n")).toBe(9);
    expect(p.sys.read(1, 10)).toEqual(new Uint8Array(0));
    expect(m.console()).toBe("to stdin\n");
    m.checkInvariants();
  });
});

describe("open flags and names", () => {
  it("O_CREAT|O_EXCL on a node is -EEXIST, O_DIRECTORY -ENOTDIR, '//dev/./x' names the same node", async () => {
    const m = await Machine.create({ drivers: [zeroish] });
    const p = m.spawn();
    expect(p.sys.open("/dev/zeroish", O_RDWR | O_CREAT | O_EXCL)).toBe(-EEXIST);
    expect(p.sys.open("/dev/zeroish", O_RDONLY | O_DIRECTORY)).toBe(-ENOTDIR);
    expect(p.sys.open("//dev/./zeroish", O_RDONLY)).toBeGreaterThanOrEqual(3);
  });

  it("an O_PATH fd names the node only: read, ioctl, lseek and mmap are -EBADF", async () => {
    const m = await Machine.create({ drivers: [zeroish] });
    const p = m.spawn();
    const fd = p.sys.open("/dev/zeroish", O_PATH);
    expect(fd).toBeGreaterThanOrEqual(3);
    expect(p.sys.read(fd, 4)).toBe(-EBADF);
    expect(p.sys.ioctl(fd, 0x1234)).toBe(-EBADF);
    expect(p.sys.lseek(fd, 0, SEEK_SET)).toBe(-EBADF);
    expect(p.sys.mmap(0, 4096, PROT_READ, MAP_PRIVATE, fd, 0)).toBe(-EBADF);
    expect(p.sys.close(fd)).toBe(0);
    m.checkInvariants();
  });
});

describe("the driver context", () => {
  it("tells a driver which era the machine follows", async () => {
    const seen: string[] = [];
    const probe = () =>
      defineDriver({
        name: "era-probe",
        apiVersion: DRIVER_API_VERSION,
        init(ctx) {
          seen.push(ctx.era);
          return 0;
        },
      });
    await Machine.create({ era: "2.6.10", drivers: [probe()] });
    await Machine.create({ drivers: [probe()] });
    expect(seen).toEqual(["2.6.10", "modern"]);
  });
});
