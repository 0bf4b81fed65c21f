import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type avro from 'avsc';
import { deriveShareSchema, type GrantedField, Masker } from '../../../catalog/sharingPolicy';
import { compileProjection } from '../../../distributor/shareProjector';
import { Keyring } from '../../../lib/keyring';
import { projectPath } from '../../../lib/paths';
import { AvroDecodeError, checkAvroBounds, recordFieldSpans } from '../../../schemas/boundedDecode';
import { compileNaturalType } from '../../../schemas/codec';
import { generateSample, sampleDatasetIds } from '../../../schemas/samples';
import { encodeWireFormat } from '../../../schemas/wireFormat';

/**
 * The distributor copies the bytes of fields delivered in the clear instead of decoding and re-encoding them
 * (decision 0013). What a consumer receives must not change by a single byte: every seed dataset, under grants
 * of every delivery, projected both ways.
 */

const keysDir = fs.mkdtempSync(path.join(os.tmpdir(), 'govx-projector-'));
afterAll(() => fs.rmSync(keysDir, { recursive: true, force: true }));
const DERIVED_ID = 4242;

const schemaOf = (dataset: string): { fields: Array<{ name: string; type: unknown }> } =>
  JSON.parse(fs.readFileSync(projectPath('schemas', `${dataset}.avsc`), 'utf8'));

/** What the distributor delivered before the copy: decode the whole record, project and mask, encode with the derived schema. */
function generalPath(writer: avro.Type, derived: avro.Type, granted: GrantedField[], masker: Masker, body: Buffer): Buffer {
  const decoded = writer.fromBuffer(body) as Record<string, unknown>;
  return encodeWireFormat(DERIVED_ID, derived.toBuffer(masker.project(granted, decoded)));
}

function grantsOf(fields: string[]): Array<{ name: string; granted: GrantedField[] }> {
  const every = (delivery: GrantedField['delivery']) => fields.map((name) => ({ name, delivery }));
  return [
    { name: 'every field in the clear', granted: every('clear') },
    { name: 'every field hashed', granted: every('hash') },
    { name: 'every field partially masked', granted: every('partial') },
    { name: 'alternating clear, partial and hash, every other field withheld', granted: fields.filter((_, i) => i % 2 === 0).map((name, i) => ({ name, delivery: (['clear', 'partial', 'hash'] as const)[i % 3]! })) },
  ];
}

const datasets = sampleDatasetIds.filter((id) => fs.existsSync(projectPath('schemas', `${id}.avsc`)));

describe.each(datasets)('the share projection of %s', (dataset) => {
  const schema = schemaOf(dataset);
  const writer = compileNaturalType(schema);
  const masker = new Masker(Keyring.open({ keysDir }), dataset);
  const bodies = generateSample(dataset, 200, 77).map((r) => writer.toBuffer(r));

  it.each(grantsOf(schema.fields.map((f) => f.name)))('copies and masks exactly as decode → project → encode did, with $name', ({ granted }) => {
    const derived = compileNaturalType(deriveShareSchema(schema, granted, 'sub-test'));
    const compiled = compileProjection(writer, derived, granted);
    expect(compiled).not.toBeNull();
    for (const body of bodies) {
      expect(compiled!(body, recordFieldSpans(writer, body), masker, DERIVED_ID).equals(generalPath(writer, derived, granted, masker, body))).toBe(true);
    }
  });
});

describe('a record written with another schema version than the grant was derived from', () => {
  const base = schemaOf('population.residents');
  const granted: GrantedField[] = [
    { name: 'id_number', delivery: 'partial', partial: { identifier: 'cn-id-number', keep: ['region'] } },
    { name: 'name', delivery: 'partial' },
    { name: 'birth_date', delivery: 'clear' },
    { name: 'address', delivery: 'hash' },
  ];
  const derived = compileNaturalType(deriveShareSchema(base, granted, 'sub-test'));
  const masker = new Masker(Keyring.open({ keysDir }), 'population.residents');

  it('is still copied when its fields are reordered or added to', () => {
    const fields = [...base.fields].reverse();
    fields.splice(3, 0, { name: 'nickname', type: ['null', 'string'] } as never);
    const writer = compileNaturalType({ ...base, fields });
    const compiled = compileProjection(writer, derived, granted);
    expect(compiled).not.toBeNull();
    for (const record of generateSample('population.residents', 50, 5)) {
      const body = writer.toBuffer({ ...record, nickname: 'x' });
      expect(compiled!(body, recordFieldSpans(writer, body), masker, DERIVED_ID).equals(generalPath(writer, derived, granted, masker, body))).toBe(true);
    }
  });

  it('takes the general path when a clear field changed type or a granted field is missing', () => {
    const promoted = { ...base, fields: base.fields.map((f) => (f.name === 'birth_date' ? { name: 'birth_date', type: 'string' } : f)) };
    expect(compileProjection(compileNaturalType(promoted), derived, granted)).toBeNull();
    const without = { ...base, fields: base.fields.filter((f) => f.name !== 'name') };
    expect(compileProjection(compileNaturalType(without), derived, granted)).toBeNull();
  });
});

describe('field spans', () => {
  const writer = compileNaturalType(schemaOf('population.residents'));
  const good = writer.toBuffer(generateSample('population.residents', 1, 3)[0]);

  it('refuse hostile bytes exactly where the bounded decoder does', () => {
    const hostile = [Buffer.from([0xfe, 0xff, 0xff, 0xff, 0x0f]), good.subarray(0, good.length - 1), Buffer.concat([good, Buffer.from([0])]), Buffer.from([0x01])];
    for (const bytes of hostile) {
      expect(() => checkAvroBounds(writer, bytes)).toThrow(AvroDecodeError);
      expect(() => recordFieldSpans(writer, bytes)).toThrow(AvroDecodeError);
    }
  });

  it('cover the whole record, field after field', () => {
    const spans = recordFieldSpans(writer, good);
    expect(spans[0]).toBe(0);
    for (let i = 1; i < spans.length - 1; i += 2) expect(spans[i]).toBe(spans[i + 1]);
    expect(spans[spans.length - 1]).toBe(good.length);
  });
});
