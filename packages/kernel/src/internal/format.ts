/**
 * The subset of the kernel's vsnprintf (lib/vsprintf.c) that drivers use in printk: %d %i %u %x %X %o
 * %c %s %p %%, with flags, width, precision and length modifiers (h, hh, l, ll, z, t, j), which only
 * matter for negative numbers (printed as unsigned of that width by %u/%x/%o).
 */
const SPEC = /%([-+ #0]*)(\d+|\*)?(?:\.(\d+))?(hh|h|ll|l|z|t|j|L)?([diouxXcspP%])/g;

const toBig = (v: unknown): bigint => {
  if (typeof v === "bigint") return v;
  if (typeof v === "number") return BigInt(Math.trunc(v));
  if (typeof v === "boolean") return v ? 1n : 0n;
  if (v && typeof v === "object" && "pfn" in v && typeof (v as { pfn: unknown }).pfn === "number") {
    return BigInt((v as { pfn: number }).pfn);
  }
  return 0n;
};

const bitsOf = (len: string | undefined): number => {
  switch (len) {
    case "hh":
      return 8;
    case "h":
      return 16;
    case undefined:
      return 32;
    default:
      return 64;
  }
};

export function kformat(fmt: string, args: readonly unknown[]): string {
  let i = 0;
  const next = (): unknown => args[i++];
  return fmt.replace(SPEC, (_m, flags: string, widthIn: string | undefined, precIn, len, conv: string) => {
    if (conv === "%") return "%";
    const width = widthIn === "*" ? Number(next()) : widthIn ? Number(widthIn) : 0;
    const left = flags.includes("-");
    const zero = flags.includes("0") && !left;
    let body: string;
    let sign = "";
    switch (conv) {
      case "d":
      case "i": {
        let v = BigInt.asIntN(bitsOf(len), toBig(next()));
        if (v < 0n) {
          sign = "-";
          v = -v;
        } else if (flags.includes("+")) sign = "+";
        else if (flags.includes(" ")) sign = " ";
        body = v.toString();
        break;
      }
      case "u":
      case "x":
      case "X":
      case "o": {
        const v = BigInt.asUintN(bitsOf(len), toBig(next()));
        body = v.toString(conv === "u" ? 10 : conv === "o" ? 8 : 16);
        if (conv === "X") body = body.toUpperCase();
        if (flags.includes("#") && v !== 0n) sign = conv === "o" ? "0" : conv === "x" ? "0x" : "0X";
        break;
      }
      case "c":
        body = String.fromCharCode(Number(next()) & 0xff);
        break;
      case "s": {
        const v = next();
        body = v === null || v === undefined ? "(null)" : String(v);
        if (precIn !== undefined) body = body.slice(0, Number(precIn));
        break;
      }
      default: {
        // %p: pointers print as 16 hex digits (no hashing: this is a teaching kernel, %px semantics).
        const v = next();
        body =
          v === null || v === undefined
            ? "0000000000000000"
            : BigInt.asUintN(64, toBig(v)).toString(16).padStart(16, "0");
        break;
      }
    }
    if (precIn !== undefined && conv !== "s") body = body.padStart(Number(precIn), "0");
    const total = sign.length + body.length;
    if (total >= width) return sign + body;
    if (left) return (sign + body).padEnd(width);
    if (zero && conv !== "s" && conv !== "c") return sign + body.padStart(width - sign.length, "0");
    return (sign + body).padStart(width);
  });
}

/** A 64-bit value as %016lx / %px print it: 16 hex digits, zero-padded (no 0x). */
export const hex16 = (n: number): string => n.toString(16).padStart(16, "0");
