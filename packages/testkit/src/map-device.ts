/**
 * Maps a device node into a process the way a test program does (open, mmap, close: the mapping
 * keeps the file), with a test's usual defaults: read-write, MAP_SHARED, offset 0.
 */
import { MAP_SHARED, O_RDWR, PROT_READ, PROT_WRITE, type Process } from "@faultline/kernel";

/** Options of `mapDevice` / `tryMapDevice`: the mmap arguments, with a test's defaults. */
export interface MapOptions {
  /** Bytes to map (mmap's length). */
  readonly length: number;
  /** mmap's offset: for most drivers a byte offset into the device, for some a physical address. */
  readonly offset?: number;
  /** Default PROT_READ | PROT_WRITE. */
  readonly prot?: number;
  /** Default MAP_SHARED. */
  readonly flags?: number;
  /** open(2)'s flags, default O_RDWR. */
  readonly openFlags?: number;
  /** mmap's address hint (with MAP_FIXED, the address), default 0. */
  readonly addr?: number;
}

/**
 * The mapping's address; throws ErrnoError (naming the call and the errno) when open or mmap
 * fails, as libc does. `tryMapDevice` returns the -errno instead.
 */
export function mapDevice(p: Process, path: string, options: MapOptions): number {
  const o = withDefaults(options);
  const fd = p.libc.open(path, o.openFlags);
  let addr: number;
  try {
    addr = p.libc.mmap(o.addr, o.length, o.prot, o.flags, fd, o.offset);
  } catch (e) {
    p.sys.close(fd); // the raw call: a process the driver's oops killed answers -ESRCH, not a new throw
    throw e;
  }
  p.libc.close(fd);
  return addr;
}

/** The mapping's address, or the -errno that open or mmap returned (as the raw system calls do). */
export function tryMapDevice(p: Process, path: string, options: MapOptions): number {
  const o = withDefaults(options);
  const fd = p.sys.open(path, o.openFlags);
  if (fd < 0) return fd;
  const r = p.sys.mmap(o.addr, o.length, o.prot, o.flags, fd, o.offset);
  p.sys.close(fd);
  return r;
}

function withDefaults(o: MapOptions) {
  return {
    length: o.length,
    offset: o.offset ?? 0,
    prot: o.prot ?? PROT_READ | PROT_WRITE,
    flags: o.flags ?? MAP_SHARED,
    openFlags: o.openFlags ?? O_RDWR,
    addr: o.addr ?? 0,
  };
}
