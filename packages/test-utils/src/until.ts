/**
 * Resolves once `check` holds, asking again every `everyMs`; throws "<what> not reached in time"
 * after `ms`.
 */
export async function until(check: () => Promise<boolean> | boolean, ms = 20_000, what = 'condition', everyMs = 20): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`${what} not reached in time`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
