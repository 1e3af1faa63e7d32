import {
  EBADF,
  ECHILD,
  EFAULT,
  EINVAL,
  EMFILE,
  ENOTTY,
  ESPIPE,
  isErr,
  MAP_ANONYMOUS,
  type Mm,
  Mmu,
  type MmuTarget,
  renderMaps,
  renderSmaps,
  SignalError,
  type SignalName,
} from "@faultline/mm";
import {
  __WALL,
  __WCLONE,
  __WNOTHREAD,
  ENOIOCTLCMD,
  FIOASYNC,
  FIOCLEX,
  FIONBIO,
  FIONCLEX,
  FMODE_READ,
  FMODE_WRITE,
  MAX_RW_COUNT,
  O_PATH,
  SEEK_CUR,
  SEEK_END,
  SEEK_HOLE,
  WCONTINUED,
  WNOHANG,
  WUNTRACED,
} from "./constants";

/** The most a count-style read() allocates at once (the rest is a short read, as read(2) allows). */
const READ_ALLOC_MAX = 16 * 1024 * 1024;

import { ErrnoError } from "./errno-error";
import type { OpenFile } from "./internal/file";
import type { Machine } from "./machine";

export type ProcessState = "running" | "zombie" | "dead";

export interface SpawnOptions {
  /** comm (what dmesg and OOM messages call it); default "proc". */
  readonly name?: string;
}

/** What waitpid returns for a reaped child: `status` encoded as Linux's wait status (WIFEXITED…). */
export interface WaitResult {
  readonly pid: number;
  readonly status: number;
}

/** RLIMIT_NOFILE's usual soft limit. */
const NR_OPEN = 1024;
const PAGE = 4096;

/**
 * The MMU of one process: the mm package's Mmu, plus the rule that a signal the hardware delivers
 * (SIGSEGV, SIGBUS, SIGKILL) is fatal: the process is dead before the SignalError reaches the caller.
 */
class ProcessMmu extends Mmu {
  constructor(
    target: MmuTarget,
    private readonly onSignal: (e: SignalError) => void,
  ) {
    super(target);
  }
  override translate(addr: number, write: boolean): number {
    try {
      return super.translate(addr, write);
    } catch (e) {
      if (SignalError.is(e)) this.onSignal(e);
      throw e;
    }
  }
}

/** A process: a pid, an mm with its MMU, an fd table, and the syscall surface. */
export class Process {
  readonly sys: Syscalls;
  readonly libc: Libc;
  readonly mmu: Mmu;
  state: ProcessState = "running";
  /** Exit status: the exit code, or 128 + signal number when a signal killed it (as a shell's `$?`). */
  exitCode: number | null = null;
  /** The fatal signal, or null (running, or exited normally). */
  exitSignal: SignalName | null = null;
  /** The raw wait status (what waitpid reports). */
  waitStatus: number | null = null;
  /** @internal an oops happened on this process's behalf: it dies when the kernel returns to it */
  killPending = false;
  /** @internal fd → struct file */
  readonly fds = new Map<number, OpenFile>();

  constructor(
    /** @internal */ readonly machine: Machine,
    readonly pid: number,
    readonly mm: Mm,
    public parent: Process | null,
    readonly comm: string,
  ) {
    const self = this;
    const target: MmuTarget = {
      mem: mm.mem,
      phys: mm.phys,
      get pgdRoot() {
        return self.mm.dead ? machine.deadPgdRoot : self.mm.pgd.root;
      },
      fault: (addr, write) => machine.pageFault(self, addr, write),
      pkru: mm.pkru,
    };
    this.mmu = new ProcessMmu(target, (e) => machine.fatalSignal(self, e));
    mm.tlbClients.add(this.mmu);
    this.sys = new Syscalls(this);
    this.libc = new Libc(this.sys);
  }

  get alive(): boolean {
    return this.state === "running";
  }

  /** /proc/PID/maps ("" once dead). */
  procMaps(): string {
    return this.state === "running" ? renderMaps(this.mm) : "";
  }

