import { httpJson, startTestStack, type TestStack } from '../../support/stack';
import { sealDenialsNow } from '../../support/fixtures';

let stack: TestStack;
let admin: string;
let consumer: string;
beforeAll(async () => {
  stack = await startTestStack();
  admin = await stack.key('info-office', 'admin');
  consumer = await stack.key('civil-affairs', 'consumer');
});
afterAll(async () => {
  await stack?.close();
});

const api = (path: string, init: Parameters<typeof httpJson>[1] = {}) => httpJson(`${stack.url}${path}`, init);

function newDataset(id: string) {
  return {
    id,
    title: { zh: '测试数据集', en: 'Test dataset' },
    owner: 'statistics',
    category: 'macro-economy',
    abstract: 'Quarterly indicators for a test.',
    sharing: { type: 'unconditional' },
    updateCycle: 'quarterly',
    keyField: 'code',
    schema: {
      type: 'record',
      name: 'Indicator',
      namespace: 'govx.test',
      fields: [
        { name: 'code', type: 'string', doc: '指标代码' },
        { name: 'value', type: 'double' },
      ],
    },
    fields: { value: { sensitivity: 2 } },
  };
}

describe('browsing the catalog', () => {
  it('lists the seed datasets to any key, with filters and paging', async () => {
    const all = await api('/v1/datasets', { key: consumer });
    expect(all.status).toBe(200);
    const ids = all.body.items.map((d: { id: string }) => d.id);
    expect(ids).toEqual(expect.arrayContaining(['population.residents', 'legal-entity.registry', 'geospatial.buildings']));

    const byOwner = await api('/v1/datasets?owner=amr', { key: consumer });
    expect(byOwner.body.items.every((d: { owner: string }) => d.owner === 'amr')).toBe(true);
    const notShared = await api('/v1/datasets?sharingType=none', { key: consumer });
    expect(notShared.body.items.length).toBeGreaterThan(0);
    expect(notShared.body.items.every((d: { legalBasis: string | null }) => !!d.legalBasis)).toBe(true);
    const search = await api(`/v1/datasets?q=${encodeURIComponent('人口')}`, { key: consumer });
    expect(search.body.items.map((d: { id: string }) => d.id)).toContain('population.residents');
    const page = await api('/v1/datasets?limit=1&offset=1', { key: consumer });
    expect(page.body.items).toHaveLength(1);
    expect(page.body.total).toBeGreaterThanOrEqual(3);
  });

  it('shows one dataset with its fields, sensitivity and an ETag', async () => {
    const res = await api('/v1/datasets/population.residents', { key: consumer });
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toMatch(/^"v\d+"$/);
    expect(res.body).toMatchObject({ owner: 'psb', sharingType: 'conditional', keyField: 'id_number', status: 'active' });
    expect(res.body.fields.find((f: { name: string }) => f.name === 'id_number')).toMatchObject({ sensitivity: 4, masking: 'partial' });
    expect(res.body.fields.find((f: { name: string }) => f.name === 'birth_date').type).toContain('date');
  });

  it('rejects bad query parameters with a clear 400', async () => {
    const res = await api('/v1/datasets?limit=abc', { key: consumer });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('request.invalid_query');
  });
});

describe('editing the catalog', () => {
  it('lets only admins create datasets, and records who did it', async () => {
    const id = `test.indicators-${Date.now()}`;
    const refused = await api('/v1/datasets', { key: consumer, body: newDataset(id) });
    expect(refused.status).toBe(403);
    const created = await api('/v1/datasets', { key: admin, body: newDataset(id) });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id, version: 1, owner: 'statistics', schemaSubject: `govx.dataset.${id}-value` });
    const again = await api('/v1/datasets', { key: admin, body: newDataset(id) });
    expect(again.status).toBe(409);
    const { rows } = await stack.pool.query("SELECT outcome FROM audit_log WHERE target = $1 AND action = 'catalog.dataset.create' ORDER BY seq", [`dataset:${id}`]);
    expect(rows.map((r) => r.outcome)).toEqual(['success']);
    // the refusal is audited with the key's other denials, as one access.denied entry per interval
    const denials = await sealDenialsNow(stack, consumer.split('_')[1]!);
    expect(denials.flatMap((d) => d.details.actions)).toContainEqual({ action: 'catalog.dataset.create', count: 1, sampleTarget: `dataset:${id}` });
  });

  it('refuses a dataset that is not shared without a legal basis, naming the problem', async () => {
    const body = { ...newDataset(`test.secret-${Date.now()}`), sharing: { type: 'none' } };
    const res = await api('/v1/datasets', { key: admin, body });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/legal basis/);
  });

  it('edits with If-Match: 428 without it, 412 when stale, and keeps every version in the history', async () => {
    const id = `test.edit-${Date.now()}`;
    const created = await api('/v1/datasets', { key: admin, body: newDataset(id) });
    const etag = created.headers.get('etag')!;

    const noMatch = await api(`/v1/datasets/${id}`, { method: 'PATCH', key: admin, body: { abstract: 'x' } });
    expect(noMatch.status).toBe(428);
    const first = await api(`/v1/datasets/${id}`, { method: 'PATCH', key: admin, body: { abstract: 'Revised abstract.' }, headers: { 'if-match': etag } });
    expect(first.status).toBe(200);
    expect(first.body.version).toBe(2);
    const stale = await api(`/v1/datasets/${id}`, { method: 'PATCH', key: admin, body: { abstract: 'Lost update' }, headers: { 'if-match': etag } });
    expect(stale.status).toBe(412);
    expect(stale.body.error.code).toBe('catalog.stale_etag');

    const history = await api(`/v1/datasets/${id}/history`, { key: consumer });
    expect(history.body.items.map((h: { version: number }) => h.version)).toEqual([2, 1]);
    expect(history.body.items[1].snapshot.abstract).toBe('Quarterly indicators for a test.');
    expect(history.body.items[0].changedBy).toBe('info-office');
  });

  it('refuses unknown or badly typed patch members with their names', async () => {
    const res0 = await api('/v1/datasets/population.residents', { key: admin });
    const res = await api('/v1/datasets/population.residents', {
      method: 'PATCH', key: admin, headers: { 'if-match': res0.headers.get('etag')! }, body: { id: 'x', sharingType: 'sometimes' },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/"id" cannot be changed/);
    expect(res.body.error.message).toMatch(/sharingType must be one of/);
  });
});

