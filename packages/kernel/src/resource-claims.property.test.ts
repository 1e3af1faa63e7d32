// request_mem_region / release_mem_region (kernel/resource.c __request_region, __release_region)
// against a reference model: a claim succeeds exactly when no busy claim overlaps it and every
// resource it overlaps (RAM, bus windows, BARs) contains it whole (the first overlapping child at each
// level must, or __request_resource answers -EBUSY); a release succeeds exactly for a claim made with
// those bounds. /proc/iomem nests each claim under the resources that contain it.
import { pciFramebuffer } from "@faultline/devices";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Machine } from "./index";
import { releaseMemRegion, requestMemRegion } from "./pci";

interface Range {
  readonly start: number;
  readonly end: number;
}

/** The resources of /proc/iomem with their nesting depth. */
function parseIomem(text: string): (Range & { depth: number; name: string })[] {
  return text
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const m = /^( *)([0-9a-f]+)-([0-9a-f]+) : (.*)$/.exec(l)!;
      return {
        depth: m[1]!.length / 2,
        start: Number.parseInt(m[2]!, 16),
        end: Number.parseInt(m[3]!, 16),
        name: m[4]!,
      };
    });
}

describe("request_mem_region / release_mem_region", () => {
  it("match a reference model of the resource tree, and /proc/iomem nests every claim", async () => {
    const m = await Machine.create({
      ramBytes: 16 << 20,
      devices: [pciFramebuffer({ width: 64, height: 48 })],
    });
    const fixed = parseIomem(m.procText("/proc/iomem"));
    // Addresses worth trying: every resource's edges and neighbours, and points inside.
    const points = [
      ...new Set(
        fixed.flatMap((r) => [r.start, r.end + 1, r.start + 0x800, r.end - 0xfff, r.start + 0x1000]),
      ),
    ].filter((a) => a >= 0);
    const op = fc.oneof(
      fc.record({
        kind: fc.constant("request" as const),
        start: fc.oneof(fc.constantFrom(...points), fc.integer({ min: 0, max: 0x1_0000_0000 })),
        n: fc.constantFrom(0, 1, 0x10, 0x800, 0x1000, 0x4000, 0x5000, 0x100000),
      }),
      fc.record({ kind: fc.constant("release" as const), pick: fc.nat(), n: fc.constantFrom(0, 1, 0x1000) }),
    );
    let seq = 0;
    fc.assert(
      fc.property(fc.array(op, { maxLength: 25 }), (ops) => {
        const claims: (Range & { name: string })[] = [];
        for (const o of ops) {
          if (o.kind === "request") {
            const r = { start: o.start, end: o.start + o.n - 1 };
            const name = `claim${++seq}`;
            const overlaps = (x: Range) => x.start <= r.end && r.start <= x.end;
            const ok =
              o.n > 0 &&
              !claims.some(overlaps) &&
              fixed.filter(overlaps).every((x) => x.start <= r.start && r.end <= x.end);
            const got = m.withKernel(() => requestMemRegion(o.start, o.n, name));
            expect(got, `request [${r.start.toString(16)}, +${o.n.toString(16)}]`).toEqual(
              ok ? { start: r.start, end: r.end, name } : null,
            );
            if (ok) claims.push({ ...r, name });
          } else {
            // Release an existing claim (exact, or with another length), or a range nobody claimed.
            const c = claims[o.pick % (claims.length + 1)];
            const start = c ? c.start : 0x1234000;
            const n = c && o.n === 0x1000 ? c.end - c.start + 1 : o.n;
            const i = claims.findIndex((x) => x.start === start && x.end === start + n - 1);
            const before = m.dmesg().length;
            m.withKernel(() => releaseMemRegion(start, n));
            const warned = m
              .dmesg()
              .slice(before)
              .some((l) => l.startsWith("Trying to free nonexistent resource"));
            expect(warned).toBe(i < 0);
            if (i >= 0) claims.splice(i, 1);
          }
        }
        // Every claim is in /proc/iomem, one level below the innermost resource that contains it.
        const shown = parseIomem(m.procText("/proc/iomem"));
        for (const c of claims) {
          const depth = fixed.filter((x) => x.start <= c.start && c.end <= x.end).length;
          expect(shown).toContainEqual({ depth, start: c.start, end: c.end, name: c.name });
        }
        expect(shown.length).toBe(fixed.length + claims.length);
        m.withKernel(() => {
          for (const c of claims) releaseMemRegion(c.start, c.end - c.start + 1);
        });
        expect(m.procText("/proc/iomem")).toBe(
          fixed
            .map(
              (r) =>
                `${"  ".repeat(r.depth)}${r.start.toString(16).padStart(8, "0")}-${r.end.toString(16).padStart(8, "0")} : ${r.name}\n`,
            )
            .join(""),
        );
      }),
      { numRuns: 60 },
    );
    m.checkInvariants();
  });
});
