import { createIndicatorDataset, indicatorDatasetInput, indicatorSchema, inOneYear, requestIndicators, unique } from '../support/fixtures';
import { httpJson, startTestStack, type TestStack } from '../support/stack';
import { recordFigures } from './figures';
import { fillPath, loadOperations, type Operation } from './openapiRoutes';

/**
 * The authorization matrix: every operation of gateway/openapi.yaml × every kind of caller (each role of one
 * department, an administrator, no key, a revoked key) × a resource of the caller's own department and one
 * of another department, each cell asserting the exact answer. "Own" is the department the resource belongs
 * to: a dataset's owner, a subscription's consumer (its owner for decisions), a connector's or key's
 * department. A cell expected to be refused that succeeds is a leak; a 403 where 404 is expected is a leak
 * too (it tells that the thing exists). The figures are printed and recorded in docs/security.md.
 */

const OWN = 'planning';
const OTHER = 'tax';
/** the department that requests what OWN and OTHER decide on, and owns what they receive */
const THIRD = 'haidian';
const PROVIDER = 'statistics';

type Caller = 'publisher' | 'consumer' | 'steward' | 'admin' | 'none' | 'revoked';
type Side = 'own' | 'other';
type Expected = 'ok' | 401 | 403 | 404;
type Cells = Record<'publisher' | 'consumer' | 'steward' | 'admin', [own: Expected, other: Expected]>;