describe('registering schema versions of a dataset', () => {
  it('lets the owner steward add a compatible version and reports what changed', async () => {
    const id = `test.schemas-${Date.now()}`;
    await api('/v1/datasets', { key: admin, body: newDataset(id) });
    const steward = await stack.key('statistics', 'steward');
    const schema = newDataset(id).schema;
    const v2 = {
      ...schema,
      fields: [...schema.fields, { name: 'respondent_phone', type: ['null', 'string'], default: null }],
    };
    const res = await api(`/v1/datasets/${id}/schemas`, {
      key: steward,
      body: { schema: v2, fields: { respondent_phone: { sensitivity: 4, masking: 'partial' } } },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ version: 2, created: true, changes: { added: ['respondent_phone'], removed: [], retyped: [], sensitiveAdded: ['respondent_phone'] } });
    expect(res.body.dataset.fields.map((f: { name: string }) => f.name)).toContain('respondent_phone');
  });

  it('refuses an incompatible version with 409 and the reasons field by field', async () => {
    const id = `test.incompatible-${Date.now()}`;
    await api('/v1/datasets', { key: admin, body: newDataset(id) });
    const schema = newDataset(id).schema;
    const bad = { ...schema, fields: [...schema.fields, { name: 'region', type: 'string' }] };
    const res = await api(`/v1/datasets/${id}/schemas`, { key: admin, body: { schema: bad } });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('schema.incompatible');
    expect(res.body.error.message).toContain('region');
    expect(res.body.error.details.reasons[0]).toMatchObject({ type: 'READER_FIELD_MISSING_DEFAULT_VALUE' });
  });

  it('refuses stewards of other departments', async () => {
    const res = await api('/v1/datasets/population.residents/schemas', { key: await stack.key('amr', 'steward'), body: { schema: 'string' } });
    expect(res.status).toBe(403);
  });
});

describe('the audit trail over HTTP', () => {
  it('is readable and verifiable by admins only', async () => {
    const list = await api('/v1/audit?action=catalog.&limit=5', { key: admin });
    expect(list.status).toBe(200);
    expect(list.body.items.length).toBeGreaterThan(0);
    expect(list.body.items.every((e: { action: string }) => e.action.startsWith('catalog.'))).toBe(true);
    const verify = await api('/v1/audit/verify', { key: admin });
    expect(verify.status).toBe(200);
    expect(verify.body.ok).toBe(true);
    expect((await api('/v1/audit', { key: consumer })).status).toBe(403);
  });

  it('pages newest first when asked, the cursor continuing downwards', async () => {
    const first = await api('/v1/audit?order=desc&limit=3', { key: admin });
    expect(first.status).toBe(200);
    const seqs = first.body.items.map((e: { seq: number }) => Number(e.seq));
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
    const next = await api(`/v1/audit?order=desc&limit=3&cursor=${first.body.nextCursor}`, { key: admin });
    expect(Number(next.body.items[0].seq)).toBeLessThan(seqs[seqs.length - 1]);
    expect((await api('/v1/audit?order=sideways', { key: admin })).status).toBe(400);
  });

  it('filters by a target and a time written as people write them, with an unencoded ":"', async () => {
    const since = new Date(Date.now() - 3600_000).toISOString();
    const res = await api(`/v1/audit?target=dataset:population.residents&from=${since}&limit=5`, { key: admin });
    expect(res.status).toBe(200);
    expect(res.body.items.length).toBeGreaterThan(0);
    expect(res.body.items.every((e: { target: string }) => e.target === 'dataset:population.residents')).toBe(true);
  });
});
