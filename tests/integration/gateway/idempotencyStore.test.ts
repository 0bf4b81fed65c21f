import crypto from 'node:crypto';
import { IdempotencyStore } from '../../../gateway/idempotency';
import { createPool } from '../../../lib/db';
import { GovxError } from '../../../lib/errors';

it('refuses with 503 database.unavailable when PostgreSQL cannot be reached, instead of publishing unprotected', async () => {
  const unreachable = createPool('postgres://postgres@127.0.0.1:1/govx_nowhere', { max: 1 });
  const store = new IdempotencyStore(unreachable, { ttlSeconds: 60, leaseMs: 1000 });
  let error: unknown;
  try {
    await store.claim({ department: 'psb', dataset: 'population.residents', key: crypto.randomUUID() }, 'a'.repeat(64));
  } catch (err) {
    error = err;
  } finally {
    await unreachable.end();
  }
  expect(error).toBeInstanceOf(GovxError);
  expect(error).toMatchObject({ status: 503, code: 'database.unavailable', headers: { 'Retry-After': '5' } });
});