interface Built {
  params?: Record<string, string>;
  query?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

interface Case {
  cells: Cells;
  /** the request against a resource of `department`; `fresh` when the call may change or consume it */
  build: (department: string, fresh: boolean, caller: Caller) => Promise<Built>;
  /** things in a 2xx answer that a caller of OWN must not see; returns how many there are */
  leaksIn?: (body: any, caller: Caller) => Promise<number>;
}

const callers: Caller[] = ['publisher', 'consumer', 'steward', 'admin', 'none', 'revoked'];
const everyone: Cells = { publisher: ['ok', 'ok'], consumer: ['ok', 'ok'], steward: ['ok', 'ok'], admin: ['ok', 'ok'] };
const adminsOnly: Cells = { publisher: [403, 403], consumer: [403, 403], steward: [403, 403], admin: ['ok', 'ok'] };
/** staff routes on a department's own thing: its stewards and admins; another department's looks absent */
const ownStaff: Cells = { publisher: [403, 403], consumer: [403, 403], steward: ['ok', 404], admin: ['ok', 'ok'] };

let stack: TestStack;
const keys: Record<string, string> = {};
const keyOf = (department: string, role: string): string => keys[`${department}/${role}`]!;
const idOf = (key: string): string => key.split('_')[1]!;

const cache = new Map<string, Promise<string>>();
const once = (name: string, make: () => Promise<string>): Promise<string> => {
  if (!cache.has(name)) cache.set(name, make());
  return cache.get(name)!;
};

const admin = (): string => keyOf('info-office', 'admin');
const datasetOf = (department: string, fresh = false): Promise<string> =>
  fresh ? createIndicatorDataset(stack.url, admin(), { owner: department }) : once(`dataset:${department}`, () => createIndicatorDataset(stack.url, admin(), { owner: department }));
const conditionalOf = (department: string): Promise<string> =>
  once(`conditional:${department}`, () => createIndicatorDataset(stack.url, admin(), { owner: department, sharing: 'conditional' }));
const provided = (): Promise<string> => once('provided', () => createIndicatorDataset(stack.url, admin(), { owner: PROVIDER }));

/** An approved subscription that `department` receives. */
const receivedBy = (department: string): Promise<string> =>
  once(`received:${department}`, async () => (await requestIndicators(stack.url, keyOf(department, 'consumer'), await provided())).id);

/** A pending request, by THIRD, for a dataset that `department` owns. */
async function pendingFor(department: string, fresh: boolean): Promise<string> {
  const make = async () => (await requestIndicators(stack.url, keyOf(THIRD, 'consumer'), await conditionalOf(department))).id;
  return fresh ? make() : once(`pending:${department}`, make);
}

function connectorBody(name: string, dataset: string) {
  return { name, config: { 'connector.class': 'file-source', dataset, 'file.path': `matrix/${name}`, format: 'ndjson' } };
}

/** A connector that acts for `department` (a file source of one of its datasets). */
async function connectorOf(department: string, fresh: boolean): Promise<string> {
  const make = async () => {
    const name = `matrix-${unique()}`;
    const res = await httpJson(`${stack.url}/v1/connectors`, { key: admin(), body: connectorBody(name, await datasetOf(department)) });
    if (res.status !== 201) throw new Error(`connector fixture: ${res.status} ${JSON.stringify(res.body)}`);
    return name;
  };
  return fresh ? make() : once(`connector:${department}`, make);
}

async function keyIdOf(department: string, fresh: boolean): Promise<string> {
  const make = async () => idOf(await stack.key(department, 'publisher'));
  return fresh ? make() : once(`key:${department}`, make);
}

async function etagOf(dataset: string): Promise<string> {
  return (await httpJson(`${stack.url}/v1/datasets/${dataset}`, { key: admin() })).headers.get('etag')!;
}

/** How many of `values` the query, given them, says do not belong to OWN. */
async function foreign(values: string[], sql: string): Promise<number> {
  if (values.length === 0) return 0;
  const { rows } = await stack.pool.query<{ n: number }>(sql, [values, OWN]);
  return rows[0]!.n;
}

/** An alert webhook of `department`, set by an administrator (setting it again is harmless). */
async function webhookOf(department: string): Promise<Built> {
  const res = await httpJson(`${stack.url}/v1/departments/${department}/webhook`, {
    method: 'PUT',
    key: admin(),
    body: { url: 'https://alerts.example.test/govx', secret: 'matrix-webhook-secret-0123456789' },
  });
  if (res.status !== 200) throw new Error(`webhook fixture: ${res.status} ${JSON.stringify(res.body)}`);
  return { params: { department } };
}

/** reports and alerts: administrators and stewards (a steward's own department only), nobody else */
const staffOnly: Cells = { publisher: [403, 403], consumer: [403, 403], steward: ['ok', 'ok'], admin: ['ok', 'ok'] };
/** a department's alert webhook: its stewards and administrators; to everyone else it does not exist */
const webhookCells: Cells = { publisher: [404, 404], consumer: [404, 404], steward: ['ok', 404], admin: ['ok', 'ok'] };

/**
 * A department's Kafka credentials in the state a call needs, set by an administrator: live (to read, rotate or
 * revoke) or not (to issue). Like its webhook, a department's credentials do not exist for anyone but its
 * stewards and administrators.
 */
async function kafkaCredentialsOf(department: string, live: boolean): Promise<Built> {
  const url = `${stack.url}/v1/departments/${department}/kafka-credentials`;
  const current = await httpJson(url, { key: admin() });
  const isLive = current.status === 200 && current.body.status === 'active';
  if (isLive !== live) {
    const res = await httpJson(url, { method: live ? 'POST' : 'DELETE', key: admin() });
    if (res.status >= 300) throw new Error(`kafka credentials fixture: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return { params: { department } };
}

const cases: Record<string, Case> = {
  getKafkaCredentials: { cells: webhookCells, build: async (d) => kafkaCredentialsOf(d, true) },
  createKafkaCredentials: { cells: webhookCells, build: async (d, fresh) => (fresh ? kafkaCredentialsOf(d, false) : { params: { department: d } }) },
  rotateKafkaCredentials: { cells: webhookCells, build: async (d, fresh) => (fresh ? kafkaCredentialsOf(d, true) : { params: { department: d } }) },
  revokeKafkaCredentials: { cells: webhookCells, build: async (d, fresh) => (fresh ? kafkaCredentialsOf(d, true) : { params: { department: d } }) },
  sharingReport: {
    cells: { publisher: [403, 403], consumer: [403, 403], steward: ['ok', 403], admin: ['ok', 'ok'] },
    build: async (d) => ({ query: `quarter=2026Q4&department=${d}` }),
  },
  replyDeadlines: { cells: staffOnly, build: async () => ({}) },
  listAlerts: { cells: staffOnly, build: async () => ({ query: 'limit=5' }) },
  getAlertWebhook: { cells: webhookCells, build: async (d) => webhookOf(d) },
  setAlertWebhook: {
    cells: webhookCells,
    build: async (d) => ({ params: { department: d }, body: { url: 'https://alerts.example.test/govx', secret: 'matrix-webhook-secret-0123456789' } }),
  },
  deleteAlertWebhook: { cells: webhookCells, build: async (d) => webhookOf(d) },
  // where a department's connectors may connect: administrators only, the department itself included
  getConnectorTargets: { cells: adminsOnly, build: async (d) => ({ params: { department: d } }) },
  setConnectorTargets: {
    cells: adminsOnly,
    build: async (d) => ({ params: { department: d }, body: { postgres: { hosts: ['203.0.113.0/24'], databases: [`${d.replace(/-/g, '_')}_db`] }, webhooks: { hosts: ['hooks.example.test'], allowPrivate: false } } }),
  },
  listDatasets: { cells: everyone, build: async (d) => ({ query: `owner=${d}` }) },
  createDataset: {
    cells: adminsOnly,
    build: async (d) => ({ body: indicatorDatasetInput(`test.matrix-${unique()}`, d) }),
  },
  getDataset: { cells: everyone, build: async (d) => ({ params: { id: await datasetOf(d) } }) },
  patchDataset: {
    cells: adminsOnly,
    build: async (d) => {
      const id = await datasetOf(d);
      return { params: { id }, body: { abstract: `edited ${unique()}` }, headers: { 'if-match': await etagOf(id) } };
    },
  },
  getDatasetHistory: { cells: everyone, build: async (d) => ({ params: { id: await datasetOf(d) } }) },
  registerDatasetSchema: {
    cells: { publisher: [403, 403], consumer: [403, 403], steward: ['ok', 403], admin: ['ok', 'ok'] },
    build: async (d) => ({ params: { id: await datasetOf(d) }, body: { schema: indicatorSchema } }),
  },
  publishRecords: {
    cells: { publisher: ['ok', 403], consumer: [403, 403], steward: [403, 403], admin: [403, 403] },
    build: async (d) => ({ params: { id: await datasetOf(d) }, body: { records: [{ code: 'M1', value: 1 }] } }),
  },
  listAudit: { cells: adminsOnly, build: async () => ({ query: 'limit=5' }) },
  verifyAudit: { cells: adminsOnly, build: async () => ({}) },
  createAuditCheckpoint: { cells: adminsOnly, build: async () => ({}) },
  requestSubscription: {
    cells: { publisher: [403, 403], consumer: ['ok', 'ok'], steward: [403, 403], admin: [403, 403] },
    build: async (d) => ({ body: { dataset: await datasetOf(d), fields: ['code'], purpose: '矩阵测试', expiresAt: inOneYear(), delivery: 'http' } }),
  },
  listSubscriptions: {
    cells: everyone,
    build: async () => ({ query: 'limit=500' }),
    leaksIn: async (body, caller) =>
      caller === 'admin'
        ? 0
        : foreign(
            body.items.map((s: { id: string }) => s.id),
            'SELECT count(*)::int AS n FROM subscriptions s JOIN datasets d ON d.id = s.dataset_id WHERE s.id = ANY($1) AND s.consumer <> $2 AND d.owner <> $2',
          ),
  },
  getSubscription: {
    cells: { publisher: ['ok', 404], consumer: ['ok', 404], steward: ['ok', 404], admin: ['ok', 'ok'] },
    build: async (d) => ({ params: { id: await receivedBy(d) } }),
  },
  approveSubscription: {
    cells: { publisher: [403, 404], consumer: [403, 404], steward: ['ok', 404], admin: [403, 403] },
    build: async (d, fresh) => ({ params: { id: await pendingFor(d, fresh) }, body: {} }),
  },
  rejectSubscription: {
    cells: { publisher: [403, 404], consumer: [403, 404], steward: ['ok', 404], admin: [403, 403] },
    build: async (d, fresh) => ({ params: { id: await pendingFor(d, fresh) }, body: { reason: '矩阵测试' } }),
  },
  revokeSubscription: {
    cells: { publisher: [403, 404], consumer: [403, 404], steward: ['ok', 404], admin: ['ok', 'ok'] },
    build: async (d, fresh) => ({ params: { id: await pendingFor(d, fresh) }, body: {} }),
  },
  pullSubscriptionRecords: {
    cells: { publisher: [403, 404], consumer: ['ok', 404], steward: [403, 404], admin: [404, 404] },
    build: async (d) => ({ params: { id: await receivedBy(d) }, query: 'waitMs=0' }),
  },
  streamSubscriptionRecords: {
    cells: { publisher: [403, 404], consumer: ['ok', 404], steward: [403, 404], admin: [404, 404] },
    build: async (d) => ({ params: { id: await receivedBy(d) } }),
  },
  listConnectors: {
    cells: { publisher: [403, 403], consumer: [403, 403], steward: ['ok', 'ok'], admin: ['ok', 'ok'] },
    build: async () => ({}),
    leaksIn: async (body, caller) => (caller === 'admin' ? 0 : foreign(body, 'SELECT count(*)::int AS n FROM connectors WHERE name = ANY($1) AND owner <> $2')),
  },
  createConnector: {
    cells: { publisher: [403, 403], consumer: [403, 403], steward: ['ok', 403], admin: ['ok', 'ok'] },
    build: async (d) => ({ body: connectorBody(`matrix-${unique()}`, await datasetOf(d)) }),
  },
  getConnector: { cells: ownStaff, build: async (d) => ({ params: { name: await connectorOf(d, false) } }) },
  getConnectorConfig: { cells: ownStaff, build: async (d) => ({ params: { name: await connectorOf(d, false) } }) },
  putConnectorConfig: {
    cells: ownStaff,
    build: async (d) => {
      const name = await connectorOf(d, false);
      return { params: { name }, body: connectorBody(name, await datasetOf(d)).config };
    },
  },
  getConnectorStatus: { cells: ownStaff, build: async (d) => ({ params: { name: await connectorOf(d, false) } }) },
  pauseConnector: { cells: ownStaff, build: async (d) => ({ params: { name: await connectorOf(d, false) } }) },
  resumeConnector: { cells: ownStaff, build: async (d) => ({ params: { name: await connectorOf(d, false) } }) },
  restartConnector: { cells: ownStaff, build: async (d) => ({ params: { name: await connectorOf(d, false) } }) },
  deleteConnector: { cells: ownStaff, build: async (d, fresh) => ({ params: { name: await connectorOf(d, fresh) } }) },
  listKeys: {
    cells: { publisher: [403, 403], consumer: [403, 403], steward: ['ok', 'ok'], admin: ['ok', 'ok'] },
    build: async (d) => ({ query: `department=${d}` }),
    leaksIn: async (body, caller) =>
      caller === 'admin' ? 0 : foreign(body.items.map((k: { id: string }) => k.id), 'SELECT count(*)::int AS n FROM api_keys WHERE id = ANY($1) AND department_id <> $2'),
  },
  createKey: {
    cells: { publisher: [403, 403], consumer: [403, 403], steward: ['ok', 403], admin: ['ok', 'ok'] },
    build: async (d) => ({ body: { department: d, role: 'publisher', label: 'matrix' } }),
  },
  getMe: { cells: everyone, build: async () => ({}) },
  // with an API key there is no session to end: sign-out answers 204 and changes nothing
  signOut: { cells: everyone, build: async () => ({}) },
  listDepartments: { cells: everyone, build: async () => ({}) },
  updateDepartment: {
    cells: adminsOnly,
    // the department's own clearance, set again: the matrix changes nothing other cells depend on
    build: async (d) => ({ params: { department: d }, body: { clearance: (await stack.pool.query('SELECT clearance FROM departments WHERE id = $1', [d])).rows[0].clearance } }),
  },
  listDatasetSchemas: {
    cells: { publisher: ['ok', 404], consumer: ['ok', 404], steward: ['ok', 404], admin: ['ok', 'ok'] },
    build: async (d) => ({ params: { id: await datasetOf(d) } }),
  },
  // the owner's stewards and administrators; to everyone else, even the owner's other roles, they do not exist
  listDeadLetters: {
    cells: { publisher: [404, 404], consumer: [404, 404], steward: ['ok', 404], admin: ['ok', 'ok'] },
    build: async (d) => ({ params: { id: await datasetOf(d) }, query: 'limit=5' }),
  },
  previewRequest: {
    cells: { publisher: [403, 403], consumer: ['ok', 'ok'], steward: [403, 403], admin: [403, 403] },
    build: async (d) => ({ body: { dataset: await datasetOf(d), fields: ['code'] } }),
  },
  getSubscriptionDeliveries: {
    cells: { publisher: ['ok', 404], consumer: ['ok', 404], steward: ['ok', 404], admin: ['ok', 'ok'] },
    build: async (d) => ({ params: { id: await receivedBy(d) } }),
  },
  getSubscriptionLag: {
    cells: { publisher: ['ok', 404], consumer: ['ok', 404], steward: ['ok', 404], admin: ['ok', 'ok'] },
    build: async (d) => ({ params: { id: await receivedBy(d) } }),
  },
  previewDecision: {
    cells: { publisher: [403, 404], consumer: [403, 404], steward: ['ok', 404], admin: ['ok', 'ok'] },
    build: async (d) => ({ params: { id: await pendingFor(d, false) }, body: {} }),
  },
  revokeKey: { cells: ownStaff, build: async (d, fresh) => ({ params: { id: await keyIdOf(d, fresh) }, body: {} }) },
  rotateKey: { cells: ownStaff, build: async (d, fresh) => ({ params: { id: await keyIdOf(d, fresh) }, body: {} }) },
};

/** Operations that change or use up what they act on get a fresh resource for every call that may succeed. */
const consuming = new Set(['createKafkaCredentials', 'rotateKafkaCredentials', 'revokeKafkaCredentials', 'approveSubscription', 'rejectSubscription', 'revokeSubscription', 'deleteConnector', 'revokeKey', 'rotateKey']);

const expectedFor = (c: Case, caller: Caller, side: Side): Expected => {
  if (caller === 'none' || caller === 'revoked') return 401;
  return c.cells[caller][side === 'own' ? 0 : 1];
};

async function send(op: Operation, built: Built, key: string | undefined): Promise<{ status: number; body: any }> {
  const url = `${stack.url}${fillPath(op.path, built.params ?? {})}${built.query ? `?${built.query}` : ''}`;
  const headers: Record<string, string> = { ...(built.headers ?? {}) };
  if (key) headers.authorization = `Bearer ${key}`;
  if (op.operationId === 'streamSubscriptionRecords') {
    const controller = new AbortController();
    try {
      const res = await fetch(url, { headers, signal: controller.signal });
      const body = res.status === 200 ? null : await res.json();
      return { status: res.status, body };
    } finally {
      controller.abort();
    }
  }
  const hasBody = built.body !== undefined;
  return httpJson(url, { method: op.method, key, body: hasBody ? built.body : undefined, headers });
}

beforeAll(async () => {
  stack = await startTestStack();
  for (const department of [OWN, OTHER, THIRD]) {
    for (const role of ['publisher', 'consumer', 'steward'] as const) keys[`${department}/${role}`] = await stack.key(department, role);
  }
  keys['info-office/admin'] = await stack.key('info-office', 'admin');
  keys[`${OWN}/revoked`] = await stack.key(OWN, 'steward');
  await stack.pool.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [idOf(keys[`${OWN}/revoked`]!)]);
});
afterAll(async () => {
  await stack?.close();
});

it('covers every authenticated operation of the API document', () => {
  const documented = loadOperations().filter((o) => o.authenticated).map((o) => o.operationId).sort();
  expect(Object.keys(cases).sort()).toEqual(documented);
});

it('answers every route × caller × own/other department as expected, with no leak and no 5xx', async () => {
  const mismatches: string[] = [];
  let requests = 0;
  let leaks = 0;
  let serverErrors = 0;
  const operations = loadOperations().filter((o) => o.authenticated);
  for (const op of operations) {
    const c = cases[op.operationId]!;
    for (const side of ['own', 'other'] as const) {
      const department = side === 'own' ? OWN : OTHER;
      for (const caller of callers) {
        const expected = expectedFor(c, caller, side);
        const built = await c.build(department, expected === 'ok' && consuming.has(op.operationId), caller);
        const key = caller === 'none' ? undefined : caller === 'admin' ? admin() : keyOf(OWN, caller);
        const res = await send(op, built, key);
        requests += 1;
        const ok = res.status >= 200 && res.status < 300;
        if (res.status >= 500) serverErrors += 1;
        if (expected !== 'ok' && (ok || (expected === 404 && res.status === 403))) leaks += 1;
        const contentLeaks = ok && c.leaksIn ? await c.leaksIn(res.body, caller) : 0;
        leaks += contentLeaks;
        const matches = expected === 'ok' ? ok : res.status === expected;
        if (!matches || contentLeaks > 0) {
          mismatches.push(`${op.method} ${op.path} as ${caller} on ${side}: expected ${expected}, got ${res.status} ${JSON.stringify(res.body?.error?.code ?? '')}${contentLeaks ? ` with ${contentLeaks} foreign items` : ''}`);
        }
      }
    }
  }
  recordFigures('authorization matrix', { operations: operations.length, callers: callers.length, sides: 2, requests, leaks, serverErrors });
  expect(mismatches).toEqual([]);
  expect({ leaks, serverErrors }).toEqual({ leaks: 0, serverErrors: 0 });
});
