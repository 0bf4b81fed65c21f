import pg from 'pg';
import { migrate } from '../../../catalog/migrate';
import { SchemaCache } from '../../../catalog/registry/schemaCache';
import { registerSchema } from '../../../catalog/registry/store';
import { createPool, type Pool } from '../../../lib/db';
import { PostgresSinkWriter, type PostgresSinkOptions } from '../../../connectors/postgresSink/postgresSink';
import type { SinkRecord } from '../../../connectors/runtime/sinkTask';
import { TargetGuard } from '../../../connectors/targets';
import { allowConnectorTargetsInDb, localDatabase } from '../../support/connectorTargets';

let govx: Pool;
let targetUrl: string;
let target: pg.Pool;
const dbName = `govx_sink_${Date.now().toString(36)}`;

const buildings = {
  type: 'record',
  name: 'Building',
  namespace: 'govx.geospatial',
  fields: [
    { name: 'feature_id', type: 'string' },
    { name: 'name', type: ['null', 'string'], default: null },
    { name: 'floors', type: 'int' },
    { name: 'geometry', type: 'string', 'govx.check': 'geojson-geometry' },
    { name: 'updated_at', type: { type: 'long', logicalType: 'timestamp-millis' } },
  ],
};
let schemaId: number;
const permits = {
  type: 'record',
  name: 'Permit',
  namespace: 'govx.test',
  fields: [
    { name: 'permit_no', type: 'string' },
    { name: 'issued_on', type: { type: 'int', logicalType: 'date' } },
    { name: 'fee', type: ['null', 'double'], default: null },
    { name: 'remarks', type: ['null', 'string'], default: null },
  ],
};
let permitSchemaId: number;

