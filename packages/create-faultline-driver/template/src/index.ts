// The plugin's public surface: a device model and its driver, each a factory a machine (or a scenario
// file) calls with its options.
export {
  TICKER_BASE,
  TICKER_COUNT,
  TICKER_ID,
  TICKER_ID_VALUE,
  TICKER_SIZE,
  TICKER_STEP,
  type TickerDeviceOptions,
  tickerDevice,
} from "./ticker-device";
export { type TickerDriverOptions, tickerDriver } from "./ticker-driver";
