// mm/mmap.c and the munmap half of mm/vma.c: do_mmap, mmap_region, get_unmapped_area (with
// arch/x86/kernel/sys_x86_64.c's placement), and do_vmi_munmap with the detach/complete steps that
// MAP_FIXED and mremap share.
import {
  F_SEAL_FUTURE_WRITE,
  F_SEAL_WRITE,
  LEGACY_MAP_MASK,
  MAP_32BIT,
  MAP_DROPPABLE,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_GROWSDOWN,
  MAP_HUGE_MASK,
  MAP_HUGE_SHIFT,
  MAP_HUGETLB,
  MAP_LOCKED,
  MAP_NONBLOCK,
  MAP_NORESERVE,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MAP_STACK,
  MAP_SYNC,
  MAP_TYPE,
  MMAP_MIN_ADDR,
  PROT_EXEC,
  PROT_WRITE,
  TASK_SIZE,
  VM_ACCOUNT,
  VM_DONTDUMP,
  VM_DROPPABLE,
  VM_GROWSDOWN,
  VM_LOCKED,
  VM_LOCKED_MASK,
  VM_MAYEXEC,
  VM_MAYREAD,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_NOHUGEPAGE,
  VM_NORESERVE,
  VM_RESERVED,
  VM_SEALED,
  VM_SHARED,
  VM_SOFTDIRTY,
  VM_SYNC,
  VM_WIPEONFORK,
  VM_WRITE,
} from "./constants";
import { EACCES, EAGAIN, EEXIST, EINVAL, ENODEV, ENOMEM, EOPNOTSUPP, EOVERFLOW, EPERM, isErr } from "./errno";
import { populateLockedMapping } from "./gup";
import { hstateSizelog, hugeAlign, hugetlbFileSetup, isFileHugepages } from "./hugetlb";
import {
  linearPageIndex,
  PAGE,
  PMD_SIZE,
  pageAlign,
  protToVm,
  TASK_UNMAPPED_BASE,
  TWO64,
  ul,
} from "./internal";
import { type MmFile, type MmStruct, Vma } from "./mm_types";
import { ZAP_UNMAP, zapPageRange } from "./rmap";
import { shmemInodeOf, shmemZeroSetup } from "./shmem";
import { isDataMapping, mayExpandVm, vmEnoughMemory } from "./vm-account";
import {
  newRangeMerge,
  removeVma,
  splitVma,
  splitVmaChecked,
  vmAreaFree,
  vmaLink,
  vmaMergeNewRange,
} from "./vma";

// ---- get_unmapped_area ------------------------------------------------------------------------

/** __get_unmapped_area(): where a mapping of `len` bytes goes, or -errno. */
export function getUnmappedArea(
  mm: MmStruct,
  file: MmFile | null,
  addr: number,
  len: number,
  pgoff: number,
  flags: number,
): number {
  if (len > TASK_SIZE) return -ENOMEM;
  let result: number;
  if (isFileHugepages(file)) {
    result = hugetlbGetUnmappedArea(mm, file, addr, len, pgoff, flags);
  } else if (file?.getUnmappedArea) {
    result = file.getUnmappedArea(addr, len, pgoff, flags);
  } else {
    let alignMask = 0;
    // Anonymous mappings whose length is a multiple of the PMD size are aligned to it so they can
    // use huge pages (thp_get_unmapped_area_vmflags).
    if (!file && !addr && !(flags & MAP_FIXED) && len % PMD_SIZE === 0) alignMask = PMD_SIZE - 1;
    result = archGetUnmappedAreaTopdown(mm, addr, len, file ? pgoff : 0, flags, alignMask);
  }
  if (result < 0) return result;
  if (result > TASK_SIZE - len) return -ENOMEM;
  if (result % PAGE !== 0) return -EINVAL;
  return result;
}

/**
 * hugetlb_get_unmapped_area() (fs/hugetlbfs/inode.c), hugetlbfs's f_op->get_unmapped_area: the length
 * must be whole huge pages, and so must a MAP_FIXED address (-EINVAL, before anything is unmapped); a
 * hint is rounded up to a huge page boundary (0x100000001000 asks for 0x100000200000), and the search
 * returns one (x86's get_align_mask(): huge_page_mask_align(), a search padded by the huge page less a
 * page). Here rather than in hugetlb.ts because it is the arch search below with the hstate's alignment.
 */
