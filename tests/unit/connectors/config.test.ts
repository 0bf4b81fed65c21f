import fs from 'node:fs';
import YAML from 'yaml';
import { configEnvNames } from '../../../lib/config';
import { maskSecrets, restoreMaskedSecrets, SECRET_MASK, validateConnectorConfig } from '../../../connectors/config';
import { csvCell } from '../../../connectors/fileSource/fileSource';
import { pgTimestampToIso } from '../../../connectors/postgresSource/postgresSource';
import { compileNaturalType } from '../../../schemas/codec';

const ctx = { fileRoot: '/srv/govx/connect', govxDatabaseUrl: 'postgres://postgres@127.0.0.1:5432/govx' };

const source = (extra: Record<string, string> = {}) => ({
  'connector.class': 'postgres-source',
  'connection.url': 'postgresql://psb:s3cret@10.1.2.3:5432/hukou',
  'table.include.list': 'public.residents',
  dataset: 'population.residents',
  mode: 'timestamp+incrementing',
  'timestamp.column.name': 'updated_at',
  'incrementing.column.name': 'row_id',
  ...extra,
});

const problemsOf = (name: string, raw: Record<string, string>) => {
  const r = validateConnectorConfig(name, raw, ctx);
  return r.ok ? [] : r.problems;
};

describe('connector config validation', () => {
  it('accepts a complete postgres-source config and fills in the defaults', () => {
    const r = validateConnectorConfig('psb-residents', source(), ctx);
    expect(r).toEqual({
      ok: true,
      config: expect.objectContaining({
        connectorClass: 'postgres-source',
        table: 'public.residents',
        batchMaxRows: 500,
        pollIntervalMs: 5000,
        errorsTolerance: 'none',
        deadLetterTopic: null,
      }),
    });
  });

  it('names the key and the allowed range of a bad number', () => {
    expect(problemsOf('x', source({ 'batch.max.rows': '0' }))).toEqual([
      { key: 'batch.max.rows', message: 'config.batch.max.rows must be an integer between 1 and 100000' },
    ]);
    expect(problemsOf('x', source({ 'poll.interval.ms': 'soon' }))[0]!.message).toBe('config.poll.interval.ms must be an integer between 10 and 86400000');
  });

  it('reports every problem at once: unknown keys, missing keys, bad enums', () => {
    const { dataset: _d, ...withoutDataset } = source({ mode: 'bulk', 'tabel.include.list': 'x' });
    const keys = problemsOf('x', withoutDataset).map((p) => p.key).sort();
    expect(keys).toEqual(['dataset', 'mode', 'tabel.include.list']);
    expect(problemsOf('x', source({ mode: 'bulk' }))[0]!.message).toBe('config.mode must be one of "timestamp", "timestamp+incrementing", got "bulk"');
  });

  it('requires the incrementing column only in timestamp+incrementing mode', () => {
    const { 'incrementing.column.name': _i, ...noIncrementing } = source();
    expect(problemsOf('x', noIncrementing).map((p) => p.key)).toEqual(['incrementing.column.name']);
    expect(problemsOf('x', { ...noIncrementing, mode: 'timestamp' })).toEqual([]);
  });

  it('refuses an unknown connector class and a hostile connector name', () => {
    expect(problemsOf('x', { 'connector.class': 'io.confluent.JdbcSource' })[0]!.key).toBe('connector.class');
    expect(problemsOf('../etc', source()).map((p) => p.key)).toContain('name');
  });

  it("refuses a source reading govx's own database", () => {
    const p = problemsOf('x', source({ 'connection.url': 'jdbc:postgresql://localhost/govx' }));
    expect(p).toEqual([{ key: 'connection.url', message: "config.connection.url must not point at govx's own database" }]);
  });

  it('keeps file connectors inside the file root', () => {
    const file = { 'connector.class': 'file-source', dataset: 'population.residents', format: 'csv' };
    expect(problemsOf('x', { ...file, 'file.path': '../../etc' })[0]!.key).toBe('file.path');
    expect(problemsOf('x', { ...file, 'file.path': 'psb/incoming' })).toEqual([]);
    const sink = { 'connector.class': 'file-sink', topics: 'govx.dataset.population.residents' };
    expect(problemsOf('x', { ...sink, file: '/tmp/out.ndjson' })[0]!.key).toBe('file');
  });

  it('dead-letters by default into the dataset DLQ with errors.tolerance=all and refuses other topics', () => {
    const r = validateConnectorConfig('x', source({ 'errors.tolerance': 'all' }), ctx);
    expect(r.ok && r.config.deadLetterTopic).toBe('govx.dlq.population.residents');
    expect(problemsOf('x', source({ 'errors.deadletterqueue.topic.name': 'govx.dataset.legal-entity.registry' }))[0]!.key).toBe(
      'errors.deadletterqueue.topic.name',
    );
    expect(problemsOf('x', source({ 'errors.deadletterqueue.topic.name': 'govx.dlq.connect.x' }))).toEqual([]);
  });

  it('only lets a sink read govx topics', () => {
    const sink = { 'connector.class': 'file-sink', file: 'out.ndjson' };
    expect(problemsOf('x', { ...sink, topics: '__consumer_offsets' })[0]!.key).toBe('topics');
    expect(problemsOf('x', { ...sink, topics: 'govx.dataset.a.b, govx.share.s1' })).toEqual([]);
  });
});

