// mm/shmem.c (with the parts of mm/filemap.c and mm/truncate.c a tmpfs inode needs): a shmem inode is a
// page cache of struct pages (pgoff → pfn, one reference each) and an i_size. Every user of shmem
// sits on it: tmpfs files (the kernel's /tmp and /dev/shm), memfd_create (shmem_file_setup), SysV shm
// segments (shmem_kernel_file_setup) and MAP_SHARED|MAP_ANONYMOUS or /dev/zero (shmem_zero_setup).
// read()/write() copy through the same pages that the mappings map, so a MAP_SHARED store is seen by
// read() and a write() by every mapping; truncation zaps the mapped pages of every process first
// (unmap_mapping_range with even_cows) and a fault past i_size is SIGBUS.
import { __GFP_ZERO, PAGE_SIZE, PG_dirty, type PhysMemory } from "@faultline/phys";
import {
  F_SEAL_EXEC,
  F_SEAL_FUTURE_WRITE,
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  VM_ACCESS_FLAGS,
  VM_FAULT_OOM,
  VM_FAULT_SIGBUS,
  VM_MAYWRITE,
  VM_NORESERVE,
  VM_SHARED,
  VM_WRITE,
} from "./constants";
import { EBUSY, EFBIG, EINVAL, ENOMEM, ENOSPC, EOPNOTSUPP, EPERM } from "./errno";
import { filemapMapPages } from "./filemap";
import { AddressSpaceMapping, type MmFile, type Vma, type VmFault, type VmOperations } from "./mm_types";
import { _PAGE_PRESENT, _PAGE_PROTNONE, _PAGE_RW, pteClearFlags, pteSetFlags, TABLE_OOM } from "./pgtable";
import { mapPage, unmapMappingRange } from "./rmap";
import { vmEnoughMemory } from "./vm-account";

const PAGE = PAGE_SIZE;
/** MAX_LFS_FILESIZE on 64-bit (s_maxbytes of tmpfs). */
export const MAX_LFS_FILESIZE = 2 ** 63 - 1;

/** Every seal memfd knows (F_ALL_SEALS). */
const F_ALL_SEALS =
  F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE | F_SEAL_EXEC;

/**
 * get_next_ino(): shmem inodes of every mount draw from one counter, as Linux's do; one counter per
 * machine (its PhysMemory), so what one machine prints does not depend on what ran before it.
 */
const nextIno = new WeakMap<PhysMemory, number>();
/** The machine's last shmem inode number handed out (a snapshot saves it; shmem-snapshot.ts). */
export function shmemInoCounter(mem: PhysMemory): number {
  return nextIno.get(mem) ?? 1024;
}
/** Sets that counter (a restored snapshot; shmem-snapshot.ts). */
export function setShmemInoCounter(mem: PhysMemory, last: number): void {
  nextIno.set(mem, last);
}
/** The next inode number for a shmem inode of the machine whose memory is `mem`. */
export function shmemNextIno(mem: PhysMemory): number {
  const ino = (nextIno.get(mem) ?? 1024) + 1;
  nextIno.set(mem, ino);
  return ino;
}

/**
 * A tmpfs superblock's block accounting (sbinfo->max_blocks / used_blocks): `size=` of the mount.
 * Infinity for the internal mount (shm_mnt: memfd, SysV, shared anonymous memory).
 */
export class ShmemSb {
  usedBlocks = 0;
  constructor(
    /** The mount's size in pages (size= / PAGE_SIZE). */
    public maxBlocks = Number.POSITIVE_INFINITY,
  ) {}
}

/** The i_mapping of a shmem inode: an address_space whose host is the inode (mapping->host). */
export class ShmemMapping extends AddressSpaceMapping {
  constructor(
    name: string,
    readonly inode: ShmemInode,
  ) {
    super(name);
  }
  override readonly swapBacked = true;
  override reclaimClean(pgoff: number, pfn: number): void {
    this.inode.reclaimClean(pgoff, pfn);
  }
}

/** Is `mapping` a shmem inode's (folio_test_swapbacked: its pages count as MM_SHMEMPAGES)? */
export function shmemInodeOf(mapping: AddressSpaceMapping | undefined): ShmemInode | null {
  return mapping instanceof ShmemMapping ? mapping.inode : null;
}