function hugetlbGetUnmappedArea(
  mm: MmStruct,
  file: MmFile & { readonly hugetlbPageSize: number },
  addr: number,
  len: number,
  pgoff: number,
  flags: number,
): number {
  const size = file.hugetlbPageSize;
  if (len % size !== 0) return -EINVAL;
  if (flags & MAP_FIXED && addr % size !== 0) return -EINVAL;
  const hint = addr ? hugeAlign(addr, size) : 0;
  return archGetUnmappedAreaTopdown(mm, hint, len, pgoff, flags, size - 1, size - PAGE);
}

/**
 * arch/x86/kernel/sys_x86_64.c arch_get_unmapped_area_topdown(): the result is congruent to pgoff's
 * offset modulo alignMask + 1 (a power of two), searched for in gaps of len + pad (the kernel's
 * align_mask; pad defaults to alignMask, our approximation of the THP alignment).
 */
function archGetUnmappedAreaTopdown(
  mm: MmStruct,
  addr0: number,
  len: number,
  pgoff: number,
  flags: number,
  alignMask: number,
  pad = alignMask,
): number {
  if (len > TASK_SIZE) return -ENOMEM;
  if (flags & MAP_FIXED) return addr0;
  // For MAP_32BIT mappings the kernel forces the legacy (bottom-up) layout.
  if (flags & MAP_32BIT) return bottomUp(mm, addr0, len, pgoff, flags, alignMask, pad);
  if (addr0) {
    const addr = addr0 - (addr0 % PAGE);
    // mmap_address_hint_valid(): the hint and its end stay below TASK_SIZE.
    // ... and keeps clear of a stack's guard gap (vm_start_gap() of the VMA above).
    if (TASK_SIZE - len >= addr && rangeFree(mm, addr, addr + len)) {
      const next = mm.vmas.find(addr);
      if (!next || addr + len <= vmStartGap(mm, next)) return addr;
    }
  }
  // unmapped_area_topdown(): the highest gap that holds len + align_mask, then the highest aligned
  // start inside it (the kernel's search is not exact for aligned requests; neither is ours).
  // A gap whose top reaches into the guard gap below a stack (vm_start_gap() of the VMA above) is
  // searched again below that guard gap (unmapped_area_topdown()'s retry with a lower high_limit).
  const off = (pgoff * PAGE) % (alignMask + 1);
  let high = mm.mmapBase;
  for (;;) {
    const g = mm.vmas.findGapTopDown(len + pad, PAGE, high);
    if (g < 0) break;
    const next = mm.vmas.find(g);
    if (next && vmStartGap(mm, next) < g + len + pad) {
      high = vmStartGap(mm, next);
      continue;
    }
    const a = g + pad;
    return a - ((((a - off) % (alignMask + 1)) + (alignMask + 1)) % (alignMask + 1));
  }
  return bottomUp(mm, 0, len, pgoff, flags, alignMask, pad);
}

/**
 * MAP_32BIT's window (find_start_end(), arch/x86/kernel/sys_x86_64.c): code for the small model must
 * sit in the first 2 GiB, and the kernel gives it [1 GiB, 2 GiB) (its start moved up by at most 32 MiB
 * when the address space is randomized; never here).
 */
const MAP_32BIT_BEGIN = 0x4000_0000;
const MAP_32BIT_END = 0x8000_0000;

/** arch_get_unmapped_area(): bottom-up in [begin, end) of find_start_end(). */
function bottomUp(
  mm: MmStruct,
  addr0: number,
  len: number,
  pgoff: number,
  flags: number,
  alignMask: number,
  pad: number,
): number {
  const begin = flags & MAP_32BIT ? MAP_32BIT_BEGIN : TASK_UNMAPPED_BASE;
  const end = flags & MAP_32BIT ? MAP_32BIT_END : TASK_SIZE;
  if (len > end) return -ENOMEM;
  if (addr0) {
    const addr = Math.ceil(addr0 / PAGE) * PAGE;
    if (end - len >= addr && addr >= MMAP_MIN_ADDR && rangeFree(mm, addr, addr + len)) return addr;
  }
  // unmapped_area(): a gap that reaches into the guard gap below a stack is passed over (low_limit
  // moves to the stack's end).
  const off = (pgoff * PAGE) % (alignMask + 1);
  let low = begin;
  for (;;) {
    const g = mm.vmas.findGapBottomUp(len + pad, low, end);
    if (g < 0) return -ENOMEM;
    const next = mm.vmas.find(g);
    if (next && vmStartGap(mm, next) < g + len + pad) {
      low = next.vmEnd;
      continue;
    }
    return g + ((((off - g) % (alignMask + 1)) + (alignMask + 1)) % (alignMask + 1));
  }
}

