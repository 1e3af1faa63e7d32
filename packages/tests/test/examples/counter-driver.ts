// A driver with private state that survives a machine snapshot: /dev/counter counts its opens.
import { DRIVER_API_VERSION, type DriverDefinition, defineDriver, ENOTTY } from "@faultline/kernel";

export function counterDriver(): DriverDefinition {
  let opens = 0;
  let major = 0;
  return defineDriver({
    name: "counter",
    apiVersion: DRIVER_API_VERSION,
    version: "1.1.0",
    snapshot: {
      // Version 1 saved { n }; version 2 saves { opens }: restore gets it migrated.
      version: 2,
      save: () => ({ opens }),
      restore: (state) => {
        opens = (state as { opens: number }).opens;
      },
      migrate: { 1: (old) => ({ opens: (old as { n: number }).n }) },
    },
    init(ctx) {
      major = ctx.allocChrdevRegion(0, 1, "counter");
      if (major < 0) return major;
      ctx.cdevAdd(major, 0, 1, {
        open: () => {
          opens++;
          return 0;
        },
        // ioctl 0: how many times the device was opened.
        unlockedIoctl: (_file, cmd) => (cmd === 0 ? opens : -ENOTTY),
      });
      ctx.createDevNode("counter", major, 0);
      return 0;
    },
  });
}
