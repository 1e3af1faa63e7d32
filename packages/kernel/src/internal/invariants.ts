/**
 * The global audit (mm/debug.c's spirit): every frame's refcount equals the references that exist.
 */
import { ShmemFile, type ShmemInode } from "@faultline/mm";
import { PG_anon, PG_buddy, PG_lazyfree, PG_quarantined, PG_reserved, PG_table } from "@faultline/phys";
import { checkGupInvariants } from "../gup";
import { OpenFile } from "./file";
import { sysvShmHolds } from "./ipc-shm-state";
import type { Kernel } from "./kernel";
import { shmemOf } from "./shmem-file";
import { checkVmallocInvariants } from "./vmalloc";

const hex = (n: number) => n.toString(16);

/**
 * phys invariants, every live mm's invariants, every running thread's TLB (Mmu.checkTlb), and the
 * global ones: every frame's refcount equals the references that exist (PTEs of every mm, shmem page
 * caches, page tables, driver-held references taken through the driver API, the kernel's own, the
 * pages of vmalloc areas, and the boot reference of reserved frames); no free frame referenced; every
 * open file's count equals the fds and VMAs naming it; a dead process holds nothing. Throws an Error
 * naming the first violation.
 */
export function checkInvariants(k: Kernel): void {
  k.phys.checkInvariants();
  // Pins (pin_user_pages) are driver-held references of GUP_PIN_COUNTING_BIAS each: counted below
  // with the others, and checked against the pin table here.
  checkGupInvariants({ kernel: k });
  const want = new Map<number, number>();
  const why = new Map<number, string[]>();
  const add = (pfn: number, n: number, what: string) => {
    want.set(pfn, (want.get(pfn) ?? 0) + n);
    let w = why.get(pfn);
    if (!w) {
      w = [];
      why.set(pfn, w);
    }
    w.push(n === 1 ? what : `${what} x${n}`);
  };
  const shmems = new Set<ShmemFile>();
  const inodes = new Set<ShmemInode>();
  for (const sb of [...k.tmpfs, k.shmMnt]) for (const i of sb.liveInodes()) inodes.add(i);
  const fileRefs = new Map<OpenFile, number>();
  const addFile = (f: OpenFile) => fileRefs.set(f, (fileRefs.get(f) ?? 0) + 1);
  // Threads of one group share an mm (and usually an fd table): count each once.
  const seenMm = new Set<unknown>();
  const seenFds = new Set<unknown>();
  for (const t of k.tasks.values()) {
    // Every running thread's TLB caches only what a walk gives now (RAM and MMIO entries alike).
    if (t.state === "running") {
      try {
        t.mmu.checkTlb();
      } catch (e) {
        throw new Error(`thread ${t.pid}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    const groupAlive = [...t.group].some((o) => o.state === "running");
    if (t.state !== "running" && !groupAlive) {
      if (!t.mm.dead) throw new Error(`process ${t.pid} is ${t.state} but its mm is alive`);
      if (t.fds.size) throw new Error(`process ${t.pid} is ${t.state} but has ${t.fds.size} open fds`);
      continue;
    }
    if (t.state !== "running" || seenMm.has(t.mm)) {
      if (t.state === "running" && !seenFds.has(t.fds)) {
        seenFds.add(t.fds);
        for (const f of t.fds.values()) addFile(f);
      }
      continue;
    }
    seenMm.add(t.mm);
    seenFds.add(t.fds);
    let held: Map<number, number>;
    try {
      held = t.mm.checkInvariants();
    } catch (e) {
      throw new Error(`process ${t.pid}: ${e instanceof Error ? e.message : String(e)}`);
    }
    for (const [pfn, n] of held) add(pfn, n, `PTE of pid ${t.pid}`);
    for (const pfn of t.mm.pgd.tableFrames()) add(pfn, 1, `page table of pid ${t.pid}`);
    for (const v of t.mm) {
      if (v.vmFile instanceof ShmemFile) shmems.add(v.vmFile);
      else if (v.vmFile instanceof OpenFile) addFile(v.vmFile);
    }
    for (const f of t.fds.values()) addFile(f);
  }
  for (const s of shmems) inodes.add(s.inode);
  checkShmemInodes(k, inodes, add);
  for (const [pfn, n] of k.driverRefs) {
    // A driver that handed a page to the fault path without taking a reference (get_page) owes one.
    if (n < 0)
      throw new Error(
        `pfn 0x${hex(pfn)}: drivers dropped ${-n} more reference(s) than they took (a fault handler that skipped getPage?)`,
      );
    add(pfn, n, "driver");
  }
  for (const [pfn, n] of k.kernelRefs) add(pfn, n, "kernel");
  // vmalloc areas: well formed, not overlapping, each page theirs alone and held once (vm_struct.pages).
  checkVmallocInvariants(k, add);
  const mem = k.mem;
  for (const pfn of want.keys()) {
    if (!mem.pfnValid(pfn)) throw new Error(`reference to pfn 0x${hex(pfn)} without a struct page`);
    if (Atomics.load(mem.flags, pfn) & PG_buddy)
      throw new Error(`pfn 0x${hex(pfn)} is free but referenced by ${why.get(pfn)!.join(", ")}`);
  }
  for (let pfn = 0; pfn < mem.maxPfn; pfn++) {
    const rc = Atomics.load(mem.refcount, pfn);
    const expected = want.get(pfn);
    if (rc === 0 && expected === undefined) continue;
    if (!mem.pfnValid(pfn)) continue;
    const flags = Atomics.load(mem.flags, pfn);
    // MADV_FREE marks anonymous pages only (madvise_free_pte_range()).
    if (flags & PG_lazyfree && !(flags & PG_anon))
      throw new Error(`pfn 0x${hex(pfn)} is lazy-free but not anonymous`);
    // A quarantined frame's count froze when it was found bad: a bad page report explains it.
    if (flags & PG_quarantined) continue;
    const base = flags & PG_reserved ? 1 : 0;
    const total = base + (expected ?? 0);
    if (rc !== total) {
      const refs = why.get(pfn)?.join(", ") ?? "nothing";
      throw new Error(
        `pfn 0x${hex(pfn)}: refcount ${rc} but ${total} references exist (${base ? "reserved, " : ""}${refs})${flags & PG_table ? " [page table]" : ""}`,
      );
    }
  }
  for (let pfn = 0; mem.nrQuarantinedPages > 0 && pfn < mem.maxPfn; pfn++) {
    if (!(Atomics.load(mem.flags, pfn) & PG_quarantined)) continue;
    if (!k.badPages.some((b) => b.pfn === pfn))
      throw new Error(`pfn 0x${hex(pfn)} is quarantined but no bad page report explains it`);
  }
  if (mem.nrQuarantinedPages !== new Set(k.badPages.map((b) => b.pfn)).size)
    throw new Error(
      `${mem.nrQuarantinedPages} quarantined frames, ${new Set(k.badPages.map((b) => b.pfn)).size} bad pages reported`,
    );
  for (const f of k.files) {
    const n = fileRefs.get(f) ?? 0;
    if (f.refs !== n)
      throw new Error(`file ${f.path}: ${f.refs} references counted, ${n} exist (fds + VMAs)`);
  }
  for (const f of fileRefs.keys()) {
    if (f.released) throw new Error(`released file ${f.path} still referenced`);
  }
}

/**
 * The page caches: every page of a live shmem inode (tmpfs, memfd, SysV, shared anonymous memory)
 * holds one reference and is not an anonymous page; an inode's i_count equals the open files on it
 * plus the SysV segments holding it; an evicted inode holds nothing.
 */
function checkShmemInodes(
  k: Kernel,
  inodes: Set<ShmemInode>,
  add: (pfn: number, n: number, what: string) => void,
): void {
  const opens = new Map<ShmemInode, number>();
  for (const f of k.files) {
    const i = shmemOf(f);
    if (i && !f.released) opens.set(i, (opens.get(i) ?? 0) + 1);
  }
  for (const [i, n] of sysvShmHolds(k)) opens.set(i, (opens.get(i) ?? 0) + n);
  for (const i of inodes) {
    if (i.evicted) {
      if (i.nrPages) throw new Error(`evicted shmem inode ${i.ino} still holds ${i.nrPages} pages`);
      continue;
    }
    for (const [pgoff, pfn] of i.pages) {
      if (Atomics.load(k.mem.flags, pfn) & PG_anon)
        throw new Error(`page cache of shmem inode ${i.ino} holds anonymous pfn 0x${hex(pfn)} at ${pgoff}`);
      add(pfn, 1, `page cache of shmem inode ${i.ino}`);
    }
    if (i.nlink === 0 && i.refs === 0)
      throw new Error(`shmem inode ${i.ino} has no link and no reference but was not evicted`);
  }
  for (const sb of [...k.tmpfs, k.shmMnt])
    for (const i of sb.liveInodes()) {
      const n = opens.get(i) ?? 0;
      if (i.refs !== n)
        throw new Error(`shmem inode ${i.ino}: i_count ${i.refs}, ${n} files and segments hold it`);
    }
}
