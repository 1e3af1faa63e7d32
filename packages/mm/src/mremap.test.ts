// Every documented errno of mremap(2), as a table (reference linux-mm.md §3, §7 and the man pages). Script
// rows also run on the live kernel; Mm rows follow the kernel source each cites (test/syscall-tables.ts
// explains both kinds).
import { expect } from "vitest";
import {
  load,
  MADV_DONTNEED,
  MAP_FIXED,
  MAP_LOCKED,
  MAP_SHARED,
  MREMAP_DONTUNMAP,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  madvise,
  mmap,
  mremap,
  PROT_NONE,
  PROT_READ,
  page,
  pages,
  store,
  USER_TOP,
} from "../test/oracle/script";
import {
  A,
  ANY_ADDR,
  at,
  fakeFile,
  hex,
  type MmRow,
  MOVE,
  mapRemap,
  mmTable,
  P,
  PF,
  RW,
  row,
  SF,
  scriptTable,
} from "../test/syscall-tables";
import { TASK_SIZE, VM_ACCOUNT } from "./constants";
import { EAGAIN, EBUSY, EFAULT, EINVAL, ENOMEM, Mmu } from "./index";
import type { Mm } from "./mm";
import type { MmFile } from "./mm_types";

// ================================================================================== mremap

scriptTable("mremap", [
  row(
    "unknown flag → EINVAL",
    [mmap(page(0), pages(1), RW, PF)],
    mremap(page(0), pages(1), pages(1), 8),
    "-EINVAL",
  ),
  row(
    "unaligned old_address → EINVAL",
    [mmap(page(0), pages(1), RW, PF)],
    mremap(page(0, 1), pages(1), pages(1), 0),
    "-EINVAL",
  ),
  // offset_in_page() and PAGE_ALIGN() of the exact 64-bit values (check_mremap_params()).
  row(
    "old_address 0xffffffffffffffff → EINVAL",
    [],
    mremap(0xffff_ffff_ffff_ffffn, pages(1), pages(2), MREMAP_MAYMOVE),
    "-EINVAL",
  ),
  row(
    "old_address 2^64 - 4095 → EINVAL",
    [],
    mremap(0xffff_ffff_ffff_f001n, pages(1), pages(2), MREMAP_MAYMOVE),
    "-EINVAL",
  ),
  row(
    "old_len -1 rounds up to 0; nothing mapped there → EFAULT",
    [],
    mremap(page(0), 0xffff_ffff_ffff_ffffn, pages(2), MREMAP_MAYMOVE),
    "-EFAULT",
  ),
  row(
    "growing accounted memory to 64 TiB → ENOMEM (overcommit, vrm_charge())",
    [mmap(page(0), pages(1), RW, PF)],
    mremap(page(0), pages(1), 1n << 46n, MREMAP_MAYMOVE),
    "-ENOMEM",
  ),
  row(
    "PAGE_ALIGN(new_len) == 0 → EINVAL",
    [mmap(page(0), pages(1), RW, PF)],
    mremap(page(0), pages(1), 0n, 0),
    "-EINVAL",
  ),
  row(
    "FIXED without MAYMOVE → EINVAL",
    [mmap(page(0), pages(1), RW, PF)],
    mremap(page(0), pages(1), pages(1), MREMAP_FIXED, page(8)),
    "-EINVAL",
  ),
  row(
    "DONTUNMAP without MAYMOVE → EINVAL",
    [mmap(page(0), pages(1), RW, PF)],
    mremap(page(0), pages(1), pages(1), MREMAP_DONTUNMAP, page(8)),
    "-EINVAL",
  ),
  row(
    "FIXED with an unaligned new_address → EINVAL",
    [mmap(page(0), pages(1), RW, PF)],
    mremap(page(0), pages(1), pages(1), MOVE, page(8, 4)),
    "-EINVAL",
  ),
  row(
    "DONTUNMAP with old_len ≠ new_len → EINVAL",
    [mmap(page(0), pages(2), RW, PF)],
    mremap(page(0), pages(1), pages(2), MREMAP_MAYMOVE | MREMAP_DONTUNMAP),
    "-EINVAL",
  ),
  row(
    "no VMA at old_address → EFAULT (LTP mremap03)",
    [],
    mremap(page(0), pages(1), pages(2), MREMAP_MAYMOVE),
    "-EFAULT",
  ),
  row(
    "FIXED onto an overlapping range → EINVAL (LTP mremap05)",
    [mmap(page(0), pages(4), RW, PF)],
    mremap(page(0), pages(2), pages(2), MOVE, page(1)),
    "-EINVAL",
  ),
  row(
    "FIXED new range above TASK_SIZE → EINVAL",
    [mmap(page(0), pages(1), RW, PF)],
    mremap(page(0), pages(1), pages(1), MOVE, USER_TOP),
    "-EINVAL",
  ),
  row(
    "old_len 0 on a private mapping → EINVAL",
    [mmap(page(0), pages(1), RW, PF)],
    mremap(page(0), 0n, pages(1), MREMAP_MAYMOVE),
    "-EINVAL",
  ),
  row(
    "old_len 0 on a shared mapping duplicates it",
    [
      mmap(page(0), pages(1), RW, SF),
      store(32, page(0), 0x1234n),
      mremap(page(0), 0n, pages(1), MOVE, page(8)),
    ],
    load(32, page(8)),
    "0x1234",
  ),
  row(
    "old range past the VMA end → EFAULT",
    [mmap(page(0), pages(2), RW, PF)],
    mremap(page(0), pages(3), pages(4), MREMAP_MAYMOVE),
    "-EFAULT",
  ),
  row(
    "old range over two VMAs, resized → EFAULT",
    [mmap(page(0), pages(1), RW, PF), mmap(page(1), pages(1), PROT_READ, PF)],
    mremap(page(0), pages(2), pages(3), MREMAP_MAYMOVE),
    "-EFAULT",
  ),
  row(
    "pure FIXED move over two VMAs (v6.17+) succeeds",
    [mmap(page(0), pages(1), RW, PF), mmap(page(1), pages(1), PROT_READ, PF)],
    mremap(page(0), pages(2), pages(2), MOVE, page(8)),
    hex(page(8)),
  ),
  row(
    "grow blocked without MAYMOVE → ENOMEM (LTP mremap04)",
    [mmap(page(0), pages(1), RW, PF), mmap(page(1), pages(1), PROT_READ, PF)],
    mremap(page(0), pages(1), pages(2), 0),
    "-ENOMEM",
  ),
  row(
    "grow in place → old address",
    [mmap(page(0), pages(1), RW, PF)],
    mremap(page(0), pages(1), pages(3), 0),
    hex(page(0)),
  ),
  row(
    "grow of a range not ending at vm_end, without MAYMOVE → ENOMEM",
    [mmap(page(0), pages(3), RW, PF)],
    mremap(page(0), pages(1), pages(2), 0),
    "-ENOMEM",
  ),
  row(
    "grow blocked with MAYMOVE moves",
    [mmap(page(0), pages(1), RW, PF), mmap(page(1), pages(1), PROT_READ, PF)],
    mremap(page(0), pages(1), pages(2), MREMAP_MAYMOVE),
    ANY_ADDR,
  ),
  row(
    "shrink with MAYMOVE stays in place",
    [mmap(page(0), pages(3), RW, PF)],
    mremap(page(0), pages(3), pages(1), MREMAP_MAYMOVE),
    hex(page(0)),
  ),
  row(
    "shrink unmaps the tail",
    [mmap(page(0), pages(3), RW, PF), mremap(page(0), pages(3), pages(1), 0)],
    load(8, page(1)),
    `SIGSEGV SEGV_MAPERR ${hex(page(1))}`,
  ),
  row(
    "same size without FIXED is a no-op",
    [mmap(page(0), pages(2), RW, PF)],
    mremap(page(0), pages(2), pages(2), MREMAP_MAYMOVE),
    hex(page(0)),
  ),
  row(
    "FIXED move keeps the data",
    [
      mmap(page(0), pages(2), RW, PF),
      store(64, page(1, 8), 0x1122334455667788n),
      mremap(page(0), pages(2), pages(2), MOVE, page(10)),
    ],
    load(64, page(11, 8)),
    "0x1122334455667788",
  ),
  row(
    "FIXED move replaces the destination",
    [mmap(page(0), pages(1), RW, PF), mmap(page(10), pages(1), PROT_READ, PF)],
    mremap(page(0), pages(1), pages(1), MOVE, page(10)),
    hex(page(10)),
  ),
  row(
    "FIXED move unmaps the source",
    [mmap(page(0), pages(1), RW, PF), mremap(page(0), pages(1), pages(1), MOVE, page(10))],
    load(8, page(0)),
    `SIGSEGV SEGV_MAPERR ${hex(page(0))}`,
  ),
  row(
    "DONTUNMAP: private source reads zero",
    [
      mmap(page(0), pages(1), RW, PF),
      store(8, page(0), 0x77n),
      mremap(page(0), pages(1), pages(1), MOVE | MREMAP_DONTUNMAP, page(10)),
    ],
    load(8, page(0)),
    "0x0",
  ),
  row(
    "DONTUNMAP: shared source keeps its data",
    [
      mmap(page(0), pages(1), RW, SF),
      store(8, page(0), 0x77n),
      mremap(page(0), pages(1), pages(1), MOVE | MREMAP_DONTUNMAP, page(10)),
    ],
    load(8, page(0)),
    "0x77",
  ),
  row(
    "FIXED|DONTUNMAP of a VMA's last page onto the page right after it succeeds",
    [mmap(page(13), pages(2), PROT_NONE, PF)],
    mremap(page(14), pages(1), pages(1), MOVE | MREMAP_DONTUNMAP, page(15)),
    hex(page(15)),
  ),
  // copy_vma(): a never-faulted source moved next to itself merges with its new place (its pgoff
  // reset to line up) and stays the move's source ("*vmap = vma = new_vma"), so MREMAP_DONTUNMAP
  // takes VM_LOCKED from the whole merged VMA: MADV_DONTNEED, -EINVAL on VM_LOCKED, then works.
  row(
    "FIXED|DONTUNMAP of an unfaulted locked VMA onto itself: the merged VMA is no longer locked",
    [
      mmap(page(12), pages(6), PROT_NONE, PF | MAP_LOCKED),
      mremap(page(15), pages(2), pages(2), MOVE | MREMAP_DONTUNMAP, page(13)),
    ],
    madvise(page(12), pages(6), MADV_DONTNEED),
    "0",
  ),
  row(
    "growing shared anonymous memory past its object: new pages → SIGBUS",
    [mmap(page(0), pages(1), RW, SF), mremap(page(0), pages(1), pages(2), 0)],
    load(8, page(1)),
    `SIGBUS BUS_ADRERR ${hex(page(1))}`,
  ),
]);

