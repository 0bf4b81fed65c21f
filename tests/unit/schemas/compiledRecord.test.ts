import fs from 'node:fs';
import path from 'node:path';
import type avro from 'avsc';
import { compileRecordWriter } from '../../../schemas/compiledRecord';
import { compileNaturalType } from '../../../schemas/codec';
import { generateSample, SeededRandom } from '../../../schemas/samples';
import { domainChecksOf } from '../../../schemas/validators';
import { encodeRecord } from '../../../schemas/wireFormat';
import type { DatasetRuntime } from '../../../publish/datasetRuntime';
import { recordErrors, validateRecords } from '../../../publish/stages';

/**
 * The compiled walk against the reference judgement (validateNatural + string limits + domain checks) and
 * avsc's encoder, on every seed schema and on hand-made schemas with what the seeds lack (decimals, nested
 * records, arrays, maps): on valid records it must give avsc's bytes; on invalid ones it must not accept what
 * the reference rejects. And validateRecords, which uses it, must answer exactly what the reference answers.
 */

/** A low string limit, so that strings over it are among the mutations; seeds with long GeoJSON text get a higher one. */
let LIMIT = 64;

function runtimeOf(schema: object, keyField: string): DatasetRuntime {
  return { dataset: { id: 't', keyField }, schemaId: 7, type: compileNaturalType(schema), checks: domainChecksOf(schema) } as unknown as DatasetRuntime;
}

/** What validateRecords answered before the compiled walk: the reference alone. */
function referenceOutcome(runtime: DatasetRuntime, records: unknown[]) {
  const valid: Array<{ index: number; key: string; value: Buffer }> = [];
  const rejected: Array<{ index: number; errors: unknown[] }> = [];
  records.forEach((record, index) => {
    const errors = recordErrors(runtime, record, LIMIT);
    if (errors.length) rejected.push({ index, errors });
    else valid.push({ index, key: String((record as Record<string, unknown>)[runtime.dataset.keyField]), value: encodeRecord(runtime.type, runtime.schemaId, record) });
  });
  return { valid, rejected };
}

const odd = (): unknown[] => [null, 0, -1, 1.5, 2 ** 31, 2 ** 53, Number.NaN, '', 'x', 'y'.repeat(LIMIT + 1), true, [], [1], {}, { a: 1 }, 'MALE', '2024-02-29', '2023-02-29', '2024-05-01T08:30:00Z', '12.34', 'toString'];

/** Each valid record bent in every way one field can be: missing, odd values, unknown members, and a few whole-record shapes. */
function mutations(record: Record<string, unknown>, random: SeededRandom): unknown[] {
  const out: unknown[] = [null, [], 'record', 42, { ...record, extra: 1 }];
  for (const key of Object.keys(record)) {
    const { [key]: _gone, ...without } = record;
    out.push(without);
    for (const value of odd()) out.push({ ...record, [key]: value });
    const v = record[key];
    if (typeof v === 'string' && v.length > 0) {
      const i = Math.floor(random.next() * v.length);
      const swapped = v.slice(0, i) + (v[i] === '1' ? '2' : '1') + v.slice(i + 1);
      out.push({ ...record, [key]: swapped }, { ...record, [key]: v.slice(1) }, { ...record, [key]: `${v} ` });
    }
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) out.push({ ...record, [key]: { ...(v as object), extra: 1 } });
  }
  return out;
}

function checkAgainstReference(runtime: DatasetRuntime, records: unknown[]): { accepted: number; rejected: number } {
  const write = compileRecordWriter(runtime.type, runtime.checks, LIMIT);
  expect(write).not.toBeNull();
  let accepted = 0;
  for (const record of records) {
    const reference = recordErrors(runtime, record, LIMIT);
    const compiled = write!(record, runtime.schemaId);
    if (compiled) {
      // sound: whatever the compiled walk accepts, the reference accepts, with avsc's bytes
      expect(reference).toEqual([]);
      expect(compiled.equals(encodeRecord(runtime.type, runtime.schemaId, record))).toBe(true);
      accepted++;
    }
  }
  expect(validateRecords(runtime, records, new Set(), LIMIT)).toEqual(referenceOutcome(runtime, records));
  return { accepted, rejected: records.length - accepted };
}

