/**
 * kernel/module: insmod and rmmod. A driver is loaded with a DriverContext of registration
 * services; whatever it registered is undone when its init fails or it is unloaded.
 */
import { EEXIST, EFAULT, EINVAL, ENOENT } from "../constants";
import { SUPPORTED_DRIVER_API_VERSIONS, UnsupportedDriverApiVersionError } from "../driver-api";
import type { DriverContext, DriverDefinition } from "../driver-types";
import { freeOwnerIrqs } from "./irq";
import type { Kernel } from "./kernel";
import { callDriver } from "./oops";
import { moduleGone } from "./pci-bus";
import { freeOwnerTimers } from "./timer";

/**
 * insmod: checks the API version, runs init in the driver's context. Returns 0, or the -errno init
 * returned (-EFAULT after an oops); on failure everything the driver registered is undone.
 */
export function loadDriver(k: Kernel, def: DriverDefinition): number {
  if (!SUPPORTED_DRIVER_API_VERSIONS.includes(def.apiVersion)) {
    throw new UnsupportedDriverApiVersionError(def.name, def.apiVersion);
  }
  if (k.drivers.has(def.name)) {
    k.log.printk(3, `${def.name}: module is already loaded`);
    return -EEXIST;
  }
  const ctx = driverContext(k, def);
  const r = callDriver(k, def.name, "init", () => def.init(ctx) ?? 0, -EFAULT);
  if (r !== 0) {
    k.log.printk(4, `${def.name}: init failed with error ${r < 0 ? r : -r}`);
    k.chrdev.removeOwner(def.name);
    moduleGone(k, def.name);
    freeOwnerIrqs(k, def.name);
    freeOwnerTimers(k, def.name);
    return r < 0 ? r : -r;
  }
  k.drivers.set(def.name, { def, ctx });
  return 0;
}

/** rmmod: runs exit and drops the driver's registrations. -ENOENT when not loaded. */
export function unloadDriver(k: Kernel, name: string): number {
  const d = k.drivers.get(name);
  if (!d) return -ENOENT;
  const exit = d.def.exit;
  if (exit) callDriver(k, name, "exit", () => exit.call(d.def, d.ctx), undefined);
  k.chrdev.removeOwner(name);
  // What the module's exit left registered (a PCI driver, IRQ actions) goes with it.
  moduleGone(k, name);
  freeOwnerIrqs(k, name);
  freeOwnerTimers(k, name);
  k.drivers.delete(name);
  return 0;
}

function driverContext(k: Kernel, def: DriverDefinition): DriverContext {
  const owner = def.name;
  const c = k.chrdev;
  return {
    params: def.params ?? {},
    era: k.era,
    allocChrdevRegion: (firstMinor, count, name) => c.register(0, firstMinor, count, name, owner),
    registerChrdevRegion: (major, firstMinor, count, name) => {
      if (major === 0) return -EINVAL;
      const r = c.register(major, firstMinor, count, name, owner);
      return Math.min(r, 0);
    },
    unregisterChrdevRegion: (major, firstMinor, count) => c.unregister(major, firstMinor, count),
    cdevAdd: (major, firstMinor, count, fops) => c.cdevAdd(major, firstMinor, count, fops, owner),
    cdevDel: (major, firstMinor, count) => c.cdevDel(major, firstMinor, count),
    createDevNode: (name, major, minor, mode = 0o664) => {
      c.createNode(name, major, minor, mode, owner);
    },
    removeDevNode: (name) => c.removeNode(name),
  };
}