  /** /proc/PID/smaps ("" once dead). */
  procSmaps(): string {
    return this.state === "running" ? renderSmaps(this.mm) : "";
  }

  /** @internal lowest free fd */
  allocFd(): number {
    for (let fd = 0; fd < NR_OPEN; fd++) if (!this.fds.has(fd)) return fd;
    return -EMFILE;
  }
}

const pageOffset = (x: number) => ((x % PAGE) + PAGE) % PAGE;

/**
 * Raw system calls: each returns what the kernel returns, a value or -errno. A call on a process
 * that is no longer running returns -ESRCH. A call during which a driver oopses kills the process
 * and throws SignalError(SIGKILL) (the syscall never returns, as on Linux).
 */
export class Syscalls {
  constructor(private readonly p: Process) {}

  private get m(): Machine {
    return this.p.machine;
  }

  private run<T>(name: string, fn: () => T): T | number {
    return this.m.syscall(this.p, name, fn);
  }

  private file(fd: number): OpenFile | undefined {
    return Number.isInteger(fd) ? this.p.fds.get(fd) : undefined;
  }

  getpid(): number {
    return this.p.pid;
  }

  getppid(): number {
    // A process spawned by the machine has no parent here (as init's parent, 0); an orphan's parent
    // is gone too, reported as 0 rather than an init that cannot wait for it.
    return this.p.parent?.pid ?? 0;
  }

  /** open(2): fd or -errno (-ENOENT no such node, -ENXIO no driver for the device, the driver's open error). */
  open(path: string, flags: number, _mode = 0): number {
    return this.run("open", () => {
      const fd = this.p.allocFd();
      if (fd < 0) return fd;
      const f = this.m.openFile(this.p, path, flags);
      if (typeof f === "number") return f;
      f.get();
      this.p.fds.set(fd, f);
      return fd;
    }) as number;
  }

  /** close(2): 0 or -EBADF. The file is released once no fd and no VMA refers to it. */
  close(fd: number): number {
    return this.run("close", () => {
      const f = this.file(fd);
      if (!f) return -EBADF;
      this.p.fds.delete(fd);
      f.put();
      return 0;
    }) as number;
  }

  /** dup(2): the lowest free fd on the same file. */
  dup(fd: number): number {
    return this.run("dup", () => {
      const f = this.file(fd);
      if (!f) return -EBADF;
      const n = this.p.allocFd();
      if (n < 0) return n;
      f.get();
      this.p.fds.set(n, f);
      return n;
    }) as number;
  }

  /**
   * read(2). With a buffer: fills it, returns the count or -errno (as C's read). With a count: returns
   * the bytes read as a new Uint8Array (shorter at end of file), or -errno.
   */
  read(fd: number, buf: Uint8Array): number;
  read(fd: number, count: number): Uint8Array | number;
  read(fd: number, bufOrCount: Uint8Array | number): Uint8Array | number {
    const buf = typeof bufOrCount === "number" ? null : bufOrCount;
    const count = typeof bufOrCount === "number" ? bufOrCount : bufOrCount.length;
    return this.run("read", () => {
      const f = this.file(fd);
      if (!f || !(f.fMode & FMODE_READ)) return -EBADF;
      // A negative count is a huge size_t: access_ok() fails on the buffer first (-EFAULT).
      if (!Number.isInteger(count)) return -EINVAL;
      if (count < 0) return -EFAULT;
      const read = f.fops.read;
      if (!read) return -EINVAL;
      // rw_verify_area() caps a transfer at MAX_RW_COUNT; we also cap the buffer a count-style read
      // allocates (a short read, which read(2) allows), so a huge count cannot exhaust the host.
      const dst = buf ?? new Uint8Array(Math.min(count, MAX_RW_COUNT, READ_ALLOC_MAX));
      const ppos = { value: f.fPos };
      const r = this.m.callDriver(f.owner, "fops->read", () => read.call(f.fops, f, dst, ppos), -14);
      if (r < 0) return r;
      f.fPos = ppos.value;
      return buf ? r : dst.slice(0, r);
    });
  }

