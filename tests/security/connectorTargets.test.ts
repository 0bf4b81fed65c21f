import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ConnectWorker } from '../../connectors/runtime/worker';
import { type ConnectTestStack, createDepartmentDatabase, eventually, startConnectTestStack } from '../integration/connectors/connectSupport';
import { databaseOf } from '../support/connectorTargets';
import { createIndicatorDataset, requestIndicators } from '../support/fixtures';
import { httpJson } from '../support/stack';
import { recordFigures } from './figures';

jest.setTimeout(240_000);

/**
 * A department (tax) attacks through its connectors: every alias of loopback and govx's own database server,
 * libpq parameters that move the target, unix sockets, webhooks on internal addresses, a webhook that
 * redirects inward, govx's own database reached by name, a withdrawn allowance, and port scanning. Its
 * administrator allowed it exactly one database (its own, on the loopback server that also holds govx's
 * database and civil affairs' database) and one webhook address. SSRF reached counts every connector that
 * was accepted for a target it must not reach, every request that arrived where it must not, and every row
 * read from govx's database; leaks count secrets of others seen in anything the attacker can read.
 */

let stack: ConnectTestStack;
let worker: ConnectWorker | null = null;
let taxSteward: string;
let attackerDb: Awaited<ReturnType<typeof createDepartmentDatabase>>;
let victimDb: Awaited<ReturnType<typeof createDepartmentDatabase>>;
let taxDataset: string;
let subscription: string;
let statsDataset: string;
const govxDb = databaseOf(process.env.DATABASE_URL!);
const pgPort = new URL(process.env.DATABASE_URL!).port || '5432';
const victimSecret = `civil-alert-secret-${Date.now()}-do-not-leak`;
const figures = { requests: 0, leaks: 0, serverErrors: 0, ssrfReached: 0 };
const cleanup: Array<() => Promise<void>> = [];

beforeAll(async () => {
  // the attack fires well over a hundred requests from one key, faster than the per-key limit allows on a quiet
  // machine (429 is not the refusal under test here; the limit has its own suite, abuseLimits.test.ts)
  stack = await startConnectTestStack('ssrf', { GOVX_RATE_LIMIT_KEY_REQUESTS_PER_SEC: '0' });
  taxSteward = await stack.key('tax', 'steward');
  attackerDb = await createDepartmentDatabase('tax');
  victimDb = await createDepartmentDatabase('civil');
  cleanup.push(attackerDb.drop, victimDb.drop);
  taxDataset = await createIndicatorDataset(stack.url, stack.admin, { owner: 'tax' });
  statsDataset = await createIndicatorDataset(stack.url, stack.admin, { owner: 'statistics' });
  subscription = (await requestIndicators(stack.url, await stack.key('tax', 'consumer'), statsDataset)).id;
  stack.dropTopicsOnClose(`govx.share.${subscription}`, `govx.dataset.${statsDataset}`, `govx.dataset.${taxDataset}`);
  // a secret of another department that the attacker would love to read out of govx's database
  const hook = await stack.api('PUT', '/v1/departments/civil-affairs/webhook', { url: 'https://alerts.civil.example.test/govx', secret: victimSecret });
  expect(hook.status).toBe(200);
  // exactly this allowance, whatever other suites of the run allowed tax before (the end-to-end suite gives its
  // http sink loopback webhooks): start from none, then allow the attacker's own database and one public webhook host
  const reset = await stack.api('PUT', '/v1/departments/tax/connector-targets', { postgres: { hosts: [], databases: [] }, webhooks: { hosts: [], allowPrivate: false } });
  expect(reset.status).toBe(200);
  await stack.allowTargets('tax', { postgresHosts: ['127.0.0.1/32'], postgresDatabases: [databaseOf(attackerDb.url)], webhookHosts: ['203.0.113.10'] });
});
afterAll(async () => {
  await worker?.close();
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
  await stack?.close();
  recordFigures('connector confinement', figures);
});

