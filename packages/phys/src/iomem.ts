/**
 * A resource tree and its /proc/iomem text (kernel/resource.c).
 *
 * `insertResource` follows insert_resource(): a new resource nests under the deepest resource that
 * contains it and adopts the existing ones it contains (an equal one included); a partial overlap is a
 * conflict. `requestRegion` follows __request_region(): an equal resource becomes the parent. `render`
 * prints what r_show() prints: two spaces per nesting level, then "%0*llx-%0*llx : %s" with a width
 * of 8 hex digits (4 when the root ends below 0x10000, as /proc/ioports), end inclusive, lowercase.
 */
import { PHYS_ADDR_LIMIT } from "./encoding";
import { hex } from "./errors";
import { BusError } from "./memtx";

/** A resource in /proc/iomem or /proc/ioports: a range and a name, with children. */
export interface Resource {
  readonly name: string;
  readonly start: number;
  /** Inclusive, as in struct resource. */
  readonly end: number;
  readonly children: Resource[];
  /** IORESOURCE_BUSY: claimed by a driver (request_mem_region); nothing may nest under it. */
  readonly busy?: boolean;
}

/** The tree of resources behind /proc/iomem and /proc/ioports (kernel/resource.c). */
export class ResourceTree {
  readonly root: Resource;

  constructor(name = "PCI mem", end = PHYS_ADDR_LIMIT - 1) {
    this.root = { name, start: 0, end, children: [] };
  }

  /** insert_resource(): nests [start, end] where it belongs; a conflict throws and changes nothing. */
  insertResource(start: number, end: number, name: string): Resource {
    return this.insert(start, end, name, false);
  }

  /**
   * __request_region(): like insertResource, but a resource with the same range becomes the parent,
   * so a driver's claim nests under the BAR it claims (pci_request_region).
   */
  requestRegion(start: number, end: number, name: string): Resource {
    return this.insert(start, end, name, true);
  }

  private insert(start: number, end: number, name: string, under: boolean): Resource {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) {
      throw new BusError("EINVAL", `resource "${name}" [${hex(start)}-${hex(end)}]: empty or invalid`, {
        region: name,
        addr: start,
      });
    }
    let parent = this.root;
    for (;;) {
      const inside = parent.children.find(
        (c) => c.start <= start && end <= c.end && (under || !(c.start === start && c.end === end)),
      );
      if (!inside) break;
      parent = inside;
    }
    const res: Resource = { name, start, end, children: [] };
    const adopted: Resource[] = [];
    for (const c of parent.children) {
      if (c.end < start || c.start > end) continue;
      if (start <= c.start && c.end <= end) {
        adopted.push(c);
        continue;
      }
      throw new BusError(
        "EOVERLAP",
        `resource "${name}" [${hex(start)}-${hex(end)}] conflicts with "${c.name}" [${hex(c.start)}-${hex(c.end)}]`,
        { region: name, addr: start, size: end - start + 1, other: c.name, otherAddr: c.start },
      );
    }
    for (const c of adopted) parent.children.splice(parent.children.indexOf(c), 1);
    res.children.push(...adopted);
    parent.children.push(res);
    parent.children.sort((a, b) => a.start - b.start || b.end - a.end);
    return res;
  }

  /**
   * __request_region() as request_mem_region()/request_region() call it: the claim descends into the
   * resource that contains it while that one is not busy, and is refused (null: the caller's -EBUSY)
   * when it overlaps a busy resource or straddles the edge of any resource.
   */
  requestBusyRegion(start: number, end: number, name: string): Resource | null {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return null;
    let parent = this.root;
    if (start < parent.start || end > parent.end) return null;
    for (;;) {
      // __request_resource(): the first child that overlaps, if any.
      const conflict = parent.children.find((c) => !(c.end < start || c.start > end));
      if (!conflict) break;
      if (conflict.busy || conflict.start > start || conflict.end < end) return null;
      parent = conflict;
    }
    const res: Resource = { name, start, end, children: [], busy: true };
    parent.children.push(res);
    parent.children.sort((a, b) => a.start - b.start || b.end - a.end);
    return res;
  }

  /**
   * __release_region(): removes the busy resource of exactly [start, end], searching down through
   * the resources that contain it. False when there is none ("Trying to free nonexistent resource").
   */
  releaseBusyRegion(start: number, end: number): boolean {
    let parent = this.root;
    for (;;) {
      const i = parent.children.findIndex((c) => c.start <= start && end <= c.end);
      if (i < 0) return false;
      const c = parent.children[i]!;
      if (c.busy && c.start === start && c.end === end) {
        if (c.children.length) return false;
        parent.children.splice(i, 1);
        return true;
      }
      if (c.start > start || c.end < end) return false;
      parent = c;
    }
  }

  /** The /proc/iomem (or /proc/ioports) text. */
  render(): string {
    const width = this.root.end < 0x10000 ? 4 : 8;
    const lines: string[] = [];
    const walk = (r: Resource, depth: number) => {
      for (const c of r.children) {
        const s = c.start.toString(16).padStart(width, "0");
        const e = c.end.toString(16).padStart(width, "0");
        lines.push(`${"  ".repeat(depth)}${s}-${e} : ${c.name}`);
        walk(c, depth + 1);
      }
    };
    walk(this.root, 0);
    return lines.map((l) => `${l}\n`).join("");
  }

  /** Every child lies inside its parent and siblings are sorted and disjoint. */
  checkInvariants(): void {
    const walk = (r: Resource) => {
      let prevEnd = -1;
      for (const c of r.children) {
        if (c.start < r.start || c.end > r.end || c.start <= prevEnd) {
          throw new BusError(
            "EOVERLAP",
            `invariant: resource "${c.name}" [${hex(c.start)}-${hex(c.end)}] misplaced under "${r.name}"`,
            {
              region: c.name,
            },
          );
        }
        prevEnd = c.end;
        walk(c);
      }
    };
    walk(this.root);
  }
}
