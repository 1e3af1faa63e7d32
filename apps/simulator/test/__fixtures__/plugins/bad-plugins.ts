// Exports for the plugin-error tests: a factory that refuses its options, one that returns the wrong
// thing, and a value that is not a function.
export function picky(options: { size?: number }) {
  if (options.size !== 4096) throw new RangeError(`size must be 4096, got ${options.size}`);
  return { name: "picky", bus: "isa", realize() {} };
}
export const notAFunction = 42;
export function notADriver() {
  return { hello: "world" };
}
