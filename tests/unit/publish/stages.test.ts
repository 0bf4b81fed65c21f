import fs from 'node:fs';
import path from 'node:path';
import { compileNaturalType } from '../../../schemas/codec';
import { domainChecksOf } from '../../../schemas/validators';
import { overlongStrings, validateRecords } from '../../../publish/stages';
import type { DatasetRuntime } from '../../../publish/datasetRuntime';
import { decodeWireFormat } from '../../../schemas/wireFormat';
import { generateSample } from '../../../schemas/samples';

const schema = JSON.parse(fs.readFileSync(path.join(__dirname, '../../../schemas/population.residents.avsc'), 'utf8'));
const runtime = { dataset: { keyField: 'id_number' }, schemaId: 42, type: compileNaturalType(schema), checks: domainChecksOf(schema) } as unknown as DatasetRuntime;

describe('validateRecords', () => {
  it('encodes valid records in the Confluent wire format, whatever their size', () => {
    const [small, large] = generateSample('population.residents', 2, 1);
    const big = { ...large!, address: '长安街'.repeat(20_000) };
    const { valid, rejected } = validateRecords(runtime, [small, big], new Set(), 100_000);
    expect(rejected).toEqual([]);
    for (const [i, v] of valid.entries()) {
      const { schemaId, body } = decodeWireFormat(v.value);
      expect(schemaId).toBe(42);
      expect(runtime.type.fromBuffer(body)).toEqual(runtime.type.fromBuffer(runtime.type.toBuffer([small, big][i])));
    }
  });
});

describe('overlongStrings', () => {
  it('names overlong strings at the top level and below it', () => {
    expect(overlongStrings({ a: 'xxxx', b: 'x', c: { d: ['y', 'yyyyy'] } }, 3)).toEqual(['a', 'c.d.1']);
    expect(overlongStrings({ a: 'ok' }, 3)).toEqual([]);
  });
});