/** vm_start_gap(): where a VMA's space begins, stack_guard_gap below a VM_GROWSDOWN one (never below 0). */
export function vmStartGap(mm: MmStruct, vma: Vma): number {
  if (!(vma.vmFlags & VM_GROWSDOWN)) return vma.vmStart;
  return Math.max(0, vma.vmStart - mm.rules.stackGuardGap);
}

/** No VMA intersects [start, end) (!find_vma_intersection()). */
export function rangeFree(mm: MmStruct, start: number, end: number): boolean {
  const v = mm.vmas.find(start);
  return !v || v.vmStart >= end;
}

// ---- do_mmap ----------------------------------------------------------------------------------

/**
 * ksys_mmap_pgoff() (mm/mmap.c) once the fd is resolved (`file` null for MAP_ANONYMOUS), then do_mmap().
 * MAP_HUGETLB asks for huge pages: a file must then be hugetlbfs's (no other is, and Faultline opens
 * none: -EINVAL); anonymous memory names an hstate in bits 26..31 (-EINVAL for one that does not exist)
 * and is mapped through a new file of the internal hugetlbfs mount, its length rounded up to whole huge
 * pages (hugetlb.ts). 2.6.10 knew no MAP_HUGETLB and ignores the bit (era.ts mapHugetlb).
 */
export function ksysMmapPgoff(
  mm: MmStruct,
  addr: number,
  len: number,
  prot: number,
  flags: number,
  file: MmFile | null,
  pgoff: number,
): number {
  if (!mm.rules.mapHugetlb) return doMmap(mm, addr, len, prot, flags, file, pgoff);
  if (file) {
    if (isFileHugepages(file))
      return doMmap(mm, addr, hugeAlign(len, file.hugetlbPageSize), prot, flags, file, pgoff);
    if (flags & MAP_HUGETLB) return -EINVAL;
    return doMmap(mm, addr, len, prot, flags, file, pgoff);
  }
  if (!(flags & MAP_HUGETLB)) return doMmap(mm, addr, len, prot, flags, null, pgoff);
  // (flags >> MAP_HUGE_SHIFT) & MAP_HUGE_MASK: bits above 31 of the unsigned long shift out of the mask.
  const size = hstateSizelog((flags >>> MAP_HUGE_SHIFT) & MAP_HUGE_MASK);
  if (!size) return -EINVAL;
  const hlen = hugeAlign(len, size);
  const hfile = hugetlbFileSetup(mm.mem, hlen, size);
  hfile.get();
  try {
    return doMmap(mm, addr, hlen, prot, flags, hfile, pgoff);
  } finally {
    hfile.put();
  }
}

/**
 * do_mmap() (mm/mmap.c), mmap_region() included; populates after. `addrIn` and `lenIn` are unsigned
 * longs as the syscall passes them (negative: 2^64 + x).
 */
