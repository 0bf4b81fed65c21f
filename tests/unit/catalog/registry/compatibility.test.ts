import * as avro from 'avsc';
import type { AvroSchema, JsonValue } from '../../../../catalog/registry/canonical';
import {
  checkCompatibility,
  compatibilityLevels,
  describeSchemaChange,
  isCompatibilityLevel,
  MAX_FINDINGS,
  readerCanRead,
  type CompatibilityLevel,
} from '../../../../catalog/registry/compatibility';

type Field = { name: string; type: JsonValue; default?: JsonValue; aliases?: string[]; doc?: string };

const record = (name: string, fields: Field[], extra: Record<string, JsonValue> = {}): AvroSchema =>
  ({ type: 'record', name, ...extra, fields }) as AvroSchema;

const person = (...extra: Field[]): AvroSchema => record('Person', [{ name: 'id', type: 'string' }, ...extra]);

const types = (reader: AvroSchema, writer: AvroSchema): string[] => readerCanRead(reader, writer).map((i) => i.type);

const verdict = (level: CompatibilityLevel, candidate: AvroSchema, ...existing: AvroSchema[]): boolean =>
  checkCompatibility(level, candidate, existing).compatible;

const decimal = (precision: number, scale: number): JsonValue => ({ type: 'bytes', logicalType: 'decimal', precision, scale });