mmTable("mremap", [
  {
    name: "FIXED without room for the worst-case splits → ENOMEM",
    options: { maxMapCount: 4 },
    run: ({ mm }) => {
      mm.mmap(at(0), P, RW, PF, null, 0);
      return mm.mremap(at(0), P, P, MOVE, at(8));
    },
    expect: -ENOMEM,
  },
  {
    name: "growing a VM_PFNMAP (remap_pfn_range) VMA → EFAULT",
    run: ({ mm }) => {
      mapRemap(mm);
      return mm.mremap(A, 2 * P, 3 * P, MREMAP_MAYMOVE);
    },
    expect: -EFAULT,
  },
  {
    name: "shrinking a VM_PFNMAP VMA is fine",
    run: ({ mm }) => {
      mapRemap(mm);
      return mm.mremap(A, 2 * P, P, 0);
    },
    expect: A,
  },
  {
    name: "a same-size FIXED move of a VM_PFNMAP VMA is fine",
    run: ({ mm }) => {
      mapRemap(mm);
      return mm.mremap(A, 2 * P, 2 * P, MOVE, at(16));
    },
    expect: at(16),
  },
  {
    name: "DONTUNMAP on a VM_PFNMAP VMA → EINVAL",
    run: ({ mm }) => {
      mapRemap(mm);
      return mm.mremap(A, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
    },
    expect: -EINVAL,
  },
  {
    name: "growing a locked VMA past RLIMIT_MEMLOCK → EAGAIN",
    options: { mlockLimit: 2 * P },
    run: ({ mm }) => {
      mm.mmap(A, 2 * P, RW, PF | MAP_LOCKED, null, 0);
      return mm.mremap(A, 2 * P, 3 * P, MREMAP_MAYMOVE);
    },
    expect: -EAGAIN,
  },
  {
    // resize_is_valid() only rejects a 64-bit wrap of pgoff + pages, impossible with pgoff < 2^52.
    // (A file with FMODE_UNSIGNED_OFFSET, like /dev/mem, may be mapped that high at all.)
    name: "grow near the top pgoff is no overflow: grows in place",
    run: ({ mm }) => {
      mm.mmap(A, P, PROT_READ, MAP_SHARED | MAP_FIXED, fakeFile({ unsignedOffset: true }), 2 ** 64 - 2 * P);
      return mm.mremap(A, P, 3 * P, MREMAP_MAYMOVE);
    },
    expect: A,
  },
  {
    name: "a ->mremap error reverts the move",
    run: ({ mm }) => {
      const f = fakeFile({
        mmap: (vma) => {
          vma.vmOps = { mremap: () => -EBUSY, fault: () => 2 };
          return 0;
        },
      });
      mm.mmap(A, P, PROT_READ, MAP_SHARED | MAP_FIXED, f, 0);
      return mm.mremap(A, P, P, MOVE, at(16));
    },
    expect: -EBUSY,
    after: ({ mm }) => {
      expect(mm.vmaLookup(A)).not.toBeNull();
      expect(mm.vmaLookup(at(16))).toBeNull();
    },
  },
]);

// The map count under mremap. check_mremap_params() (6.18) counts only for a move to a new address
// (map_count + 2 >= max_map_count - 3: -ENOMEM); a shrink is do_vmi_munmap(), whose error
// shrink_vma() returns (2.6.9/2.6.11's do_mremap() returned do_munmap()'s too). Linux 6.18.44: at
// map_count max_map_count - 1 a shrink leaving a hole in a VMA succeeds, at max_map_count it is
// ENOMEM; an MREMAP_FIXED move at max_map_count - 5 is ENOMEM, at - 6 it succeeds.
mmTable("mremap at vm.max_map_count", [
  ...(
    [
      ["modern", 2, 0, 2],
      ["modern", 1, -ENOMEM, 1],
      // 2.6.10 checked both splits: the first fits at 2, the second does not, and the first stays.
      ["2.6.10", 3, 0, 2],
      ["2.6.10", 2, -ENOMEM, 2],
    ] as const
  ).map(
    ([era, max, errno, count]): MmRow => ({
      name: `${era}: a shrink leaving a hole in a VMA, max_map_count ${max} → ${errno ? "ENOMEM" : "the address"}`,
      options: { era, maxMapCount: max },
      run: ({ mm }) => {
        mm.mmap(A, 3 * P, RW, PF, null, 0);
        return mm.mremap(A, 2 * P, P, 0);
      },
      expect: errno || A,
      after: ({ mm }) => expect(mm.mapCount).toBe(count),
    }),
  ),
  ...(
    [
      ["modern", A],
      ["2.6.10", -ENOMEM],
    ] as const
  ).map(
    ([era, res]): MmRow => ({
      // era.ts munmapSplitsChecked: 2.6.10's do_munmap() checked the split of the VMA's tail too.
      name: `${era}: shrinking a VMA's tail at the limit → ${res === A ? "the address" : "ENOMEM"}`,
      options: { era, maxMapCount: 1 },
      run: ({ mm }) => {
        mm.mmap(A, 3 * P, RW, PF, null, 0);
        return mm.mremap(A, 3 * P, 2 * P, 0);
      },
      expect: res,
      after: ({ mm }) => expect(mm.vmaLookup(at(2)) === null).toBe(res === A),
    }),
  ),
  {
    name: "MREMAP_FIXED at max_map_count - 5 → ENOMEM",
    options: { maxMapCount: 6 },
    run: ({ mm }) => {
      mm.mmap(A, P, RW, PF, null, 0);
      return mm.mremap(A, P, P, MOVE, at(8));
    },
    expect: -ENOMEM,
  },
  {
    name: "MREMAP_FIXED at max_map_count - 6 → the new address",
    options: { maxMapCount: 7 },
    run: ({ mm }) => {
      mm.mmap(A, P, RW, PF, null, 0);
      return mm.mremap(A, P, P, MOVE, at(8));
    },
    expect: at(8),
  },
]);

// 2.6.9/2.6.11's do_mremap() had no early map-count check for MREMAP_FIXED: it unmapped new_addr,
// then move_vma() refused map_count >= max_map_count - 3 (era.ts mremapEarlyMapCount). So a move
// at max_map_count - 5 succeeded, one at - 3 failed only there, and an unmap at new_addr that freed
// a slot made room. Growing moves (P → 2P) and same-size ones alike.
mmTable(
  "mremap: MREMAP_FIXED near vm.max_map_count, by era",
  (
    [
      ["max_map_count - 5", 6, false, -ENOMEM, at(8)],
      ["max_map_count - 3", 4, false, -ENOMEM, -ENOMEM],
      ["max_map_count - 3, a VMA at new_addr", 5, true, -ENOMEM, at(8)],
    ] as const
  ).flatMap(([what, max, occupied, modern, old]): MmRow[] =>
    (
      [
        ["modern", modern],
        ["2.6.10", old],
      ] as const
    ).flatMap(([era, res]) =>
      [P, 2 * P].map(
        (newLen): MmRow => ({
          name: `${era}: ${newLen === P ? "a move" : "a growing move"} at ${what} → ${res === -ENOMEM ? "ENOMEM" : "the new address"}`,
          options: { era, maxMapCount: max },
          run: ({ mm }) => {
            mm.mmap(A, P, RW, PF, null, 0);
            if (occupied) mm.mmap(at(8), P, PROT_READ, PF, null, 0);
            return mm.mremap(A, P, newLen, MOVE, at(8));
          },
          expect: res,
          after: ({ mm }) => {
            expect(mm.vmaLookup(A) === null).toBe(res !== -ENOMEM);
            // Today the check comes first: what lay at new_addr is still there.
            if (occupied && res === -ENOMEM) expect(mm.vmaLookup(at(8))).not.toBeNull();
          },
        }),
      ),
    ),
  ),
);

// MREMAP_DONTUNMAP (v5.7) is an unknown flag to 2.6.10: 2.6.9/2.6.11's do_mremap() refused any flag
// but MREMAP_FIXED|MREMAP_MAYMOVE with -EINVAL first, before the map-count and VMA checks that give
// ENOMEM and EFAULT today (era.ts mremapFlags). Modern rows: Linux 6.18 (a DONTUNMAP move of a mapped
// page succeeds and keeps the source; of an unmapped one is EFAULT).
const DONTUNMAP_MOVE = MREMAP_MAYMOVE | MREMAP_DONTUNMAP;
mmTable(
  "mremap: MREMAP_DONTUNMAP, by era",
  (
    [
      ["a move of a mapped page", 0, 0, DONTUNMAP_MOVE, 0, "addr", -EINVAL],
      ["with MREMAP_FIXED onto a mapped page", 0, 0, DONTUNMAP_MOVE | MREMAP_FIXED, 0, at(8), -EINVAL],
      ["of an unmapped range", 0, 4, DONTUNMAP_MOVE, 0, -EFAULT, -EINVAL],
      ["at max_map_count - 3", 4, 0, DONTUNMAP_MOVE, 0, -ENOMEM, -EINVAL],
      ["with old_len ≠ new_len", 0, 0, DONTUNMAP_MOVE, P, -EINVAL, -EINVAL],
      ["without MREMAP_MAYMOVE", 0, 0, MREMAP_DONTUNMAP, 0, -EINVAL, -EINVAL],
    ] as const
  ).flatMap(([what, max, from, flags, grow, modern, old]): MmRow[] =>
    (
      [
        ["modern", modern],
        ["2.6.10", old],
      ] as const
    ).map(
      ([era, res]): MmRow => ({
        name: `${era}: ${what} → ${res === "addr" || res > 0 ? "moved" : res === -EINVAL ? "EINVAL" : res === -EFAULT ? "EFAULT" : "ENOMEM"}`,
        options: max ? { era, maxMapCount: max } : { era },
        run: ({ mm }) => {
          mm.mmap(A, P, RW, PF, null, 0);
          mm.mmap(at(8), P, PROT_READ, PF, null, 0);
          return mm.mremap(at(from), P, P + grow, flags, flags & MREMAP_FIXED ? at(8) : 0);
        },
        expect: res,
        after: ({ mm }) => {
          // DONTUNMAP keeps the source VMA; a refused call changes nothing.
          expect(mm.vmaLookup(A)).not.toBeNull();
          expect(mm.vmaLookup(at(8))).not.toBeNull();
          expect(mm.mapCount).toBe(res === "addr" ? 3 : 2);
        },
      }),
    ),
  ),
);

// 2.6.9/2.6.11's do_mremap() unmapped new_addr (MREMAP_FIXED) and shrank before it looked the VMA up
// and checked it, so a call failing there left both done, and a shrink of unmapped memory succeeded;
// today check_prep_vma() comes first and a refused call changes nothing (era.ts
// mremapVmaChecksFirst). Modern rows: Linux 6.18 (EFAULT, new_addr and the tail still mapped).
mmTable(
  "mremap: what a failed call leaves at new_addr and the tail, by era",
  (
    [
      [
        "MREMAP_FIXED growing a range that is not mapped",
        0,
        (mm: Mm) => mm.mremap(at(6), P, 2 * P, MOVE, at(8)),
        -EFAULT,
        -EFAULT,
      ],
      [
        "MREMAP_FIXED shrinking a range past its VMA's end",
        0,
        (mm: Mm) => mm.mremap(A, 3 * P, 2 * P, MOVE, at(8)),
        -EFAULT,
        -EFAULT,
      ],
      [
        "MREMAP_FIXED growing locked memory over RLIMIT_MEMLOCK",
        2 * P,
        (mm: Mm) => mm.mremap(A, P, 4 * P, MOVE, at(8)),
        -EAGAIN,
        -EAGAIN,
      ],
      [
        "a shrink of a range that is not mapped",
        0,
        (mm: Mm) => mm.mremap(at(3), 2 * P, P, 0, 0),
        -EFAULT,
        at(3),
      ],
    ] as const
  ).flatMap(([what, limit, call, modern, old]): MmRow[] =>
    (
      [
        ["modern", modern],
        ["2.6.10", old],
      ] as const
    ).map(
      ([era, res]): MmRow => ({
        name: `${era}: ${what} → ${res === -EFAULT ? "EFAULT" : res === -EAGAIN ? "EAGAIN" : "done"}, ${era === "modern" ? "nothing unmapped" : "new_addr and the tail unmapped"}`,
        options: limit ? { era, mlockLimit: limit } : { era },
        run: ({ mm }) => {
          mm.mmap(A, P, RW, PF | (limit ? MAP_LOCKED : 0), null, 0);
          mm.mmap(at(2), P, PROT_READ, PF, null, 0); // the tail of a 3-page range at A
          mm.mmap(at(4), P, PROT_READ, PF, null, 0); // the tail of a 2-page range at at(3)
          mm.mmap(at(8), P, PROT_READ, PF, null, 0); // new_addr
          return call(mm);
        },
        expect: res,
        after: ({ mm }) => {
          const kept = era === "modern";
          if (what.startsWith("MREMAP_FIXED")) expect(mm.vmaLookup(at(8)) !== null).toBe(kept);
          if (what.includes("shrinking")) expect(mm.vmaLookup(at(2)) !== null).toBe(kept);
          if (what.startsWith("a shrink")) expect(mm.vmaLookup(at(4)) !== null).toBe(kept);
          expect(mm.vmaLookup(A)).not.toBeNull();
        },
      }),
    ),
  ),
);

// An MREMAP_FIXED call in 2.6.9/2.6.11's do_mremap(): after the unmap at new_addr and the shrink, the
// one VMA at addr (-EFAULT when the old range runs past it), VM_DONTEXPAND on growth, RLIMIT_MEMLOCK
// (-EAGAIN) and RLIMIT_AS (-ENOMEM) whatever the sizes, then move_vma() at new_addr with no
// get_unmapped_area(). Today a same-size move walks every VMA in the range (remap_move(), v6.17),
// the limits apply only to growth, and mremap_to() asks the driver's get_unmapped_area (era.ts
// mremapFixedViaMremapTo). Modern rows: Linux 6.18 (a same-size MREMAP_FIXED move of locked memory
// succeeds with RLIMIT_AS far below the address space's size).
const placeOnce = (): MmFile => {
  let calls = 0;
  // Places the mapping at mmap() time, then refuses: 2.6.10 never asks it again.
  return { ...fakeFile(), getUnmappedArea: (addr) => (calls++ === 0 ? addr : -ENOMEM) };
};
mmTable(
  "mremap: where an MREMAP_FIXED call goes, by era",
  (
    [
      [
        "a same-size move of a range over two VMAs",
        (mm: Mm) => {
          mm.mmap(at(1), P, PROT_READ, PF, null, 0);
          return mm.mremap(A, 2 * P, 2 * P, MOVE, at(8));
        },
        at(8),
        -EFAULT,
      ],
      [
        "a same-size move of locked memory under a lowered RLIMIT_MEMLOCK",
        (mm: Mm) => {
          mm.mlock(A, P);
          mm.mlockLimit = 0;
          return mm.mremap(A, P, P, MOVE, at(8));
        },
        at(8),
        -EAGAIN,
      ],
      [
        "a shrinking move of locked memory under a lowered RLIMIT_MEMLOCK",
        (mm: Mm) => {
          mm.mmap(A, 2 * P, RW, PF | MAP_LOCKED, null, 0);
          mm.mlockLimit = 0;
          return mm.mremap(A, 2 * P, P, MOVE, at(8));
        },
        at(8),
        -EAGAIN,
      ],
      [
        "a same-size move under a lowered RLIMIT_AS",
        (mm: Mm) => {
          mm.mmap(at(4), P, PROT_READ, PF, null, 0); // two pages in use, new_addr's aside
          mm.rlimAs = P;
          return mm.mremap(A, P, P, MOVE, at(8));
        },
        at(8),
        -ENOMEM,
      ],
      [
        "a shrinking move under a lowered RLIMIT_AS",
        (mm: Mm) => {
          mm.mmap(A, 3 * P, RW, PF, null, 0);
          mm.mmap(at(4), P, PROT_READ, PF, null, 0); // two pages in use after the shrink
          mm.rlimAs = P;
          return mm.mremap(A, 3 * P, P, MOVE, at(8));
        },
        at(8),
        -ENOMEM,
      ],
      ...([P, P / 2, 2 * P] as const).map(
        (newLen) =>
          [
            `a ${newLen === P ? "same-size" : newLen < P ? "shrinking" : "growing"} move of a driver mapping whose get_unmapped_area refuses`,
            (mm: Mm) => {
              mm.munmap(A, P);
              mm.mmap(A, 2 * P, RW, MAP_SHARED | MAP_FIXED, placeOnce(), 0);
              return mm.mremap(A, newLen === P / 2 ? 2 * P : P, newLen === P / 2 ? P : newLen, MOVE, at(8));
            },
            -ENOMEM,
            at(8),
          ] as const,
      ),
    ] as const
  ).flatMap(([what, call, modern, old]): MmRow[] =>
    (
      [
        ["modern", modern],
        ["2.6.10", old],
      ] as const
    ).map(
      ([era, res]): MmRow => ({
        name: `${era}: ${what} → ${res === at(8) ? "moved" : res === -EFAULT ? "EFAULT" : res === -EAGAIN ? "EAGAIN" : "ENOMEM"}`,
        options: { era },
        run: ({ mm }) => {
          mm.mmap(A, P, RW, PF, null, 0);
          mm.mmap(at(8), P, PROT_READ, PF, null, 0); // new_addr
          return call(mm);
        },
        expect: res,
        after: ({ mm }) => {
          // A move leaves nothing at A. 2.6.10 unmapped new_addr before it failed; today a refused
          // call changes nothing, but mremap_to() unmaps new_addr before it asks the driver.
          expect(mm.vmaLookup(A) === null).toBe(res === at(8));
          const kept = era === "modern" && !what.includes("driver");
          expect(mm.vmaLookup(at(8)) !== null).toBe(res === at(8) || kept);
        },
      }),
    ),
  ),
);

// new_len > TASK_SIZE without MREMAP_FIXED. Today check_mremap_params() says -EINVAL first (Linux
// 6.18). 2.6.9/2.6.11's do_mremap() checked it only under MREMAP_FIXED, so the call went on: the
// shrink step returned addr when old_len == new_len, a growth met find_vma() (-EFAULT), RLIMIT_MEMLOCK
// (-EAGAIN), then -ENOMEM from the in-place test or get_unmapped_area() (era.ts mremapNewLenChecked).
const HUGE = TASK_SIZE + P;
mmTable(
  "mremap: new_len above TASK_SIZE without MREMAP_FIXED, by era",
  (
    [
      ["growing a mapped page, MREMAP_MAYMOVE", A, P, MREMAP_MAYMOVE, false, -ENOMEM],
      ["growing a mapped page in place", A, P, 0, false, -ENOMEM],
      ["growing a range that is not mapped", at(4), P, MREMAP_MAYMOVE, false, -EFAULT],
      ["growing locked memory past RLIMIT_MEMLOCK", A, P, MREMAP_MAYMOVE, true, -EAGAIN],
      ["with old_len == new_len", A, HUGE, MREMAP_MAYMOVE, false, A],
    ] as const
  ).flatMap(([what, addr, oldLen, flags, locked, old]): MmRow[] =>
    (
      [
        ["modern", -EINVAL],
        ["2.6.10", old],
      ] as const
    ).map(
      ([era, res]): MmRow => ({
        name: `${era}: ${what} → ${res === A ? "addr" : res === -EINVAL ? "EINVAL" : res === -EFAULT ? "EFAULT" : res === -EAGAIN ? "EAGAIN" : "ENOMEM"}`,
        options: locked ? { era, mlockLimit: 2 * P } : { era },
        run: ({ mm }) => {
          mm.mmap(A, P, RW, PF | (locked ? MAP_LOCKED : 0), null, 0);
          return mm.mremap(addr, oldLen, HUGE, flags, 0);
        },
        expect: res,
        after: ({ mm }) => {
          expect(mm.vmaLookup(A)).not.toBeNull();
          expect(mm.mapCount).toBe(1);
        },
      }),
    ),
  ),
);

// old_len == 0 on private memory. Today -EINVAL (v4.14; Linux 6.18: EINVAL). 2.6.9/2.6.11's
// do_mremap() had no such check: move_vma() made a new VMA of new_len elsewhere, an unrelated fresh
// private mapping (nothing moves: anonymous memory reads zeros there), and left the original, which
// lost VM_ACCOUNT because do_munmap() of length 0 failed (era.ts mremapZeroOldLenSharedOnly).
mmTable(
  "mremap: old_len == 0 on a private mapping, by era",
  (
    [
      ["private writable anonymous memory, MREMAP_MAYMOVE", RW, MREMAP_MAYMOVE, "addr"],
      ["private read-only anonymous memory, MREMAP_MAYMOVE", PROT_READ, MREMAP_MAYMOVE, "addr"],
      ["private writable memory, MREMAP_FIXED onto a mapped page", RW, MOVE, at(8)],
      ["private writable memory without MREMAP_MAYMOVE", RW, 0, -ENOMEM],
    ] as const
  ).flatMap(([what, prot, flags, old]): MmRow[] =>
    (
      [
        ["modern", -EINVAL],
        ["2.6.10", old],
      ] as const
    ).map(
      ([era, res]): MmRow => ({
        name: `${era}: ${what} → ${res === -EINVAL ? "EINVAL" : res === -ENOMEM ? "ENOMEM" : "a new mapping"}`,
        options: { era },
        run: ({ mm }) => {
          mm.mmap(A, 2 * P, prot, PF, null, 0);
          mm.mmap(at(8), P, PROT_READ, PF, null, 0);
          if (prot === RW) Mmu.forMm(mm).store8(A, 7);
          return mm.mremap(A, 0, P, flags, flags & MREMAP_FIXED ? at(8) : 0);
        },
        expect: res,
        after: ({ mm }) => {
          // The original stays whole with its data.
          const orig = mm.vmaLookup(A)!;
          expect([orig.vmStart, orig.vmEnd]).toEqual([A, at(2)]);
          if (prot === RW) expect(Mmu.forMm(mm).load8(A)).toBe(7);
          const made = res === "addr" || res === at(8);
          // MREMAP_FIXED replaces the page at new_addr.
          expect(mm.mapCount).toBe(res === "addr" ? 3 : 2);
          if (!made) return;
          // The new one: one page, same flags, not a copy of the data; the original lost VM_ACCOUNT.
          const nv =
            res === at(8)
              ? mm.vmaLookup(at(8))!
              : [...mm.vmas].find((v) => v !== orig && v.vmStart !== at(8))!;
          expect(nv.vmEnd - nv.vmStart).toBe(P);
          expect(nv.vmFlags & ~VM_ACCOUNT).toBe(orig.vmFlags & ~VM_ACCOUNT);
          expect(Mmu.forMm(mm).load8(nv.vmStart)).toBe(0);
          expect(orig.vmFlags & VM_ACCOUNT).toBe(0);
          expect(nv.vmFlags & VM_ACCOUNT).toBe(prot === RW ? VM_ACCOUNT : 0);
        },
      }),
    ),
  ),
);

// MREMAP_FIXED with old_len == 0 and new_addr == addr on shared memory. Today the symmetric overlap
// test lets it through: mremap_to() unmaps new_addr's range, then finds no VMA at addr (Linux 6.18:
// EFAULT, the first page gone). 2.6.9/2.6.11's do_mremap() refused new_addr <= addr < new_addr +
// new_len before anything (-EINVAL, nothing unmapped) (era.ts mremapEmptyOldOverlapsNothing).
mmTable(
  "mremap: MREMAP_FIXED onto its own address with old_len == 0, by era",
  (
    [
      ["modern", -EFAULT],
      ["2.6.10", -EINVAL],
    ] as const
  ).map(
    ([era, res]): MmRow => ({
      name: `${era}: a shared mapping → ${res === -EFAULT ? "EFAULT, its first page unmapped" : "EINVAL, nothing unmapped"}`,
      options: { era },
      run: ({ mm }) => {
        mm.mmap(A, 2 * P, RW, SF, null, 0);
        return mm.mremap(A, 0, P, MOVE, A);
      },
      expect: res,
      after: ({ mm }) => {
        expect(mm.vmaLookup(A) === null).toBe(res === -EFAULT);
        expect(mm.vmaLookup(at(1))).not.toBeNull();
      },
    }),
  ),
);

// The offset a driver's get_unmapped_area is given when mremap() moves part of its mapping without
// MREMAP_FIXED: today addr's own (vrm_set_new_addr()), in 2.6.9/2.6.11's do_mremap() the VMA's
// vm_pgoff (era.ts mremapAreaPgoffAtAddr).
mmTable(
  "mremap: the pgoff a driver's get_unmapped_area gets for a move, by era",
  (
    [
      ["modern", 5 + 2],
      ["2.6.10", 5],
    ] as const
  ).map(
    ([era, want]): MmRow => ({
      name: `${era}: moving the third page of a mapping at offset 5 → pgoff ${want}`,
      options: { era },
      run: ({ mm }) => {
        const seen: number[] = [];
        const f: MmFile = {
          ...fakeFile(),
          getUnmappedArea: (addr, _len, pgoff) => {
            seen.push(pgoff);
            return addr || at(16);
          },
        };
        mm.mmap(A, 3 * P, RW, MAP_SHARED | MAP_FIXED, f, 5 * P);
        mm.mmap(at(3), P, PROT_READ, PF, null, 0); // no room to grow in place
        const r = mm.mremap(at(2), P, 2 * P, MREMAP_MAYMOVE);
        expect(seen.slice(1)).toEqual([want]);
        return r;
      },
      expect: at(16),
    }),
  ),
);
