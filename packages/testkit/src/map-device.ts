/**
 * Maps a device node into a process the way a test program does (open, mmap, close: the mapping
 * keeps the file), with a test's usual defaults: read-write, MAP_SHARED, offset 0.
 */
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  O_RDWR,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  type Process,
} from "@faultline/kernel";

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

/** One range of `mapDeviceRanges`: mmap's length and offset (default 0) for that part of the file. */
export interface MapRange {
  readonly length: number;
  readonly offset?: number;
}

/** Options of `mapDeviceRanges`: what every range is mapped with (`mapDevice`'s defaults). */
export type MapRangesOptions = Pick<MapOptions, "prot" | "flags" | "openFlags">;

/**
 * Maps several ranges of ONE open file side by side, in order, as a program does that reserves address
 * space and maps into it: an anonymous PROT_NONE mapping as long as the ranges together, then `path`
 * opened once, each range mmapped (MAP_FIXED, so each starts where the one before ends) over its part
 * of the reservation, and the file closed (the mappings keep it). Returns each range's address, a
 * tuple as long as `ranges`. Neighbours of one file, the ranges are what the kernel may merge into one
 * VMA: whether it did is the era's and the driver's answer (VM_SPECIAL flags, a vm_ops->close), for
 * the test to check in /proc/pid/maps. `mapDevice` maps one range and opens the file for each call.
 * Throws ErrnoError (naming the call and the errno) when open or an mmap fails, leaving mapped what
 * was (the ranges before it, the rest of the reservation); the file is closed either way.
 */
export function mapDeviceRanges<const R extends readonly MapRange[]>(
  p: Process,
  path: string,
  ranges: R,
  options: MapRangesOptions = {},
): { -readonly [K in keyof R]: number } {
  if (!ranges.length) throw new RangeError("mapDeviceRanges: no ranges to map");
  const o = withDefaults({ ...options, length: 0 });
  const total = ranges.reduce((n, r) => n + r.length, 0);
  let at = p.libc.mmap(0, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  const fd = p.libc.open(path, o.openFlags);
  const out: number[] = [];
  try {
    for (const r of ranges) {
      const addr = p.libc.mmap(at, r.length, o.prot, o.flags | MAP_FIXED, fd, r.offset ?? 0);
      // MAP_FIXED returns the address asked for or fails: anything else is the kernel's bug.
      if (addr !== at)
        throw new Error(
          `mapDeviceRanges: mmap(MAP_FIXED) at 0x${at.toString(16)} returned 0x${addr.toString(16)}`,
        );
      out.push(addr);
      at += r.length;
    }
  } catch (e) {
    p.sys.close(fd); // the raw call, as mapDevice: a process the driver's oops killed answers -ESRCH
    throw e;
  }
  p.libc.close(fd);
  return out as { -readonly [K in keyof R]: number }; // one address per range, in their order
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
