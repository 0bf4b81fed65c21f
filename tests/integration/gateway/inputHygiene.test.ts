import { httpJson, startTestStack, type TestStack } from '../../support/stack';
import { inOneYear } from '../../support/fixtures';

/**
 * Text that PostgreSQL cannot store or that would be stored as something else — NUL characters, unpaired
 * surrogates, bytes that are not UTF-8, control characters in the request line — answers 400
 * request.invalid_text saying where, on every route, and never reaches a handler (these once answered 500).
 */

let stack: TestStack;
let consumer: string;
let steward: string;
let publisher: string;
beforeAll(async () => {
  stack = await startTestStack();
  consumer = await stack.key('civil-affairs', 'consumer');
  steward = await stack.key('civil-affairs', 'steward');
  publisher = await stack.key('psb', 'publisher');
});
afterAll(async () => {
  await stack?.close();
});

/** A raw request, so the test controls every byte of the URL and body. */
async function raw(path: string, init: { method?: string; key?: string; body?: string | Buffer; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  if (init.key) headers.authorization = `Bearer ${init.key}`;
  if (init.body !== undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(`${stack.url}${path}`, { method: init.method ?? (init.body === undefined ? 'GET' : 'POST'), headers, body: init.body });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body };
}

const subscriptionBody = (purpose: string): string =>
  `{"dataset":"legal-entity.registry","fields":["name"],"purpose":${purpose},"expiresAt":"${inOneYear()}"}`;

it.each([
  ['a NUL in a purpose', () => raw('/v1/subscriptions', { key: consumer, body: subscriptionBody('"高龄\\u0000津贴"') }), 'body.purpose'],
  ['an unpaired surrogate in a purpose', () => raw('/v1/subscriptions', { key: consumer, body: subscriptionBody('"\\ud800x"') }), 'body.purpose'],
  ['a NUL in a member name', () => raw('/v1/subscriptions', { key: consumer, body: '{"a\\u0000b": 1}' }), 'body.a\\u0000b'],
  [
    'a NUL in a connector config',
    () => raw('/v1/connectors', { key: steward, body: JSON.stringify({ name: 'c1', config: { 'connector.class': 'postgres-sink', 'connection.url': 'postgres://x/\u0000' } }) }),
    'body.config.connection.url',
  ],
  ['a NUL in a dataset id', () => raw('/v1/datasets/abc%00def', { key: consumer }), 'path'],
  ['bytes that are not UTF-8 in the path', () => raw('/v1/datasets/%ED%A0%80', { key: consumer }), 'path'],
  ['a control character in the query', () => raw('/v1/datasets?q=a%0Ab', { key: consumer }), 'query.q'],
  ['bytes that are not UTF-8 in the query', () => raw('/v1/datasets?q=%FF', { key: consumer }), 'query.q'],
  ['a body that is not UTF-8', () => raw('/v1/subscriptions', { key: consumer, body: Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]) }), 'body'],
  ['a NUL in a published record', () => raw('/v1/datasets/population.residents/records', { key: publisher, body: '{"records":[{"name":"a\\u0000"}]}' }), 'records[0].name'],
  ['an unpaired surrogate in an NDJSON line', () => raw('/v1/datasets/population.residents/records', { key: publisher, body: '{"name":"\\udc00"}\n', headers: { 'content-type': 'application/x-ndjson' } }), 'records[0].name'],
  ['a header that is not ASCII', () => raw('/v1/datasets/population.residents', { key: consumer, method: 'PATCH', body: '{}', headers: { 'if-match': '"v\u00e9"' } }), 'header.if-match'],
])('refuses %s with 400 request.invalid_text', async (_what, send, path) => {
  const res = await send();
  expect(res.status).toBe(400);
  expect(res.body.error.code).toBe('request.invalid_text');
  expect(res.body.error.details[0].path).toBe(path);
});

it('refuses a NUL in a registry subject as an invalid subject, in Confluent\'s shape', async () => {
  const res = await raw('/registry/subjects/bad%00name/versions', { key: consumer });
  expect(res.status).toBe(422);
  expect(res.body.error_code).toBe(42208);
});

it('still accepts line breaks and tabs in body text, and well-formed characters beyond the BMP', async () => {
  const res = await httpJson(`${stack.url}/v1/subscriptions`, {
    key: consumer,
    body: { dataset: 'legal-entity.registry', fields: ['name'], purpose: '核验\n第二行\t𠀀', expiresAt: inOneYear() },
  });
  expect(res.status).toBe(201);
  expect(res.body.purpose).toBe('核验\n第二行\t𠀀');
});
