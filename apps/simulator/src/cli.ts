import { PhysMemory } from "@faultline/phys";

const mem = PhysMemory.create();
process.stdout.write(mem.renderMeminfo());
