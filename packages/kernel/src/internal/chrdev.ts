import { AddressSpaceMapping } from "@faultline/mm";
import { EBUSY, EEXIST, EINVAL } from "../constants";
import type { FileOperations } from "../driver-types";

/** fs/char_dev.c: CHRDEV_MAJOR_MAX, the dynamic ranges and MINORMASK. */
export const CHRDEV_MAJOR_MAX = 512;
const CHRDEV_MAJOR_HASH_SIZE = 255;
const CHRDEV_MAJOR_DYN_END = 234;
const CHRDEV_MAJOR_DYN_EXT_START = 511;
const CHRDEV_MAJOR_DYN_EXT_END = 384;
const MINOR_LIMIT = 1 << 20;

/** devtmpfs's superblock: st_dev 00:05 on a typical machine, what /proc/PID/maps shows for /dev nodes. */
export const DEVTMPFS_DEV: readonly [number, number] = [0, 5];
/** procfs's superblock (s_dev is an anonymous device, 00:16 here). */
export const PROC_DEV: readonly [number, number] = [0, 0x16];
export const S_IFCHR = 0o020000;

export interface ChrdevRegion {
  readonly major: number;
  readonly firstMinor: number;
  readonly count: number;
  readonly name: string;
  readonly owner: string;
}

export interface Cdev {
  readonly major: number;
  readonly firstMinor: number;
  readonly count: number;
  readonly fops: FileOperations;
  readonly owner: string;
}

/** A /dev node (a devtmpfs inode): its device number, mode, inode number and i_mapping. */
export interface DevNode {
  readonly name: string;
  readonly path: string;
  readonly major: number;
  readonly minor: number;
  readonly mode: number;
  readonly ino: number;
  readonly mapping: AddressSpaceMapping;
  readonly owner: string;
}

const overlaps = (a: number, an: number, b: number, bn: number) => a < b + bn && b < a + an;

/** The char-device tables of fs/char_dev.c (chrdevs[], cdev_map) and the /dev directory of devtmpfs. */
export class CharDevices {
  readonly regions: ChrdevRegion[] = [];
  readonly cdevs: Cdev[] = [];
  readonly nodes = new Map<string, DevNode>();
  private nextIno = 400;

  /** find_dynamic_major(): 254 down to 234 by hash slot, then 511 down to 384. */
  private findDynamicMajor(): number {
    for (let i = CHRDEV_MAJOR_HASH_SIZE - 1; i >= CHRDEV_MAJOR_DYN_END; i--) {
      if (!this.regions.some((r) => r.major % CHRDEV_MAJOR_HASH_SIZE === i)) return i;
    }
    for (let i = CHRDEV_MAJOR_DYN_EXT_START; i >= CHRDEV_MAJOR_DYN_EXT_END; i--) {
      if (!this.regions.some((r) => r.major === i)) return i;
    }
    return -EBUSY;
  }

  /** __register_chrdev_region(): major 0 asks for a dynamic one. Returns the major or -errno. */
  register(majorIn: number, firstMinor: number, count: number, name: string, owner: string): number {
    if (!Number.isInteger(majorIn) || majorIn < 0 || majorIn >= CHRDEV_MAJOR_MAX) return -EINVAL;
    if (!Number.isInteger(firstMinor) || !Number.isInteger(count) || firstMinor < 0 || count <= 0)
      return -EINVAL;
    if (firstMinor + count > MINOR_LIMIT) return -EINVAL;
    let major = majorIn;
    if (major === 0) {
      major = this.findDynamicMajor();
      if (major < 0) return major;
    }
    if (this.regions.some((r) => r.major === major && overlaps(r.firstMinor, r.count, firstMinor, count))) {
      return -EBUSY;
    }
    this.regions.push({ major, firstMinor, count, name, owner });
    return major;
  }

  unregister(major: number, firstMinor: number, count: number): void {
    const i = this.regions.findIndex(
      (r) => r.major === major && r.firstMinor === firstMinor && r.count === count,
    );
    if (i >= 0) this.regions.splice(i, 1);
  }

  /** cdev_add(): refused with -EBUSY when another cdev already serves one of the minors. */
  cdevAdd(major: number, firstMinor: number, count: number, fops: FileOperations, owner: string): number {
    if (!Number.isInteger(major) || major <= 0 || major >= CHRDEV_MAJOR_MAX || count <= 0) return -EINVAL;
    if (this.cdevs.some((c) => c.major === major && overlaps(c.firstMinor, c.count, firstMinor, count)))
      return -EBUSY;
    this.cdevs.push({ major, firstMinor, count, fops, owner });
    return 0;
  }

  cdevDel(major: number, firstMinor: number, count: number): void {
    const i = this.cdevs.findIndex(
      (c) => c.major === major && c.firstMinor === firstMinor && c.count === count,
    );
    if (i >= 0) this.cdevs.splice(i, 1);
  }

  /** kobj_lookup() in cdev_map. */
  lookup(major: number, minor: number): Cdev | undefined {
    return this.cdevs.find(
      (c) => c.major === major && minor >= c.firstMinor && minor < c.firstMinor + c.count,
    );
  }

  createNode(name: string, major: number, minor: number, mode: number, owner: string): number {
    const path = name.startsWith("/dev/") ? name : `/dev/${name}`;
    if (this.nodes.has(path)) return -EEXIST;
    this.nodes.set(path, {
      name: path.slice(5),
      path,
      major,
      minor,
      mode: mode & 0o7777,
      ino: this.nextIno++,
      mapping: new AddressSpaceMapping(path),
      owner,
    });
    return 0;
  }

  removeNode(name: string): void {
    this.nodes.delete(name.startsWith("/dev/") ? name : `/dev/${name}`);
  }

  /** Everything a driver registered: undone when its init fails or it is unloaded. */
  removeOwner(owner: string): void {
    for (let i = this.regions.length - 1; i >= 0; i--)
      if (this.regions[i]!.owner === owner) this.regions.splice(i, 1);
    for (let i = this.cdevs.length - 1; i >= 0; i--)
      if (this.cdevs[i]!.owner === owner) this.cdevs.splice(i, 1);
    for (const [p, n] of this.nodes) if (n.owner === owner) this.nodes.delete(p);
  }

  /** The "Character devices:" part of /proc/devices (chrdev_show). */
  renderDevices(): string {
    const seen = new Map<number, string>();
    for (const r of [...this.regions].sort((a, b) => a.major - b.major)) {
      if (!seen.has(r.major)) seen.set(r.major, r.name);
    }
    let out = "Character devices:\n";
    for (const [major, name] of seen) out += `${String(major).padStart(3)} ${name}\n`;
    return out;
  }
}