export function doMmap(
  mm: MmStruct,
  addrIn: number,
  lenIn: number,
  prot: number,
  flagsIn: number,
  file: MmFile | null,
  pgoffIn: number,
): number {
  let addr = ul(addrIn);
  let flags = flagsIn;
  let pgoff = pgoffIn;
  if (lenIn === 0) return -EINVAL;
  if (flags & MAP_FIXED_NOREPLACE) flags |= MAP_FIXED;
  if (!(flags & MAP_FIXED)) {
    // round_hint_to_min()
    addr -= addr % PAGE;
    if (addr && addr < MMAP_MIN_ADDR) addr = MMAP_MIN_ADDR;
  }
  const len = pageAlign(lenIn);
  if (len === 0) return -ENOMEM;
  // (pgoff + pages) wrapping an unsigned long: impossible for offsets a 64-bit mmap can pass.
  if (pgoff + len / PAGE >= TWO64) return -EOVERFLOW;
  if (mm.mapCount > mm.maxMapCount) return -ENOMEM;
  // PROT_EXEC alone asks for execute-only memory; with PKU it gets the execute-only key, allocated
  // here (before the address is chosen, so even a failing mmap allocates it).
  let pkey = 0;
  if (prot === PROT_EXEC) pkey = Math.max(0, mm.pkeys.executeOnly());
  // __get_unmapped_area() hands a MAP_FIXED address back as it is, and IS_ERR_VALUE() then takes one
  // of the top 4095 for an error: MAP_FIXED at 0xffffffffffffffff is -EPERM. hugetlbfs's own refuses
  // such an address first: never huge page aligned (-EINVAL; ul() cannot tell, 2^64 - 1 is 2^64).
  if (flags & MAP_FIXED && len <= TASK_SIZE && isErr(addrIn)) return isFileHugepages(file) ? -EINVAL : addrIn;
  const area = getUnmappedArea(mm, file, addr, len, pgoff, flags);
  if (area < 0) return area;
  addr = area;
  if (flags & MAP_FIXED_NOREPLACE && !rangeFree(mm, addr, addr + len)) return -EEXIST;
  // file_mmap_ok() (after the address is chosen: a length no gap can hold is -ENOMEM first): a file
  // without FMODE_UNSIGNED_OFFSET ends at MAX_LFS_FILESIZE, 2^63 - 1: pgoff > (2^63 - 1 - len) >>
  // PAGE_SHIFT, which for whole pages is pgoff >= (2^63 - len) / PAGE (a memfd mapped at offset
  // 0x7ffffffffffff000 for a page is -EOVERFLOW, Linux 6.18.44).
  if (file && !file.unsignedOffset && (len > 2 ** 63 - 1 || pgoff >= (2 ** 63 - len) / PAGE))
    return -EOVERFLOW;

  let vmFlags = protToVm(prot) | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
  // calc_vm_flag_bits()
  if (flags & MAP_GROWSDOWN) vmFlags |= VM_GROWSDOWN;
  if (flags & MAP_LOCKED) vmFlags |= VM_LOCKED;
  if (flags & MAP_STACK) vmFlags |= VM_NOHUGEPAGE;
  // mm->def_flags: mlockall(MCL_FUTURE) locks every new mapping.
  vmFlags |= mm.defFlags;
  // can_do_mlock() for MAP_LOCKED: a zero RLIMIT_MEMLOCK without CAP_IPC_LOCK is -EPERM; then
  // mlock_future_ok(): -EAGAIN past the limit (gVisor's MapLockedTest.RlimitMemlock*).
  if (flags & MAP_LOCKED && mm.mlockLimit === 0) return -EPERM;
  if (vmFlags & VM_LOCKED && mm.lockedVm * PAGE + len > mm.mlockLimit) return -EAGAIN;

  if (file) {
    switch (flags & MAP_TYPE) {
      case MAP_SHARED:
      case MAP_SHARED_VALIDATE: {
        if ((flags & MAP_TYPE) === MAP_SHARED_VALIDATE && !mm.rules.modernMapTypes) return -EINVAL;
        if ((flags & MAP_TYPE) === MAP_SHARED) flags &= LEGACY_MAP_MASK;
        // flags is an unsigned long: a bit above 31 (the syscall entry's 2^32) is unknown too.
        else if (
          flags & ~(LEGACY_MAP_MASK | MAP_SYNC | MAP_FIXED_NOREPLACE | MAP_SHARED_VALIDATE) ||
          flagsIn !== flagsIn >>> 0
        )
          return -EOPNOTSUPP;
        if (flags & MAP_SYNC) return -EOPNOTSUPP; // no DAX device here
        if (prot & PROT_WRITE && !file.writable) return -EACCES;
        vmFlags |= VM_SHARED | VM_MAYSHARE;
        if (!file.writable) vmFlags &= ~(VM_MAYWRITE | VM_SHARED);
        if (!file.readable) return -EACCES;
        break;
      }
      case MAP_PRIVATE:
        if (!file.readable) return -EACCES;
        break;
      default:
        return -EINVAL;
    }
    if (!file.mmap) return -ENODEV;
    if (vmFlags & VM_GROWSDOWN) return -EINVAL;
    // memfd_check_seals_mmap() (v6.13: do_mmap(), before anything is unmapped; it was in shmem_mmap()):
    // a write-sealed file refuses a shared writable mapping and keeps a shared read-only one from
    // ever becoming writable. A MAP_FIXED over other mappings therefore leaves them in place.
    const seals = shmemInodeOf(file.mapping)?.seals ?? 0;
    if (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE) && vmFlags & VM_SHARED) {
      if (vmFlags & VM_WRITE) return -EPERM;
      vmFlags &= ~VM_MAYWRITE;
    }
  } else {
    switch (flags & MAP_TYPE) {
      case MAP_SHARED:
        if (vmFlags & VM_GROWSDOWN) return -EINVAL;
        pgoff = 0;
        vmFlags |= VM_SHARED | VM_MAYSHARE;
        break;
      case MAP_DROPPABLE:
        // v6.11: memory the kernel may drop under pressure; never locked, reserved, forked or dumped.
        if (!mm.rules.modernMapTypes || flags & (MAP_LOCKED | MAP_GROWSDOWN)) return -EINVAL;
        vmFlags |= VM_DROPPABLE | VM_NORESERVE | VM_WIPEONFORK | VM_DONTDUMP;
        pgoff = addr / PAGE;
        break;
      case MAP_PRIVATE:
        pgoff = addr / PAGE;
        break;
      default:
        return -EINVAL;
    }
  }
  if (flags & MAP_NORESERVE) vmFlags |= VM_NORESERVE;
  // calc_vm_flag_bits(): MAP_SYNC is VM_SYNC ("sf" in VmFlags) on anonymous memory too, private or
  // shared, where it changes nothing else (Linux 6.18.44). Files: MAP_SHARED_VALIDATE|MAP_SYNC was
  // refused above (no DAX device); whether a private or legacy MAP_SHARED file mapping shows "sf" is
  // not checked against a live kernel yet, so files get no VM_SYNC.
  if (!file && flags & MAP_SYNC) vmFlags |= VM_SYNC;

  const res = mmapRegion(mm, file, addr, len, vmFlags, pgoff, pkey);
  if (res < 0) return res;
  const vma = mm.vmaLookup(res);
  // do_mmap() populates by the vm_flags it built, so memory __mmap_complete() would not lock is still
  // faulted in and a driver's own VM_LOCKED is not; 2.6.10's do_mmap_pgoff() asked the flags ->mmap
  // left (era.ts populateByOwnFlags).
  const lockedFlags = mm.rules.populateByOwnFlags ? vmFlags : (vma?.vmFlags ?? 0);
  // 2.6.10 handed MAP_POPULATE to sys_remap_file_pages() instead (era.ts populateByRemapFilePages).
  const byRemap = mm.rules.populateByRemapFilePages;
  if (
    vma &&
    (lockedFlags & VM_LOCKED || (!byRemap && (flags & (MAP_POPULATE | MAP_NONBLOCK)) === MAP_POPULATE))
  ) {
    // A VM_LOCKED mapping in 2.6.10 was faulted in by make_pages_present(), which write-faults shared
    // writable memory too (era.ts lockedPopulateWritesShared; 2.6.9/2.6.11 do_mmap_pgoff()). There
    // MAP_POPULATE is remapFilePagesPopulate()'s, so this is the VM_LOCKED case.
    populateLockedMapping(mm, res, res + len);
  }
  if (byRemap && flags & MAP_POPULATE) remapFilePagesPopulate(mm, res, len, (flags & MAP_NONBLOCK) !== 0);
  return res;
}

