// Every documented errno of msync(2), as a table (reference linux-mm.md §3, §7 and the man pages). Script
// rows also run on the live kernel; Mm rows follow the kernel source each cites (test/syscall-tables.ts
// explains both kinds).
import { MAP_LOCKED } from "../test/oracle/script";
import { A, at, mapAnon, mmTable, P, PF, RW } from "../test/syscall-tables";
import { EBUSY, EINVAL, ENOMEM, MS_ASYNC, MS_INVALIDATE, MS_SYNC } from "./index";

// ================================================================================== msync

mmTable("msync", [
  {
    name: "unknown flag → EINVAL",
    run: ({ mm }) => mm.msync(mapAnon(mm), P, 8),
    expect: -EINVAL,
  },
  {
    name: "unaligned addr → EINVAL",
    run: ({ mm }) => mm.msync(mapAnon(mm) + 1, P, MS_SYNC),
    expect: -EINVAL,
  },
  {
    name: "MS_ASYNC|MS_SYNC → EINVAL",
    run: ({ mm }) => mm.msync(mapAnon(mm), P, MS_ASYNC | MS_SYNC),
    expect: -EINVAL,
  },
  { name: "len 0 → 0 even unmapped", run: ({ mm }) => mm.msync(A, 0, MS_SYNC), expect: 0 },
  { name: "unmapped → ENOMEM", run: ({ mm }) => mm.msync(A, P, MS_SYNC), expect: -ENOMEM },
  { name: "unmapped with MS_ASYNC → ENOMEM", run: ({ mm }) => mm.msync(A, P, MS_ASYNC), expect: -ENOMEM },
  { name: "len wraps → ENOMEM", run: ({ mm }) => mm.msync(mapAnon(mm), -P, MS_SYNC), expect: -ENOMEM },
  { name: "mapped, MS_SYNC → 0", run: ({ mm }) => mm.msync(mapAnon(mm), P, MS_SYNC), expect: 0 },
  { name: "mapped, flags 0 → 0", run: ({ mm }) => mm.msync(mapAnon(mm), P, 0), expect: 0 },
  { name: "mapped, MS_INVALIDATE → 0", run: ({ mm }) => mm.msync(mapAnon(mm), P, MS_INVALIDATE), expect: 0 },
  {
    name: "a hole after the start, MS_SYNC → ENOMEM",
    run: ({ mm }) => {
      mapAnon(mm);
      mm.mmap(at(2), P, RW, PF, null, 0);
      return mm.msync(A, 3 * P, MS_SYNC);
    },
    expect: -ENOMEM,
  },
  {
    name: "a hole at the start → ENOMEM",
    run: ({ mm }) => {
      mm.mmap(at(1), P, RW, PF, null, 0);
      return mm.msync(A, 2 * P, MS_SYNC);
    },
    expect: -ENOMEM,
  },
  {
    name: "MS_INVALIDATE on VM_LOCKED → EBUSY",
    run: ({ mm }) => {
      mm.mmap(A, P, RW, PF | MAP_LOCKED, null, 0);
      return mm.msync(A, P, MS_INVALIDATE);
    },
    expect: -EBUSY,
  },
  {
    name: "MS_SYNC on VM_LOCKED → 0",
    run: ({ mm }) => {
      mm.mmap(A, P, RW, PF | MAP_LOCKED, null, 0);
      return mm.msync(A, P, MS_SYNC);
    },
    expect: 0,
  },
]);
