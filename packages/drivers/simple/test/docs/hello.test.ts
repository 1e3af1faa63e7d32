import { MAP_SHARED, Machine, O_RDONLY, PROT_READ } from "@faultline/kernel";
import { expect, it } from "vitest";
import { hello } from "./hello-driver";

it("maps the greeting, and the page reference goes away with the mapping", async () => {
  const m = await Machine.create({ drivers: [hello("hi")] });
  const p = m.spawn();
  const fd = p.libc.open("/dev/hello", O_RDONLY);
  const addr = p.libc.mmap(0, 4096, PROT_READ, MAP_SHARED, fd, 0);
  expect(new TextDecoder().decode(p.mmu.read(addr, 2))).toBe("hi");
  m.checkInvariants();
  p.libc.exit(0);
  expect(m.unloadDriver("hello")).toBe(0);
  m.checkInvariants();
});
