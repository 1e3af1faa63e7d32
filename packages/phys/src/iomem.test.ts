import { describe, expect, it } from "vitest";
import { BusError, ResourceTree } from "./index";

describe("ResourceTree (kernel/resource.c)", () => {
  it("nests resources and renders them as /proc/iomem", () => {
    const t = new ResourceTree();
    t.insertResource(0x100000, 0xfffffff, "System RAM");
    t.insertResource(0x1000000, 0x1ffffff, "Kernel code");
    t.insertResource(0xc0000000, 0xc00fffff, "0000:00:02.0");
    // A later, larger resource adopts the ones inside it (insert_resource).
    t.insertResource(0xc0000000, 0xfebfffff, "PCI Bus 0000:00");
    t.insertResource(0xc0000000, 0xc00fffff, "edu");
    t.insertResource(0x100000000, 0x13fffffff, "System RAM");
    expect(t.render()).toBe(
      [
        "00100000-0fffffff : System RAM",
        "  01000000-01ffffff : Kernel code",
        "c0000000-febfffff : PCI Bus 0000:00",
        "  c0000000-c00fffff : edu",
        "    c0000000-c00fffff : 0000:00:02.0",
        "100000000-13fffffff : System RAM",
        "",
      ].join("\n"),
    );
    t.checkInvariants();
  });

  it("refuses partial overlaps and leaves the tree unchanged", () => {
    const t = new ResourceTree();
    t.insertResource(0x1000, 0x1fff, "a");
    const before = t.render();
    expect(() => t.insertResource(0x1800, 0x27ff, "b")).toThrow(BusError);
    expect(() => t.insertResource(0x1800, 0x27ff, "b")).toThrow(
      /"b" \[0x1800-0x27ff\] conflicts with "a" \[0x1000-0x1fff\]/,
    );
    expect(() => t.insertResource(5, 4, "bad")).toThrow(/empty or invalid/);
    expect(t.render()).toBe(before);
  });

  it("uses 4 hex digits for a port-sized root (/proc/ioports)", () => {
    const t = new ResourceTree("PCI IO", 0xffff);
    t.insertResource(0x3f8, 0x3ff, "serial");
    expect(t.render()).toBe("03f8-03ff : serial\n");
  });
});

describe("requestRegion (__request_region)", () => {
  it("nests a claim with the same range under the resource it claims", () => {
    const t = new ResourceTree();
    t.insertResource(0xc0000000, 0xc00fffff, "0000:00:02.0");
    t.requestRegion(0xc0000000, 0xc00fffff, "edu");
    t.requestRegion(0xc0000000, 0xc0000fff, "edu-regs");
    expect(t.render()).toBe(
      "c0000000-c00fffff : 0000:00:02.0\n  c0000000-c00fffff : edu\n    c0000000-c0000fff : edu-regs\n",
    );
  });
});
