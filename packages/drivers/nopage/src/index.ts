/**
 * /dev/nopage: a driver whose mmap installs no fault handler, to show what the core does then.
 * LDD3 (2.6.10): "if the nopage method is NULL, the kernel maps the zero page": reads see zeros, a
 * private write gets its own copy, and an mremap-grown area reads zeros. Today file VMAs are never
 * anonymous (vma_dummy_vm_ops since bfd40eaff5ab), so the same touch is SIGBUS.
 */
import {
  DRIVER_API_VERSION,
  type DriverContext,
  type DriverDefinition,
  defineDriver,
  type File,
  type FileOperations,
  type Vma,
  type VmOperations,
} from "@faultline/kernel";

/** Options of the `nopage` driver. */
export interface NopageOptions {
  /**
   * "open-close" (default): vm_ops with open/close that count live VMAs and no fault handler;
   * "none": vm_ops left NULL, as a driver that sets nothing.
   */
  readonly vmOps?: "open-close" | "none";
  /** Node name under /dev (default "nopage"). */
  readonly name?: string;
}

/** What the driver knows about its mappings (for tests and the curious). */
export interface NopageDriver extends DriverDefinition {
  /** VMAs currently open on the device (vm_ops open minus close). */
  readonly liveVmas: number;
}

/** LDD3 chapter 15's nopage example: pages of kernel memory handed to processes one fault at a time. */
export function nopage(options: NopageOptions = {}): NopageDriver {
  const nodeName = options.name ?? "nopage";
  let live = 0;
  let major = 0;
  const vmOps: VmOperations = {
    open: () => {
      live++;
    },
    close: () => {
      live--;
    },
  };
  const fops: FileOperations = {
    mmap(_file: File, vma: Vma): number {
      if (options.vmOps === "none") return 0;
      vma.vmOps = vmOps;
      vmOps.open?.(vma);
      return 0;
    },
  };
  const def = defineDriver({
    name: nodeName,
    apiVersion: DRIVER_API_VERSION,
    version: "1.0.0",
    // Machine snapshots: the live-VMA counter is the driver's state; its one vm_ops is named.
    snapshot: {
      version: 1,
      vmOps: { nopage: vmOps },
      save: () => ({ live }),
      restore(state) {
        const n = (state as { live?: unknown } | null)?.live;
        if (typeof n !== "number" || !Number.isInteger(n) || n < 0)
          throw new TypeError(`${nodeName}: saved state needs a live VMA count`);
        live = n;
      },
    },
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
  return {
    ...def,
    get liveVmas() {
      return live;
    },
  };
}
