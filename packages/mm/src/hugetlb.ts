// mm/hugetlb.c and fs/hugetlbfs/inode.c on a machine whose huge page pool is empty. Every Faultline
// machine is one: there is no pool to size, so nr_hugepages and nr_overcommit_hugepages are 0, as on a
// host that never reserved any (the 6.18.44 host the live tests ran on). MAP_HUGETLB then behaves as
// Linux 6.18 does there:
// - ksys_mmap_pgoff() (mmap.ts) checks the page size asked for (hstate_sizelog(): 0 or log 21 name the
//   2 MiB hstate; a 1 GiB one exists only on a CPU with gbpages, which Faultline's is not), rounds the
//   length up to whole huge pages and maps a new unlinked file of the internal hugetlbfs mount,
//   "/anon_hugepage (deleted)" (hugetlb_file_setup());
// - that file's ->mmap (hugetlbfs_file_mmap()) reserves the huge pages (hugetlb_reserve_pages()): with
//   an empty pool that is -ENOMEM, unless MAP_NORESERVE left the allocation to fault time. A MAP_FIXED
//   that fails so has already unmapped what it replaced (mmap.ts mmapRegion);
// - a fault then finds no page to allocate and is SIGBUS (BUS_ADRERR at the faulting address);
// - the VMA is VM_HUGETLB | VM_DONTEXPAND, so it never merges (VM_SPECIAL) and is never mlocked (era.ts
//   mlockNeverLocks); it splits only at huge page boundaries (hugetlb_vm_op_split(): munmap, mprotect,
//   madvise, mseal and MAP_FIXED over part of it are -EINVAL otherwise), smaps shows its page size
//   (hugetlb_vm_op_pagesize()), it is placed at a huge page boundary (hugetlb_get_unmapped_area(),
//   mmap.ts), and mremap (align_hugetlb(), mremap.ts), madvise (madvise.ts) and mlock (mlock.ts: the
//   populate faults, -ENOMEM) treat it as 6.18 does.
// Nothing here allocates a page: a pool (nr_hugepages > 0) is not modelled.
import type { PhysMemory } from "@faultline/phys";
import { VM_DONTEXPAND, VM_FAULT_SIGBUS, VM_HUGETLB, VM_NORESERVE } from "./constants";
import { EINVAL, ENOMEM } from "./errno";
import { PAGE, TWO64 } from "./internal";
import { AddressSpaceMapping, type MmFile, type Vma, type VmOperations } from "./mm_types";
import { shmemNextIno } from "./shmem";

/** HPAGE_PMD_SIZE: x86-64's default hstate, and the only one here (no gbpages). */
export const HPAGE_SIZE = 2 * 1024 * 1024;

/**
 * The minor of the internal hugetlbfs mount's s_dev: an anonymous device numbered at boot, 00:11 on
 * the 6.18.44 host the live tests ran on.
 */
export const HUGETLBFS_DEV_MINOR = 0x11;

/**
 * hstate_sizelog(): the huge page size MAP_HUGETLB asks for by its log2 (MAP_HUGE_SHIFT bits; 0 is the
 * default hstate), or 0 when there is no such hstate (ksys_mmap_pgoff() answers -EINVAL).
 */
export function hstateSizelog(log: number): number {
  if (log === 0) return HPAGE_SIZE;
  // size_to_hstate(1UL << log): 2 MiB is the only hstate.
  return 2 ** log === HPAGE_SIZE ? HPAGE_SIZE : 0;
}

/**
 * ALIGN(x, size) on an unsigned long given as the syscall's argument (negative: 2^64 + x, exactly), as
 * pageAlign() does for pages: a value that wraps past 2^64 becomes 0 (ksys_mmap_pgoff() then hands
 * do_mmap() a zero length, -EINVAL).
 */
export function hugeAlign(x: number, size: number): number {
  if (x < 0) return x > -size ? 0 : TWO64 + Math.ceil(x / size) * size;
  const r = Math.ceil(x / size) * size;
  return r >= TWO64 ? 0 : r;
}

/**
 * is_file_hugepages(): a file of hugetlbfs (MmFile.hugetlbPageSize): a MAP_HUGETLB file, or a SysV
 * attach of a SHM_HUGETLB segment (is_file_shm_hugepages()).
 */
export function isFileHugepages(
  file: MmFile | null | undefined,
): file is MmFile & { readonly hugetlbPageSize: number } {
  return (file?.hugetlbPageSize ?? 0) > 0;
}

/** hstate_vma(): the huge page size of a hugetlb VMA (its file's hstate). */
export function hstateVma(vma: Vma): number {
  return isFileHugepages(vma.vmFile) ? vma.vmFile.hugetlbPageSize : HPAGE_SIZE;
}