describe('connector secrets', () => {
  it('masks passwords, passwords inside URLs and HMAC secrets', () => {
    const masked = maskSecrets({ ...source(), 'connection.password': 'pw', 'hmac.secret': 'k' });
    expect(masked['connection.password']).toBe(SECRET_MASK);
    expect(masked['hmac.secret']).toBe(SECRET_MASK);
    expect(masked['connection.url']).toBe(`postgresql://psb:${encodeURIComponent(SECRET_MASK)}@10.1.2.3:5432/hukou`);
    expect(JSON.stringify(masked)).not.toContain('s3cret');
    expect(maskSecrets({ 'connection.url': 'jdbc:postgresql://h/db?user=a&password=topsecret' })['connection.url']).not.toContain('topsecret');
  });

  it('keeps the stored secret when a client sends the mask back', () => {
    const stored = { ...source(), 'connection.password': 'pw' };
    const edited = { ...maskSecrets(stored), 'batch.max.rows': '50' };
    expect(restoreMaskedSecrets(edited, stored)).toEqual({ ...stored, 'batch.max.rows': '50' });
  });
});

describe('source value conversion', () => {
  it('turns PostgreSQL timestamps into ISO 8601 in UTC', () => {
    expect(pgTimestampToIso('2024-05-01 08:00:00.123456+00')).toBe('2024-05-01T08:00:00.123Z');
    expect(pgTimestampToIso('2024-05-01 16:00:00+08')).toBe('2024-05-01T08:00:00.000Z');
    expect(pgTimestampToIso('2024-05-01 08:00:00')).toBe('2024-05-01T08:00:00.000Z');
    expect(pgTimestampToIso('infinity')).toBe('infinity');
  });

  it('converts CSV cells by the field type and leaves what does not convert for the schema check', () => {
    const type = compileNaturalType({
      type: 'record',
      name: 'R',
      fields: [
        { name: 'n', type: 'int' },
        { name: 'opt', type: ['null', 'string'] },
        { name: 'ok', type: 'boolean' },
        { name: 'd', type: { type: 'int', logicalType: 'date' } },
      ],
    }) as import('avsc').types.RecordType;
    const cell = (f: string, v: string) => csvCell(type.field(f)!.type, v);
    expect(cell('n', '42')).toBe(42);
    expect(cell('n', 'x42')).toBe('x42');
    expect(cell('opt', '')).toBeNull();
    expect(cell('opt', 'a')).toBe('a');
    expect(cell('ok', 'TRUE')).toBe(true);
    expect(cell('d', '2024-05-01')).toBe('2024-05-01');
  });
});

describe('the connect worker in docker-compose.yml', () => {
  it('uses only variable names that the configuration knows', () => {
    const compose = YAML.parse(fs.readFileSync(`${__dirname}/../../../docker-compose.yml`, 'utf8'));
    const used = Object.keys(compose.services.connect.environment);
    expect(used).toContain('GOVX_CONNECT_FILE_ROOT');
    expect(used.filter((name) => !configEnvNames.includes(name))).toEqual([]);
  });
});