/**
 * 2.6.10's do_mmap_pgoff() → sys_remap_file_pages(addr, len, 0, pgoff, flags & MAP_NONBLOCK) (mm/fremap.c),
 * its result ignored: ->populate of the one VMA holding the whole range, if that VMA is VM_SHARED, has a
 * ->populate and no vm_private_data (unless VM_RESERVED). The pgoff passed is the VMA's own, read back
 * after ->mmap, so the VM_NONLINEAR switch never happens here.
 */
function remapFilePagesPopulate(mm: MmStruct, start: number, len: number, nonblock: boolean): void {
  const vma = mm.vmas.find(start);
  const populate = vma?.vmOps?.populate;
  if (!vma || !populate || !(vma.vmFlags & VM_SHARED)) return;
  if (vma.vmPrivateData !== null && !(vma.vmFlags & VM_RESERVED)) return;
  if (start < vma.vmStart || start + len > vma.vmEnd) return;
  populate.call(vma.vmOps, vma, start, len, linearPageIndex(vma, start), nonblock);
}

/**
 * mmap_region() (__mmap_region, mm/vma.c): take out what MAP_FIXED covers, build the VMA, call the
 * driver. What it replaces is gone before the driver's ->mmap runs (PTEs cleared, ->close called:
 * vms_clean_up_area), so a driver that fills PTEs itself (remap_pfn_range) finds an empty range; 2.6.10's
 * do_mmap_pgoff() did a whole do_munmap() first. A failure before that point puts the old VMAs back;
 * a failure after it leaves a gap, as vms_abort_munmap_vmas() does.
 */