describe('readerCanRead', () => {
  it('reads data written with the same schema', () => {
    const schema = person({ name: 'age', type: ['null', 'int'], default: null });
    expect(readerCanRead(schema, schema)).toEqual([]);
  });

  it.each([
    ['int', 'long'],
    ['int', 'float'],
    ['int', 'double'],
    ['long', 'float'],
    ['long', 'double'],
    ['float', 'double'],
    ['string', 'bytes'],
    ['bytes', 'string'],
  ])('promotes a written %s to a read %s', (writer, reader) => {
    expect(readerCanRead(reader, writer)).toEqual([]);
  });

  it.each([
    ['long', 'int'],
    ['double', 'float'],
    ['float', 'long'],
    ['string', 'int'],
    ['boolean', 'int'],
    ['null', 'string'],
  ])('cannot read a written %s as %s', (writer, reader) => {
    expect(types(reader, writer)).toEqual(['TYPE_MISMATCH']);
  });

  it('names the field and the reader path of a type mismatch', () => {
    const [issue] = readerCanRead(person({ name: 'age', type: 'int' }), person({ name: 'age', type: 'long' }));
    expect(issue).toEqual({
      path: '/fields/age/type',
      type: 'TYPE_MISMATCH',
      message: `field "age": the writer's type long cannot be read as the reader's type int (TYPE_MISMATCH)`,
    });
  });

  it('ignores writer fields the reader does not have', () => {
    expect(readerCanRead(person(), person({ name: 'extra', type: 'string' }))).toEqual([]);
  });

  it('needs a default for a reader field the writer does not have', () => {
    expect(readerCanRead(person({ name: 'phone', type: 'string' }), person())).toEqual([
      {
        path: '/fields/phone',
        type: 'READER_FIELD_MISSING_DEFAULT_VALUE',
        message: `field "phone" is missing from the writer's schema and has no default in the reader's schema (READER_FIELD_MISSING_DEFAULT_VALUE)`,
      },
    ]);
    expect(readerCanRead(person({ name: 'phone', type: 'string', default: '' }), person())).toEqual([]);
  });

  it('matches a renamed field through the reader field aliases', () => {
    const writer = person({ name: 'tel', type: 'string' });
    expect(readerCanRead(person({ name: 'phone', type: 'string', aliases: ['tel'] }), writer)).toEqual([]);
    expect(types(person({ name: 'phone', type: 'string' }), writer)).toEqual(['READER_FIELD_MISSING_DEFAULT_VALUE']);
  });

  describe('enums', () => {
    const status = (symbols: string[], extra: Record<string, JsonValue> = {}): AvroSchema =>
      ({ type: 'enum', name: 'Status', symbols, ...extra }) as AvroSchema;

    it('reads an enum whose writer has fewer symbols', () => {
      expect(readerCanRead(status(['A', 'B', 'C']), status(['A', 'B']))).toEqual([]);
    });

    it('cannot read writer symbols the reader lacks', () => {
      const issues = readerCanRead(status(['A', 'B']), status(['A', 'B', 'C', 'D']));
      expect(issues).toEqual([
        {
          path: '/symbols',
          type: 'MISSING_ENUM_SYMBOLS',
          message: `top level: the reader's enum Status has no symbols C, D and no default (MISSING_ENUM_SYMBOLS)`,
        },
      ]);
    });

    it('reads unknown writer symbols when the reader enum has a default', () => {
      expect(readerCanRead(status(['UNKNOWN', 'A'], { default: 'UNKNOWN' }), status(['A', 'B']))).toEqual([]);
    });

    it('requires matching enum names', () => {
      const other = { type: 'enum', name: 'Phase', symbols: ['A'] } as AvroSchema;
      expect(types(status(['A']), other)).toEqual(['NAME_MISMATCH']);
    });
  });

  describe('unions', () => {
    it('reads a narrower writer union with a wider reader union', () => {
      expect(readerCanRead(['null', 'string', 'int'], ['null', 'string'])).toEqual([]);
    });

    it('cannot read a writer union branch the reader union lacks', () => {
      const issues = readerCanRead(person({ name: 'v', type: ['null', 'string'] }), person({ name: 'v', type: ['null', 'string', 'int'] }));
      expect(issues).toHaveLength(1);
      expect(issues[0].type).toBe('MISSING_UNION_BRANCH');
      expect(issues[0].path).toBe('/fields/v/type');
      expect(issues[0].message).toContain(`the reader's union ["null","string"] has no branch that can read the writer's union's int branch`);
    });

    it('reads a non-union writer with a union reader that has a matching branch', () => {
      expect(readerCanRead(['null', 'long'], 'int')).toEqual([]);
      expect(types(['null', 'string'], 'int')).toEqual(['MISSING_UNION_BRANCH']);
    });

    it('cannot read a nullable writer with a non-null reader', () => {
      const issues = readerCanRead(person({ name: 'v', type: 'string' }), person({ name: 'v', type: ['null', 'string'], default: null }));
      expect(issues).toHaveLength(1);
      expect(issues[0]).toMatchObject({ type: 'TYPE_MISMATCH', path: '/fields/v/type' });
      expect(issues[0].message).toContain(`the writer's union ["null","string"] has a null branch that the reader's type string cannot read`);
    });

    it('reads a non-null writer with a nullable reader', () => {
      expect(readerCanRead(person({ name: 'v', type: ['null', 'string'], default: null }), person({ name: 'v', type: 'string' }))).toEqual([]);
    });

    it('explains the problem inside the union branch that was meant to read the data', () => {
      const address = (fields: Field[]): JsonValue => ({ type: 'record', name: 'Address', fields }) as JsonValue;
      const writer = person({ name: 'address', type: ['null', address([{ name: 'city', type: 'string' }])] });
      const reader = person({ name: 'address', type: ['null', address([{ name: 'city', type: 'string' }, { name: 'zip', type: 'string' }])] });
      expect(readerCanRead(reader, writer)).toEqual([
        expect.objectContaining({ type: 'READER_FIELD_MISSING_DEFAULT_VALUE', path: '/fields/address/type/1/fields/zip' }),
      ]);
      expect(readerCanRead(reader, writer)[0].message).toContain('field "address.zip"');
    });
  });

  describe('named types', () => {
    it('cannot read a renamed record without an alias', () => {
      const issues = readerCanRead(record('Resident', [{ name: 'id', type: 'string' }]), person());
      expect(issues).toEqual([expect.objectContaining({ type: 'NAME_MISMATCH', path: '/name' })]);
      expect(issues[0].message).toContain('the writer\'s record Person cannot be read as the reader\'s record Resident');
    });

    it('reads a renamed record through its aliases', () => {
      expect(readerCanRead(record('Resident', [{ name: 'id', type: 'string' }], { aliases: ['Person'] }), person())).toEqual([]);
      const namespaced = record('Person', [{ name: 'id', type: 'string' }], { namespace: 'old.ns' });
      const renamed = record('Resident', [{ name: 'id', type: 'string' }], { namespace: 'new.ns', aliases: ['old.ns.Person'] });
      expect(readerCanRead(renamed, namespaced)).toEqual([]);
    });

    it('compares record names unqualified, as the spec does', () => {
      const before = record('Person', [{ name: 'id', type: 'string' }], { namespace: 'gov.a' });
      const after = record('Person', [{ name: 'id', type: 'string' }], { namespace: 'gov.b' });
      expect(readerCanRead(after, before)).toEqual([]);
    });

    it('checks nested records and names the nested field path', () => {
      const address = (fields: Field[]): JsonValue => ({ type: 'record', name: 'Address', fields }) as JsonValue;
      const writer = person({ name: 'address', type: address([{ name: 'city', type: 'long' }]) });
      const reader = person({ name: 'address', type: address([{ name: 'city', type: 'int' }, { name: 'zip', type: 'string' }]) });
      const issues = readerCanRead(reader, writer);
      expect(issues.map((i) => [i.type, i.path])).toEqual([
        ['TYPE_MISMATCH', '/fields/address/type/fields/city/type'],
        ['READER_FIELD_MISSING_DEFAULT_VALUE', '/fields/address/type/fields/zip'],
      ]);
      expect(issues[0].message).toMatch(/^field "address\.city": /);
      expect(issues[1].message).toMatch(/^field "address\.zip" /);
    });

    it('checks records inside arrays and maps', () => {
      const item = (fields: Field[]): JsonValue => ({ type: 'record', name: 'Item', fields }) as JsonValue;
      const oldItem = item([{ name: 'qty', type: 'int' }]);
      const newItem = item([{ name: 'qty', type: 'int' }, { name: 'sku', type: 'string' }]);
      const arrays = readerCanRead(
        person({ name: 'items', type: { type: 'array', items: newItem } }),
        person({ name: 'items', type: { type: 'array', items: oldItem } }),
      );
      expect(arrays).toEqual([expect.objectContaining({ path: '/fields/items/type/items/fields/sku' })]);
      expect(arrays[0].message).toMatch(/^field "items\[\]\.sku"/);
      const maps = readerCanRead(
        person({ name: 'byCode', type: { type: 'map', values: newItem } }),
        person({ name: 'byCode', type: { type: 'map', values: oldItem } }),
      );
      expect(maps).toEqual([expect.objectContaining({ path: '/fields/byCode/type/values/fields/sku' })]);
      expect(maps[0].message).toMatch(/^field "byCode\{\}\.sku"/);
    });

    it('reports each use of a shared record type at its own place', () => {
      const address = { type: 'record', name: 'Address', fields: [{ name: 'city', type: 'long' }] } as JsonValue;
      const narrowed = { type: 'record', name: 'Address', fields: [{ name: 'city', type: 'int' }] } as JsonValue;
      const issues = readerCanRead(
        person({ name: 'home', type: narrowed }, { name: 'work', type: 'Address' }),
        person({ name: 'home', type: address }, { name: 'work', type: 'Address' }),
      );
      expect(issues.map((i) => i.path)).toEqual(['/fields/home/type/fields/city/type', '/fields/work/type/fields/city/type']);
    });

    it('cannot read arrays as maps', () => {
      expect(types({ type: 'map', values: 'string' }, { type: 'array', items: 'string' })).toEqual(['TYPE_MISMATCH']);
    });

    it('requires the same fixed size', () => {
      const fixed = (size: number): AvroSchema => ({ type: 'fixed', name: 'Hash', size });
      expect(readerCanRead(fixed(16), fixed(16))).toEqual([]);
      const issues = readerCanRead(fixed(32), fixed(16));
      expect(issues).toEqual([
        {
          path: '/size',
          type: 'FIXED_SIZE_MISMATCH',
          message: `top level: the writer's fixed Hash has size 16 but the reader's one has size 32 (FIXED_SIZE_MISMATCH)`,
        },
      ]);
      expect(types({ type: 'fixed', name: 'Digest', size: 16 }, fixed(16))).toEqual(['NAME_MISMATCH']);
    });
  });

  describe('logical types', () => {
    it('reads logical types by their underlying type', () => {
      expect(readerCanRead({ type: 'int', logicalType: 'date' }, 'int')).toEqual([]);
      expect(readerCanRead({ type: 'long', logicalType: 'timestamp-millis' }, { type: 'int', logicalType: 'date' })).toEqual([]);
      expect(types({ type: 'int', logicalType: 'date' }, { type: 'long', logicalType: 'timestamp-millis' })).toEqual(['TYPE_MISMATCH']);
    });

    it('refuses a change of decimal scale or precision', () => {
      expect(readerCanRead(decimal(10, 2) as AvroSchema, decimal(10, 2) as AvroSchema)).toEqual([]);
      const scale = readerCanRead(person({ name: 'amount', type: decimal(10, 3) }), person({ name: 'amount', type: decimal(10, 2) }));
      expect(scale).toEqual([
        {
          path: '/fields/amount/type',
          type: 'DECIMAL_SCALE_MISMATCH',
          message:
            `field "amount": the writer's decimal(10,2) cannot be read as the reader's decimal(10,3): ` +
            'precision and scale must not change (DECIMAL_SCALE_MISMATCH)',
        },
      ]);
      expect(types(decimal(12, 2) as AvroSchema, decimal(10, 2) as AvroSchema)).toEqual(['DECIMAL_PRECISION_MISMATCH']);
      const fixedDecimal = (scale: number): AvroSchema =>
        ({ type: 'fixed', name: 'Money', size: 8, logicalType: 'decimal', precision: 18, scale }) as AvroSchema;
      expect(types(fixedDecimal(4), fixedDecimal(2))).toEqual(['DECIMAL_SCALE_MISMATCH']);
    });

    it('treats a missing decimal scale as zero', () => {
      expect(readerCanRead({ type: 'bytes', logicalType: 'decimal', precision: 5 }, decimal(5, 0) as AvroSchema)).toEqual([]);
    });
  });

  describe('recursive types', () => {
    const node = (extra: Field[] = []): AvroSchema =>
      record('Node', [{ name: 'value', type: 'long' }, { name: 'next', type: ['null', 'Node'], default: null }, ...extra]);

    it('checks a linked list without looping', () => {
      expect(readerCanRead(node(), node())).toEqual([]);
      expect(readerCanRead(node([{ name: 'label', type: 'string', default: '' }]), node())).toEqual([]);
    });

    it('reports a problem in a recursive type once', () => {
      const issues = readerCanRead(node([{ name: 'label', type: 'string' }]), node());
      expect(issues.map((i) => [i.type, i.path])).toEqual([['READER_FIELD_MISSING_DEFAULT_VALUE', '/fields/label']]);
    });

    it('finds a problem reached only through the recursion', () => {
      const narrow = record('Node', [{ name: 'value', type: 'int' }, { name: 'next', type: ['null', 'Node'], default: null }]);
      expect(types(narrow, node())).toEqual(['TYPE_MISMATCH']);
    });

    it('handles mutually recursive types', () => {
      const tree = (valueType: string): AvroSchema =>
        record('Tree', [
          { name: 'value', type: valueType },
          {
            name: 'forest',
            type: {
              type: 'record',
              name: 'Forest',
              fields: [{ name: 'trees', type: { type: 'array', items: 'Tree' } }, { name: 'parent', type: ['null', 'Tree'], default: null }],
            },
          },
        ]);
      expect(readerCanRead(tree('long'), tree('int'))).toEqual([]);
      expect(types(tree('int'), tree('long'))).toEqual(['TYPE_MISMATCH']);
    });

    it('does not let a failed union probe hide a problem in a recursive type', () => {
      // Probing the first reader branch (A) assumes the pair being checked is fine; the real check must not reuse that.
      const writer = record('Node', [{ name: 'next', type: ['null', 'Node'], default: null }, { name: 'n', type: 'long' }]);
      const reader = record('Node', [{ name: 'next', type: ['null', 'Node'], default: null }, { name: 'n', type: 'int' }]);
      expect(types(reader, writer)).toEqual(['TYPE_MISMATCH']);
      expect(types(['null', reader as JsonValue], writer)).toEqual(['TYPE_MISMATCH']);
    });

    it('checks heavily shared types without enumerating every path', () => {
      // 40 record types, each using the one before twice: 2^40 paths if every use were checked separately.
      const build = (leaf: string): AvroSchema => {
        const types: JsonValue[] = [{ type: 'record', name: 'L0', fields: [{ name: 'v', type: leaf }] } as JsonValue];
        for (let i = 1; i <= 40; i++) {
          types.push({ type: 'record', name: `L${i}`, fields: [{ name: 'a', type: `L${i - 1}` }, { name: 'b', type: `L${i - 1}` }] } as JsonValue);
        }
        return types;
      };
      expect(readerCanRead(build('long'), build('int'))).toEqual([]);
      const issues = readerCanRead(build('int'), build('long'));
      expect(issues.length).toBe(MAX_FINDINGS);
      expect(issues.every((i) => i.type === 'TYPE_MISMATCH' && i.path.endsWith('/fields/v/type'))).toBe(true);
    });
  });

  describe('agrees with avsc on whether data can be read', () => {
    const avscCanRead = (reader: AvroSchema, writer: AvroSchema): boolean => {
      const opts = (): Partial<avro.ForSchemaOptions> => ({ wrapUnions: true, registry: {} });
      try {
        avro.Type.forSchema(reader as avro.Schema, opts()).createResolver(avro.Type.forSchema(writer as avro.Schema, opts()));
        return true;
      } catch {
        return false;
      }
    };
    const address = (fields: Field[]): JsonValue => ({ type: 'record', name: 'Address', fields }) as JsonValue;
    const cases: Array<[string, AvroSchema, AvroSchema]> = [
      ['int to long', 'long', 'int'],
      ['long to int', 'int', 'long'],
      ['bytes to string', 'string', 'bytes'],
      ['added field with default', person({ name: 'x', type: 'int', default: 0 }), person()],
      ['added field without default', person({ name: 'x', type: 'int' }), person()],
      ['removed field', person(), person({ name: 'x', type: 'int' })],
      ['nullable to non-null', 'string', ['null', 'string']],
      ['non-null to nullable', ['null', 'string'], 'string'],
      ['union narrowed', ['null', 'string'], ['null', 'string', 'int']],
      ['enum with more symbols', { type: 'enum', name: 'E', symbols: ['A', 'B'] }, { type: 'enum', name: 'E', symbols: ['A'] }],
      ['enum with fewer symbols', { type: 'enum', name: 'E', symbols: ['A'] }, { type: 'enum', name: 'E', symbols: ['A', 'B'] }],
      ['enum default', { type: 'enum', name: 'E', symbols: ['A'], default: 'A' }, { type: 'enum', name: 'E', symbols: ['A', 'B'] }],
      ['fixed size', { type: 'fixed', name: 'F', size: 2 }, { type: 'fixed', name: 'F', size: 3 }],
      [
        'nested record',
        person({ name: 'a', type: address([{ name: 'c', type: 'int' }]) }),
        person({ name: 'a', type: address([{ name: 'c', type: 'long' }]) }),
      ],
      ['array of long as array of int', { type: 'array', items: 'int' }, { type: 'array', items: 'long' }],
      ['map widening', { type: 'map', values: 'double' }, { type: 'map', values: 'float' }],
    ];
    it.each(cases)('%s', (_what, reader, writer) => {
      expect(readerCanRead(reader, writer).length === 0).toBe(avscCanRead(reader, writer));
    });
  });
});