/** hugetlb_vm_ops: what every hugetlb VMA has as vm_ops. */
export const HUGETLB_VM_OPS: VmOperations = {
  /**
   * hugetlb_fault() → hugetlb_no_page(): the page cache has no page, and alloc_hugetlb_folio() finds no
   * free huge page and may not make a surplus one (nr_overcommit_hugepages 0): -ENOSPC, which
   * vmf_error() makes SIGBUS. A shared mapping's fault past i_size is SIGBUS too.
   */
  fault: () => VM_FAULT_SIGBUS,
  /** hugetlb_vm_op_split(): a hugetlb VMA splits only at a huge page boundary. */
  maySplit: (vma, addr) => (addr % hstateVma(vma) !== 0 ? -EINVAL : 0),
  /** hugetlb_vm_op_pagesize(): smaps' KernelPageSize and MMUPageSize. */
  pagesize: (vma) => hstateVma(vma),
};

/**
 * A file of the internal hugetlbfs mount, as hugetlb_file_setup() makes one for MAP_HUGETLB: an
 * unlinked inode whose i_size is the mapping's length, shown as "/anon_hugepage (deleted)". Its inode
 * number comes from get_next_ino(), the counter shmem's inodes draw from too (shmemNextIno). Its page
 * cache stays empty (no pool). Each VMA holds a reference, as with any file; the caller that made it
 * holds one until mmap returns.
 */
export class HugetlbFile implements MmFile {
  readonly path = "/anon_hugepage (deleted)";
  readonly devMajor = 0;
  readonly devMinor = HUGETLBFS_DEV_MINOR;
  readonly ino: number;
  readonly mapping = new AddressSpaceMapping("hugetlbfs");
  readonly readable = true;
  readonly writable = true;
  readonly mmap: (vma: Vma) => number;
  /** i_size in bytes: the mapping's length. */
  size: number;
  /** MmFile.hugetlbPageSize: the hstate's page size. */
  readonly hugetlbPageSize: number;
  /** References (fget/fput): the VMAs mapping the file, and the mmap call making it. */
  refs = 0;

  constructor(mem: PhysMemory, size: number, hpageSize = HPAGE_SIZE, ino = shmemNextIno(mem)) {
    this.ino = ino;
    this.size = size;
    this.hugetlbPageSize = hpageSize;
    this.mmap = (vma) => hugetlbfsFileMmap(this, vma);
  }

  get(): void {
    this.refs++;
  }

  /** fput(): with the last reference the inode goes; it holds no page to free. */
  put(): void {
    if (this.refs <= 0) throw new Error(`fput of ${this.path} (ino ${this.ino}) with no references`);
    this.refs--;
  }
}

/**
 * hugetlb_file_setup(HUGETLB_ANON_FILE, size, VM_NORESERVE, HUGETLB_ANONHUGE_INODE, log): the file
 * MAP_HUGETLB maps. VM_NORESERVE because ->mmap reserves the pages (hugetlbfs_file_mmap()), so this
 * cannot fail.
 */
export function hugetlbFileSetup(mem: PhysMemory, size: number, hpageSize: number): HugetlbFile {
  return new HugetlbFile(mem, size, hpageSize);
}

/**
 * hugetlb_reserve_pages() with an empty pool: VM_NORESERVE takes no reservation (the page is allocated,
 * or not, at fault time); anything else needs huge pages the pool has not got (hugetlb_acct_memory():
 * more than allowed_mems_nr(), and no surplus page may be made), private (the VMA's own reservation
 * map) or shared (the inode's).
 */
export function hugetlbReservePages(vmFlags: number): boolean {
  return (vmFlags & VM_NORESERVE) !== 0;
}

/**
 * hugetlbfs_file_mmap(): the VMA becomes VM_HUGETLB | VM_DONTEXPAND with hugetlb's vm_ops (before any
 * error return, as the kernel's comment asks), its file offset must be whole huge pages (-EINVAL), and
 * the pages must be reserved (-ENOMEM). (vm_pgoff too large for a loff_t is do_mmap()'s file_mmap_ok()
 * -EOVERFLOW before this. A writable mapping past i_size would grow it; with no page to fault in, i_size
 * is never read, and stays the mapping's length.)
 */
function hugetlbfsFileMmap(file: HugetlbFile, vma: Vma): number {
  markHugetlbVma(vma);
  vma.vmOps = HUGETLB_VM_OPS;
  if (vma.vmPgoff % (file.hugetlbPageSize / PAGE) !== 0) return -EINVAL;
  if (!hugetlbReservePages(vma.vmFlags)) return -ENOMEM;
  return 0;
}

/**
 * What hugetlbfs_file_mmap() makes of every VMA of a hugetlbfs file, a SysV SHM_HUGETLB attach's
 * too: VM_HUGETLB | VM_DONTEXPAND (never merged, never grown by mremap).
 */
export function markHugetlbVma(vma: Vma): void {
  vma.vmFlags |= VM_HUGETLB | VM_DONTEXPAND;
}
