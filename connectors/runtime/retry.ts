import { GovxError, errorMessage } from '../../lib/errors';

/** A fault that retrying cannot fix (bad config, a rejected record with errors.tolerance=none): the connector FAILS. */
export class ConnectorFailure extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConnectorFailure';
  }
}

/** The task was asked to stop (pause, delete, new config, shutdown) while it waited. */
export class TaskStopped extends Error {
  constructor() {
    super('task stopped');
    this.name = 'TaskStopped';
  }
}

// SQLSTATE classes that a retry can outlive: connection exceptions, insufficient resources, operator
// intervention (e.g. the server shutting down), transaction rollbacks (serialization, deadlock).
const TRANSIENT_SQLSTATE_CLASSES = new Set(['08', '53', '57', '40']);

/** Transient: the target or Kafka is down or busy. Anything that names a bad request, table or column is not. */
export function isTransient(err: unknown): boolean {
  if (err instanceof ConnectorFailure || err instanceof TaskStopped) return false;
  if (err instanceof GovxError) return err.status >= 500;
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return TRANSIENT_SQLSTATE_CLASSES.has(code.slice(0, 2));
  return true;
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export interface RetryPolicy {
  /** -1: forever */
  timeoutMs: number;
  maxDelayMs: number;
  signal: AbortSignal;
  /** told about each transient fault (status shows it as the last error while the connector keeps trying) */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void | Promise<void>;
  /** called while waiting, e.g. a consumer heartbeat */
  whileWaiting?: () => Promise<void>;
}

/**
 * Runs `work` until it succeeds, retrying transient faults with capped exponential backoff (100 ms,
 * doubling, with jitter) for at most `timeoutMs`; then, or on a fault that is not transient, the connector fails.
 */
export async function retrying<T>(what: string, policy: RetryPolicy, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    // The first attempt runs even when stopping: a batch in flight is finished (published AND its offset stored).
    if (attempt > 1 && policy.signal.aborted) throw new TaskStopped();
    try {
      return await work();
    } catch (err) {
      if (err instanceof ConnectorFailure || err instanceof TaskStopped) throw err;
      if (!isTransient(err)) throw new ConnectorFailure(`${what} failed: ${errorMessage(err)}`, { cause: err });
      const elapsed = Date.now() - started;
      if (policy.timeoutMs >= 0 && elapsed >= policy.timeoutMs) {
        throw new ConnectorFailure(`${what} still failing after ${attempt} attempts (errors.retry.timeout ${policy.timeoutMs} ms): ${errorMessage(err)}`, { cause: err });
      }
      const base = Math.min(policy.maxDelayMs, 100 * 2 ** Math.min(attempt - 1, 20));
      let delay = Math.round(base / 2 + Math.random() * (base / 2));
      if (policy.timeoutMs >= 0) delay = Math.max(0, Math.min(delay, policy.timeoutMs - elapsed));
      await policy.onRetry?.(err, attempt, delay);
      const deadline = Date.now() + delay;
      while (Date.now() < deadline && !policy.signal.aborted) {
        await sleep(Math.min(deadline - Date.now(), 1000), policy.signal);
        await policy.whileWaiting?.().catch(() => undefined);
      }
    }
  }
}