describe('checkCompatibility', () => {
  const v1 = person();
  const withPhoneDefault = person({ name: 'phone', type: ['null', 'string'], default: null });
  const withPhone = person({ name: 'phone', type: 'string' });

  it('lists the seven levels', () => {
    expect([...compatibilityLevels].sort()).toEqual(
      ['BACKWARD', 'BACKWARD_TRANSITIVE', 'FORWARD', 'FORWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE', 'NONE'].sort(),
    );
    expect(isCompatibilityLevel('FULL')).toBe(true);
    expect(isCompatibilityLevel('full')).toBe(false);
  });

  it('allows adding a field with a default under every level', () => {
    for (const level of compatibilityLevels) expect(verdict(level, withPhoneDefault, v1)).toBe(true);
  });

  it('refuses a BACKWARD change that adds a field without a default', () => {
    const result = checkCompatibility('BACKWARD', withPhone, [v1]);
    expect(result.compatible).toBe(false);
    expect(result.messages).toEqual([
      'field "phone" was added without a default: readers using the new schema cannot read old data (READER_FIELD_MISSING_DEFAULT_VALUE)',
    ]);
    expect(result.incompatibilities).toEqual([
      { path: '/fields/phone', type: 'READER_FIELD_MISSING_DEFAULT_VALUE', message: result.messages[0] },
    ]);
  });

  it('allows a FORWARD change that adds a field without a default', () => {
    expect(verdict('FORWARD', withPhone, v1)).toBe(true);
  });

  it('refuses a FULL change that adds a field without a default', () => {
    expect(verdict('FULL', withPhone, v1)).toBe(false);
  });

  it('allows removing a field that had a default under FULL', () => {
    expect(verdict('FULL', v1, withPhoneDefault)).toBe(true);
  });

  it('allows a BACKWARD change that removes a field without a default, but not a FORWARD one', () => {
    expect(verdict('BACKWARD', v1, withPhone)).toBe(true);
    const result = checkCompatibility('FORWARD', v1, [withPhone]);
    expect(result.compatible).toBe(false);
    expect(result.messages).toEqual([
      'field "phone" was removed but has no default in the old schema: readers using the old schema cannot read new data (READER_FIELD_MISSING_DEFAULT_VALUE)',
    ]);
  });

  it('allows widening int to long BACKWARD but not FORWARD', () => {
    const asInt = person({ name: 'age', type: 'int' });
    const asLong = person({ name: 'age', type: 'long' });
    expect(verdict('BACKWARD', asLong, asInt)).toBe(true);
    expect(verdict('FORWARD', asLong, asInt)).toBe(false);
    expect(verdict('FULL', asLong, asInt)).toBe(false);
  });

  it('refuses narrowing long to int BACKWARD with a message naming the field', () => {
    const result = checkCompatibility('BACKWARD', person({ name: 'age', type: 'int' }), [person({ name: 'age', type: 'long' })]);
    expect(result.messages).toEqual([
      'field "age": the old type long cannot be read as the new type int: readers using the new schema cannot read old data (TYPE_MISMATCH)',
    ]);
    expect(result.incompatibilities[0].path).toBe('/fields/age/type');
  });

  it('allows switching between string and bytes in both directions', () => {
    expect(verdict('FULL', person({ name: 'photo', type: 'bytes' }), person({ name: 'photo', type: 'string' }))).toBe(true);
  });

  describe('enums', () => {
    const status = (symbols: string[], extra: Record<string, JsonValue> = {}): AvroSchema =>
      person({ name: 'status', type: { type: 'enum', name: 'Status', symbols, ...extra } as JsonValue });

    it('allows adding a symbol BACKWARD but not FORWARD', () => {
      expect(verdict('BACKWARD', status(['A', 'B', 'C']), status(['A', 'B']))).toBe(true);
      const forward = checkCompatibility('FORWARD', status(['A', 'B', 'C']), [status(['A', 'B'])]);
      expect(forward.compatible).toBe(false);
      expect(forward.messages).toEqual([
        'field "status": the old enum Status has no symbol C and no default: readers using the old schema cannot read new data (MISSING_ENUM_SYMBOLS)',
      ]);
    });

    it('allows adding a symbol FORWARD when the old enum has a default', () => {
      expect(verdict('FULL', status(['U', 'A', 'B', 'C'], { default: 'U' }), status(['U', 'A', 'B'], { default: 'U' }))).toBe(true);
    });

    it('refuses removing a symbol BACKWARD unless the new enum has a default', () => {
      expect(verdict('BACKWARD', status(['A']), status(['A', 'B']))).toBe(false);
      expect(verdict('BACKWARD', status(['A'], { default: 'A' }), status(['A', 'B']))).toBe(true);
      expect(verdict('FORWARD', status(['A']), status(['A', 'B']))).toBe(true);
    });
  });

  describe('unions', () => {
    const v = (type: JsonValue, extra: Partial<Field> = {}): AvroSchema => person({ name: 'v', type, ...extra });

    it('allows widening a union BACKWARD but not FORWARD', () => {
      expect(verdict('BACKWARD', v(['null', 'string', 'int']), v(['null', 'string']))).toBe(true);
      expect(verdict('FORWARD', v(['null', 'string', 'int']), v(['null', 'string']))).toBe(false);
    });

    it('refuses narrowing a union BACKWARD', () => {
      const result = checkCompatibility('BACKWARD', v(['null', 'string']), [v(['null', 'string', 'int'])]);
      expect(result.incompatibilities.map((i) => i.type)).toEqual(['MISSING_UNION_BRANCH']);
      expect(result.messages[0]).toBe(
        `field "v": the new union ["null","string"] has no branch that can read the old union's int branch: ` +
          'readers using the new schema cannot read old data (MISSING_UNION_BRANCH)',
      );
    });

    it('refuses making a nullable field non-null BACKWARD but allows it FORWARD', () => {
      expect(verdict('BACKWARD', v('string'), v(['null', 'string'], { default: null }))).toBe(false);
      expect(verdict('FORWARD', v('string'), v(['null', 'string'], { default: null }))).toBe(true);
    });

    it('allows making a field nullable BACKWARD', () => {
      expect(verdict('BACKWARD', v(['null', 'string'], { default: null }), v('string'))).toBe(true);
    });
  });

  it('allows renaming a record BACKWARD when the new one aliases the old name', () => {
    const renamed = record('Resident', [{ name: 'id', type: 'string' }], { aliases: ['Person'] });
    expect(verdict('BACKWARD', renamed, v1)).toBe(true);
    expect(verdict('BACKWARD', record('Resident', [{ name: 'id', type: 'string' }]), v1)).toBe(false);
  });

  it('refuses a fixed size change', () => {
    const hash = (size: number): AvroSchema => person({ name: 'hash', type: { type: 'fixed', name: 'Hash', size } });
    const result = checkCompatibility('BACKWARD', hash(32), [hash(16)]);
    expect(result.incompatibilities.map((i) => [i.type, i.path])).toEqual([['FIXED_SIZE_MISMATCH', '/fields/hash/type/size']]);
  });

  it('refuses a decimal scale change', () => {
    const amount = (scale: number): AvroSchema => person({ name: 'amount', type: decimal(12, scale) });
    expect(verdict('BACKWARD', amount(4), amount(2))).toBe(false);
    expect(verdict('FORWARD', amount(4), amount(2))).toBe(false);
    expect(verdict('FULL', amount(2), amount(2))).toBe(true);
  });

  it('checks a recursive schema without looping', () => {
    const list = (extra: Field[]): AvroSchema =>
      record('Node', [{ name: 'value', type: 'long' }, { name: 'next', type: ['null', 'Node'], default: null }, ...extra]);
    expect(verdict('FULL_TRANSITIVE', list([{ name: 'label', type: 'string', default: '' }]), list([]))).toBe(true);
    expect(verdict('BACKWARD', list([{ name: 'label', type: 'string' }]), list([]))).toBe(false);
  });

  describe('transitive levels', () => {
    // v1 has no "b"; v2 adds it with a default; the candidate drops the default.
    const first = record('R', [{ name: 'a', type: 'string' }]);
    const second = record('R', [{ name: 'a', type: 'string' }, { name: 'b', type: 'string', default: '' }]);
    const candidate = record('R', [{ name: 'a', type: 'string' }, { name: 'b', type: 'string' }]);

    it('checks only the latest version when not transitive', () => {
      expect(verdict('BACKWARD', candidate, first, second)).toBe(true);
    });

    it('checks every version when transitive, and says which one failed', () => {
      const result = checkCompatibility('BACKWARD_TRANSITIVE', candidate, [first, second]);
      expect(result.compatible).toBe(false);
      expect(result.messages).toEqual([
        'existing schema 1 of 2: field "b" was added without a default: readers using the new schema cannot read old data (READER_FIELD_MISSING_DEFAULT_VALUE)',
      ]);
    });

    it('labels messages with version numbers when given', () => {
      const result = checkCompatibility('FULL_TRANSITIVE', candidate, [first, second], { versions: [3, 7] });
      expect(result.messages).toEqual([
        'version 3: field "b" was added without a default: readers using the new schema cannot read old data (READER_FIELD_MISSING_DEFAULT_VALUE)',
      ]);
    });

    it('checks every version FORWARD_TRANSITIVE', () => {
      // The oldest version requires "c"; the latest gave it a default; the candidate removes it.
      const oldest = record('R', [{ name: 'a', type: 'string' }, { name: 'c', type: 'int' }]);
      const latest = record('R', [{ name: 'a', type: 'string' }, { name: 'c', type: 'int', default: 0 }]);
      expect(verdict('FORWARD', first, oldest, latest)).toBe(true);
      expect(verdict('FORWARD_TRANSITIVE', first, oldest, latest)).toBe(false);
    });
  });

  it('reports both directions under FULL', () => {
    const result = checkCompatibility('FULL', person({ name: 'age', type: 'int' }), [person({ name: 'age', type: 'long' }), person({ name: 'age', type: 'string' })]);
    expect(result.messages).toEqual([
      'field "age": the old type string cannot be read as the new type int: readers using the new schema cannot read old data (TYPE_MISMATCH)',
      'field "age": the new type int cannot be read as the old type string: readers using the old schema cannot read new data (TYPE_MISMATCH)',
    ]);
  });

  it('accepts anything under NONE', () => {
    expect(checkCompatibility('NONE', 'string', [person()])).toEqual({ compatible: true, messages: [], incompatibilities: [] });
  });

  it('accepts the first schema of a subject under every level', () => {
    for (const level of compatibilityLevels) expect(verdict(level, withPhone)).toBe(true);
  });

  it('refuses an unknown level', () => {
    expect(() => checkCompatibility('SIDEWAYS' as CompatibilityLevel, v1, [v1])).toThrow(/unknown compatibility level/);
  });
});