/**
 * struct shmem_inode_info with its inode: the page cache, i_size, the seals (memfd), the link count
 * and the references of the files open on it. The pages are freed when the last link and the last
 * reference are gone (shmem_evict_inode).
 */
export class ShmemInode {
  readonly ino: number;
  readonly mapping: ShmemMapping;
  /** The page cache: pgoff → pfn, each entry holding one reference on the page. */
  readonly pages = new Map<number, number>();
  /** i_size in bytes. */
  size = 0;
  /**
   * Pages fallocate() added that nothing has touched yet: not up to date (shmem_fallocate leaves them
   * so), so fault-around skips them and read() treats them as holes, until a fault or write.
   */
  readonly notUptodate = new Set<number>();
  /** F_SEAL_* (memfd): set by fcntl(F_ADD_SEALS). */
  seals = 0;
  /** i_nlink: names in a directory (0 for memfd, SysV, shared anonymous memory, or once unlinked). */
  nlink = 0;
  /** i_count: open files (and other holders such as a SysV segment) referring to the inode. */
  private count = 0;
  evicted = false;
  readonly vmOps: VmOperations;
  /** i_mtime/i_ctime stand-in: bumped by every change (a simulated clock has no wall time). */
  version = 0;

  constructor(
    readonly mem: PhysMemory,
    readonly sb: ShmemSb = new ShmemSb(),
    name = "shmem",
    ino = shmemNextIno(mem),
  ) {
    this.ino = ino;
    this.mapping = new ShmemMapping(name, this);
    this.vmOps = {
      fault: (vmf) => this.fault(vmf),
      // filemap_map_pages() over the pages present and up to date, up to the page holding EOF.
      mapPages: (vmf, start, end) =>
        filemapMapPages(vmf, start, end, Math.ceil(this.size / PAGE) - 1, (pgoff) =>
          this.notUptodate.has(pgoff) ? -1 : (this.pages.get(pgoff) ?? -1),
        ),
      populate: (vma, addr, len, pgoff, nonblock) => this.populate(vma, addr, len, pgoff, nonblock),
    };
  }

  /** Pages in the page cache (st_blocks is this times 8). */
  get nrPages(): number {
    return this.pages.size;
  }

  /** ihold()/igrab(): one more holder. */
  iget(): void {
    if (this.evicted) throw new Error(`iget on evicted shmem inode ${this.ino}`);
    this.count++;
  }

  /** iput(): drops a holder; with no link left either, the inode and its pages go (evict). */
  iput(): void {
    if (this.count <= 0) throw new Error(`iput on shmem inode ${this.ino} with no references`);
    this.count--;
    this.maybeEvict();
  }

  /** References held (open files, segments), for the invariant check. */
  get refs(): number {
    return this.count;
  }

  /** drop_nlink() after unlink(): the pages stay while a file or a mapping refers to the inode. */
  unlink(): void {
    if (this.nlink > 0) this.nlink--;
    this.maybeEvict();
  }

  private maybeEvict(): void {
    if (this.count > 0 || this.nlink > 0 || this.evicted) return;
    this.evicted = true;
    this.truncatePages(0);
  }

  /** shmem_get_folio(SGP_CACHE/SGP_WRITE): the page at `pgoff`, allocated (zeroed) if absent; <0 -errno. */
  private getPage(pgoff: number): number {
    const pfn = this.pages.get(pgoff);
    if (pfn !== undefined) return pfn;
    // shmem_inode_acct_blocks(): a full mount is -ENOSPC.
    if (this.sb.usedBlocks + 1 > this.sb.maxBlocks) return -ENOSPC;
    const n = this.mem.allocPfn(0, __GFP_ZERO);
    if (n < 0) return -ENOMEM;
    this.sb.usedBlocks++;
    this.pages.set(pgoff, n);
    return n;
  }

  /**
   * shmem_fault(): the page of the page cache at vmf.pgoff (allocated on first touch), a reference
   * taken for the PTE. A fault at or past i_size is SIGBUS (the page is beyond EOF); a full mount or
   * no memory are SIGBUS and OOM (vmf_error()).
   */
  fault(vmf: VmFault): number {
    if (vmf.pgoff >= Math.ceil(this.size / PAGE)) return VM_FAULT_SIGBUS;
    const pfn = this.getPage(vmf.pgoff);
    if (pfn === -ENOMEM) return VM_FAULT_OOM;
    if (pfn < 0) return VM_FAULT_SIGBUS;
    this.notUptodate.delete(vmf.pgoff);
    this.mem.getPage(pfn);
    vmf.page = this.mem.pfnToPage(pfn);
    return 0;
  }