  /** write(2): bytes (or a string, UTF-8) → the count written or -errno. */
  write(fd: number, data: Uint8Array | string): number {
    return this.run("write", () => {
      const f = this.file(fd);
      if (!f || !(f.fMode & FMODE_WRITE)) return -EBADF;
      const write = f.fops.write;
      if (!write) return -EINVAL;
      const src = typeof data === "string" ? new TextEncoder().encode(data) : data;
      const ppos = { value: f.fPos };
      const r = this.m.callDriver(f.owner, "fops->write", () => write.call(f.fops, f, src, ppos), -14);
      if (r < 0) return r;
      f.fPos = ppos.value;
      return r;
    }) as number;
  }

  /**
   * lseek(2). Without fops.llseek: -ESPIPE today (no FMODE_LSEEK); 2.6.10's default_llseek moved
   * f_pos for SEEK_SET/SEEK_CUR.
   */
  lseek(fd: number, offset: number, whence: number): number {
    return this.run("lseek", () => {
      const f = this.file(fd);
      if (!f || f.fFlags & O_PATH) return -EBADF;
      // ksys_lseek(): only whence > SEEK_MAX (SEEK_HOLE) is refused before the file's llseek.
      if (!Number.isInteger(whence) || whence < 0 || whence > SEEK_HOLE) return -EINVAL;
      const llseek = f.fops.llseek;
      if (llseek)
        return this.m.callDriver(f.owner, "fops->llseek", () => llseek.call(f.fops, f, offset, whence), -14);
      if (this.m.era === "modern") return -ESPIPE;
      // 2.6.10's default_llseek(): SEEK_END is relative to i_size, 0 for a character device.
      if (whence > SEEK_END) return -EINVAL;
      const pos = (whence === SEEK_CUR ? f.fPos : 0) + offset;
      if (pos < 0) return -EINVAL;
      f.fPos = pos;
      return pos;
    }) as number;
  }

  /** ioctl(2) → fops.unlockedIoctl, -ENOTTY without one. */
  ioctl(fd: number, cmd: number, arg = 0): number {
    return this.run("ioctl", () => {
      const f = this.file(fd);
      if (!f || f.fFlags & O_PATH) return -EBADF;
      // do_vfs_ioctl(): the generic commands never reach the driver.
      if (cmd === FIOCLEX || cmd === FIONCLEX || cmd === FIONBIO || cmd === FIOASYNC) return 0;
      const ioctl = f.fops.unlockedIoctl;
      if (!ioctl) return -ENOTTY;
      const r = this.m.callDriver(
        f.owner,
        "fops->unlocked_ioctl",
        () => ioctl.call(f.fops, f, cmd, arg),
        -14,
      );
      // vfs_ioctl(): a driver's -ENOIOCTLCMD ("not mine") reaches user space as -ENOTTY.
      return r === -ENOIOCTLCMD ? -ENOTTY : r;
    }) as number;
  }

  /**
   * mmap(2), x86-64: `offset` in bytes. -EINVAL for an unaligned offset comes first, then -EBADF for a
   * bad fd (unless MAP_ANONYMOUS, whose fd is ignored), then mm's checks and the driver's ->mmap.
   */
  mmap(addr: number, len: number, prot: number, flags: number, fd: number, offset: number): number {
    return this.run("mmap", () => {
      if (pageOffset(offset) !== 0) return -EINVAL;
      let file: OpenFile | null = null;
      if (!(flags & MAP_ANONYMOUS)) {
        const f = this.file(fd);
        if (!f || f.fFlags & O_PATH) return -EBADF;
        file = f;
      }
      return this.p.mm.mmap(addr, len, prot, flags, file, offset);
    }) as number;
  }

  munmap(addr: number, len: number): number {
    return this.run("munmap", () => this.p.mm.munmap(addr, len)) as number;
  }

  mremap(oldAddr: number, oldLen: number, newLen: number, flags: number, newAddr = 0): number {
    return this.run("mremap", () => this.p.mm.mremap(oldAddr, oldLen, newLen, flags, newAddr)) as number;
  }

