import { DepartmentRateLimiter, TokenBucket } from '../../../../gateway/middleware/rateLimit';
import { GovxError } from '../../../../lib/errors';

describe('TokenBucket', () => {
  it('admits a burst, then asks the caller to wait until tokens have refilled', () => {
    let now = 0;
    const bucket = new TokenBucket(10, 10, () => now);
    expect(bucket.take(10)).toBe(0);
    expect(bucket.take(5)).toBeCloseTo(0.5);
    now += 500;
    expect(bucket.take(5)).toBe(0);
  });

  it('admits a take larger than the bucket when it is full, leaving it in debt', () => {
    let now = 0;
    const bucket = new TokenBucket(100, 100, () => now);
    expect(bucket.take(1000)).toBe(0);
    expect(bucket.take(1)).toBeGreaterThan(9);
    now += 10_000;
    expect(bucket.take(1)).toBe(0);
  });
});

describe('DepartmentRateLimiter', () => {
  it('limits each department on its own, with 429 rate_limited and Retry-After', () => {
    const limited: string[] = [];
    const limiter = new DepartmentRateLimiter({ requestsPerSec: 2, recordsPerSec: 0 }, (d, k) => limited.push(`${d}/${k}`), () => 0);
    limiter.take('psb', 'requests');
    limiter.take('psb', 'requests');
    let error: GovxError | undefined;
    try {
      limiter.take('psb', 'requests');
    } catch (err) {
      error = err as GovxError;
    }
    expect(error).toMatchObject({ status: 429, code: 'rate_limited', headers: { 'Retry-After': '1' } });
    expect(() => limiter.take('amr', 'requests')).not.toThrow();
    expect(() => limiter.take('psb', 'records', 1e6)).not.toThrow();
    expect(limited).toEqual(['psb/requests']);
  });
});
