import { createHash } from 'node:crypto';
import {
  MAX_SCHEMA_BYTES,
  MAX_SCHEMA_DEPTH,
  SchemaParseError,
  canonicalSchemaString,
  fingerprintOf,
  parseAvroSchema,
  type AvroSchema,
} from '../../../../catalog/registry/canonical';

const canonicalOf = (text: string): string => canonicalSchemaString(parseAvroSchema(text).schema);

function parseError(text: string): SchemaParseError {
  try {
    parseAvroSchema(text);
  } catch (err) {
    expect(err).toBeInstanceOf(SchemaParseError);
    return err as SchemaParseError;
  }
  throw new Error(`expected a SchemaParseError for ${text.slice(0, 80)}`);
}

const person = {
  type: 'record',
  name: 'Person',
  namespace: 'gov.population',
  doc: 'A resident',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'birth_date', type: { type: 'int', logicalType: 'date' } },
    { name: 'phone', type: ['null', 'string'], default: null },
  ],
};

describe('parseAvroSchema', () => {
  it('accepts a bare primitive type name', () => {
    expect(parseAvroSchema('"string"').schema).toBe('string');
  });

  it('returns the parsed JSON unchanged', () => {
    expect(parseAvroSchema(JSON.stringify(person)).schema).toEqual(person);
  });

  it('accepts the standard logical types', () => {
    const schema = {
      type: 'record',
      name: 'Logical',
      fields: [
        { name: 'amount', type: { type: 'bytes', logicalType: 'decimal', precision: 10, scale: 2 } },
        { name: 'fixed_amount', type: { type: 'fixed', name: 'Money', size: 8, logicalType: 'decimal', precision: 18, scale: 4 } },
        { name: 'day', type: { type: 'int', logicalType: 'date' } },
        { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
        { name: 'at_micros', type: { type: 'long', logicalType: 'timestamp-micros' } },
        { name: 'local', type: { type: 'long', logicalType: 'local-timestamp-millis' } },
        { name: 'time', type: { type: 'int', logicalType: 'time-millis' } },
        { name: 'uid', type: { type: 'string', logicalType: 'uuid' } },
        { name: 'span', type: { type: 'fixed', name: 'Span', size: 12, logicalType: 'duration' } },
      ],
    };
    expect(() => parseAvroSchema(JSON.stringify(schema))).not.toThrow();
  });

  it('accepts unknown logical types and custom attributes', () => {
    const schema = {
      type: 'record',
      name: 'Custom',
      'govx.check': { pattern: '^[0-9]{18}$' },
      fields: [{ name: 'id_card', type: { type: 'string', logicalType: 'gb11643-id' }, 'govx.sensitivity': 'high' }],
    };
    expect(() => parseAvroSchema(JSON.stringify(schema))).not.toThrow();
  });

  it('accepts recursive types, enums with defaults, errors and maps', () => {
    const schema = {
      type: 'record',
      name: 'Node',
      fields: [
        { name: 'value', type: 'long' },
        { name: 'next', type: ['null', 'Node'], default: null },
        { name: 'state', type: { type: 'enum', name: 'State', symbols: ['A', 'B'], default: 'A' }, default: 'B' },
        { name: 'tags', type: { type: 'map', values: 'string' }, default: { a: 'b' } },
      ],
    };
    expect(() => parseAvroSchema(JSON.stringify(schema))).not.toThrow();
    expect(() => parseAvroSchema('{"type":"error","name":"Oops","fields":[]}')).not.toThrow();
  });

  it('accepts ambiguous-looking unions that are valid Avro', () => {
    expect(() => parseAvroSchema('["int","long","float","double"]')).not.toThrow();
  });

  it('accepts a dotted record name with a conflicting namespace attribute, as the spec allows', () => {
    const schema = {
      type: 'record',
      name: 'a.b.R',
      namespace: 'ignored',
      fields: [
        { name: 'e', type: { type: 'enum', name: 'E', symbols: ['X'] } },
        { name: 'again', type: 'a.b.E' },
      ],
    };
    expect(() => parseAvroSchema(JSON.stringify(schema))).not.toThrow();
  });

  it('keeps a "__proto__" attribute as plain data', () => {
    const { schema } = parseAvroSchema('{"type":"record","name":"P","__proto__":{"polluted":true},"fields":[]}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(canonicalSchemaString(schema)).toBe('{"name":"P","type":"record","fields":[],"__proto__":{"polluted":true}}');
  });

  it('refuses text that is not JSON', () => {
    expect(parseError('{"type": "record",').message).toMatch(/not valid JSON/);
    expect(parseError('').message).toMatch(/not valid JSON/);
  });

  it('refuses JSON that cannot be a schema', () => {
    expect(parseError('42').message).toMatch(/JSON string, array or object/);
    expect(parseError('null').message).toMatch(/JSON string, array or object/);
    expect(parseError('true').message).toMatch(/JSON string, array or object/);
  });

  it.each([
    ['an unknown type name', '"strin"', /unknown type "strin"/],
    ['a record without fields', '{"type":"record","name":"R"}', /needs a "fields" array/],
    ['a record without a name', '{"type":"record","fields":[]}', /needs a "name"/],
    ['an invalid name', '{"type":"record","name":"9lives","fields":[]}', /invalid record name/],
    ['a duplicate field', '{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"a","type":"long"}]}', /duplicate field/],
    ['a default of the wrong type', '{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":"x"}]}', /incompatible field default/],
    ['a union default not matching the first branch', '{"type":"record","name":"R","fields":[{"name":"a","type":["string","null"],"default":null}]}', /first branch/],
    ['an enum default that is not a symbol', '{"type":"enum","name":"E","symbols":["A"],"default":"B"}', /invalid .*default/],
    ['an invalid enum symbol', '{"type":"enum","name":"E","symbols":["not ok"]}', /symbol/],
    ['a fixed without a size', '{"type":"fixed","name":"F"}', /invalid size/],
    ['a nested union', '["null",["int","string"]]', /may not directly contain another union/],
    ['a union with a repeated type', '["null","null"]', /duplicate/],
    ['a use before definition', '{"type":"record","name":"R","fields":[{"name":"a","type":"Later"}]}', /unknown type "Later"/],
    ['a type defined twice', '{"type":"record","name":"R","fields":[{"name":"a","type":{"type":"enum","name":"R","symbols":["X"]}}]}', /defined twice/],
    ['a named type called like a primitive', '{"type":"fixed","name":"int","size":4}', /primitive/],
    ['an invalid field order', '{"type":"record","name":"R","fields":[{"name":"a","type":"int","order":"up"}]}', /invalid order/],
    ['an object "type" that is not a string', '{"type":{"type":"string"}}', /string "type"/],
    ['an array without items', '{"type":"array"}', /needs "items"/],
  ])('refuses invalid Avro: %s', (_what, text, message) => {
    expect(parseError(text).message).toMatch(message);
  });

  it('refuses schemas nested deeper than the limit without overflowing the stack', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    expect(parseError(deep).message).toMatch(new RegExp(`deeper than ${MAX_SCHEMA_DEPTH}`));
    let nested = '"string"';
    for (let i = 0; i < MAX_SCHEMA_DEPTH; i++) nested = `{"type":"array","items":${nested}}`;
    expect(() => parseAvroSchema(nested)).not.toThrow();
    expect(parseError(`{"type":"array","items":${nested}}`).message).toMatch(/deeper than/);
  });

  it('does not count brackets inside strings as nesting', () => {
    const doc = '['.repeat(MAX_SCHEMA_DEPTH * 2) + '\\"' + '{'.repeat(10);
    expect(() => parseAvroSchema(JSON.stringify({ type: 'string', doc }))).not.toThrow();
  });

  it('refuses schemas larger than the size limit', () => {
    const huge = JSON.stringify({ type: 'string', doc: 'x'.repeat(MAX_SCHEMA_BYTES) });
    expect(parseError(huge).message).toMatch(/larger than/);
  });

  it('gives the error a name and a readable message', () => {
    const err = parseError('{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":"x"}]}');
    expect(err.name).toBe('SchemaParseError');
    expect(err.message).toMatch(/^invalid Avro schema: /);
  });
});

describe('canonicalSchemaString', () => {
  it('is the same for differently formatted and ordered but identical schemas', () => {
    const a = JSON.stringify(person);
    const b = `{
      "fields": [
        {"type": "string", "name": "id"},
        {"type": {"logicalType": "date", "type": "int"}, "name": "birth_date"},
        {"default": null, "type": ["null", {"type": "string"}], "name": "phone"}
      ],
      "doc": "A resident",
      "name": "Person",
      "namespace": "gov.population",
      "type": "record"
    }`;
    expect(canonicalOf(a)).toBe(canonicalOf(b));
  });

  it('writes a bare primitive for {"type": "string"}', () => {
    expect(canonicalOf('{"type":"string"}')).toBe('"string"');
    expect(canonicalOf('"string"')).toBe('"string"');
    expect(canonicalOf('{"type":"array","items":{"type":"long"}}')).toBe('{"type":"array","items":"long"}');
  });

  it('keeps a primitive in object form when it carries attributes', () => {
    expect(canonicalOf('{"logicalType":"date","type":"int"}')).toBe('{"type":"int","logicalType":"date"}');
    expect(canonicalOf('{"type":"string","avro.java.string":"String"}')).toBe('{"type":"string","avro.java.string":"String"}');
  });

  it('has a fixed key order and no whitespace', () => {
    expect(canonicalOf(JSON.stringify(person))).toBe(
      '{"name":"gov.population.Person","type":"record","fields":[' +
        '{"name":"id","type":"string"},' +
        '{"name":"birth_date","type":{"type":"int","logicalType":"date"}},' +
        '{"name":"phone","type":["null","string"],"default":null}' +
        '],"doc":"A resident"}',
    );
  });

  it('writes full names and drops namespace attributes', () => {
    const short = '{"type":"record","name":"R","namespace":"a.b","fields":[]}';
    const full = '{"type":"record","name":"a.b.R","fields":[]}';
    expect(canonicalOf(short)).toBe('{"name":"a.b.R","type":"record","fields":[]}');
    expect(canonicalOf(full)).toBe(canonicalOf(short));
  });

  it('lets nested named types inherit the enclosing namespace, and references resolve to full names', () => {
    const schema: AvroSchema = {
      type: 'record',
      name: 'Outer',
      namespace: 'gov.x',
      fields: [
        { name: 'status', type: { type: 'enum', name: 'Status', symbols: ['ON', 'OFF'] } },
        { name: 'previous', type: 'Status' },
        { name: 'other', type: { type: 'fixed', name: 'Hash', namespace: 'gov.y', size: 4 } },
        { name: 'again', type: 'gov.y.Hash' },
        { name: 'global', type: { type: 'enum', name: 'Flag', namespace: '', symbols: ['Y'] } },
        { name: 'global_again', type: 'Flag' },
      ],
    };
    expect(canonicalSchemaString(schema)).toBe(
      '{"name":"gov.x.Outer","type":"record","fields":[' +
        '{"name":"status","type":{"name":"gov.x.Status","type":"enum","symbols":["ON","OFF"]}},' +
        '{"name":"previous","type":"gov.x.Status"},' +
        '{"name":"other","type":{"name":"gov.y.Hash","type":"fixed","size":4}},' +
        '{"name":"again","type":"gov.y.Hash"},' +
        '{"name":"global","type":{"name":"Flag","type":"enum","symbols":["Y"]}},' +
        '{"name":"global_again","type":"Flag"}' +
        ']}',
    );
  });

  it('takes the namespace of a dotted name for nested types, ignoring a namespace attribute', () => {
    const schema = {
      type: 'record',
      name: 'a.b.R',
      namespace: 'ignored',
      fields: [{ name: 'e', type: { type: 'enum', name: 'E', symbols: ['X'] } }],
    };
    expect(canonicalSchemaString(schema)).toContain('"name":"a.b.E"');
    expect(canonicalSchemaString(schema)).not.toContain('ignored');
  });

  it('qualifies aliases with the namespace of the type', () => {
    const schema = { type: 'record', name: 'New', namespace: 'ns', aliases: ['Old', 'other.Older'], fields: [] };
    expect(canonicalSchemaString(schema)).toBe('{"name":"ns.New","type":"record","fields":[],"aliases":["ns.Old","other.Older"]}');
  });

  it('writes a recursive type once and refers to it by name afterwards', () => {
    const list = { type: 'record', name: 'Node', fields: [{ name: 'value', type: 'int' }, { name: 'next', type: ['null', 'Node'] }] };
    expect(canonicalSchemaString(list)).toBe(
      '{"name":"Node","type":"record","fields":[{"name":"value","type":"int"},{"name":"next","type":["null","Node"]}]}',
    );
  });

  it('treats an explicit ascending order like no order', () => {
    const plain = { type: 'record', name: 'R', fields: [{ name: 'a', type: 'int' }] };
    const explicit = { type: 'record', name: 'R', fields: [{ name: 'a', type: 'int', order: 'ascending' }] };
    expect(canonicalSchemaString(explicit)).toBe(canonicalSchemaString(plain));
  });

  it('does not depend on the key order inside default values', () => {
    const inner = { type: 'record', name: 'P', fields: [{ name: 'x', type: 'int' }, { name: 'y', type: 'int' }] };
    const a = { type: 'record', name: 'R', fields: [{ name: 'p', type: inner, default: { x: 1, y: 2 } }] };
    const b = { type: 'record', name: 'R', fields: [{ name: 'p', type: inner, default: { y: 2, x: 1 } }] };
    expect(canonicalSchemaString(a)).toBe(canonicalSchemaString(b));
  });

  describe('keeps semantically relevant attributes, so changing them makes a different schema', () => {
    const base = (field: Record<string, unknown>, extra: Record<string, unknown> = {}): AvroSchema =>
      ({ type: 'record', name: 'R', ...extra, fields: [{ name: 'a', type: 'string', ...field }] }) as AvroSchema;
    const cases: Array<[string, AvroSchema, AvroSchema]> = [
      ['a field default', base({ default: 'x' }), base({ default: 'y' })],
      ['a field default added', base({}), base({ default: 'x' })],
      ['a field doc', base({ doc: 'one' }), base({ doc: 'two' })],
      ['a record doc', base({}, { doc: 'one' }), base({}, { doc: 'two' })],
      ['a field order', base({}), base({ order: 'descending' })],
      ['field aliases', base({}), base({ aliases: ['b'] })],
      ['record aliases', base({}), base({}, { aliases: ['S'] })],
      ['a custom attribute', base({ 'govx.check': 'a' }), base({ 'govx.check': 'b' })],
      ['a logical type', base({ type: 'int' }), base({ type: { type: 'int', logicalType: 'date' } })],
      [
        'a decimal scale',
        base({ type: { type: 'bytes', logicalType: 'decimal', precision: 6, scale: 2 } }),
        base({ type: { type: 'bytes', logicalType: 'decimal', precision: 6, scale: 3 } }),
      ],
      [
        'enum symbols order',
        base({ type: { type: 'enum', name: 'E', symbols: ['A', 'B'] } }),
        base({ type: { type: 'enum', name: 'E', symbols: ['B', 'A'] } }),
      ],
      [
        'an enum default',
        base({ type: { type: 'enum', name: 'E', symbols: ['A', 'B'] } }),
        base({ type: { type: 'enum', name: 'E', symbols: ['A', 'B'], default: 'A' } }),
      ],
      ['a fixed size', base({ type: { type: 'fixed', name: 'F', size: 2 } }), base({ type: { type: 'fixed', name: 'F', size: 3 } })],
      ['a namespace', base({}, { namespace: 'a' }), base({}, { namespace: 'b' })],
      ['union branch order', base({ type: ['null', 'string'] }), base({ type: ['string', 'null'] })],
    ];
    it.each(cases)('%s', (_what, a, b) => {
      expect(canonicalSchemaString(a)).not.toBe(canonicalSchemaString(b));
      expect(fingerprintOf(a)).not.toBe(fingerprintOf(b));
    });

    it('field order', () => {
      const a = { type: 'record', name: 'R', fields: [{ name: 'a', type: 'int' }, { name: 'b', type: 'int' }] };
      const b = { type: 'record', name: 'R', fields: [{ name: 'b', type: 'int' }, { name: 'a', type: 'int' }] };
      expect(canonicalSchemaString(a)).not.toBe(canonicalSchemaString(b));
    });
  });
});

describe('fingerprintOf', () => {
  it('is the sha256 hex of the canonical form', () => {
    const expected = createHash('sha256').update(canonicalSchemaString(person as AvroSchema)).digest('hex');
    expect(fingerprintOf(person as AvroSchema)).toBe(expected);
    expect(fingerprintOf(person as AvroSchema)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is equal for equivalent schemas', () => {
    expect(fingerprintOf({ type: 'string' })).toBe(fingerprintOf('string'));
  });

  it('refuses a schema object that is nested too deeply', () => {
    let nested: AvroSchema = 'string';
    for (let i = 0; i <= MAX_SCHEMA_DEPTH; i++) nested = { type: 'array', items: nested };
    expect(() => fingerprintOf(nested)).toThrow(SchemaParseError);
  });
});
