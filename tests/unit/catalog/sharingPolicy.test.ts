import avro from 'avsc';
import crypto from 'node:crypto';
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import type { CatalogField } from '../../../catalog/datasets';
import {
  HmacSha256,
  Masker,
  deriveShareSchema,
  isSensitive,
  partialMask,
  planFields,
  policyDelivery,
  rebuildableIdentifiers,
  safePartialKeep,
  schemaChangeNeedsApproval,
} from '../../../catalog/sharingPolicy';
import { Keyring } from '../../../lib/keyring';
import { compileNaturalType } from '../../../schemas/codec';
import { generateSample } from '../../../schemas/samples';

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

describe('masks judged on what a consumer receives as a whole', () => {
  const residents = {
    fields: [field('id_number', 4, 'partial'), field('name', 3, 'partial'), field('gender', 2), field('birth_date', 2), field('household_district', 1)],
  };
  const ids = { id_number: 'cn-id-number' } as const;

  it("keeps only the ID number's region when the consumer may receive the birth date", () => {
    const plan = planFields(residents, ['id_number'], 2, {}, ids);
    expect(plan.granted).toEqual([{ name: 'id_number', delivery: 'partial', partial: { identifier: 'cn-id-number', keep: ['region'] } }]);
    const masked = new Masker({ derive: () => Buffer.alloc(32) }, 'd').apply(plan.granted[0]!, '110105194912310021');
    expect(masked).toBe('110105************');
  });

  it('keeps the sequence and check of an ID number only when nothing the consumer may receive gives the birth date', () => {
    expect(planFields(residents, ['id_number'], 1, {}, ids).granted[0]!.partial!.keep).toEqual(['region', 'sequence', 'check']);
    expect(safePartialKeep('cn-id-number', new Set())).toEqual(['region', 'sequence', 'check']);
    // the birth date given away elsewhere: the sequence must stay hidden, and its check with it (1000 / 11 candidates is too few)
    expect(safePartialKeep('cn-id-number', new Set(['birth']))).toEqual(['region']);
  });

  it('keeps the authority, type and division of a credit code, never its organization code', () => {
    expect(safePartialKeep('cn-uscc', new Set(['division', 'authority', 'type']))).toEqual(['authority', 'type', 'division', 'check']);
    expect(safePartialKeep('cn-uscc', new Set(['organization']))).toEqual([]);
  });

  it('refuses a combination of fields that rebuilds an identifier the consumer may not see in clear', () => {
    const entities = {
      fields: [field('uscc', 3, 'partial'), field('organization_code', 1), field('district', 1), field('entity_type', 1), field('name', 1)],
    };
    const usccs = { uscc: 'cn-uscc' } as const;
    const granted = planFields(entities, ['uscc', 'organization_code', 'district'], 2, {}, usccs).granted;
    expect(rebuildableIdentifiers(entities, usccs, 2, granted)).toEqual([
      { field: 'uscc', identifier: 'cn-uscc', from: ['uscc', 'organization_code', 'district'] },
    ]);
    // the organization code alone (with the division and type) rebuilds it, even without the masked field
    expect(rebuildableIdentifiers(entities, usccs, 2, planFields(entities, ['organization_code', 'entity_type'], 2).granted)).toHaveLength(1);
    expect(rebuildableIdentifiers(entities, usccs, 2, planFields(entities, ['uscc', 'district', 'entity_type', 'name'], 2, {}, usccs).granted)).toEqual([]);
    // cleared for it in clear: nothing is beyond the grant
    expect(rebuildableIdentifiers(entities, usccs, 3, planFields(entities, ['organization_code', 'district'], 3).granted)).toEqual([]);
    const idOk = planFields(residents, ['id_number', 'birth_date', 'gender', 'household_district'], 2, {}, ids).granted;
    expect(rebuildableIdentifiers(residents, ids, 2, idOk)).toEqual([]);
  });
});

describe('masks', () => {
  it('keeps just enough of a value to recognise it, preserving its length', () => {
    expect(partialMask('张三明')).toBe('张*明');
    expect(partialMask('李四')).toBe('李*');
    // shaped like an ID number or a credit code in a field not marked as one: only the region stays
    expect(partialMask('110105194912310021')).toBe('110105************');
    const uscc = generateSample('legal-entity.registry', 1, 7)[0]!.uscc as string;
    expect(partialMask(uscc)).toBe(`${uscc.slice(0, 8)}${'*'.repeat(10)}`);
    expect(partialMask('13812345678')).toBe('138****5678');
    expect(partialMask('北京市海淀区中关村大街27号')).toBe('北京市海淀*********');
  });

  const keyring = (byte: number) => ({ derive: (purpose: string) => crypto.createHmac('sha256', Buffer.alloc(32, byte)).update(purpose).digest() });

  it('hashes stably within a dataset and field, apart across fields and datasets, and not without the key', () => {
    const a = new Masker(keyring(7), 'population.residents');
    const id = '110105194912310021';
    expect(a.hash('id_number', id)).toBe(new Masker(keyring(7), 'population.residents').hash('id_number', id));
    // equal values in two fields cannot be joined
    expect(a.hash('id_number', id)).not.toBe(a.hash('guardian_id_number', id));
    expect(a.hash('id_number', id)).not.toBe(new Masker(keyring(7), 'legal-entity.registry').hash('id_number', id));
    expect(a.hash('id_number', id)).not.toBe(new Masker(keyring(8), 'population.residents').hash('id_number', id));
    expect(a.apply({ name: 'x', delivery: 'hash' }, null)).toBeNull();
    expect(a.apply({ name: 'x', delivery: 'partial' }, 12)).toMatch(/^[0-9a-f]{32}$/);
  });

  it('derives each field key from the master key outside the database, the same after a restart', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'govx-mask-'));
    try {
      const first = new Masker(Keyring.open({ keysDir: dir }), 'population.residents').hash('id_number', '110105194912310021');
      const restarted = new Masker(Keyring.open({ keysDir: dir }), 'population.residents').hash('id_number', '110105194912310021');
      expect(restarted).toBe(first);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
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

describe('the keyed hash', () => {
  it('is HMAC-SHA256 exactly, for keys shorter and longer than a block and any message', () => {
    for (const keyBytes of [16, 32, 64, 65, 200]) {
      const key = crypto.randomBytes(keyBytes);
      const hmac = new HmacSha256(key);
      for (const message of ['', 'a', '110105194912310021', '张三丰', 'x'.repeat(1000)]) {
        expect(hmac.hex(message)).toBe(crypto.createHmac('sha256', key).update(message).digest('hex'));
      }
    }
  });
});

describe('a share schema derived from a decimal field in the clear', () => {
  it('keeps its precision and scale, so the consumer reads the amount the publisher wrote', () => {
    const schema = JSON.parse(fs.readFileSync(path.join(__dirname, '../../../schemas/legal-entity.registry.avsc'), 'utf8'));
    const derived = deriveShareSchema(schema, [{ name: 'registered_capital', delivery: 'clear' }], 'sub-decimal') as { fields: Array<{ type: unknown }> };
    expect(derived.fields[0]!.type).toEqual(['null', { type: 'bytes', logicalType: 'decimal', precision: 18, scale: 2 }]);
    const type = compileNaturalType(derived);
    expect(type.fromBuffer(type.toBuffer({ registered_capital: '10000000.00' }))).toEqual({ registered_capital: '10000000.00' });
  });
});
