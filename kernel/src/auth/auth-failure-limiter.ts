/**
 * Slows down credential guessing: an address that failed to authenticate `maxFailures`
 * times within `windowMs` is refused (429) for the rest of that window, whatever it
 * presents, so a right guess cannot be told from a wrong one. Memory is bounded: at
 * most `maxAddresses` addresses are tracked, the stalest forgotten first.
 */
export interface AuthFailureLimits {
  maxFailures: number;
  windowMs: number;
  maxAddresses: number;
}

export const defaultAuthFailureLimits: Readonly<AuthFailureLimits> = Object.freeze({ maxFailures: 100, windowMs: 60_000, maxAddresses: 10_000 });

export class AuthFailureLimiter {
  /** Failure times per address, oldest first; the Map's order is last-failure order. */
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly limits: AuthFailureLimits = defaultAuthFailureLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until `address` may try again, or null when it may now. */
  retryAfter(address: string): number | null {
    const times = this.recent(address);
    if (times.length < this.limits.maxFailures) return null;
    return Math.max(1, Math.ceil((times[times.length - this.limits.maxFailures]! + this.limits.windowMs - this.now()) / 1000));
  }

  recordFailure(address: string): void {
    const times = this.recent(address);
    times.push(this.now());
    // Keep no more than the limit needs: a flood does not grow the list.
    if (times.length > this.limits.maxFailures) times.splice(0, times.length - this.limits.maxFailures);
    this.failures.delete(address);
    this.failures.set(address, times);
    if (this.failures.size > this.limits.maxAddresses) this.failures.delete(this.failures.keys().next().value!);
  }

  private recent(address: string): number[] {
    const since = this.now() - this.limits.windowMs;
    const times = (this.failures.get(address) ?? []).filter((at) => at > since);
    if (times.length === 0) this.failures.delete(address);
    return times;
  }
}