function mmapRegion(
  mm: MmStruct,
  file: MmFile | null,
  addr: number,
  len: number,
  vmFlagsIn: number,
  pgoff: number,
  pkey: number,
): number {
  let vmFlags = vmFlagsIn;
  const end = addr + len;
  // Detach what we replace, its PTEs kept until the clean-up below so an early failure can put it back.
  const detached = rangeFree(mm, addr, end) ? null : vmsGatherMunmapVmas(mm, addr, end);
  if (typeof detached === "number") return detached;
  // No map-count check here: do_mmap() refused only map_count > max (above), so a process may go one
  // VMA past vm.max_map_count when nothing merges ("allowed to exceed ... by one", mm/mmap.c; 2.6.11's
  // do_mmap_pgoff() checked nothing more either); only splits check map_count >= max.
  // __mmap_setup(): may_expand_vm(pglen - vms->nr_pages) while total_vm and data_vm still count what
  // MAP_FIXED replaces (detached from the tree here): every replaced page is freed for both limits,
  // data or not.
  if (mm.rlimAs !== Number.POSITIVE_INFINITY || mm.rlimData.cur !== Number.POSITIVE_INFINITY) {
    const old = { total: 0, data: 0 };
    for (const v of detached?.vmas ?? []) {
      const n = (v.vmEnd - v.vmStart) / PAGE;
      old.total += n;
      if (isDataMapping(v.vmFlags)) old.data += n;
    }
    if (!mayExpandVm(mm, vmFlags, len / PAGE - old.total, old)) {
      if (detached) vmsAbortMunmapVmas(mm, detached);
      return -ENOMEM;
    }
  }
  // accountable_mapping(): private writable memory is charged to the commit limit, less what a
  // MAP_FIXED replaces that was charged already (shared anonymous memory: shmemZeroSetup below).
  // hugetlb keeps its own account (hugetlbfs_file_mmap() reserves huge pages).
  if (
    !(vmFlags & VM_NORESERVE) &&
    (vmFlags & (VM_SHARED | VM_WRITE)) === VM_WRITE &&
    !isFileHugepages(file)
  ) {
    let charged = len / PAGE;
    for (const v of detached?.vmas ?? []) if (v.vmFlags & VM_ACCOUNT) charged -= (v.vmEnd - v.vmStart) / PAGE;
    if (vmEnoughMemory(mm, charged)) {
      if (detached) vmsAbortMunmapVmas(mm, detached);
      return -ENOMEM;
    }
    vmFlags |= VM_ACCOUNT;
  }
  if (detached) vmsCleanUpArea(mm, detached);

  let vma: Vma | null = null;
  // A new mapping of the same object, flags and linear pgoff next to an existing VMA expands it
  // without calling ->mmap (__mmap_region tries vma_merge_new_range first). 2.6.10's do_mmap_pgoff()
  // did so for private anonymous memory only; a file waits for its ->mmap (mergeAfterMmap, era.ts
  // fileMergeBeforeMmap). Shared anonymous memory is a new shmem file each time: it never merges.
  if (file ? mm.rules.fileMergeBeforeMmap : !(vmFlags & VM_SHARED)) {
    vma = vmaMergeNewRange(
      newRangeMerge(mm, {
        start: addr,
        end,
        pgoff,
        flags: vmFlags,
        pkey,
        file,
        anonVma: null,
      }),
    );
  }
  if (!vma) {
    const v = new Vma(mm, addr, end, vmFlags, pgoff);
    v.vmPkey = pkey;
    if (file) {
      v.vmFile = file;
      file.get();
      mm.vmas.insert(v);
      let err: number;
      try {
        err = file.mmap!(v);
      } catch (e) {
        abortNewVma(mm, v);
        if (detached) vmsAbortMunmapVmas(mm, detached);
        throw e;
      }
      if (err) {
        abortNewVma(mm, v);
        if (detached) vmsAbortMunmapVmas(mm, detached);
        return err < 0 ? err : -err;
      }
      // A 2.6-style driver's VM_RESERVED: 2.6.10 kept it, today it is what v3.7 wrote in every driver
      // instead (era.ts reservedFlags).
      if (v.vmFlags & VM_RESERVED) v.vmFlags = (v.vmFlags & ~VM_RESERVED) | mm.rules.reservedFlags;
      // ->mmap may have put another file in (mmap_zero → shmem_zero_setup for MAP_SHARED of /dev/zero).
      (v.vmFile ?? file).mapping.vmas.add(v);
      // Today nothing merges after ->mmap (__mmap_region); 2.6.10 merged only now.
      vma = mm.rules.fileMergeBeforeMmap ? v : mergeAfterMmap(mm, v, file);
    } else if (vmFlags & VM_SHARED) {
      // Shared anonymous memory is a file on an internal tmpfs.
      const err = shmemZeroSetup(v);
      if (err) {
        vmAreaFree(v);
        if (detached) vmsAbortMunmapVmas(mm, detached);
        return err;
      }
      vmaLink(mm, v);
      vma = v;
    } else {
      v.anonymous = true;
      mm.vmas.insert(v);
      vma = v;
    }
  }
  if (detached) vmsCompleteMunmapVmas(mm, detached);
  vma.vmFlags |= VM_SOFTDIRTY;
  if (vma.vmFlags & VM_LOCKED) {
    // __mmap_complete(): memory mlock() may not lock is left unlocked and uncounted, as mlock_fixup()
    // leaves it (era.ts mlockNeverLocks).
    if (vma.vmFlags & mm.rules.mlockNeverLocks) vma.vmFlags &= ~VM_LOCKED_MASK;
    else mm.lockedVm += len / PAGE;
  }
  return addr;
}

