import crypto from 'node:crypto';
import { verifyAuditChain } from '../../../catalog/audit';
import { migrate } from '../../../catalog/migrate';
import { AuditGroupCommit } from '../../../publish/auditGroupCommit';
import { createPool, type Pool } from '../../../lib/db';

let pool: Pool;
beforeAll(async () => {
  pool = createPool(process.env.DATABASE_URL!, { max: 4 });
  await migrate(pool);
});
afterAll(async () => {
  await pool?.end();
});

it('appends the entries of concurrent requests as separate, intact links of the chain', async () => {
  const group = new AuditGroupCommit(pool);
  const target = `dataset:group-commit-${crypto.randomUUID()}`;
  await Promise.all(
    Array.from({ length: 25 }, (_, i) =>
      group.append({ actor: { department: 'psb', role: 'publisher' }, action: 'publish.batch', target, outcome: 'success', requestId: `r-${i}`, details: { accepted: i } }),
    ),
  );
  const { rows } = await pool.query('SELECT request_id FROM audit_log WHERE target = $1', [target]);
  expect(rows.map((r) => r.request_id).sort()).toEqual(Array.from({ length: 25 }, (_, i) => `r-${i}`).sort());
  expect((await verifyAuditChain(pool)).ok).toBe(true);
});

it('keeps the good entries of a group when one of them is refused', async () => {
  const group = new AuditGroupCommit(pool);
  const target = `dataset:group-commit-${crypto.randomUUID()}`;
  const good = (i: number) => group.append({ actor: { department: 'psb' }, action: 'publish.batch', target, outcome: 'success', requestId: `g-${i}` });
  const bad = group.append({ actor: { department: 'psb' }, action: '', target, outcome: 'success' });
  const results = await Promise.allSettled([good(1), bad, good(2)]);
  expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  const { rows } = await pool.query('SELECT request_id FROM audit_log WHERE target = $1 ORDER BY seq', [target]);
  expect(rows.map((r) => r.request_id)).toEqual(['g-1', 'g-2']);
});
