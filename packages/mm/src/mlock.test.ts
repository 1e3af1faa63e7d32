import { expect } from "vitest";
import { A, at, mapAnon, mapRemap, mmTable, P, PF, RW } from "../test/syscall-tables";
import { EINVAL, ENOMEM, VM_LOCKED } from "./index";

// ================================================================================== mlock

mmTable("mlock", [
  { name: "unmapped → ENOMEM", run: ({ mm }) => mm.mlock(A, P), expect: -ENOMEM },
  { name: "len 0 → 0 even unmapped", run: ({ mm }) => mm.mlock(A, 0), expect: 0 },
  {
    name: "a hole → ENOMEM",
    run: ({ mm }) => {
      mapAnon(mm);
      mm.mmap(at(2), P, RW, PF, null, 0);
      return mm.mlock(A, 3 * P);
    },
    expect: -ENOMEM,
  },
  {
    name: "addr + len wraps → EINVAL",
    run: ({ mm }) => mm.mlock(mapAnon(mm), -2 * P),
    expect: -EINVAL,
  },
  {
    name: "more than RLIMIT_MEMLOCK → ENOMEM",
    options: { mlockLimit: P },
    run: ({ mm }) => mm.mlock(mapAnon(mm, 2 * P), 2 * P),
    expect: -ENOMEM,
  },
  {
    name: "locks, populates and counts locked_vm",
    run: ({ mm }) => mm.mlock(mapAnon(mm, 2 * P), 2 * P),
    expect: 0,
    after: ({ mm }) => {
      expect(mm.lockedVm).toBe(2);
      expect(mm.rssAnon).toBe(2);
      expect(mm.vmaLookup(A)!.vmFlags & VM_LOCKED).toBe(VM_LOCKED);
    },
  },
  {
    name: "an unaligned start is rounded down, the length up",
    run: ({ mm }) => mm.mlock(mapAnon(mm, 2 * P) + 10, P),
    expect: 0,
    after: ({ mm }) => expect(mm.lockedVm).toBe(2),
  },
  {
    name: "VM_PFNMAP memory is silently not locked, not counted",
    run: ({ mm }) => {
      mapRemap(mm);
      return mm.mlock(A, 2 * P);
    },
    expect: 0,
    after: ({ mm }) => {
      expect(mm.lockedVm).toBe(0);
      expect(mm.vmaLookup(A)!.vmFlags & VM_LOCKED).toBe(0);
    },
  },
  {
    name: "locking twice counts once",
    options: { mlockLimit: 2 * P },
    run: ({ mm }) => {
      mm.mlock(mapAnon(mm, 2 * P), 2 * P);
      return mm.mlock(A, 2 * P);
    },
    expect: 0,
    after: ({ mm }) => expect(mm.lockedVm).toBe(2),
  },
  { name: "munlock unmapped → ENOMEM", run: ({ mm }) => mm.munlock(A, P), expect: -ENOMEM },
  {
    name: "munlock uncounts",
    run: ({ mm }) => {
      mm.mlock(mapAnon(mm, 2 * P), 2 * P);
      return mm.munlock(A, P);
    },
    expect: 0,
    after: ({ mm }) => expect(mm.lockedVm).toBe(1),
  },
]);