/**
 * 2.6.10's do_mmap_pgoff() after a file's ->mmap: vma_merge() at the start, with the flags and the
 * vm_pgoff the driver left (it reads both back from the VMA: "Can addr have changed??", added in
 * 2.6.10-rc1, in 2.6.11 too) and the file mmap() was given. Only prev and next are asked
 * (is_mergeable_vma refuses one with ->close), never the new VMA: if the range merges, the new VMA is
 * freed without its ->close, and the neighbour's vm_ops and vm_private_data cover it. Returns the VMA
 * now covering the range.
 */
function mergeAfterMmap(mm: MmStruct, v: Vma, file: MmFile): Vma {
  mm.vmas.remove(v);
  const merged = vmaMergeNewRange(
    newRangeMerge(mm, {
      start: v.vmStart,
      end: v.vmEnd,
      pgoff: v.vmPgoff,
      flags: v.vmFlags,
      pkey: v.vmPkey,
      file,
      anonVma: null,
    }),
  );
  if (!merged) {
    mm.vmas.insert(v);
    return v;
  }
  const vf = v.vmFile ?? file;
  vf.mapping.vmas.delete(v);
  vf.put();
  vmAreaFree(v);
  return merged;
}

function abortNewVma(mm: MmStruct, v: Vma): void {
  // The driver may have filled PTEs before failing (unmap_region on the error path).
  zapPageRange(mm, v, v.vmStart, v.vmEnd, ZAP_UNMAP);
  mm.pgd.freeEmpty(v.vmStart, v.vmEnd);
  mm.vmas.remove(v);
  v.vmFile?.put();
  vmAreaFree(v);
}

// ---- munmap -----------------------------------------------------------------------------------

/** struct vma_munmap_struct, reduced: the VMAs taken out of [start, end). */
export interface VmaMunmap {
  readonly vmas: Vma[];
  readonly start: number;
  readonly end: number;
  /** PTEs still in place (vms->clear_ptes): the VMAs can still go back as they were. */
  clearPtes: boolean;
}

/**
 * vms_gather_munmap_vmas(): splits the VMAs at the edges of [start, end) and takes the ones inside
 * out of the tree, keeping their PTEs so the caller can either release them or put them back.
 */
