import fc from 'fast-check';
import { createIndicatorDataset, indicatorDatasetInput, indicatorSchema, inOneYear, requestIndicators, unique } from '../support/fixtures';
import { startTestStack, type TestStack } from '../support/stack';
import { recordFigures } from './figures';
import { loadOperations, type Operation } from './openapiRoutes';

/**
 * Property-based fuzzing of every route in gateway/openapi.yaml (and the registry's): generated hostile path
 * parameters, query strings, headers and bodies — random and structured JSON, templates of real requests
 * with one leaf replaced by something hostile, bytes that are not UTF-8, NULs, unpaired surrogates, deep
 * nesting, prototype keys — sent with valid and invalid keys. Every answer must come within the deadline,
 * never be a 5xx, and a 4xx must be govx's error shape with a code; afterwards the process must still be
 * healthy and serve a normal request. Runs per operation: FUZZ_RUNS (default 12), to keep the suite fast.
 */

const RUNS = Number(process.env.FUZZ_RUNS ?? 12);
const DEADLINE_MS = 20_000;

let stack: TestStack;
const keys: Record<string, string> = {};
const real: Record<string, string> = {};

beforeAll(async () => {
  // The per-key limit stays on (its path is fuzzed too), high enough that the fuzzer is not throttled.
  stack = await startTestStack({ GOVX_RATE_LIMIT_KEY_REQUESTS_PER_SEC: '10000' });
  for (const role of ['publisher', 'consumer', 'steward'] as const) keys[role] = await stack.key('statistics', role);
  keys.admin = await stack.key('info-office', 'admin');
  keys.foreignConsumer = await stack.key('haidian', 'consumer');
  real.dataset = await createIndicatorDataset(stack.url, keys.admin, { owner: 'statistics' });
  real.subscription = (await requestIndicators(stack.url, keys.foreignConsumer, real.dataset)).id;
  real.connector = `fuzz-${unique()}`;
  await fetch(`${stack.url}/v1/connectors`, {
    method: 'POST',
    headers: { authorization: `Bearer ${keys.admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: real.connector, config: { 'connector.class': 'file-source', dataset: real.dataset, 'file.path': 'fuzz', format: 'ndjson' } }),
  });
  real.keyId = (await stack.key('statistics', 'publisher')).split('_')[1]!;
});
afterAll(async () => {
  await stack?.close();
});

/** Text that databases, decoders and comparisons get wrong: the most productive inputs, so the most frequent. */
const INVALID_TEXT = ['\u0000', 'a\u0000b', '\ud800', '\udfff', 'x\udc00y', '%00', '%ED%A0%80', '%FF%FE', '%C0%AF', 'a\u0001b\u007f'];

const HOSTILE_TEXT = [
  '../../../etc/passwd', '..%2f..%2f', "' OR '1'='1", '"; DROP TABLE datasets; --', '__proto__', 'constructor', 'prototype', '😀', '𠀀', '\u202e', '\r\n',
  '${jndi:ldap://127.0.0.1/a}', '<script>alert(1)</script>', 'NaN', '-1', '0', '1e309', '9999999999999999999999', '0x7f000001',
  'latest', '', ' ', '*', 'null', 'true', '[]', '{}', 'a'.repeat(5000), 'sub-aaaaaaaaaaaaaaaaaaaa', 'govx_aaaaaaaaaaaa_' + 'A'.repeat(43),
];

const hostileString = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...INVALID_TEXT) },
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_TEXT) },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
);

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  fc.integer(),
  fc.double(),
  fc.constantFrom(null, true, false, [], {}, -0, Number.MAX_SAFE_INTEGER + 2),
  fc.jsonValue({ maxDepth: 3 }),
);

/** Percent-encodes what fetch can carry: raw escapes of hostile bytes are kept as they are. */
function encodeComponent(value: string): string {
  if (/^(%[0-9A-F]{2})+$/i.test(value)) return value;
  return encodeURIComponent(value.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD'));
}

/** A header value fetch will send (bytes 0x20-0xff, no line breaks). */
const headerValue = fc.oneof(
  fc.constantFrom('', 'x', '"v1"', 'W/"v99999999999"', '*', 'eyJ9', 'e30', 'a'.repeat(4000), 'é', '\u00ff\u00fe'),
  fc.string({ maxLength: 60 }).map((s) => s.replace(/[^\t\x20-\x7e\x80-\xff]/g, '')),
);

/** The requests a real client would send, so that a replaced leaf reaches the handler behind the checks. */
function templates(): Record<string, unknown[]> {
  const connector = (cls: string, extra: Record<string, string>) => ({ name: `fuzz-${unique()}`, config: { 'connector.class': cls, ...extra } });
  return {
    createDataset: [indicatorDatasetInput(`test.fuzz-${unique()}`, 'statistics')],
    patchDataset: [{ abstract: 'x', title: { zh: '甲', en: 'a' }, fields: { value: { sensitivity: 2 } } }],
    registerDatasetSchema: [{ schema: indicatorSchema }, { schema: JSON.stringify(indicatorSchema) }],
    publishRecords: [{ records: [{ code: 'A', value: 1 }, { code: 'B', value: 2 }] }],
    requestSubscription: [{ dataset: real.dataset, fields: ['code', 'value'], purpose: '测试', expiresAt: inOneYear(), delivery: 'http', startFrom: 'latest' }],
    approveSubscription: [{ fields: ['code'], masking: { code: 'hash' }, expiresAt: inOneYear() }],
    rejectSubscription: [{ reason: '测试' }],
    revokeSubscription: [{ reason: '测试' }],
    createConnector: [
      connector('file-source', { dataset: real.dataset, 'file.path': 'fuzz', format: 'ndjson' }),
      connector('postgres-sink', { subscription: real.subscription, 'connection.url': 'postgresql://postgres@127.0.0.1:5432/fuzz' }),
      connector('http-sink', { subscription: real.subscription, 'http.url': 'https://example.invalid/hook', 'hmac.secret': 's' }),
      connector('postgres-source', { dataset: real.dataset, 'connection.url': 'postgresql://postgres@127.0.0.1:5432/fuzz', 'table.include.list': 't', mode: 'timestamp', 'timestamp.column.name': 'ts' }),
    ],
    putConnectorConfig: [{ 'connector.class': 'file-source', dataset: real.dataset, 'file.path': 'fuzz', format: 'ndjson' }],
    createKey: [{ department: 'statistics', role: 'publisher', label: 'fuzz' }],
  };
}

/** Replaces, deletes or adds one member somewhere in `template`. */
function mutate(template: unknown, choice: number, replacement: unknown, action: 'replace' | 'delete' | 'add'): unknown {
  const copy = structuredClone(template) as Record<string, unknown>;
  const slots: Array<[Record<string, unknown> | unknown[], string | number]> = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach((x, i) => (slots.push([v, i]), walk(x)));
    else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) (slots.push([v as Record<string, unknown>, k]), walk(x));
  };
  walk(copy);
  if (slots.length === 0) return replacement;
  const [parent, slot] = slots[choice % slots.length]!;
  if (action === 'delete' && !Array.isArray(parent)) delete parent[slot as string];
  else if (action === 'add' && !Array.isArray(parent)) parent[typeof replacement === 'string' ? replacement.slice(0, 30) : 'extra'] = replacement;
  else (parent as Record<string | number, unknown>)[slot] = replacement;
  return copy;
}

interface FuzzedBody {
  text?: string | Uint8Array;
  contentType?: string;
}

function bodyFor(op: Operation): fc.Arbitrary<FuzzedBody> {
  const structured = templates()[op.operationId] ?? [{}];
  const json = (v: unknown) => ({ text: JSON.stringify(v), contentType: 'application/json' });
  return fc.oneof(
    { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...structured), fc.nat(), hostileValue, fc.constantFrom('replace', 'delete', 'add') as fc.Arbitrary<'replace' | 'delete' | 'add'>).map(([t, i, r, a]) => json(mutate(t, i, r, a))) },
    { weight: 1, arbitrary: fc.constantFrom(...structured).map(json) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map(json) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '{"a":"\\u0000"}', '{"records":[{"code":"\\ud800","value":1}]}', '{"__proto__":{"polluted":true}}', '{"constructor":{"prototype":{"x":1}}}',
        '['.repeat(5000) + ']'.repeat(5000), '{"a":'.repeat(200) + '1' + '}'.repeat(200), '{"records":' + '['.repeat(100) + ']'.repeat(100) + '}',
        '{', '', 'null', '"string"', '1e999999', '{"records":[' + '{},'.repeat(3000) + '{}]}', '{"a":1,"a":2}',
      ).map((text) => ({ text, contentType: 'application/json' })),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 512 }).map((bytes) => ({ text: bytes, contentType: 'application/json' })) },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.constantFrom('application/x-ndjson', 'text/plain', 'application/merge-patch+json', 'application/json; charset=utf-16', 'application/xml', 'multipart/form-data; boundary=x'), fc.string({ maxLength: 200 })).map(([contentType, text]) => ({ text, contentType })),
    },
    { weight: 1, arbitrary: fc.constant<FuzzedBody>({}) },
  );
}

interface Fuzzed {
  path: string;
  query: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

function requestFor(op: Operation): fc.Arbitrary<Fuzzed> {
  const pathParams = op.parameters.filter((p) => p.in === 'path');
  const realFor = (name: string): string => (name === 'name' ? real.connector! : op.path.includes('/keys/') ? real.keyId! : op.path.includes('/subscriptions/') ? real.subscription! : real.dataset!);
  const params = fc.record(Object.fromEntries(pathParams.map((p) => [p.name, fc.oneof({ weight: 2, arbitrary: fc.constant(realFor(p.name)) }, { weight: 3, arbitrary: hostileString })])));
  // Unknown query parameters are refused before any handler runs, so most requests use only declared ones.
  const declared = op.parameters.filter((p) => p.in === 'query').map((p) => p.name);
  const pairs = (names: string[]) => fc.array(fc.tuple(fc.constantFrom(...names), hostileString), { maxLength: 3 });
  const query = fc.oneof(
    { weight: 3, arbitrary: fc.constant<Array<[string, string]>>([]) },
    { weight: declared.length ? 4 : 0, arbitrary: declared.length ? pairs(declared) : fc.constant<Array<[string, string]>>([]) },
    { weight: 1, arbitrary: pairs([...declared, 'unknown', 'cursor', 'limit', '__proto__']) },
  );
  const auth = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom('publisher', 'consumer', 'steward', 'admin', 'foreignConsumer').map((r) => `Bearer ${keys[r]}`) },
    { weight: 1, arbitrary: fc.constantFrom('', 'Bearer', 'Bearer x', `Basic ${Buffer.from('statistics:nope').toString('base64')}`, 'Basic !!!', `Bearer ${'a'.repeat(3000)}`, 'Digest x') },
    { weight: 1, arbitrary: headerValue },
  );
  const extraHeaders = fc.record(
    { 'if-match': headerValue, 'idempotency-key': headerValue, 'last-event-id': headerValue, 'x-request-id': headerValue },
    { requiredKeys: [] },
  );
  return fc.record({ params, query, auth, extraHeaders, body: op.bodyTypes.length || op.method !== 'GET' ? bodyFor(op) : fc.constant<FuzzedBody>({}) }).map(({ params, query, auth, extraHeaders, body }) => {
    const headers: Record<string, string> = { ...extraHeaders };
    if (auth) headers.authorization = auth;
    if (body.contentType) headers['content-type'] = body.contentType;
    const path = op.path.replace(/\{([^}]+)\}/g, (_, name: string) => encodeComponent((params as Record<string, string>)[name] ?? ''));
    return { path, query: query.map(([k, v]) => `${encodeComponent(k)}=${encodeComponent(v)}`).join('&'), headers, body: body.text };
  });
}

/** The registry is not in the document (Confluent's); its routes are fuzzed as well. */
const registryOperations: Operation[] = [
  ['GET', '/registry/subjects'], ['GET', '/registry/subjects/{subject}/versions'], ['GET', '/registry/subjects/{subject}/versions/{version}'],
  ['POST', '/registry/subjects/{subject}/versions'], ['POST', '/registry/subjects/{subject}'], ['DELETE', '/registry/subjects/{subject}'],
  ['GET', '/registry/schemas/ids/{id}'], ['GET', '/registry/schemas/ids/{id}/versions'], ['PUT', '/registry/config/{subject}'],
  ['POST', '/registry/compatibility/subjects/{subject}/versions/{version}'],
].map(([method, path]) => ({
  operationId: `registry ${method} ${path}`,
  method: method!,
  path: path!,
  parameters: [...path!.matchAll(/\{([^}]+)\}/g)].map((m) => ({ name: m[1]!, in: 'path' as const })),
  bodyTypes: method === 'GET' || method === 'DELETE' ? [] : ['application/vnd.schemaregistry.v1+json'],
  authenticated: true,
}));

it('answers every fuzzed request to every route within the deadline, never with a 5xx, and stays healthy', async () => {
  const operations = [...loadOperations(), ...registryOperations];
  const failures: string[] = [];
  let requests = 0;
  let serverErrors = 0;
  let hangs = 0;
  const statuses = new Map<number, number>();
  for (const op of operations) {
    await fc.assert(
      fc.asyncProperty(requestFor(op), async (req) => {
        requests += 1;
        const url = `${stack.url}${req.path}${req.query ? `?${req.query}` : ''}`;
        const controller = new AbortController();
        const timer = setTimeout(() => controller.abort(), DEADLINE_MS);
        let status = 0;
        let text = '';
        try {
          const res = await fetch(url, { method: op.method, headers: req.headers, body: op.method === 'GET' ? undefined : req.body, signal: controller.signal });
          status = res.status;
          // An event stream that opened is a success; it is not read to its end.
          text = res.headers.get('content-type')?.startsWith('text/event-stream') ? '' : await res.text();
        } catch (err) {
          if (controller.signal.aborted) {
            hangs += 1;
            failures.push(`${op.method} ${req.path}: no answer within ${DEADLINE_MS} ms`);
            return false;
          }
          throw err;
        } finally {
          clearTimeout(timer);
          controller.abort();
        }
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status >= 500) {
          serverErrors += 1;
          failures.push(`${op.method} ${req.path}?${req.query.slice(0, 80)}: ${status} ${text.slice(0, 200)}`);
          return false;
        }
        if (status >= 400) {
          const body = JSON.parse(text) as { error?: { code?: unknown }; error_code?: unknown };
          const shaped = op.path.startsWith('/registry') ? typeof body.error_code === 'number' : typeof body.error?.code === 'string';
          if (!shaped) failures.push(`${op.method} ${req.path}: ${status} without an error code: ${text.slice(0, 120)}`);
          return shaped;
        }
        return true;
      }),
      { numRuns: RUNS, endOnFailure: true },
    ).catch((err: Error) => failures.push(`${op.operationId}: ${err.message.split('\n').slice(0, 3).join(' ')}`));
  }
  recordFigures('fuzz', { operations: operations.length, requests, serverErrors, hangs });
  process.stdout.write(`[security] fuzz statuses: ${[...statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(' ')}\n`);

  // The process is healthy and serves an ordinary request as before.
  expect((await fetch(`${stack.url}/healthz`)).status).toBe(200);
  expect((await fetch(`${stack.url}/readyz`)).status).toBe(200);
  const normal = await fetch(`${stack.url}/v1/datasets/${real.dataset}`, { headers: { authorization: `Bearer ${keys.admin}` } });
  expect(normal.status).toBe(200);
  expect(failures).toEqual([]);
}, 600_000);
