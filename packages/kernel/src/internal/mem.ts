/**
 * drivers/char/mem.c's /dev/zero (1:5), built in as Linux's is: reads give zeros, writes vanish,
 * lseek stays at 0 (zero_lseek); mmap_zero(): MAP_SHARED is shmem (shmem_zero_setup: a new
 * "/dev/zero (deleted)" file on shm_mnt, sized to the mapping, the VMA keeping its offset), MAP_PRIVATE
 * anonymous memory (the VMA keeps /dev/zero as its file: maps shows it).
 */
import { AddressSpaceMapping, shmemZeroSetup, VM_SHARED } from "@faultline/mm";
import type { FileOperations } from "../driver-types";
import { DEVTMPFS_DEV } from "./chrdev";
import type { FileNode } from "./file";
import type { Kernel } from "./kernel";

const nodes = new WeakMap<Kernel, FileNode>();

/** The /dev/zero inode of machine `k`. */
export function zeroNode(k: Kernel): FileNode {
  let n = nodes.get(k);
  if (!n) {
    n = {
      path: "/dev/zero",
      sDev: DEVTMPFS_DEV,
      ino: 4,
      major: 1,
      minor: 5,
      mapping: new AddressSpaceMapping("/dev/zero"),
    };
    nodes.set(k, n);
  }
  return n;
}

/** zero_fops. */
export function zeroFops(): FileOperations {
  return {
    read: (_f, buf) => {
      buf.fill(0);
      return buf.length;
    },
    write: (_f, buf) => buf.length,
    llseek: (f) => {
      f.fPos = 0;
      return 0;
    },
    mmap: (_f, vma) => {
      if (vma.vmFlags & VM_SHARED) return shmemZeroSetup(vma);
      // vma_set_anonymous()
      vma.vmOps = null;
      vma.anonymous = true;
      return 0;
    },
  };
}
