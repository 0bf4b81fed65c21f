import { isTransient, retrying, TaskStopped } from '../../../../connectors/runtime/retry';
import { InputError, UnavailableError } from '../../../../lib/errors';

const policy = (overrides: Partial<Parameters<typeof retrying>[1]> = {}) => ({
  timeoutMs: 5_000,
  maxDelayMs: 5,
  signal: new AbortController().signal,
  ...overrides,
});

describe('retrying transient faults', () => {
  it('tells transient faults (Kafka or a database down) from permanent ones (a bad table, a bad request)', () => {
    expect(isTransient(new UnavailableError('kafka.unavailable', 'down', 5))).toBe(true);
    expect(isTransient(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isTransient(Object.assign(new Error('terminating connection'), { code: '57P01' }))).toBe(true);
    expect(isTransient(Object.assign(new Error('relation does not exist'), { code: '42P01' }))).toBe(false);
    expect(isTransient(Object.assign(new Error('password authentication failed'), { code: '28P01' }))).toBe(false);
    expect(isTransient(new InputError('x', 'bad'))).toBe(false);
  });

  it('retries a transient fault until it clears, telling the status about each attempt', async () => {
    let calls = 0;
    const retries: number[] = [];
    const result = await retrying('writing', policy({ onRetry: (_e, attempt) => void retries.push(attempt) }), async () => {
      calls++;
      if (calls < 4) throw Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
      return 'done';
    });
    expect(result).toBe('done');
    expect(retries).toEqual([1, 2, 3]);
  });

  it('fails the connector at once on a permanent fault, and after errors.retry.timeout on a transient one', async () => {
    await expect(retrying('reading', policy(), async () => Promise.reject(Object.assign(new Error('no such column'), { code: '42703' })))).rejects.toThrow(
      'reading failed: no such column',
    );
    await expect(retrying('writing', policy({ timeoutMs: 30 }), async () => Promise.reject(new Error('still down')))).rejects.toThrow(
      /writing still failing after \d+ attempts \(errors.retry.timeout 30 ms\): still down/,
    );
  });

  it('runs the first attempt even when stopping, but does not retry then', async () => {
    const stopped = new AbortController();
    stopped.abort();
    expect(await retrying('storing the offset', policy({ signal: stopped.signal }), async () => 'stored')).toBe('stored');
    await expect(retrying('publishing', policy({ signal: stopped.signal }), async () => Promise.reject(new Error('down')))).rejects.toBeInstanceOf(TaskStopped);
  });
});