  /**
   * 2.6.10's shmem_populate(): the range must lie inside i_size (-EINVAL, nothing mapped); each page is
   * taken from the cache, allocated if absent (SGP_CACHE; -ENOSPC/-ENOMEM end the walk) or, when
   * `nonblock` (SGP_QUICK), only if present, and mapped by install_page() with the VMA's protection:
   * writable when shared and writable (2.6.10 had no write notification), PAGE_NONE without access.
   * A page left out stays to fault (install_file_pte() on a linear VMA). Called only by 2.6.10's
   * MAP_POPULATE (era.ts populateByRemapFilePages).
   */
  populate(vma: Vma, addr: number, len: number, pgoff: number, nonblock: boolean): number {
    const size = Math.ceil(this.size / PAGE);
    const n = len / PAGE;
    if (pgoff >= size || pgoff + n > size) return -EINVAL;
    const mm = vma.vmMm;
    for (let i = 0; i < n; i++) {
      const pfn = nonblock ? this.pages.get(pgoff + i) : this.getPage(pgoff + i);
      if (pfn === undefined) continue;
      if (pfn < 0) return pfn;
      this.notUptodate.delete(pgoff + i);
      const slot = mm.pgd.pteSlot(addr + i * PAGE, true);
      if (slot === TABLE_OOM) return -ENOMEM;
      // install_page() replaced whatever was there; a fresh mmap() has at most the same page (VM_LOCKED).
      if (mm.pgd.readSlot(slot) !== 0) continue;
      this.mem.getPage(pfn);
      const writable = (vma.vmFlags & (VM_SHARED | VM_WRITE)) === (VM_SHARED | VM_WRITE);
      mapPage(mm, vma, slot, pfn, writable ? _PAGE_RW : 0);
      if (!(vma.vmFlags & VM_ACCESS_FLAGS)) {
        const pte = mm.pgd.readSlot(slot);
        mm.pgd.setPte(slot, pteSetFlags(pteClearFlags(pte, _PAGE_PRESENT), _PAGE_PROTNONE), vma.vmPkey);
      }
    }
    return 0;
  }

  /**
   * shmem_file_read_iter(): copies [pos, pos + dst.length) clipped at i_size; holes read as zeros
   * without allocating. Returns the count (0 at or past EOF).
   */
  read(pos: number, dst: Uint8Array): number {
    if (pos >= this.size) return 0;
    const n = Math.min(dst.length, this.size - pos);
    let done = 0;
    while (done < n) {
      const off = pos + done;
      const pgoff = Math.floor(off / PAGE);
      const inPage = off % PAGE;
      const chunk = Math.min(PAGE - inPage, n - done);
      const pfn = this.pages.get(pgoff);
      if (pfn === undefined) dst.fill(0, done, done + chunk);
      else dst.set(this.mem.frameBytes(pfn).subarray(inPage, inPage + chunk), done);
      done += chunk;
    }
    return n;
  }

  /**
   * generic_perform_write() through shmem_write_begin/end: copies `src` at `pos`, allocating pages,
   * growing i_size. Seals: F_SEAL_WRITE/FUTURE_WRITE refuse any write of at least a byte (a zero-length
   * one returns 0 before the per-page shmem_write_begin() that checks them: gVisor's
   * MemfdTest.SealWriteWithWrite), F_SEAL_GROW one past i_size (-EPERM). A full mount stops the copy: a short count, or -ENOSPC when nothing was
   * written.
   */
  write(pos: number, src: Uint8Array): number {
    if (src.length === 0) return 0;
    if (this.seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) return -EPERM;
    if (pos >= MAX_LFS_FILESIZE) return -EFBIG;
    let done = 0;
    while (done < src.length) {
      const off = pos + done;
      const pgoff = Math.floor(off / PAGE);
      const inPage = off % PAGE;
      const chunk = Math.min(PAGE - inPage, src.length - done);
      // shmem_write_begin(), per page: a chunk that would grow a grow-sealed file stops the write.
      if (this.seals & F_SEAL_GROW && off + chunk > this.size) {
        if (done === 0) return -EPERM;
        break;
      }
      const pfn = this.getPage(pgoff);
      if (pfn < 0) {
        if (done === 0) return pfn;
        break;
      }
      this.mem.frameBytes(pfn).set(src.subarray(done, done + chunk), inPage);
      Atomics.or(this.mem.flags, pfn, PG_dirty);
      this.notUptodate.delete(pgoff);
      done += chunk;
      // The size grows chunk by chunk (shmem_write_end), as the next chunk's checks see it.
      if (off + chunk > this.size) this.size = off + chunk;
    }
    this.version++;
    return done;
  }