/** Creates a connector as the attacker; counts the request, 5xx and any acceptance of a target it must not reach. */
async function attempt(label: string, config: Record<string, string>, mustRefuse = true): Promise<{ status: number; body: any; name: string }> {
  const name = `${stack.prefix}${label}-${figures.requests}`;
  const res = await stack.api('POST', '/v1/connectors', { name, config }, taxSteward);
  figures.requests++;
  if (res.status >= 500) figures.serverErrors++;
  if (mustRefuse && res.status < 300) figures.ssrfReached++;
  if (JSON.stringify(res.body).includes(victimSecret)) figures.leaks++;
  return { ...res, name };
}

const source = (url: string, table = 'public.connectors') => ({
  'connector.class': 'postgres-source',
  'connection.url': url,
  'table.include.list': table,
  dataset: taxDataset,
  mode: 'timestamp',
  'timestamp.column.name': 'updated_at',
  'poll.interval.ms': '100',
  'errors.retry.timeout': '-1',
});
const sink = (url: string) => ({ 'connector.class': 'postgres-sink', subscription, 'connection.url': url });
const webhook = (url: string, extra: Record<string, string> = {}) => ({ 'connector.class': 'http-sink', subscription, 'http.url': url, ...extra });

/** Every spelling of the loopback server (which holds govx's database) that a resolver or URL parser accepts. */
const LOOPBACK_ALIASES = [
  '127.0.0.1', '127.1', '2130706433', '0x7f000001', '0177.0.0.1', '0x7f.1', 'localhost', 'localhost.', 'LOCALHOST', '0.0.0.0', '0',
  '[::ffff:127.0.0.1]', '[::ffff:7f00:1]', '[0:0:0:0:0:ffff:7f00:1]', '127.0.0.2', '127.255.255.254', '[::1]', '[0:0:0:0:0:0:0:1]', '[::]', 'ip6-localhost', 'ip6-loopback',
];

const refusedCodes = ['connector.target_not_allowed', 'connector.invalid_config'];

describe('PostgreSQL connectors of a department', () => {
  it("never accept govx's database or another department's, by any alias of the server", async () => {
    const answers: string[] = [];
    for (const host of LOOPBACK_ALIASES) {
      for (const db of [govxDb, databaseOf(victimDb.url)]) {
        for (const [kind, config] of [['source', source(`postgresql://postgres@${host}:${pgPort}/${db}`)], ['sink', sink(`postgresql://postgres@${host}:${pgPort}/${db}`)]] as const) {
          const res = await attempt(`alias-${kind}`, config);
          answers.push(`${kind} ${host}/${db === govxDb ? 'govx' : 'civil'}: ${res.status} ${res.body?.error?.code}`);
          expect([`${kind} ${host}`, res.status, refusedCodes.includes(res.body.error?.code)]).toEqual([`${kind} ${host}`, 400, true]);
        }
      }
    }
    expect(answers).toHaveLength(LOOPBACK_ALIASES.length * 4);
  });

  it('refuse connection parameters that move the target or change the session, and unix sockets', async () => {
    const own = `postgresql://postgres@127.0.0.1:${pgPort}/${databaseOf(attackerDb.url)}`;
    const urls = [
      `${own}?host=127.0.0.2`,
      `${own}?host=/var/run/postgresql`,
      `${own}?hostaddr=127.0.0.1`,
      `${own}?port=5433`,
      `${own}?dbname=${govxDb}`,
      `${own}?service=govx`,
      `${own}?options=-c%20search_path%3Dpublic`,
      `${own}?passfile=/root/.pgpass`,
      `${own}?sslrootcert=/etc/passwd`,
      `${own}?sslcert=/etc/ssl/private/key.pem`,
      `${own}?target_session_attrs=any`,
      `${own}?application_name=x&host=127.0.0.1`,
      `postgresql://postgres@/${govxDb}`,
      `postgresql:///${govxDb}?host=/var/run/postgresql`,
      `postgresql://%2Fvar%2Frun%2Fpostgresql/${govxDb}`,
      `postgresql://postgres@127.0.0.1,127.0.0.2/${govxDb}`,
      `postgresql://postgres@127.0.0.1:${pgPort}/${govxDb}`,
      `jdbc:postgresql://127.1:${pgPort}/${govxDb}`,
    ];
    for (const url of urls) {
      for (const config of [source(url), sink(url)]) {
        const res = await attempt('param', config);
        expect([url, res.status, refusedCodes.includes(res.body.error?.code)]).toEqual([url, 400, true]);
      }
    }
  });
});