describe('describeSchemaChange', () => {
  it('lists added, removed and retyped top-level fields', () => {
    const before = record('R', [
      { name: 'id', type: 'string' },
      { name: 'name', type: 'string' },
      { name: 'birth', type: 'string' },
      { name: 'gone', type: 'int' },
    ]);
    const after = record('R', [
      { name: 'id', type: 'string', doc: 'docs do not count' },
      { name: 'name', type: ['null', 'string'], default: null },
      { name: 'birth', type: { type: 'int', logicalType: 'date' } },
      { name: 'phone', type: { type: 'array', items: 'string' }, default: [] },
    ]);
    expect(describeSchemaChange(before, after)).toEqual({
      added: ['phone'],
      removed: ['gone'],
      retyped: [
        { field: 'name', from: 'string', to: '["null","string"]' },
        { field: 'birth', from: 'string', to: 'int(date)' },
      ],
    });
  });

  it('renders named, map and decimal types readably', () => {
    const address = { type: 'record', name: 'Address', namespace: 'gov', fields: [] } as JsonValue;
    const before = record('R', [{ name: 'a', type: 'string' }, { name: 'm', type: 'string' }, { name: 'd', type: 'string' }]);
    const after = record('R', [
      { name: 'a', type: ['null', address] },
      { name: 'm', type: { type: 'map', values: 'long' } },
      { name: 'd', type: decimal(10, 2) },
    ]);
    expect(describeSchemaChange(before, after).retyped.map((r) => r.to)).toEqual([
      '["null","Address"]',
      'map<long>',
      'bytes(decimal(10,2))',
    ]);
  });

  it('notices a named type replaced by a different one with the same short name', () => {
    const before = record('R', [{ name: 's', type: { type: 'enum', name: 'a.S', symbols: ['X'] } }]);
    const after = record('R', [{ name: 's', type: { type: 'enum', name: 'b.S', symbols: ['X'] } }]);
    expect(describeSchemaChange(before, after).retyped).toEqual([{ field: 's', from: 'S', to: 'S' }]);
  });

  it('reports nothing for identical schemas and treats non-records as having no fields', () => {
    expect(describeSchemaChange(person(), person())).toEqual({ added: [], removed: [], retyped: [] });
    expect(describeSchemaChange('string', person())).toEqual({ added: ['id'], removed: [], retyped: [] });
  });
});
