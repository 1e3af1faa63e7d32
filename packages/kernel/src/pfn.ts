/**
 * include/linux/pfn.h for drivers: page frame numbers from physical addresses and back, with
 * division instead of shifts. `addr >> PAGE_SHIFT` is wrong in JavaScript for any address at or
 * above 2 GiB (`>>` converts to a signed 32-bit integer first: 0x80000000 >> 12 is -524288), and PCI
 * BARs live there; these are exact for every address below MAXPHYADDR (2^52).
 */
import { pfnOf, pfnUp, physOf } from "@faultline/phys";

/** PFN_DOWN(x): the page frame holding physical address `x` (rounds down). */
export const PFN_DOWN: (x: number) => number = pfnOf;

/** PFN_UP(x): the first page frame at or above physical address `x` (rounds up). */
export const PFN_UP: (x: number) => number = pfnUp;

/** PFN_PHYS(pfn): the physical address of the first byte of page frame `pfn`. */
export const PFN_PHYS: (pfn: number) => number = physOf;
