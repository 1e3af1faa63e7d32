export * from "./banks";
export * from "./constants";
export { PhysError } from "./errors";
export { makeRamFrameLookup, pfnOf, physOf, type RamRange, ramLayout } from "./layout";
export { PAGE_OFFSET, Page, PhysMemory, type PhysMemoryDescriptor, type PhysMemoryOptions } from "./memory";