export function vmsGatherMunmapVmas(mm: MmStruct, start: number, end: number): VmaMunmap | number {
  let first = mm.vmas.find(start);
  if (!first || first.vmStart >= end) return { vmas: [], start, end, clearPtes: true };
  // Which piece of a split is the new VMA differs between the eras (era.ts munmapSplitNewStays).
  const newStays = mm.rules.munmapSplitNewStays;
  // era.ts munmapSplitsChecked: 2.6.10 checked the map count at each split, today only a split strictly
  // inside one VMA needs a free slot (munmap04).
  const checkEach = mm.rules.munmapSplitsChecked;
  if (start > first.vmStart) {
    if ((checkEach || end < first.vmEnd) && mm.mapCount >= mm.maxMapCount) return -ENOMEM;
    // A sealed VMA is not split for an unmap that must fail anyway (mm/mseal.c).
    if (first.vmFlags & VM_SEALED) return -EPERM;
    const r = splitVma(mm, first, start, newStays);
    if (typeof r === "number") return r;
    if (!newStays) first = r;
  }
  const vmas: Vma[] = [];
  for (const v of [...mm.vmas.intersecting(start, end)]) {
    // Sealed memory is never unmapped, replaced by MAP_FIXED or mremap's target (-EPERM); the split
    // of the first VMA above stays, as it does in Linux.
    if (v.vmFlags & VM_SEALED) return -EPERM;
    let victim = v;
    if (victim.vmEnd > end) {
      // Nothing is detached yet, so a failure leaves the VMAs in place (the first split stays).
      const r = (checkEach ? splitVmaChecked : splitVma)(mm, victim, end, !newStays);
      if (typeof r === "number") return r;
      if (!newStays) victim = r;
    }
    vmas.push(victim);
  }
  for (const v of vmas) mm.vmas.remove(v);
  return { vmas, start, end, clearPtes: true };
}

/** vms_clear_ptes(): zap the gathered VMAs and free the page tables left empty. */
function vmsClearPtes(mm: MmStruct, d: VmaMunmap): void {
  if (!d.clearPtes) return;
  for (const v of d.vmas) zapPageRange(mm, v, v.vmStart, v.vmEnd, ZAP_UNMAP);
  mm.pgd.freeEmpty(d.start, d.end);
  d.clearPtes = false;
}

/**
 * vms_clean_up_area(): before a new mapping's ->mmap, the old ones lose their PTEs and get ->close
 * (vma_close() then gives them dummy ops, so the close is not repeated when they are freed).
 */
function vmsCleanUpArea(mm: MmStruct, d: VmaMunmap): void {
  vmsClearPtes(mm, d);
  for (const v of d.vmas) {
    const ops = v.vmOps;
    v.vmOps = null;
    ops?.close?.(v);
  }
}

/**
 * vms_abort_munmap_vmas(): the gathered VMAs go back as they were; once their PTEs are cleared that is
 * impossible, and the range is unmapped instead (the failed MAP_FIXED leaves a gap).
 */
export function vmsAbortMunmapVmas(mm: MmStruct, d: VmaMunmap): void {
  if (d.clearPtes) for (const v of d.vmas) mm.vmas.insert(v);
  else vmsCompleteMunmapVmas(mm, d);
}

/** vms_complete_munmap_vmas(): zap, free page tables, then ->close and fput each VMA. */
export function vmsCompleteMunmapVmas(mm: MmStruct, d: VmaMunmap): void {
  vmsClearPtes(mm, d);
  for (const v of d.vmas) if (v.vmFlags & VM_LOCKED) mm.lockedVm -= (v.vmEnd - v.vmStart) / PAGE;
  for (const v of d.vmas) removeVma(v);
}

/**
 * do_vmi_munmap() on unsigned long arguments: the range checks are the kernel's own (munmap(2),
 * mremap and MAP_FIXED all go through them), then gather and complete.
 */
export function doVmiMunmap(mm: MmStruct, start: number, lenU: number): number {
  if (start % PAGE !== 0 || start > TASK_SIZE || lenU > TASK_SIZE - start) return -EINVAL;
  const len = pageAlign(lenU);
  if (len === 0) return -EINVAL;
  const d = vmsGatherMunmapVmas(mm, start, start + len);
  if (typeof d === "number") return d;
  vmsCompleteMunmapVmas(mm, d);
  return 0;
}
