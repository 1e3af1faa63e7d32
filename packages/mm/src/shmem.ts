import { __GFP_ZERO, PAGE_SIZE, type PhysMemory } from "@faultline/phys";
import { VM_FAULT_OOM, VM_FAULT_SIGBUS } from "./constants";
import { AddressSpaceMapping, type MmFile, type VmFault, type VmOperations } from "./mm_types";

let nextIno = 1024;

/**
 * The file behind MAP_SHARED|MAP_ANONYMOUS (shmem_zero_setup): pages live in its page cache, shared by
 * every VMA (fork included) until the last reference goes. Its size is fixed at mmap time, so pages an
 * mremap growth adds lie beyond i_size and fault SIGBUS, as on Linux.
 */
export class ShmemFile implements MmFile {
  readonly path = "/dev/zero (deleted)";
  readonly devMajor = 0;
  readonly devMinor = 1;
  readonly ino = ++nextIno;
  readonly mapping = new AddressSpaceMapping("shmem");
  readonly readable = true;
  readonly writable = true;
  readonly mmap = undefined;
  /** Page cache: pgoff → pfn (each holds one reference). */
  readonly pages = new Map<number, number>();
  private refs = 0;
  readonly sizePages: number;
  readonly vmOps: VmOperations;

  constructor(
    readonly mem: PhysMemory,
    sizeBytes: number,
  ) {
    this.sizePages = Math.ceil(sizeBytes / PAGE_SIZE);
    this.vmOps = { fault: (vmf) => this.fault(vmf) };
  }

  /** shmem_fault(): find or allocate the page, take a reference for the mapping. */
  private fault(vmf: VmFault): number {
    if (vmf.pgoff >= this.sizePages) return VM_FAULT_SIGBUS;
    let pfn = this.pages.get(vmf.pgoff);
    if (pfn === undefined) {
      pfn = this.mem.allocPfn(0, __GFP_ZERO);
      if (pfn < 0) return VM_FAULT_OOM;
      this.pages.set(vmf.pgoff, pfn);
    }
    this.mem.getPage(pfn);
    vmf.page = this.mem.pfnToPage(pfn);
    return 0;
  }

  /** MADV_REMOVE: frees the backing of [pgoff, pgoff + n). */
  punchHole(pgoff: number, n: number): void {
    for (let i = pgoff; i < pgoff + n; i++) {
      const pfn = this.pages.get(i);
      if (pfn === undefined) continue;
      this.pages.delete(i);
      this.mem.putPage(pfn);
    }
  }

  get(): void {
    this.refs++;
  }

  put(): void {
    if (--this.refs === 0)
      this.punchHole(0, Number.MAX_SAFE_INTEGER > this.sizePages ? this.maxPgoff() + 1 : 0);
  }

  private maxPgoff(): number {
    let m = -1;
    for (const k of this.pages.keys()) if (k > m) m = k;
    return m;
  }

  /** References held by the page cache, per pfn (for invariant checks). */
  heldPages(): Iterable<number> {
    return this.pages.values();
  }
}
