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

export interface Resource {
  readonly name: string;
  readonly start: number;
  /** Inclusive, as in struct resource. */
  readonly end: number;
  readonly children: Resource[];
}

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