describe('the compiled record walk', () => {
  const seeds: Array<[string, string]> = [
    ['population.residents', 'id_number'],
    ['legal-entity.registry', 'uscc'],
    ['geospatial.buildings', 'feature_id'],
    ['population.criminal-records', 'record_id'],
    ['macro-economy.indicators', 'record_id'],
  ];

  it.each(seeds)('accepts every valid %s record with avsc bytes, and nothing the reference rejects', (dataset, keyField) => {
    const schema = JSON.parse(fs.readFileSync(path.join(__dirname, '../../../schemas', `${dataset}.avsc`), 'utf8')) as object;
    const runtime = runtimeOf(schema, keyField);
    const valid = generateSample(dataset, 300, 11);
    LIMIT = Math.max(64, ...valid.flatMap((r) => Object.values(r).map((v) => (typeof v === 'string' ? v.length : 0))));
    const reallyValid = valid.filter((r) => recordErrors(runtime, r, LIMIT).length === 0);
    expect(reallyValid.length).toBe(300);
    expect(checkAgainstReference(runtime, reallyValid)).toEqual({ accepted: reallyValid.length, rejected: 0 });
    const random = new SeededRandom(5);
    const bent = reallyValid.slice(0, 20).flatMap((r) => mutations(r as Record<string, unknown>, random));
    const { rejected } = checkAgainstReference(runtime, bent);
    expect(rejected).toBeGreaterThan(bent.length / 2);
  });

  it('covers decimals, nested records, arrays and maps like the reference', () => {
    LIMIT = 64;
    const schema = {
      type: 'record',
      name: 'T',
      fields: [
        { name: 'id', type: 'string' },
        { name: 'day', type: { type: 'int', logicalType: 'date' } },
        { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
        { name: 'amount', type: ['null', { type: 'bytes', logicalType: 'decimal', precision: 18, scale: 2 }], default: null },
        { name: 'kind', type: { type: 'enum', name: 'Kind', symbols: ['A', 'B'] } },
        { name: 'n', type: 'long', default: 5 },
        { name: 'ratio', type: ['null', 'double', 'string'], default: null },
        { name: 'flag', type: 'boolean', default: false },
        { name: 'inner', type: ['null', { type: 'record', name: 'Inner', fields: [{ name: 'x', type: 'int' }, { name: 'day', type: ['null', { type: 'int', logicalType: 'date' }], default: null }] }], default: null },
        { name: 'owners', type: { type: 'array', items: { type: 'record', name: 'Owner', fields: [{ name: 'name', type: 'string' }] } }, default: [] },
        { name: 'tags', type: ['null', { type: 'map', values: 'string' }], default: null },
      ],
    };
    const runtime = runtimeOf(schema, 'id');
    const random = new SeededRandom(9);
    const pick = <T>(xs: T[]): T => xs[Math.floor(random.next() * xs.length)]!;
    const valid = Array.from({ length: 200 }, (_, i) => {
      const r: Record<string, unknown> = {
        id: `r${i}`,
        day: pick(['2024-02-29', '1970-01-01', '1900-03-01', '2099-12-31']),
        at: pick(['2024-05-01T08:30:00.123Z', '2024-05-01T08:30:00+08:00', 1_700_000_000_000]),
        kind: pick(['A', 'B']),
      };
      if (random.next() < 0.5) r.amount = pick(['0', '-0.01', '128', '9999999999999999.99', null]);
      if (random.next() < 0.5) r.n = pick([0, -1, 2 ** 40, -(2 ** 52)]);
      if (random.next() < 0.5) r.ratio = pick([0.5, 'half', null, 3]);
      if (random.next() < 0.5) r.flag = random.next() < 0.5;
      if (random.next() < 0.5) r.inner = pick([null, { x: 3 }, { x: -7, day: '2000-01-01' }, { x: 0, day: null }]);
      if (random.next() < 0.5) r.owners = pick([[], [{ name: '张三' }], [{ name: 'a' }, { name: 'b' }]]);
      if (random.next() < 0.5) r.tags = pick([null, {}, { k: 'v', 长: '城' }]);
      return r;
    });
    expect(checkAgainstReference(runtime, valid)).toEqual({ accepted: valid.length, rejected: 0 });
    const bent = valid.slice(0, 30).flatMap((r) => mutations(r, random));
    bent.push({ ...valid[0], inner: { x: 1, y: 2 } }, { ...valid[0], owners: [{ name: 'a', share: 1 }] }, { ...valid[0], tags: { k: 1 } }, { ...valid[0], owners: [{ name: 'z'.repeat(LIMIT + 1) }] });
    const { rejected } = checkAgainstReference(runtime, bent);
    expect(rejected).toBeGreaterThan(bent.length / 2);
  });

  it('leaves schemas it does not cover to the reference path', () => {
    const wrapped = compileNaturalType({ type: 'record', name: 'W', fields: [{ name: 'u', type: ['int', 'long'] }] });
    expect((wrapped as unknown as { field(n: string): { type: avro.Type } }).field('u').type.typeName).toBe('union:wrapped');
    expect(compileRecordWriter(wrapped, [], LIMIT)).toBeNull();
    const shadowed = compileNaturalType({ type: 'record', name: 'S', fields: [{ name: 'constructor', type: 'string' }] });
    expect(compileRecordWriter(shadowed, [], LIMIT)).toBeNull();
  });
});