  /**
   * shmem_setattr(ATTR_SIZE) → truncate_setsize(): -EPERM against F_SEAL_SHRINK/GROW; shrinking zaps
   * the mappings of every process from the new EOF page up (even private COW copies:
   * truncate_pagecache), drops the pages past it, and zeroes the tail of the page holding the new EOF.
   */
  setSize(newSize: number): number {
    if (newSize < 0) return -EINVAL;
    if (newSize > MAX_LFS_FILESIZE) return -EFBIG;
    const old = this.size;
    if (newSize < old && this.seals & F_SEAL_SHRINK) return -EPERM;
    if (newSize > old && this.seals & F_SEAL_GROW) return -EPERM;
    if (newSize === old) return 0;
    this.size = newSize;
    this.version++;
    if (newSize < old) {
      const holeBegin = Math.ceil(newSize / PAGE) * PAGE;
      unmapMappingRange(this.mapping, holeBegin, 0, true);
      this.truncatePages(newSize);
      unmapMappingRange(this.mapping, holeBegin, 0, true);
    }
    return 0;
  }

  /**
   * shmem_undo_range() from byte `from` to the end: pages wholly past it leave the cache; the page
   * holding `from` keeps its head and has the rest zeroed.
   */
  private truncatePages(from: number): void {
    const first = Math.ceil(from / PAGE);
    const partial = from % PAGE !== 0 ? this.pages.get(Math.floor(from / PAGE)) : undefined;
    if (partial !== undefined) this.mem.frameBytes(partial).fill(0, from % PAGE);
    const drop: number[] = [];
    for (const pgoff of this.pages.keys()) if (pgoff >= first) drop.push(pgoff);
    for (const pgoff of drop) this.dropPage(pgoff);
  }

  /**
   * MADV_PAGEOUT's reclaim with no swap, after the page was unmapped: a clean page (never written: all
   * zeros) leaves the cache as __remove_mapping() frees it, if nothing else holds it; a dirty one stays
   * (shmem_writeout() finds no swap and redirties it). The next access then allocates a new zero page,
   * and fault-around no longer finds this one.
   */
  reclaimClean(pgoff: number, pfn: number): void {
    if (this.pages.get(pgoff) !== pfn || Atomics.load(this.mem.flags, pfn) & PG_dirty) return;
    if (Atomics.load(this.mem.mapcount, pfn) !== 0 || Atomics.load(this.mem.refcount, pfn) !== 1) return;
    this.dropPage(pgoff);
  }

  private dropPage(pgoff: number): void {
    const pfn = this.pages.get(pgoff);
    if (pfn === undefined) return;
    this.pages.delete(pgoff);
    this.notUptodate.delete(pgoff);
    this.sb.usedBlocks--;
    this.mem.putPage(pfn);
  }

  /**
   * Frees the backing of pages [pgoff, pgoff + n) (MADV_REMOVE, FALLOC_FL_PUNCH_HOLE once the
   * mappings were zapped): the next access reads zeros.
   */
  punchHole(pgoff: number, n: number): void {
    if (n <= 0) return;
    if (n > this.pages.size) {
      const drop: number[] = [];
      for (const k of this.pages.keys()) if (k >= pgoff && k < pgoff + n) drop.push(k);
      for (const k of drop) this.dropPage(k);
      return;
    }
    for (let i = pgoff; i < pgoff + n; i++) this.dropPage(i);
  }

