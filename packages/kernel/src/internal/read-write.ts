/** fs/read_write.c: read(2), write(2), lseek(2). */
import {
  EBADF,
  EFAULT,
  EINVAL,
  ESPIPE,
  FMODE_READ,
  FMODE_WRITE,
  MAX_RW_COUNT,
  O_PATH,
  SEEK_CUR,
  SEEK_END,
  SEEK_HOLE,
} from "../constants";
import { fdget } from "./fs";
import type { Kernel, Task } from "./kernel";
import { callDriver } from "./oops";

/** The most a count-style read() allocates at once (the rest is a short read, as read(2) allows). */
const READ_ALLOC_MAX = 16 * 1024 * 1024;

/**
 * read(2). With a buffer: fills it, returns the count or -errno (as C's read). With a count: returns
 * the bytes read as a new Uint8Array (shorter at end of file), or -errno.
 */
export function sysRead(
  k: Kernel,
  t: Task,
  fd: number,
  bufOrCount: Uint8Array | number,
): Uint8Array | number {
  const buf = typeof bufOrCount === "number" ? null : bufOrCount;
  const count = typeof bufOrCount === "number" ? bufOrCount : bufOrCount.length;
  const f = fdget(t, fd);
  if (!f || !(f.fMode & FMODE_READ)) return -EBADF;
  // A negative count is a huge size_t: access_ok() fails on the buffer first (-EFAULT).
  if (count < 0) return -EFAULT;
  const read = f.fops.read;
  if (!read) return -EINVAL;
  // rw_verify_area() caps a transfer at MAX_RW_COUNT; we also cap the buffer a count-style read
  // allocates (a short read, which read(2) allows), so a huge count cannot exhaust the host.
  const dst = buf ?? new Uint8Array(Math.min(count, MAX_RW_COUNT, READ_ALLOC_MAX));
  const ppos = { value: f.fPos };
  const r = callDriver(k, f.owner, "fops->read", () => read.call(f.fops, f, dst, ppos), -EFAULT);
  if (r < 0) return r;
  f.fPos = ppos.value;
  return buf ? r : dst.slice(0, r);
}

/** write(2): bytes (or a string, UTF-8) → the count written or -errno. */
export function sysWrite(k: Kernel, t: Task, fd: number, data: Uint8Array | string): number {
  const f = fdget(t, fd);
  if (!f || !(f.fMode & FMODE_WRITE)) return -EBADF;
  const write = f.fops.write;
  if (!write) return -EINVAL;
  const src = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const ppos = { value: f.fPos };
  const r = callDriver(k, f.owner, "fops->write", () => write.call(f.fops, f, src, ppos), -EFAULT);
  if (r < 0) return r;
  f.fPos = ppos.value;
  return r;
}

/**
 * lseek(2). Without fops.llseek: -ESPIPE today (no FMODE_LSEEK); 2.6.10's default_llseek moved
 * f_pos for SEEK_SET/SEEK_CUR.
 */
export function sysLseek(k: Kernel, t: Task, fd: number, offset: number, whence: number): number {
  const f = fdget(t, fd);
  if (!f || f.fFlags & O_PATH) return -EBADF;
  // ksys_lseek(): only whence > SEEK_MAX (SEEK_HOLE) is refused before the file's llseek.
  if (whence > SEEK_HOLE) return -EINVAL;
  const llseek = f.fops.llseek;
  if (llseek)
    return callDriver(k, f.owner, "fops->llseek", () => llseek.call(f.fops, f, offset, whence), -EFAULT);
  if (k.era === "modern") return -ESPIPE;
  // 2.6.10's default_llseek(): SEEK_END is relative to i_size, 0 for a character device.
  if (whence > SEEK_END) return -EINVAL;
  const pos = (whence === SEEK_CUR ? f.fPos : 0) + offset;
  if (pos < 0) return -EINVAL;
  f.fPos = pos;
  return pos;
}

/**
 * pread64(2): read at `offset` without moving the file position. -EINVAL for a negative offset, -ESPIPE
 * on a file that cannot seek (the console: nonseekable_open clears FMODE_PREAD).
 */
export function sysPread64(
  k: Kernel,
  t: Task,
  fd: number,
  bufOrCount: Uint8Array | number,
  offset: number,
): Uint8Array | number {
  const buf = typeof bufOrCount === "number" ? null : bufOrCount;
  const count = typeof bufOrCount === "number" ? bufOrCount : bufOrCount.length;
  const f = fdget(t, fd);
  if (!f || !(f.fMode & FMODE_READ)) return -EBADF;
  if (offset < 0) return -EINVAL;
  if (f.path === "/dev/console") return -ESPIPE;
  if (count < 0) return -EFAULT;
  const read = f.fops.read;
  if (!read) return -EINVAL;
  const dst = buf ?? new Uint8Array(Math.min(count, MAX_RW_COUNT, READ_ALLOC_MAX));
  const ppos = { value: offset };
  const r = callDriver(k, f.owner, "fops->read", () => read.call(f.fops, f, dst, ppos), -EFAULT);
  if (r < 0) return r;
  return buf ? r : dst.slice(0, r);
}

/** pwrite64(2): write at `offset` without moving the file position (O_APPEND still appends, as on Linux). */
export function sysPwrite64(
  k: Kernel,
  t: Task,
  fd: number,
  data: Uint8Array | string,
  offset: number,
): number {
  const f = fdget(t, fd);
  if (!f || !(f.fMode & FMODE_WRITE)) return -EBADF;
  if (offset < 0) return -EINVAL;
  if (f.path === "/dev/console") return -ESPIPE;
  const write = f.fops.write;
  if (!write) return -EINVAL;
  const src = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const ppos = { value: offset };
  return callDriver(k, f.owner, "fops->write", () => write.call(f.fops, f, src, ppos), -EFAULT);
}
