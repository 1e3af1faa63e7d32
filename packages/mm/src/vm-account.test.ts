// The commit charge's overcommit heuristic (__vm_enough_memory(), mm/util.c, vm.overcommit_memory = 0)
// on an Mm of a 16 MiB machine: one request to commit more pages than RAM is ENOMEM, whichever syscall
// makes it. The rows the live kernel checks too (64 TiB, more than any host has) are script rows in
// mmap.test.ts and mremap.test.ts.
import { mmTable } from "../test/syscall-tables";
import {
  ENOMEM,
  FAULT_OK,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_GROWSDOWN,
  MAP_NORESERVE,
  MAP_PRIVATE,
  MAP_SHARED,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  PROT_READ,
  PROT_WRITE,
  VM_ACCOUNT,
} from "./index";

const A = 0x1000_0000_0000;
const MIB = 1024 * 1024;
const RW = PROT_READ | PROT_WRITE;
const PF = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;

mmTable("overcommit heuristic (16 MiB of RAM, no swap)", [
  {
    name: "private writable 17 MiB → ENOMEM",
    run: ({ mm }) => mm.mmap(A, 17 * MIB, RW, PF, null, 0),
    expect: -ENOMEM,
  },
  {
    name: "all of RAM (totalram_pages) is allowed, one page more is not",
    run: ({ mm, mem }) => {
      const n = mem.totalRamPages * 4096;
      if (mm.mmap(A, n + 4096, RW, PF, null, 0) !== -ENOMEM) return -1;
      return mm.mmap(A, n, RW, PF, null, 0);
    },
    expect: A,
  },

  {
    name: "a failed MAP_FIXED puts back what it would have replaced",
    run: ({ mm }) => {
      mm.mmap(A, 2 * MIB, PROT_READ, PF, null, 0);
      return mm.mmap(A, 17 * MIB, RW, PF, null, 0);
    },
    expect: -ENOMEM,
    after: ({ mm }) => {
      const v = mm.findVma(A);
      if (!v || v.vmStart !== A || v.vmEnd !== A + 2 * MIB) throw new Error(`the old VMA is gone: ${v}`);
    },
  },
  {
    name: "MAP_FIXED over accounted memory is charged only what it adds (12 MiB, then 20 MiB over it)",
    run: ({ mm }) => {
      mm.mmap(A, 12 * MIB, RW, PF, null, 0);
      return mm.mmap(A, 20 * MIB, RW, PF, null, 0);
    },
    expect: A,
  },
  {
    name: "read-only, MAP_NORESERVE and shared-with-MAP_NORESERVE are not charged",
    run: ({ mm }) =>
      Math.min(
        mm.mmap(A, 64 * MIB, PROT_READ, PF, null, 0),
        mm.mmap(A + 64 * MIB, 64 * MIB, RW, PF | MAP_NORESERVE, null, 0),
        mm.mmap(A + 128 * MIB, 64 * MIB, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, null, 0),
      ),
    expect: A,
  },
  {
    name: "shared anonymous 17 MiB → ENOMEM (shmem_acct_size), even read-only",
    run: ({ mm }) => mm.mmap(A, 17 * MIB, PROT_READ, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, null, 0),
    expect: -ENOMEM,
  },
  {
    name: "mprotect making 17 MiB of private read-only memory writable → ENOMEM, nothing changed",
    run: ({ mm }) => {
      mm.mmap(A, 17 * MIB, PROT_READ, PF, null, 0);
      return mm.mprotect(A, 17 * MIB, RW);
    },
    expect: -ENOMEM,
    after: ({ mm }) => {
      if (mm.findVma(A)!.vmFlags & (VM_ACCOUNT | PROT_WRITE)) throw new Error("the VMA was changed");
    },
  },
  {
    name: "mprotect of 8 MiB of it is charged 8 MiB: allowed",
    run: ({ mm }) => {
      mm.mmap(A, 17 * MIB, PROT_READ, PF, null, 0);
      return mm.mprotect(A, 8 * MIB, RW);
    },
    expect: 0,
    after: ({ mm }) => {
      if (!(mm.findVma(A)!.vmFlags & VM_ACCOUNT)) throw new Error("not accounted");
    },
  },
  {
    name: "mremap growing accounted memory by 17 MiB in place → ENOMEM",
    run: ({ mm }) => {
      mm.mmap(A, MIB, RW, PF, null, 0);
      return mm.mremap(A, MIB, 18 * MIB, 0, 0);
    },
    expect: -ENOMEM,
  },
  {
    name: "mremap growing it by 15 MiB (moving) is charged the growth only: allowed",
    run: ({ mm }) => {
      mm.mmap(A, 4 * MIB, RW, PF, null, 0);
      mm.mmap(A + 4 * MIB, MIB, PROT_READ, PF, null, 0);
      return mm.mremap(A, 4 * MIB, 19 * MIB, MREMAP_MAYMOVE, 0) > 0 ? 0 : -1;
    },
    expect: 0,
  },
  {
    name: "mremap MREMAP_DONTUNMAP is charged the whole new length (10 MiB twice is allowed, 17 MiB is not)",
    run: ({ mm }) => {
      mm.mmap(A, 10 * MIB, RW, PF, null, 0);
      mm.mmap(A + 64 * MIB, 17 * MIB, RW, PF | MAP_NORESERVE, null, 0);
      const ok = mm.mremap(
        A,
        10 * MIB,
        10 * MIB,
        MREMAP_MAYMOVE | MREMAP_DONTUNMAP | MREMAP_FIXED,
        A + 32 * MIB,
      );
      if (ok !== A + 32 * MIB) return ok;
      // A NORESERVE mapping is not VM_ACCOUNT: nothing to charge however large.
      return mm.mremap(
        A + 64 * MIB,
        17 * MIB,
        17 * MIB,
        MREMAP_MAYMOVE | MREMAP_DONTUNMAP | MREMAP_FIXED,
        A + 128 * MIB,
      );
    },
    expect: A + 128 * MIB,
  },
  {
    name: "brk by 17 MiB leaves the break; by 8 MiB moves it",
    run: ({ mm }) => {
      const h = mm.brk(0);
      if (mm.brk(h + 17 * MIB) !== h) return -1;
      return mm.brk(h + 8 * MIB) - h;
    },
    expect: 8 * MIB,
  },
  {
    name: "a stack growing by more than RAM at once is refused (acct_stack_growth() charges it)",
    options: { stackLimit: Number.POSITIVE_INFINITY },
    run: ({ mm }) => {
      const top = A + 64 * MIB;
      mm.mmap(top - 4096, 4096, RW, PF | MAP_GROWSDOWN, null, 0);
      if (mm.handleFault(top - 8 * MIB, true) !== FAULT_OK) return -1;
      return mm.handleFault(top - 8 * MIB - 17 * MIB, true) === FAULT_OK ? 0 : -ENOMEM;
    },
    expect: -ENOMEM,
  },
  {
    name: "overcommitPages: Infinity (vm.overcommit_memory = 1) charges nothing",
    options: { overcommitPages: Number.POSITIVE_INFINITY },
    run: ({ mm }) => mm.mmap(A, 1024 * MIB, RW, PF, null, 0),
    expect: A,
  },
  {
    name: "overcommitPages sets the limit (a machine with swap): 20 MiB of 24 MiB allowed",
    options: { overcommitPages: (24 * MIB) / 4096 },
    run: ({ mm }) => mm.mmap(A, 20 * MIB, RW, PF, null, 0),
    expect: A,
  },
]);