  /**
   * shmem_fallocate(): mode 0 allocates [offset, offset + len) and grows i_size unless
   * FALLOC_FL_KEEP_SIZE; FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE zaps every mapping of the whole
   * pages inside the range (private COW copies stay: unmap_mapping_range without even_cows), zeroes
   * the partial pages at its edges and frees the rest. Argument checks are vfs_fallocate()'s.
   */
  fallocate(mode: number, offset: number, len: number): number {
    if (offset < 0 || len <= 0) return -EINVAL;
    if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) return -EOPNOTSUPP;
    if (mode & FALLOC_FL_PUNCH_HOLE && !(mode & FALLOC_FL_KEEP_SIZE)) return -EOPNOTSUPP;
    if (offset + len > MAX_LFS_FILESIZE) return -EFBIG;
    if (mode & FALLOC_FL_PUNCH_HOLE) {
      if (this.seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) return -EPERM;
      const end = offset + len;
      const first = Math.ceil(offset / PAGE);
      const last = Math.floor(end / PAGE);
      if (last > first) unmapMappingRange(this.mapping, first * PAGE, (last - first) * PAGE, false);
      this.zeroRange(offset, Math.min(end, first * PAGE));
      if (last >= first) this.zeroRange(Math.max(offset, last * PAGE), end);
      this.punchHole(first, last - first);
      this.version++;
      return 0;
    }
    // shmem_fallocate(): F_SEAL_GROW refuses any range past the size, FALLOC_FL_KEEP_SIZE or not.
    if (this.seals & F_SEAL_GROW && offset + len > this.size) return -EPERM;
    const start = Math.floor(offset / PAGE);
    const end = Math.ceil((offset + len) / PAGE);
    // shmem_fallocate(): a range larger than the whole mount is -ENOSPC at once; one larger than all
    // free memory cannot succeed either (no swap here): -ENOMEM without trying page by page.
    if (end - start > this.sb.maxBlocks) return -ENOSPC;
    if (end - start > this.mem.nrFreePages + this.pages.size) return -ENOMEM;
    const added: number[] = [];
    for (let i = start; i < end; i++) {
      if (this.pages.has(i)) {
        // shmem_get_folio_gfp(SGP_FALLOC) on a folio fallocated earlier clears it and marks it up to
        // date ("lest undo on failure cancel our earlier guarantee"): a second fallocate makes the
        // page one fault-around maps. Pages not up to date hold only zeros here. shmem_fallocate()
        // marks every folio of the range dirty, so reclaim keeps them (reclaimClean).
        this.notUptodate.delete(i);
        Atomics.or(this.mem.flags, this.pages.get(i)!, PG_dirty);
        continue;
      }
      const pfn = this.getPage(i);
      if (pfn < 0) {
        // shmem_undo_range() of what this call allocated.
        for (const k of added) this.dropPage(k);
        return pfn;
      }
      this.notUptodate.add(i);
      Atomics.or(this.mem.flags, pfn, PG_dirty);
      added.push(i);
    }
    if (!(mode & FALLOC_FL_KEEP_SIZE) && offset + len > this.size) this.size = offset + len;
    this.version++;
    return 0;
  }

  /** Zeroes bytes [from, to) where a page is present (the partial pages of a punched hole). */
  private zeroRange(from: number, to: number): void {
    for (let off = from; off < to; ) {
      const pgoff = Math.floor(off / PAGE);
      const inPage = off % PAGE;
      const chunk = Math.min(PAGE - inPage, to - off);
      const pfn = this.pages.get(pgoff);
      if (pfn !== undefined) this.mem.frameBytes(pfn).fill(0, inPage, inPage + chunk);
      off += chunk;
    }
  }

  /**
   * memfd_add_seals() once the file was checked (a shmem file open for writing): -EINVAL for unknown
   * seals, -EPERM when F_SEAL_SEAL is set, -EBUSY for F_SEAL_WRITE while a shared mapping may write
   * (mapping_deny_writable()). Seals only accumulate.
   */
  addSeals(seals: number): number {
    if (seals & ~F_ALL_SEALS) return -EINVAL;
    if (this.seals & F_SEAL_SEAL) return -EPERM;
    if (seals & F_SEAL_WRITE && !(this.seals & F_SEAL_WRITE) && this.writablyMapped()) return -EBUSY;
    this.seals |= seals;
    return 0;
  }

  /** Writable shared mappings of the inode (i_mmap_writable > 0: mapping_writably_mapped()). */
  writablyMapped(): boolean {
    for (const v of this.mapping.vmas) if (v.vmFlags & VM_SHARED && v.vmFlags & VM_MAYWRITE) return true;
    return false;
  }

  /**
   * shmem_mmap(): the VMA gets the inode's vm_ops. The write seals are do_mmap()'s to check, before
   * anything is unmapped (mmap.ts, memfd_check_seals_mmap()).
   */
  mmap(vma: Vma): number {
    vma.vmOps = this.vmOps;
    return 0;
  }

  /** The page-cache pages, one reference each (for invariant checks and /proc/meminfo). */
  heldPages(): Iterable<number> {
    return this.pages.values();
  }
}

