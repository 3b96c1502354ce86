/**
 * A rate limiter's clock that stands still, so that a test counting requests up to a limit never
 * straddles the end of a fixed window. Two minutes ahead of now, so that Redis counters (which
 * expire a second after their window) outlive the test and still expire soon after it.
 */
export function frozenClock(): () => number {
  const frozen = Date.now() + 120_000;
  return () => frozen;
}
