// Tries every route a program had to the machine behind its own MMU (issue 9 §4) and returns a bit
// per route that worked: 0 means nothing was reachable.
import { workerData } from "node:worker_threads";
import { defineProgram } from "@faultline/sim";

/** Everything reachable from `roots` through own properties (not prototypes) that is memory or a channel. */
function leaks(roots: unknown[]): string[] {
  const found: string[] = [];
  const seen = new Set<unknown>();
  const stack: Array<[unknown, string]> = roots.map((r, i) => [r, `root${i}`]);
  while (stack.length) {
    const [o, path] = stack.pop()!;
    if (o === null || (typeof o !== "object" && typeof o !== "function") || seen.has(o)) continue;
    seen.add(o);
    if (o instanceof SharedArrayBuffer || o instanceof ArrayBuffer || ArrayBuffer.isView(o)) {
      found.push(path);
      continue;
    }
    for (const k of Reflect.ownKeys(o)) {
      let v: unknown;
      try {
        v = (o as Record<PropertyKey, unknown>)[k];
      } catch {
        continue;
      }
      stack.push([v, `${path}.${String(k)}`]);
    }
  }
  return found;
}

export default defineProgram((sys, mmu) => {
  let routes = 0;
  // biome-ignore lint/suspicious/noExplicitAny: an attacker probes for properties that must not exist
  const anyMmu = mmu as unknown as Record<string, any>;
  if (Object.keys((workerData as object | null) ?? {}).length > 0) routes |= 1;
  const reach = leaks([sys, mmu, workerData]);
  if (reach.length) {
    routes |= 2;
    sys.write(1, `reachable: ${reach.join(", ")}\n`);
  }
  try {
    anyMmu.target.phys.physWrite(0x1000, 4, 0xbad);
    routes |= 4;
  } catch {}
  try {
    anyMmu.target.mem.putPage(1);
    routes |= 8;
  } catch {}
  try {
    anyMmu.target.mem.frameBytes(1).fill(0xee);
    routes |= 16;
  } catch {}
  try {
    anyMmu.banks.u8[0].fill(0xee);
    routes |= 32;
  } catch {}
  // Properties cannot be added to reach something later either.
  try {
    anyMmu.extra = 1;
    if (anyMmu.extra === 1) routes |= 64;
  } catch {}
  return routes;
});
