import { defineDevice } from "@faultline/devices";

/** Register map of the ticker (its spec: read and write below follow it case by case). */
export const TICKER_ID = 0x00; // RO  0x5449434b ("TICK")
export const TICKER_COUNT = 0x04; // RO  the count; each read returns it, then adds STEP to it
export const TICKER_STEP = 0x08; // RW  what a read of COUNT adds (1 after reset)
export const TICKER_ID_VALUE = 0x5449434b;
/** The register window is one page, so a driver can map it into a process. */
export const TICKER_SIZE = 0x1000;
/** Where the ticker sits by default: ISA memory space, in the legacy hole below 1 MiB. */
export const TICKER_BASE = 0xd0000;

export interface TickerDeviceOptions {
  /** Physical address of the register page (page aligned, in the ISA hole 0xa0000-0xfffff). */
  readonly base?: number;
}

/** The ticker device model: a scenario names it `{ "export": "tickerDevice", "options": { "base": … } }`. */
export function tickerDevice(options: TickerDeviceOptions = {}) {
  const base = options.base ?? TICKER_BASE;
  if (!Number.isSafeInteger(base) || base % TICKER_SIZE !== 0)
    throw new TypeError(`ticker: base must be a page-aligned physical address, got ${String(base)}`);
  return defineDevice({
    name: "ticker",
    bus: "isa",
    base,
    state: { name: "ticker", version: 1, fields: { count: 0, step: 1 } },
    reset(s) {
      s.count = 0;
      s.step = 1;
    },
    ops: {
      size: TICKER_SIZE,
      access: { min: 4, max: 4 },
      read(s, offset, size, ctx) {
        switch (offset) {
          case TICKER_ID:
            return TICKER_ID_VALUE;
          case TICKER_COUNT: {
            const count = s.count;
            s.count = (s.count + s.step) >>> 0;
            return count;
          }
          case TICKER_STEP:
            return s.step;
          default:
            ctx.guestError(`read of unknown register 0x${offset.toString(16)}`, offset, size, false);
            return 0xffffffff;
        }
      },
      write(s, offset, size, value, ctx) {
        if (offset === TICKER_STEP) s.step = value >>> 0;
        else ctx.guestError(`write to read-only register 0x${offset.toString(16)}`, offset, size, true);
      },
    },
  });
}