beforeAll(async () => {
  govx = createPool(process.env.DATABASE_URL!, { max: 3 });
  await migrate(govx);
  schemaId = (await registerSchema(govx, `sink-test-${dbName}-value`, JSON.stringify(buildings))).id;
  permitSchemaId = (await registerSchema(govx, `sink-permits-${dbName}-value`, JSON.stringify(permits))).id;
  const admin = new pg.Client({ connectionString: new URL('/postgres', process.env.DATABASE_URL!).toString() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  targetUrl = new URL(`/${dbName}`, process.env.DATABASE_URL!).toString();
  target = new pg.Pool({ connectionString: targetUrl, max: 2 });
  await allowConnectorTargetsInDb(govx, 'planning', localDatabase(targetUrl));
});
afterAll(async () => {
  await target?.end();
  await govx?.end();
  const admin = new pg.Client({ connectionString: new URL('/postgres', process.env.DATABASE_URL!).toString() });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end();
});

const square = (x: number) => JSON.stringify({ type: 'Polygon', coordinates: [[[x, 39.9], [x + 0.001, 39.9], [x + 0.001, 39.901], [x, 39.901], [x, 39.9]]] });
let offset = 0;
function record(key: string | null, value: Record<string, unknown> | null, partition = 0): SinkRecord {
  return {
    topic: 'govx.share.sub-test', partition, offset: String(offset++), timestamp: new Date().toISOString(), key, schemaId: value ? schemaId : null, value,
    headers: { 'govx-subscription': 'sub-test', 'govx-published-at': '2026-01-01T00:00:00.000Z', 'govx-trace-id': 'trace-1' },
  };
}
const building = (id: string, floors: number, x = 116.3) => ({ feature_id: id, name: null, floors, geometry: square(x), updated_at: '2026-01-01T00:00:00.000Z' });

function writer(overrides: Partial<PostgresSinkOptions> = {}): PostgresSinkWriter {
  return new PostgresSinkWriter(
    { connector: 'pg-sink-test', guard: new TargetGuard(govx), department: 'planning', connectionUrl: targetUrl, tableNameFormat: 'planning_buildings', subscription: 'sub-test', insertMode: 'upsert', autoCreate: true, autoEvolve: true, deleteEnabled: true, ...overrides },
    new SchemaCache(govx),
  );
}

describe('the PostgreSQL sink writer', () => {
  it('creates a PostGIS table from the schema and upserts by key, with lineage columns', async () => {
    const w = writer();
    await w.open();
    try {
      const batch = [record('B1', building('B1', 3)), record('B2', building('B2', 5)), record('B1', building('B1', 4))];
      expect(await w.write(batch)).toEqual({ failed: [] });
      const { rows } = await target.query(
        `SELECT feature_id, floors, ST_GeometryType(geometry) AS g, ST_SRID(geometry) AS srid, ST_IsValid(geometry) AS valid,
                _govx_subscription, _govx_schema_id, _govx_trace_id, _govx_published_at FROM planning_buildings ORDER BY feature_id`,
      );
      expect(rows).toEqual([
        expect.objectContaining({ feature_id: 'B1', floors: 4, g: 'ST_Polygon', srid: 4326, valid: true, _govx_subscription: 'sub-test', _govx_schema_id: schemaId, _govx_trace_id: 'trace-1' }),
        expect.objectContaining({ feature_id: 'B2', floors: 5, g: 'ST_Polygon' }),
      ]);
    } finally {
      await w.close();
    }
  });

  it('absorbs a redelivered batch: offsets committed with the rows skip it', async () => {
    const w = writer();
    await w.open();
    try {
      const batch = [record('B3', building('B3', 7)), record('B4', building('B4', 8))];
      await w.write(batch);
      await target.query(`UPDATE planning_buildings SET floors = 99 WHERE feature_id = 'B3'`);
      await w.write(batch); // a crash after COMMIT but before the Kafka commit re-delivers it
      const { rows } = await target.query(`SELECT floors FROM planning_buildings WHERE feature_id = 'B3'`);
      expect(rows[0].floors).toBe(99);
    } finally {
      await w.close();
    }
  });

  it('deletes on a tombstone and reports a record PostGIS refuses without losing the others', async () => {
    const w = writer();
    await w.open();
    try {
      const result = await w.write([record('B2', null), record('B5', { ...building('B5', 1), geometry: '{"type":"Polygon","coordinates":"nonsense"}' }), record('B6', building('B6', 2))]);
      expect(result.failed).toEqual([expect.objectContaining({ index: 1, errorClass: expect.stringMatching(/^postgres:/) })]);
      const { rows } = await target.query('SELECT feature_id FROM planning_buildings ORDER BY feature_id');
      expect(rows.map((r) => r.feature_id)).toEqual(['B1', 'B3', 'B4', 'B6']);
    } finally {
      await w.close();
    }
  });

  it('adds columns when a later schema adds fields (auto.evolve), and refuses without it', async () => {
    const evolved = { ...buildings, fields: [...buildings.fields, { name: 'height_m', type: ['null', 'double'], default: null }] };
    const evolvedId = (await registerSchema(govx, `sink-test-${dbName}-value`, JSON.stringify(evolved))).id;
    const strict = writer({ autoEvolve: false });
    await strict.open();
    const r = { ...record('B7', { ...building('B7', 9), height_m: 31.5 }), schemaId: evolvedId };
    await expect(strict.write([r])).rejects.toThrow(/auto.evolve/);
    await strict.close();
    const w = writer();
    await w.open();
    try {
      await w.write([{ ...r, offset: String(offset++) }]);
      const { rows } = await target.query(`SELECT height_m FROM planning_buildings WHERE feature_id = 'B7'`);
      expect(rows[0].height_m).toBe(31.5);
    } finally {
      await w.close();
    }
  });

  it('appends in insert mode straight into the table (quotes, commas, empty strings and nulls intact), and a redelivered batch adds no row', async () => {
    const w = writer({ connector: 'pg-sink-insert-test', insertMode: 'insert', tableNameFormat: 'permits_appended' });
    await w.open();
    const permit = (key: string, value: Record<string, unknown>, partition = 0): SinkRecord => ({ ...record(key, value, partition), schemaId: permitSchemaId });
    try {
      const batch = [
        permit('P1', { permit_no: 'P1', issued_on: '2026-03-01', fee: 12.5, remarks: 'a "quoted", comma\nand a newline' }),
        permit('P2', { permit_no: 'P2', issued_on: '2026-03-02', fee: null, remarks: '' }, 1),
        permit('P1', { permit_no: 'P1', issued_on: '2026-03-03', fee: 1, remarks: null }),
      ];
      expect(await w.write(batch)).toEqual({ failed: [] });
      expect(await w.write(batch)).toEqual({ failed: [] }); // a crash after COMMIT but before the Kafka commit re-delivers it
      expect(await w.write([batch[2]!, permit('P3', { permit_no: 'P3', issued_on: '2026-03-04', fee: 3, remarks: 'x' }, 1)])).toEqual({ failed: [] });
      const { rows } = await target.query(`SELECT permit_no, issued_on::text AS issued_on, fee, remarks, _govx_partition, _govx_schema_id FROM permits_appended ORDER BY _govx_offset`);
      expect(rows).toEqual([
        { permit_no: 'P1', issued_on: '2026-03-01', fee: 12.5, remarks: 'a "quoted", comma\nand a newline', _govx_partition: 0, _govx_schema_id: permitSchemaId },
        { permit_no: 'P2', issued_on: '2026-03-02', fee: null, remarks: '', _govx_partition: 1, _govx_schema_id: permitSchemaId },
        { permit_no: 'P1', issued_on: '2026-03-03', fee: 1, remarks: null, _govx_partition: 0, _govx_schema_id: permitSchemaId },
        { permit_no: 'P3', issued_on: '2026-03-04', fee: 3, remarks: 'x', _govx_partition: 1, _govx_schema_id: permitSchemaId },
      ]);
    } finally {
      await w.close();
    }
  });

  it('in insert mode reports the record the table refuses by its index and appends the others once', async () => {
    const w = writer({ connector: 'pg-sink-insert-bad', insertMode: 'insert', tableNameFormat: 'permits_refused' });
    await w.open();
    const permit = (key: string, value: Record<string, unknown>): SinkRecord => ({ ...record(key, value), schemaId: permitSchemaId });
    try {
      const batch = [
        permit('Q1', { permit_no: 'Q1', issued_on: '2026-03-01', fee: null, remarks: null }),
        permit('Q2', { permit_no: 'Q2', issued_on: '2026-02-30', fee: null, remarks: null }),
        permit('Q3', { permit_no: 'Q3', issued_on: '2026-03-03', fee: null, remarks: null }),
      ];
      const result = await w.write(batch);
      expect(result.failed).toEqual([expect.objectContaining({ index: 1, errorClass: expect.stringMatching(/^postgres:22/) })]);
      await w.write(batch);
      const { rows } = await target.query('SELECT permit_no FROM permits_refused ORDER BY _govx_offset');
      expect(rows.map((r) => r.permit_no)).toEqual(['Q1', 'Q3']);
    } finally {
      await w.close();
    }
  });
});