  mprotect(addr: number, len: number, prot: number): number {
    return this.run("mprotect", () => this.p.mm.mprotect(addr, len, prot)) as number;
  }

  madvise(addr: number, len: number, advice: number): number {
    return this.run("madvise", () => this.p.mm.madvise(addr, len, advice)) as number;
  }

  msync(addr: number, len: number, flags: number): number {
    return this.run("msync", () => this.p.mm.msync(addr, len, flags)) as number;
  }

  mlock(addr: number, len: number): number {
    return this.run("mlock", () => this.p.mm.mlock(addr, len)) as number;
  }

  munlock(addr: number, len: number): number {
    return this.run("munlock", () => this.p.mm.munlock(addr, len)) as number;
  }

  /** pkey_alloc(2): a protection key, or -EINVAL / -ENOSPC (always, on a CPU without PKU). */
  pkeyAlloc(flags: number, accessRights: number): number {
    return this.run("pkey_alloc", () => this.p.mm.pkeyAlloc(flags, accessRights)) as number;
  }

  /** pkey_free(2): 0 or -EINVAL. */
  pkeyFree(pkey: number): number {
    return this.run("pkey_free", () => this.p.mm.pkeyFree(pkey)) as number;
  }

  /** pkey_mprotect(2): mprotect that also tags the range with `pkey` (-1: as mprotect). */
  pkeyMprotect(addr: number, len: number, prot: number, pkey: number): number {
    return this.run("pkey_mprotect", () => this.p.mm.pkeyMprotect(addr, len, prot, pkey)) as number;
  }

  /**
   * glibc's pkey_get(3) (RDPKRU, no syscall): the thread's rights for `key` (PKEY_DISABLE_ACCESS,
   * PKEY_DISABLE_WRITE), -EINVAL for a key outside 0..15, -ENOSYS on a CPU without PKU.
   */
  pkeyGet(key: number): number {
    if (this.p.state !== "running") return -3;
    return this.p.mm.pkeyGet(key);
  }

  /** glibc's pkey_set(3) (WRPKRU, no syscall): 0, -EINVAL, or -ENOSYS on a CPU without PKU. */
  pkeySet(key: number, rights: number): number {
    if (this.p.state !== "running") return -3;
    return this.p.mm.pkeySet(key, rights);
  }

  /**
   * fork(2): the child's pid (the child is `machine.process(pid)`, running, with a COW copy of the
   * address space and a copy of the fd table). -ENOMEM when memory runs out.
   */
  fork(): number {
    return this.run("fork", () => {
      const child = this.p.mm.fork();
      if (typeof child === "number") return child;
      if (this.p.killPending) {
        // vm_ops->open oopsed while copying: the half-built child goes, the parent dies on return.
        child.exit();
        return -14;
      }
      const c = this.m.addChild(this.p, child);
      for (const [fd, f] of this.p.fds) {
        f.get();
        c.fds.set(fd, f);
      }
      return c.pid;
    }) as number;
  }

  /** _exit(2): the process becomes a zombie (everything released) until its parent waits. 0, or -ESRCH if already dead. */
  exit(code = 0): number {
    if (this.p.state !== "running") return -3;
    this.m.terminate(this.p, { code });
    return 0;
  }

  /**
   * waitpid(2) (pid -1: any child). Never blocks: a zombie child is reaped and returned as
   * { pid, status }; with only running children the answer is 0 (as with WNOHANG); no such child
   * is -ECHILD.
   */
  waitpid(pid: number, options = 0): WaitResult | number {
    return this.run("waitpid", () => {
      // kernel_wait4(): unknown option bits are -EINVAL. Every process here is in one process group,
      // so pid 0 and pid < -1 (a group) select any child, as pid -1 does.
      if (options & ~(WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WALL | __WCLONE)) return -EINVAL;
      const any = pid === -1 || pid === 0 || pid < -1;
      const kids = this.m.processes().filter((c) => c.parent === this.p && (any || c.pid === pid));
      if (!kids.length) return -ECHILD;
      const z = kids.find((c) => c.state === "zombie");
      // Blocking is impossible in a synchronous model: a wait without WNOHANG answers as if it had it.
      void (options & WNOHANG);
      if (!z) return 0;
      this.m.reap(z);
      return { pid: z.pid, status: z.waitStatus ?? 0 };
    });
  }
}