/**
 * shmem_zero_setup() (mm/shmem.c): a shared anonymous VMA (MAP_SHARED|MAP_ANONYMOUS, or /dev/zero mapped
 * shared) gets a new shmem file of its size as its vm_file and vm_ops. The size is charged to the
 * commit limit unless VM_NORESERVE (shmem_acct_size(), the overcommit heuristic). 0 or -ENOMEM.
 */
export function shmemZeroSetup(vma: Vma): number {
  const size = vma.vmEnd - vma.vmStart;
  if (!(vma.vmFlags & VM_NORESERVE) && vmEnoughMemory(vma.vmMm, size / PAGE_SIZE)) return -ENOMEM;
  const shm = new ShmemFile(vma.vmMm.mem, size);
  vma.vmFile?.put();
  vma.vmFile = shm;
  shm.get();
  vma.vmOps = shm.vmOps;
  return 0;
}

/**
 * A struct file on a shmem inode with no directory entry: shmem_file_setup() (memfd, SysV shm) and
 * shmem_zero_setup() (MAP_SHARED|MAP_ANONYMOUS, /dev/zero). It lives on the internal mount shm_mnt
 * (s_dev 00:01); /proc/PID/maps shows its name, e.g. "/dev/zero (deleted)", "/memfd:x (deleted)",
 * "/SYSV00000000 (deleted)". Each VMA holds a reference; the inode goes with the last one.
 */
export class ShmemFile implements MmFile {
  readonly path: string;
  readonly devMajor = 0;
  readonly devMinor = 1;
  readonly ino: number;
  readonly mapping: ShmemMapping;
  readonly readable: boolean;
  readonly writable: boolean;
  readonly mmap: (vma: Vma) => number;
  readonly inode: ShmemInode;
  readonly vmOps: VmOperations;
  private refs = 0;

  /**
   * A file on `inodeOrMem` (a new inode of `sizeBytes`, or an existing one), shown as `path`.
   * Default: the shared anonymous memory of shmem_zero_setup(), "/dev/zero (deleted)".
   */
  constructor(
    inodeOrMem: ShmemInode | PhysMemory,
    sizeBytes = 0,
    path = "/dev/zero (deleted)",
    mode: { readonly readable?: boolean; readonly writable?: boolean } = {},
  ) {
    this.inode = inodeOrMem instanceof ShmemInode ? inodeOrMem : new ShmemInode(inodeOrMem);
    if (!(inodeOrMem instanceof ShmemInode)) this.inode.size = sizeBytes;
    this.path = path;
    this.ino = this.inode.ino;
    this.mapping = this.inode.mapping;
    this.readable = mode.readable ?? true;
    this.writable = mode.writable ?? true;
    this.vmOps = this.inode.vmOps;
    this.mmap = (vma) => this.inode.mmap(vma);
    this.inode.iget();
  }

  /** i_size in pages (what a mapping may fault in). */
  get sizePages(): number {
    return Math.ceil(this.inode.size / PAGE);
  }

  /**
   * Punches pages [pgoff, pgoff + n) out of the file, as fallocate(FALLOC_FL_PUNCH_HOLE |
   * FALLOC_FL_KEEP_SIZE) does: every mapping of them is zapped first, a write seal refuses it
   * (-EPERM), and the next access reads zeros. Returns 0 or -errno (-EINVAL for n < 1 or a negative
   * or non-integer page). The inode's own punchHole only drops cache pages whose mappings are gone.
   */
  punchHole(pgoff: number, n: number): number {
    if (!Number.isSafeInteger(pgoff) || !Number.isSafeInteger(n) || pgoff < 0 || n < 1) return -EINVAL;
    return this.inode.fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, pgoff * PAGE, n * PAGE);
  }

  get(): void {
    this.refs++;
  }

  /** fput(): the last reference releases the inode (and, with no link, its pages). */
  put(): void {
    if (--this.refs === 0) this.inode.iput();
  }

  /** References held by the page cache, per pfn (for invariant checks). */
  heldPages(): Iterable<number> {
    return this.inode.heldPages();
  }
}
