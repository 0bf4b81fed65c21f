import { GovxError } from '../../lib/errors';

/** A token bucket: `rate` tokens a second, holding at most `burst`. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /**
   * Takes `n` tokens and answers 0, or answers how many seconds to wait. A take larger than the bucket is
   * admitted when the bucket is full and leaves it in debt, so a big request is slowed, never refused forever.
   */
  take(n: number): number {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    const needed = Math.min(n, this.burst);
    if (this.tokens >= needed) {
      this.tokens -= n;
      return 0;
    }
    return (needed - this.tokens) / this.rate;
  }
}

export type RateLimitKind = 'requests' | 'records';

export interface RateLimits {
  requestsPerSec: number;
  recordsPerSec: number;
}

/**
 * Per-department publish limits, so one department cannot starve the others. In-process: with N gateway
 * processes behind a load balancer the effective limit is N times the configured one.
 */
export class DepartmentRateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly limits: RateLimits,
    private readonly onLimited: (department: string, kind: RateLimitKind) => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** Throws 429 rate_limited with Retry-After when `department` is over its `kind` limit; 0 as a limit means none. */
  take(department: string, kind: RateLimitKind, n = 1): void {
    const rate = kind === 'requests' ? this.limits.requestsPerSec : this.limits.recordsPerSec;
    if (rate <= 0) return;
    const id = `${kind}:${department}`;
    let bucket = this.buckets.get(id);
    if (!bucket) {
      if (this.buckets.size > 100_000) this.buckets.clear();
      bucket = new TokenBucket(rate, rate, this.now);
      this.buckets.set(id, bucket);
    }
    const wait = bucket.take(n);
    if (wait > 0) {
      this.onLimited(department, kind);
      const retryAfter = Math.max(1, Math.ceil(wait));
      throw new GovxError(429, 'rate_limited', `${department} is over its limit of ${rate} publish ${kind} a second; retry after ${retryAfter} s`, {
        details: { limit: kind, perSecond: rate },
        headers: { 'Retry-After': String(retryAfter) },
      });
    }
  }
}