/**
 * The same calls as `Syscalls`, libc style: an error becomes a thrown ErrnoError (errno, code, a
 * strerror message) instead of a -errno return.
 */
export class Libc {
  constructor(private readonly sys: Syscalls) {}

  private check(name: string, r: number): number {
    if (isErr(r)) throw new ErrnoError(-r, name);
    return r;
  }

  getpid(): number {
    return this.sys.getpid();
  }
  getppid(): number {
    return this.sys.getppid();
  }
  open(path: string, flags: number, mode = 0): number {
    return this.check("open", this.sys.open(path, flags, mode));
  }
  close(fd: number): number {
    return this.check("close", this.sys.close(fd));
  }
  dup(fd: number): number {
    return this.check("dup", this.sys.dup(fd));
  }
  read(fd: number, buf: Uint8Array): number;
  read(fd: number, count: number): Uint8Array;
  read(fd: number, bufOrCount: Uint8Array | number): Uint8Array | number {
    const r = typeof bufOrCount === "number" ? this.sys.read(fd, bufOrCount) : this.sys.read(fd, bufOrCount);
    if (typeof r === "number") return this.check("read", r);
    return r;
  }
  write(fd: number, data: Uint8Array | string): number {
    return this.check("write", this.sys.write(fd, data));
  }
  lseek(fd: number, offset: number, whence: number): number {
    return this.check("lseek", this.sys.lseek(fd, offset, whence));
  }
  ioctl(fd: number, cmd: number, arg = 0): number {
    return this.check("ioctl", this.sys.ioctl(fd, cmd, arg));
  }
  mmap(addr: number, len: number, prot: number, flags: number, fd: number, offset: number): number {
    return this.check("mmap", this.sys.mmap(addr, len, prot, flags, fd, offset));
  }
  munmap(addr: number, len: number): number {
    return this.check("munmap", this.sys.munmap(addr, len));
  }
  mremap(oldAddr: number, oldLen: number, newLen: number, flags: number, newAddr = 0): number {
    return this.check("mremap", this.sys.mremap(oldAddr, oldLen, newLen, flags, newAddr));
  }
  mprotect(addr: number, len: number, prot: number): number {
    return this.check("mprotect", this.sys.mprotect(addr, len, prot));
  }
  madvise(addr: number, len: number, advice: number): number {
    return this.check("madvise", this.sys.madvise(addr, len, advice));
  }
  msync(addr: number, len: number, flags: number): number {
    return this.check("msync", this.sys.msync(addr, len, flags));
  }
  mlock(addr: number, len: number): number {
    return this.check("mlock", this.sys.mlock(addr, len));
  }
  munlock(addr: number, len: number): number {
    return this.check("munlock", this.sys.munlock(addr, len));
  }
  pkeyAlloc(flags: number, accessRights: number): number {
    return this.check("pkey_alloc", this.sys.pkeyAlloc(flags, accessRights));
  }
  pkeyFree(pkey: number): number {
    return this.check("pkey_free", this.sys.pkeyFree(pkey));
  }
  pkeyMprotect(addr: number, len: number, prot: number, pkey: number): number {
    return this.check("pkey_mprotect", this.sys.pkeyMprotect(addr, len, prot, pkey));
  }
  pkeyGet(key: number): number {
    return this.check("pkey_get", this.sys.pkeyGet(key));
  }
  pkeySet(key: number, rights: number): number {
    return this.check("pkey_set", this.sys.pkeySet(key, rights));
  }
  fork(): number {
    return this.check("fork", this.sys.fork());
  }
  exit(code = 0): void {
    this.check("exit", this.sys.exit(code));
  }
  waitpid(pid: number, options = 0): WaitResult | null {
    const r = this.sys.waitpid(pid, options);
    if (typeof r === "number") {
      this.check("waitpid", r);
      return null;
    }
    return r;
  }
}
