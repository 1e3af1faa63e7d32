import { DRIVER_API_VERSION, defineDriver } from "@faultline/kernel";

export const myDriver = (params: Record<string, unknown> = {}) =>
  defineDriver({
    name: "my_driver", // module name: letters, digits, _ and -
    apiVersion: DRIVER_API_VERSION, // 1 today
    params, // module parameters, seen as ctx.params
    init(ctx) {
      const major = ctx.allocChrdevRegion(0, 1, "my_driver");
      if (major < 0) return major; // -errno = refused
      return 0; // 0 / undefined = loaded
    },
    exit() {}, // at Machine.unloadDriver(name)
  });
