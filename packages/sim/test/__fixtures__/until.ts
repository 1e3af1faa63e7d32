/**
 * Polls `cond` every 5 ms; rejects with `what` after `timeoutMs` (a bounded wait with its own message,
 * instead of a test that hangs until vitest's timeout says nothing useful).
 */
export async function until(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > timeoutMs)
      throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
