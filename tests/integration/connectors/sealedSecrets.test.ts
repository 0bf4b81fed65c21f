import { allowConnectorTargets } from '../../support/connectorTargets';
import { httpJson, startTestStack, type TestStack } from '../../support/stack';

/**
 * Connector secrets at rest: whoever reads govx's database (a backup, a replica, a connector pointed at it) finds
 * no password and no HMAC secret, only a value sealed with a key that is not in the database; the API never
 * returns them; the runtime still gets the real config.
 */

const run = Math.random().toString(36).slice(2, 8);
const PASSWORD = `pw-${run}-Secr3t`;
let stack: TestStack;
let admin: string;
let steward: string;

beforeAll(async () => {
  stack = await startTestStack({ GOVX_DISTRIBUTOR: 'false', GOVX_CONNECT_WORKER: 'false' });
  admin = await stack.key('info-office', 'admin');
  steward = await stack.key('psb', 'steward');
  await allowConnectorTargets(stack.url, admin, 'psb', { postgresHosts: ['127.0.0.1'], postgresDatabases: [`psb_sealed_${run}`] });
});
afterAll(async () => {
  await stack?.close();
});

const config = (password: string) => ({
  'connector.class': 'postgres-source',
  'connection.url': `postgresql://reader:${password}@127.0.0.1:5432/psb_sealed_${run}`,
  'table.include.list': 'residents',
  dataset: 'population.residents',
  mode: 'timestamp',
  'timestamp.column.name': 'updated_at',
});

it('stores a connector password only sealed, returns it masked, and keeps it through an edit of another key', async () => {
  const name = `sealed-${run}`;
  const created = await httpJson(`${stack.url}/v1/connectors`, { key: steward, body: { name, config: config(PASSWORD) } });
  expect(created.status).toBe(201);
  expect(JSON.stringify(created.body)).not.toContain(PASSWORD);

  const row = async () => (await stack.pool.query('SELECT config::text AS config, sealed_config FROM connectors WHERE name = $1', [name])).rows[0];
  const stored = await row();
  expect(stored.config).not.toContain(PASSWORD);
  expect(stored.config).toContain('********');
  expect(stored.sealed_config).toMatch(/^sealed:/);
  expect(stored.sealed_config).not.toContain(PASSWORD);
  // the whole database, as text, does not hold it either
  const { rows } = await stack.pool.query("SELECT count(*)::int AS n FROM connectors c WHERE c::text LIKE '%' || $1 || '%'", [PASSWORD]);
  expect(rows[0].n).toBe(0);

  const got = await httpJson(`${stack.url}/v1/connectors/${name}/config`, { key: steward });
  expect(got.status).toBe(200);
  expect(JSON.stringify(got.body)).not.toContain(PASSWORD);

  // an edit sends the masked URL back with another key changed: the sealed password is kept, not the mask
  const edited = await httpJson(`${stack.url}/v1/connectors/${name}/config`, { method: 'PUT', key: steward, body: { ...got.body, 'poll.interval.ms': '2000' } });
  expect([200, 201]).toContain(edited.status);
  const { getConnector } = await import('../../../connectors/runtime/store');
  const definition = await getConnector(stack.pool, name);
  expect(definition?.config['connection.url']).toBe(config(PASSWORD)['connection.url']);
  expect(definition?.config['poll.interval.ms']).toBe('2000');
  expect((await row()).config).not.toContain(PASSWORD);
});

it('seals a definition stored in clear (before sealing existed) at the next start-up', async () => {
  const name = `legacy-${run}`;
  await stack.pool.query(
    `INSERT INTO connectors (name, connector_class, owner, config, created_by) VALUES ($1, 'postgres-source', 'psb', $2, 'test')`,
    [name, JSON.stringify(config(`${PASSWORD}-old`))],
  );
  await stack.pool.query('INSERT INTO connector_status (name) VALUES ($1) ON CONFLICT DO NOTHING', [name]);
  const { sealStoredConnectorSecrets, getConnector } = await import('../../../connectors/runtime/store');
  expect(await sealStoredConnectorSecrets(stack.pool)).toBeGreaterThanOrEqual(1);
  const stored = (await stack.pool.query('SELECT config::text AS config, sealed_config FROM connectors WHERE name = $1', [name])).rows[0];
  expect(stored.config).not.toContain(`${PASSWORD}-old`);
  expect(stored.sealed_config).toMatch(/^sealed:/);
  expect((await getConnector(stack.pool, name))?.config['connection.url']).toBe(config(`${PASSWORD}-old`)['connection.url']);
});
