/**
 * /dev/region: LDD3's "remapping specific I/O regions" example: maps `simple_region_size` bytes of
 * device memory at `simple_region_start`, honouring the mmap offset (vm_pgoff) inside the region.
 *
 * The book's code has two bugs this driver does not copy: it passes the byte address `physical` where
 * remap_pfn_range wants a page frame number, and its `psize = simple_region_size - off` is unsigned,
 * so an offset past the region wraps to a huge size and passes the `vsize > psize` check. Today's
 * vm_iomap_memory() (mm/memory.c) does it right, as here.
 */
import {
  DRIVER_API_VERSION,
  type DriverContext,
  type DriverDefinition,
  defineDriver,
  EAGAIN,
  EINVAL,
  type File,
  type FileOperations,
  PAGE_SIZE,
  remapPfnRange,
  type Vma,
} from "@faultline/kernel";

/** Options of the `regionRemap` driver. */
export interface RegionRemapOptions {
  /** simple_region_start: physical address of the region, page aligned. */
  readonly start: number;
  /** simple_region_size: bytes, a positive page multiple. */
  readonly size: number;
  /** Node name under /dev (default "region"). */
  readonly name?: string;
}

/** LDD3's remapping of a physical region with remap_pfn_range, at an offset into it. */
export function regionRemap(options: RegionRemapOptions): DriverDefinition {
  const { start, size } = options;
  const nodeName = options.name ?? "region";
  if (!Number.isSafeInteger(start) || start < 0 || start % PAGE_SIZE !== 0) {
    throw new RangeError(`regionRemap: start 0x${start.toString(16)} must be page aligned`);
  }
  if (!Number.isSafeInteger(size) || size <= 0 || size % PAGE_SIZE !== 0) {
    throw new RangeError(`regionRemap: size 0x${size.toString(16)} must be a positive multiple of 0x1000`);
  }
  let major = 0;

  const fops: FileOperations = {
    mmap(_file: File, vma: Vma): number {
      const off = vma.vmPgoff * PAGE_SIZE;
      const vsize = vma.vmEnd - vma.vmStart;
      // The book computes an unsigned psize = size - off; an off at or past the end must be refused
      // before the subtraction, not after it wrapped.
      if (off >= size) return -EINVAL;
      const psize = size - off;
      if (vsize > psize) return -EINVAL; // spans too high
      const physical = start + off;
      // remapPfnRange takes a page frame number, not the byte address the book passes.
      if (remapPfnRange(vma, vma.vmStart, physical / PAGE_SIZE, vsize, vma.vmPageProt)) return -EAGAIN;
      return 0;
    },
  };

  return defineDriver({
    name: nodeName,
    apiVersion: DRIVER_API_VERSION,
    version: "1.0.0",
    // Machine snapshots: no state beyond what init registers again, no vm_ops.
    snapshot: { version: 1 },
    init(ctx: DriverContext) {
      const r = ctx.allocChrdevRegion(0, 1, nodeName);
      if (r < 0) return r;
      major = r;
      ctx.cdevAdd(major, 0, 1, fops);
      ctx.createDevNode(nodeName, major, 0);
      return 0;
    },
    exit(ctx: DriverContext) {
      ctx.removeDevNode(nodeName);
      ctx.cdevDel(major, 0, 1);
      ctx.unregisterChrdevRegion(major, 0, 1);
    },
  });
}
