import YAML from 'yaml';
import { registryRouter } from '../../../gateway/registryRoutes';
import { createLogger } from '../../../lib/logger';
import { httpJson, startTestStack, type TestStack } from '../../support/stack';

// Reading a shared topic from the beginning can take a while on a busy broker.
jest.setTimeout(60_000);

let stack: TestStack;
let admin: string;
beforeAll(async () => {
  stack = await startTestStack();
  admin = await stack.key('info-office', 'admin');
});
afterAll(async () => {
  await stack?.close();
});

/** Every method + path the express app routes, in OpenAPI's `{param}` form. */
function routesOf(router: unknown): string[] {
  const out: string[] = [];
  const stackOf = (r: unknown) => ((r as { stack?: unknown[] })?.stack ?? []) as Array<{ route?: { path: string | RegExp; methods: Record<string, boolean> }; handle?: unknown }>;
  const walk = (r: unknown) => {
    for (const layer of stackOf(r)) {
      if (layer.route) {
        // the console's pages (its static build and the single-page fallback) are not part of the API
        if (typeof layer.route.path !== 'string' || layer.route.path === '/console' || layer.route.path.startsWith('/console/')) continue;
        for (const m of Object.keys(layer.route.methods)) out.push(`${m.toUpperCase()} ${layer.route.path.replace(/:(\w+)/g, '{$1}')}`);
      } else if (stackOf(layer.handle).length) walk(layer.handle);
    }
  };
  walk(router);
  return out;
}

describe('the OpenAPI document', () => {
  it('is served without a key at /v1/openapi.yaml and describes every route the gateway serves', async () => {
    const res = await fetch(`${stack.url}/v1/openapi.yaml`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('yaml');
    const spec = YAML.parse(await res.text());
    expect(spec.openapi).toBe('3.1.0');
    const documented = new Set<string>();
    for (const [path, item] of Object.entries(spec.paths as Record<string, Record<string, unknown>>)) {
      for (const m of ['get', 'post', 'put', 'patch', 'delete']) if (item[m]) documented.add(`${m.toUpperCase()} ${path}`);
    }
    // the registry's routes (mounted under /registry) follow Confluent's API and are documented by Confluent
    const registryRoutes = new Set(routesOf(registryRouter({ pool: stack.pool, keys: stack.gateway.gateway.keys, runtimes: stack.gateway.gateway.runtimes, log: createLogger('silent') })));
    const served = routesOf((stack.gateway.gateway.app as unknown as { router: unknown }).router).filter((r) => !registryRoutes.has(r));
    expect(served.length).toBeGreaterThan(10);
    expect(served.filter((r) => !documented.has(r))).toEqual([]);
  });

  it('is readable as an HTML page at /docs that lists every operation, without any external resource', async () => {
    const res = await fetch(`${stack.url}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    const html = await res.text();
    for (const path of ['/v1/datasets/{id}/records', '/v1/audit/verify', '/v1/datasets/{id}/schemas', '/readyz']) expect(html).toContain(path);
    expect(html).toContain('Idempotency-Key');
    expect(html).not.toMatch(/(src|href)="https?:/);
  });
});

describe('requests checked against the document', () => {
  it('answers 400 request.invalid with the path of each problem in a body', async () => {
    const res = await httpJson(`${stack.url}/v1/datasets`, { method: 'POST', key: admin, body: { id: 'test.x', title: { zh: '测试' }, category: 'weather' } });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('request.invalid');
    const paths = res.body.error.details.map((d: { path: string }) => d.path);
    expect(paths.some((p: string) => p.startsWith('body'))).toBe(true);
    expect(res.body.requestId).toEqual(expect.any(String));
  });

  it('answers 400 request.invalid_query to a badly typed or unknown query parameter', async () => {
    const typed = await httpJson(`${stack.url}/v1/audit?limit=many`, { key: admin });
    expect(typed.status).toBe(400);
    expect(typed.body.error).toMatchObject({ code: 'request.invalid_query', details: [{ path: 'query.limit', message: expect.any(String) }] });
    const unknown = await httpJson(`${stack.url}/v1/datasets?colour=blue`, { key: admin });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.details[0].path).toBe('query.colour');
  });

  it('authenticates before it validates: no key gets 401 even for a malformed request', async () => {
    const res = await httpJson(`${stack.url}/v1/datasets?limit=abc`);
    expect(res.status).toBe(401);
  });

  it('answers 400 request.too_deep to deeply nested JSON on catalog routes', async () => {
    const deep = `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`;
    const res = await httpJson(`${stack.url}/v1/datasets`, { method: 'POST', key: admin, rawBody: deep, headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('request.too_deep');
  });
});
