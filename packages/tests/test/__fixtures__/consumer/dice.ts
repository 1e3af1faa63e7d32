import { defineDevice } from "@faultline/devices";

/** Register map of the "dice" device (its spec, mirrored case by case by read/write below). */
export const DICE_ID = 0x00; // RO  0x44494345 ("DICE")
export const DICE_ROLL = 0x04; // RO  next roll, 1..6
export const DICE_SEED = 0x08; // RW  seed of the generator

export function dice(base: number) {
  return defineDevice({
    name: "dice",
    bus: "isa",
    base,
    state: { name: "dice", version: 1, fields: { seed: 1 } },
    ops: {
      size: 0x10,
      access: { min: 4, max: 4 },
      read(s, offset, size, ctx) {
        switch (offset) {
          case DICE_ID:
            return 0x44494345;
          case DICE_ROLL:
            s.seed = (Math.imul(s.seed, 1103515245) + 12345) >>> 0;
            return (s.seed % 6) + 1;
          case DICE_SEED:
            return s.seed;
          default:
            ctx.guestError(`read of unknown register ${offset}`, offset, size, false);
            return 0xffffffff;
        }
      },
      write(s, offset, size, value, ctx) {
        if (offset === DICE_SEED) s.seed = value;
        else ctx.guestError(`write to register ${offset} ignored`, offset, size, true);
      },
    },
  });
}