describe('http-sink connectors of a department', () => {
  it('refuse every internal address and alias, and the department granting itself private targets', async () => {
    const port = new URL(stack.url).port;
    const hosts = [...LOOPBACK_ALIASES, '169.254.169.254', '10.0.0.1', '172.16.0.1', '192.168.1.1', '100.64.0.1', '[fe80::1]', '[fd00::1]', '[::ffff:10.0.0.1]', '224.0.0.1', 'metadata.google.internal'];
    for (const host of hosts) {
      const res = await attempt('hook', webhook(`http://${host}:${port}/v1/keys`));
      expect([host, res.status, refusedCodes.includes(res.body.error?.code)]).toEqual([host, 400, true]);
    }
    const self = await attempt('hook-self', webhook(`http://127.0.0.1:${port}/v1/keys`, { 'http.allow.private': 'true' }));
    expect([self.status, self.body.error.details.errors.map((e: { key: string }) => e.key)]).toEqual([400, ['http.allow.private']]);
  });

  it('do not follow a redirect from an allowed webhook to a target that is not allowed', async () => {
    let victimHits = 0;
    const victim = http.createServer((_req, res) => {
      victimHits++;
      res.end();
    });
    await new Promise<void>((r) => victim.listen(0, '127.0.0.2', r));
    const victimPort = (victim.address() as AddressInfo).port;
    let redirects = 0;
    const redirector = http.createServer((req, res) => {
      req.resume();
      redirects++;
      res.writeHead(307, { location: `http://127.0.0.2:${victimPort}/steal` }).end();
    });
    await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => victim.close(() => r())), () => new Promise((r) => redirector.close(() => r())));
    // the administrator allows this one loopback webhook receiver
    await stack.allowTargets('tax', { webhookHosts: ['127.0.0.1/32'], allowPrivateWebhooks: true });
    const hook = await attempt('redirect', webhook(`http://127.0.0.1:${(redirector.address() as AddressInfo).port}/hook`, { 'errors.tolerance': 'all' }), false);
    expect(hook.status).toBe(201);
    const publisher = await stack.key('statistics', 'publisher');
    const published = await httpJson(`${stack.url}/v1/datasets/${statsDataset}/records`, { key: publisher, body: { records: [{ code: 'R1', value: 1 }, { code: 'R2', value: 2 }] } });
    expect(published.body.accepted).toBe(2);
    worker ??= await stack.startWorker();
    const status = await stack.waitForStatus(hook.name, (s) => s.records.deadLettered >= 2, 90_000);
    expect(status.records.out).toBe(0);
    expect(redirects).toBeGreaterThan(0);
    expect(victimHits).toBe(0);
    figures.requests += redirects;
    figures.ssrfReached += victimHits;
  });
});

