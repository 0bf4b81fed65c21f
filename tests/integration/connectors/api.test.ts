import { getConnector } from '../../../connectors/runtime/store';
import fs from 'node:fs';
import path from 'node:path';
import type { ConnectWorker } from '../../../connectors/runtime/worker';
import { generateSample } from '../../../schemas/samples';
import { type ConnectTestStack, eventually, startConnectTestStack } from './connectSupport';

jest.setTimeout(120_000);

let stack: ConnectTestStack;
let psbSteward: string;
let amrSteward: string;
let psbPublisher: string;

beforeAll(async () => {
  stack = await startConnectTestStack('api');
  [psbSteward, amrSteward, psbPublisher] = await Promise.all([stack.key('psb', 'steward'), stack.key('amr', 'steward'), stack.key('psb', 'publisher')]);
  await stack.allowTargets('psb', { postgresHosts: ['10.20.30.0/24'], postgresDatabases: ['hukou'] });
});
afterAll(async () => {
  await stack?.close();
});

const fileSource = (dir: string) => ({ 'connector.class': 'file-source', dataset: 'population.residents', 'file.path': dir, format: 'ndjson', 'poll.interval.ms': '100' });

describe('the connectors API', () => {
  it("lets a department's steward create a source for its own dataset and shows it only to that department", async () => {
    const name = `${stack.prefix}psb-files`;
    const created = await stack.api('POST', '/v1/connectors', { name, config: fileSource('psb-in') }, psbSteward);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name, type: 'source', owner: 'psb', config: { 'connector.class': 'file-source', name } });

    const listPsb = await stack.api('GET', '/v1/connectors', undefined, psbSteward);
    expect(listPsb.body).toContain(name);
    const listAmr = await stack.api('GET', '/v1/connectors', undefined, amrSteward);
    expect(listAmr.body).not.toContain(name);
    const asAmr = await stack.api('GET', `/v1/connectors/${name}/status`, undefined, amrSteward);
    expect(asAmr.status).toBe(404);
    expect(asAmr.body.error.code).toBe('connector.not_found');
    const expanded = await stack.api('GET', '/v1/connectors?expand=status,info');
    expect(expanded.body[name]).toMatchObject({ info: { name }, status: { name, connector: { state: 'UNASSIGNED' } } });
  });

  it('refuses a config with the key and the reason named, and a duplicate name with 409', async () => {
    const bad = await stack.api('POST', '/v1/connectors', { name: `${stack.prefix}bad`, config: { ...fileSource('x'), 'batch.max.rows': '0', format: 'xml' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('connector.invalid_config');
    expect(bad.body.error.message).toContain('config.batch.max.rows must be an integer between 1 and 100000');
    expect(bad.body.error.details.errors.map((e: { key: string }) => e.key).sort()).toEqual(['batch.max.rows', 'format']);

    const noDataset = await stack.api('POST', '/v1/connectors', { name: `${stack.prefix}nods`, config: { ...fileSource('x'), dataset: 'population.nobody' } });
    expect(noDataset.status).toBe(400);
    expect(noDataset.body.error.message).toContain('config.dataset');

    const name = `${stack.prefix}twice`;
    expect((await stack.api('POST', '/v1/connectors', { name, config: fileSource('twice') })).status).toBe(201);
    const again = await stack.api('POST', '/v1/connectors', { name, config: fileSource('twice') });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('connector.exists');
    const notJson = await stack.api('POST', '/v1/connectors', ['x']);
    expect(notJson.status).toBe(400);
  });

  it("refuses other departments' datasets, publishers, and sinks from departments", async () => {
    const other = await stack.api('POST', '/v1/connectors', { name: `${stack.prefix}amr-on-psb`, config: fileSource('x') }, amrSteward);
    expect(other.status).toBe(403);
    expect(other.body.error.code).toBe('auth.forbidden');
    const publisher = await stack.api('POST', '/v1/connectors', { name: `${stack.prefix}pub`, config: fileSource('x') }, psbPublisher);
    expect(publisher.status).toBe(403);
    const sink = await stack.api(
      'POST',
      '/v1/connectors',
      { name: `${stack.prefix}sink`, config: { 'connector.class': 'file-sink', topics: 'govx.dataset.population.residents', file: 'out.ndjson' } },
      psbSteward,
    );
    expect(sink.status).toBe(403);
    expect((await stack.api('GET', `/v1/connectors/${stack.prefix}sink`)).status).toBe(404);
  });

  it('never returns or audits a secret, and keeps it when the masked config is sent back', async () => {
    const name = `${stack.prefix}pg-secret`;
    const config = {
      'connector.class': 'postgres-source',
      'connection.url': 'postgresql://psb_reader:url-s3cret@10.20.30.40:5432/hukou',
      'connection.password': 'pw-s3cret',
      'table.include.list': 'public.residents',
      dataset: 'population.residents',
      mode: 'timestamp',
      'timestamp.column.name': 'updated_at',
    };
    const created = await stack.api('POST', '/v1/connectors', { name, config }, psbSteward);
    expect(created.status).toBe(201);
    const shown = [created, await stack.api('GET', `/v1/connectors/${name}`), await stack.api('GET', `/v1/connectors/${name}/config`)];
    for (const res of shown) {
      expect(JSON.stringify(res.body)).not.toMatch(/s3cret/);
    }
    expect(shown[2]!.body['connection.password']).toBe('********');

    const edited = { ...shown[2]!.body, 'batch.max.rows': '50' };
    const put = await stack.api('PUT', `/v1/connectors/${name}/config`, edited, psbSteward);
    expect(put.status).toBe(200);
    // the runtime gets the real secrets back (unsealed); the database column holds them only masked
    const definition = await getConnector(stack.pool, name);
    expect(definition?.config).toMatchObject({ 'connection.password': 'pw-s3cret', 'connection.url': config['connection.url'], 'batch.max.rows': '50' });
    const { rows } = await stack.pool.query('SELECT config::text AS config, sealed_config FROM connectors WHERE name = $1', [name]);
    expect(rows[0].config).not.toMatch(/s3cret/);
    expect(rows[0].sealed_config).toMatch(/^sealed:/);

    const audit = await stack.pool.query(`SELECT action, details FROM audit_log WHERE target = $1 ORDER BY seq`, [`connector:${name}`]);
    expect(audit.rows.map((r) => r.action)).toEqual(['connector.create', 'connector.update']);
    expect(JSON.stringify(audit.rows)).not.toMatch(/s3cret/);
  });

  describe('with a worker running', () => {
    let worker: ConnectWorker;
    beforeAll(async () => {
      worker = await stack.startWorker();
    });
    afterAll(async () => {
      await worker?.close();
    });

    it('restarts a connector with its new config after PUT …/config, and after POST …/restart', async () => {
      const name = `${stack.prefix}reconfigured`;
      fs.mkdirSync(path.join(stack.dirOf('psb'), 'empty'));
      fs.mkdirSync(path.join(stack.dirOf('psb'), 'full'));
      fs.writeFileSync(path.join(stack.dirOf('psb'), 'full', 'a.ndjson'), generateSample('population.residents', 2, 5151).map((r) => JSON.stringify(r)).join('\n'));
      expect((await stack.api('POST', '/v1/connectors', { name, config: fileSource('empty') }, psbSteward)).status).toBe(201);
      await stack.waitForStatus(name, (s) => s.connector.state === 'RUNNING');
      const put = await stack.api('PUT', `/v1/connectors/${name}/config`, fileSource('full'), psbSteward);
      expect(put.status).toBe(200);
      expect(put.body.config['file.path']).toBe('full');
      await stack.waitForStatus(name, (s) => s.records.out === 2);

      const changeClass = await stack.api('PUT', `/v1/connectors/${name}/config`, { ...fileSource('full'), 'connector.class': 'file-sink' }, psbSteward);
      expect(changeClass.status).toBe(400);
      expect((await stack.api('POST', `/v1/connectors/${name}/restart`, undefined, psbSteward)).status).toBe(202);
      const { rows } = await stack.pool.query('SELECT generation FROM connectors WHERE name = $1', [name]);
      expect(rows[0].generation).toBe(3);
      // The restarted task finds the file done: nothing is published twice.
      await stack.waitForStatus(name, (s) => s.connector.state === 'RUNNING');
      await eventually('the restarted task', async () => worker.running().includes(name));
      expect((await stack.waitForStatus(name, () => true)).records.out).toBe(2);
    });

    it('pauses, resumes and deletes a connector on the worker within seconds, and audits each step', async () => {
      const name = `${stack.prefix}lifecycle`;
      const dir = path.join(stack.dirOf('psb'), 'lifecycle');
      fs.mkdirSync(dir);
      expect((await stack.api('POST', '/v1/connectors', { name, config: fileSource('lifecycle') }, psbSteward)).status).toBe(201);
      await stack.waitForStatus(name, (s) => s.connector.state === 'RUNNING');

      expect((await stack.api('PUT', `/v1/connectors/${name}/pause`, undefined, psbSteward)).status).toBe(202);
      await stack.waitForStatus(name, (s) => s.connector.state === 'PAUSED');
      await eventually('the worker to stop the task', async () => !worker.running().includes(name));
      // A file arriving while paused waits for the resume.
      fs.writeFileSync(path.join(dir, 'a.ndjson'), generateSample('population.residents', 3, 4242).map((r) => JSON.stringify(r)).join('\n'));
      await new Promise((r) => setTimeout(r, 1000));
      expect((await stack.waitForStatus(name, () => true)).records.out).toBe(0);

      expect((await stack.api('PUT', `/v1/connectors/${name}/resume`, undefined, psbSteward)).status).toBe(202);
      const resumed = await stack.waitForStatus(name, (s) => s.connector.state === 'RUNNING' && s.records.out === 3);
      expect(resumed.records).toEqual({ in: 3, out: 3, deadLettered: 0 });

      expect((await stack.api('DELETE', `/v1/connectors/${name}`, undefined, psbSteward)).status).toBe(204);
      expect((await stack.api('GET', `/v1/connectors/${name}/status`)).status).toBe(404);
      await eventually('the worker to stop the deleted connector', async () => !worker.running().includes(name));

      const audit = await stack.pool.query(`SELECT action, actor_department FROM audit_log WHERE target = $1 ORDER BY seq`, [`connector:${name}`]);
      expect(audit.rows.map((r) => r.action)).toEqual(['connector.create', 'connector.pause', 'connector.resume', 'connector.delete']);
      expect(new Set(audit.rows.map((r) => r.actor_department))).toEqual(new Set(['psb']));
    });
  });
});
