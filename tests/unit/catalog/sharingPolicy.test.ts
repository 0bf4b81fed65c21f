import avro from 'avsc';
import fs from 'node:fs';
import path from 'node:path';
import type { CatalogField } from '../../../catalog/datasets';
import { Masker, deriveShareSchema, isSensitive, partialMask, planFields, policyDelivery, schemaChangeNeedsApproval } from '../../../catalog/sharingPolicy';

const field = (name: string, sensitivity: 1 | 2 | 3 | 4, masking: CatalogField['masking'] = 'none'): CatalogField => ({
  name, type: 'string', description: '', sensitivity, masking, required: true,
});

describe('the sharing policy', () => {
  const dataset = { fields: [field('id_number', 4, 'partial'), field('name', 3, 'partial'), field('ethnicity', 3, 'hash'), field('birth_date', 2), field('secret', 4)] };

  it('delivers fields within the clearance in clear and masks the others by their rule', () => {
    expect(policyDelivery(dataset.fields[1]!, 2)).toBe('partial');
    expect(policyDelivery(dataset.fields[1]!, 3)).toBe('clear');
    expect(policyDelivery(dataset.fields[2]!, 2)).toBe('hash');
  });

  it('withholds a field above the clearance that has no masking rule', () => {
    expect(planFields(dataset, ['birth_date', 'secret'], 2)).toEqual({ granted: [{ name: 'birth_date', delivery: 'clear' }], withheld: ['secret'] });
  });

  it('lets an approval tighten but never loosen', () => {
    const plan = planFields(dataset, ['name', 'birth_date', 'ethnicity'], 2, { birth_date: 'hash', ethnicity: 'partial' });
    expect(plan.granted).toEqual([
      { name: 'name', delivery: 'partial' },
      { name: 'birth_date', delivery: 'hash' },
      { name: 'ethnicity', delivery: 'hash' },
    ]);
  });
});

describe('masks', () => {
  it('keeps just enough of a value to recognise it, preserving its length', () => {
    expect(partialMask('张三明')).toBe('张*明');
    expect(partialMask('李四')).toBe('李*');
    expect(partialMask('110105194912310021')).toBe('110105********0021');
    expect(partialMask('13812345678')).toBe('138****5678');
    expect(partialMask('北京市海淀区中关村大街27号')).toBe('北京市海淀*********');
  });

  it('hashes stably within a dataset, differently across datasets, and not without the key', () => {
    const key = Buffer.alloc(32, 7);
    const a = new Masker(key, 'population.residents');
    expect(a.hash('110105194912310021')).toBe(new Masker(key, 'population.residents').hash('110105194912310021'));
    expect(a.hash('110105194912310021')).not.toBe(new Masker(key, 'legal-entity.registry').hash('110105194912310021'));
    expect(a.hash('110105194912310021')).not.toBe(new Masker(Buffer.alloc(32, 8), 'population.residents').hash('110105194912310021'));
    expect(a.apply('hash', null)).toBeNull();
    expect(a.apply('partial', 12)).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('the derived schema', () => {
  const residents = JSON.parse(fs.readFileSync(path.join(__dirname, '../../../schemas/population.residents.avsc'), 'utf8'));

  it('holds only the granted fields, masked ones as strings, and carries the named types they use', () => {
    const derived = deriveShareSchema(residents, [
      { name: 'name', delivery: 'partial' },
      { name: 'marital_status', delivery: 'clear' },
      { name: 'phone', delivery: 'hash' },
      { name: 'birth_date', delivery: 'clear' },
    ], 'sub-x') as { name: string; fields: Array<{ name: string; type: unknown }> };
    expect(derived.fields.map((f) => f.name)).toEqual(['name', 'birth_date', 'phone', 'marital_status']);
    expect(derived.fields[0]!.type).toBe('string');
    expect(derived.fields[1]!.type).toEqual({ type: 'int', logicalType: 'date' });
    expect(derived.fields[2]!.type).toEqual(['null', 'string']);
    expect(JSON.stringify(derived.fields[3]!.type)).toContain('MaritalStatus');
    expect(JSON.stringify(derived)).not.toContain('id_number');
    // it is a valid Avro schema that a reader can compile on its own
    expect(() => avro.Type.forSchema(derived as avro.Schema)).not.toThrow();
  });

  it('keeps govx annotations of clear fields so sinks know what a value is', () => {
    const buildings = JSON.parse(fs.readFileSync(path.join(__dirname, '../../../schemas/geospatial.buildings.avsc'), 'utf8'));
    const derived = deriveShareSchema(buildings, [{ name: 'feature_id', delivery: 'clear' }, { name: 'geometry', delivery: 'clear' }], 'sub-y') as {
      fields: Array<Record<string, unknown>>;
    };
    expect(derived.fields[1]).toMatchObject({ name: 'geometry', type: 'string', 'govx.check': 'geojson-geometry' });
  });
});

describe('schema changes under an approval', () => {
  const fields = [field('name', 3, 'partial'), field('birth_date', 2), field('phone', 3, 'hash'), field('nickname', 1)];
  const granted = [{ name: 'name', delivery: 'partial' as const }, { name: 'birth_date', delivery: 'clear' as const }];
  const none = { added: [], removed: [], retyped: [] };

  it('counts sensitivity 3 and 4 as sensitive', () => {
    expect([1, 2, 3, 4].map((s) => isSensitive({ sensitivity: s as 1 | 2 | 3 | 4 }))).toEqual([false, false, true, true]);
  });

  it('takes added harmless fields and changes to fields outside the grant in stride', () => {
    expect(schemaChangeNeedsApproval(granted, { ...none, added: ['nickname'] }, fields, 2)).toBeNull();
    expect(schemaChangeNeedsApproval(granted, { ...none, removed: ['other'], retyped: [{ field: 'other', from: 'int', to: 'long' }] }, fields, 2)).toBeNull();
  });

  it('asks for a new approval when an approved field is dropped or retyped, or a sensitive field is added', () => {
    expect(schemaChangeNeedsApproval(granted, { ...none, removed: ['name'] }, fields, 3)).toBe('schema version 3 changes approved field(s) name');
    expect(schemaChangeNeedsApproval(granted, { ...none, retyped: [{ field: 'birth_date', from: 'string', to: 'int(date)' }] }, fields, 3)).toContain('birth_date');
    expect(schemaChangeNeedsApproval(granted, { ...none, added: ['phone'] }, fields, 4)).toBe('schema version 4 adds sensitive field(s) phone');
  });
});