describe("govx's own database", () => {
  it('is refused after connecting, by its identity, even when an administrator allowed its name by mistake', async () => {
    await stack.allowTargets('tax', { postgresDatabases: [govxDb] });
    const names: string[] = [];
    for (const table of ['public.connectors', 'public.govx_secrets', 'public.notification_webhooks']) {
      const res = await attempt('govx-by-name', source(`postgresql://postgres@127.0.0.1:${pgPort}/${govxDb}`, table), false);
      expect(res.status).toBe(201);
      names.push(res.name);
    }
    const sinkRes = await attempt('govx-sink', { ...sink(`postgresql://postgres@127.0.0.1:${pgPort}/${govxDb}`), 'table.name.format': 'public.audit_log' }, false);
    expect(sinkRes.status).toBe(201);
    names.push(sinkRes.name);
    worker ??= await stack.startWorker();
    for (const name of names) {
      const status = await stack.waitForStatus(name, (s) => s.connector.state === 'FAILED', 90_000);
      expect(status.connector.trace).toContain('connector.target_not_allowed');
      expect(status.records.out).toBe(0);
      figures.ssrfReached += status.records.out + status.records.deadLettered;
      const text = JSON.stringify(status);
      if (text.includes(victimSecret)) figures.leaks++;
      expect(text).not.toContain(victimSecret);
    }
    // the sink wrote nothing into govx's database
    const { rows } = await stack.pool.query("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name = 'govx_sink_offsets'");
    expect(rows[0].n).toBe(0);
  });

  it('is refused at the next connection when an allowance is withdrawn (DNS and allowances can change)', async () => {
    const own = databaseOf(attackerDb.url);
    await attackerDb.client.query('CREATE TABLE IF NOT EXISTS public.indicators (code text PRIMARY KEY, value double precision, updated_at timestamptz NOT NULL)');
    const res = await attempt('withdrawn', source(`postgresql://postgres@127.0.0.1:${pgPort}/${own}`, 'public.indicators'), false);
    expect(res.status).toBe(201);
    worker ??= await stack.startWorker();
    await stack.waitForStatus(res.name, (s) => s.connector.state === 'RUNNING', 90_000);
    const current = (await stack.api('GET', '/v1/departments/tax/connector-targets')).body;
    const put = await stack.api('PUT', '/v1/departments/tax/connector-targets', { postgres: { hosts: current.postgres.hosts, databases: [] }, webhooks: current.webhooks });
    expect(put.status).toBe(200);
    // a restart opens a new connection, which is checked against the allowance as it is now
    expect((await stack.api('POST', `/v1/connectors/${res.name}/restart`, undefined, taxSteward)).status).toBe(202);
    worker ??= await stack.startWorker();
    const status = await stack.waitForStatus(res.name, (s) => s.connector.state === 'FAILED', 90_000);
    expect(status.connector.trace).toContain('connector.target_not_allowed');
  });
});

describe('port scanning through a connector', () => {
  it('gives one answer for a closed port, an open port that is not PostgreSQL, a refused login and a missing database', async () => {
    const own = databaseOf(attackerDb.url);
    await stack.allowTargets('tax', { postgresDatabases: [own, 'no_such_database'] });
    const closed = await new Promise<number>((resolve) => {
      const s = http.createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as AddressInfo;
        s.close(() => resolve(port));
      });
    });
    const cases = {
      closedPort: `postgresql://postgres@127.0.0.1:${closed}/${own}`,
      openHttpPort: `postgresql://postgres@127.0.0.1:${new URL(stack.url).port}/${own}`,
      refusedLogin: `postgresql://no_such_role@127.0.0.1:${pgPort}/${own}`,
      missingDatabase: `postgresql://postgres@127.0.0.1:${pgPort}/no_such_database`,
    };
    const names: Record<string, string> = {};
    for (const [label, url] of Object.entries(cases)) {
      const res = await attempt(`scan-${label}`, source(url, 'public.t'), false);
      expect([label, res.status]).toEqual([label, 201]);
      names[label] = res.name;
    }
    worker ??= await stack.startWorker();
    const answers: Record<string, string> = {};
    for (const [label, name] of Object.entries(names)) {
      const status = await stack.waitForStatus(name, (s) => s.lastError !== null, 90_000);
      figures.requests++;
      answers[label] = `${status.connector.state} ${String(status.lastError.message).replace(/attempt \d+/, 'attempt n')}`;
    }
    expect(new Set(Object.values(answers)).size).toBe(1);
    expect(Object.values(answers)[0]).toContain('connection.failed');
    await eventually('the scans stopped', async () => {
      for (const name of Object.values(names)) await stack.api('DELETE', `/v1/connectors/${name}`);
      return true;
    });
  });
});
