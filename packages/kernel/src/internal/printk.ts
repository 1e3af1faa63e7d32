/**
 * kernel/printk/printk.c: the log buffer and the level parsing of printk. The buffer is a ring as
 * Linux's log_buf is (kernel/printk/printk_ringbuffer.c): a fixed budget of record descriptors and
 * of text bytes; when either is used up the oldest records are dropped and counted, so a machine
 * that runs for ever keeps a bounded log (dmesg shows what remains, as on Linux after a wrap).
 */
import { MESSAGE_LOGLEVEL_DEFAULT } from "../constants";
import { kformat } from "./format";

/** One printk record. */
export interface LogRecord {
  /** 0 (KERN_EMERG) … 7 (KERN_DEBUG). */
  readonly level: number;
  readonly text: string;
  /** Sequence number (dmesg -r's record number); keeps counting when old records are dropped. */
  readonly seq: number;
}

/**
 * The log buffer's size: 1 << CONFIG_LOG_BUF_SHIFT (17 in x86_64's defconfig) bytes of text, and
 * LOG_BUF_LEN >> PRB_AVGBITS (5) record descriptors, as `_DEFINE_PRINTKRB` sizes them.
 */
export const LOG_BUF_LEN = 1 << 17;
export const LOG_BUF_RECORDS = LOG_BUF_LEN >> 5;

/** A ring of printk records: oldest dropped first once LOG_BUF_RECORDS or LOG_BUF_LEN is reached. */
export class LogBuffer {
  private readonly ring: Array<LogRecord | undefined> = new Array(LOG_BUF_RECORDS);
  private head = 0;
  private count = 0;
  private bytes = 0;
  private nextSeq = 0;
  /** Records dropped to make room (printk's "** N printk messages dropped **"). */
  dropped = 0;

  /** Appends one record per line of `text`. */
  printk(level: number, text: string): void {
    const body = text.endsWith("\n") ? text.slice(0, -1) : text;
    for (const line of body.split("\n")) this.push({ level, text: line, seq: this.nextSeq++ });
  }

  private push(r: LogRecord): void {
    // A record longer than the whole text ring is cut, as printk truncates to what fits.
    const rec = r.text.length > LOG_BUF_LEN ? { ...r, text: r.text.slice(0, LOG_BUF_LEN) } : r;
    while (this.count === LOG_BUF_RECORDS || this.bytes + rec.text.length > LOG_BUF_LEN) this.dropOldest();
    this.ring[(this.head + this.count) % LOG_BUF_RECORDS] = rec;
    this.count++;
    this.bytes += rec.text.length;
  }

  private dropOldest(): void {
    const old = this.ring[this.head]!;
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % LOG_BUF_RECORDS;
    this.count--;
    this.bytes -= old.text.length;
    this.dropped++;
  }

  /** The records still in the buffer, oldest first. */
  records(): LogRecord[] {
    const out: LogRecord[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.ring[(this.head + i) % LOG_BUF_RECORDS]!);
    return out;
  }

  get size(): number {
    return this.count;
  }

  /** The sequence number the next record gets (a snapshot saves it). */
  get seq(): number {
    return this.nextSeq;
  }

  /** Replaces the buffer's content (a restored snapshot): the records oldest first, the counters. */
  restore(records: readonly LogRecord[], nextSeq: number, dropped: number): void {
    this.ring.fill(undefined);
    this.head = 0;
    this.count = 0;
    this.bytes = 0;
    for (const r of records) this.push(r);
    this.nextSeq = nextSeq;
    this.dropped = dropped;
  }
}

/** printk(fmt, ...args) with a KERN_* prefix or first argument: the level and the formatted text. */
export function printkArgs(log: LogBuffer, args: readonly unknown[]): void {
  let level = MESSAGE_LOGLEVEL_DEFAULT;
  let rest = args;
  const first = rest[0];
  if (typeof first === "string" && first.length === 2 && first[0] === "\x01" && rest.length > 1) {
    level = levelOf(first, level);
    rest = rest.slice(1);
  }
  let fmt = String(rest[0] ?? "");
  while (fmt.length >= 2 && fmt[0] === "\x01") {
    level = levelOf(fmt.slice(0, 2), level);
    fmt = fmt.slice(2);
  }
  log.printk(level, kformat(fmt, rest.slice(1)));
}

function levelOf(prefix: string, dflt: number): number {
  const c = prefix[1];
  if (c === undefined || c === "c") return dflt;
  const n = Number(c);
  return Number.isInteger(n) && n >= 0 && n <= 7 ? n : dflt;
}
