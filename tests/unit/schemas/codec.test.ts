import { compileNaturalType, validateNatural } from '../../../schemas/codec';

const schema = {
  type: 'record',
  name: 'T',
  fields: [
    { name: 'day', type: { type: 'int', logicalType: 'date' } },
    { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'amount', type: { type: 'bytes', logicalType: 'decimal', precision: 18, scale: 2 } },
    { name: 'note', type: ['null', 'string'], default: null },
    { name: 'kind', type: { type: 'enum', name: 'Kind', symbols: ['A', 'B'] } },
    { name: 'inner', type: ['null', { type: 'record', name: 'Inner', fields: [{ name: 'x', type: 'int' }] }], default: null },
  ],
};
const type = compileNaturalType(schema);
const good = { day: '2024-02-29', at: '2024-05-01T08:30:00.123Z', amount: '-1234567.05', note: null, kind: 'A' };

describe('natural JSON codec', () => {
  it('round-trips dates, timestamps, decimals and nullable unions in their natural form', () => {
    const back = type.fromBuffer(type.toBuffer({ ...good, note: 'hi', inner: { x: 3 } }));
    expect(back).toMatchObject({ day: '2024-02-29', at: '2024-05-01T08:30:00.123Z', amount: '-1234567.05', note: 'hi', kind: 'A', inner: { x: 3 } });
  });

  it.each([
    ['0', '0.00'],
    ['0.01', '0.01'],
    ['-0.01', '-0.01'],
    ['127', '127.00'],
    ['128', '128.00'],
    ['-128', '-128.00'],
    ['-129', '-129.00'],
    ['255.5', '255.50'],
    ['9999999999999999.99', '9999999999999999.99'],
    ['-9999999999999999.99', '-9999999999999999.99'],
  ])('encodes the decimal %s exactly, reading back %s', (amount, expected) => {
    const back = type.fromBuffer(type.toBuffer({ ...good, amount })) as { amount: string };
    expect(back.amount).toBe(expected);
  });

  it('fills omitted nullable fields with their default', () => {
    expect(validateNatural(type, good)).toEqual([]);
    expect(type.fromBuffer(type.toBuffer(good))).toMatchObject({ note: null, inner: null });
  });

  it('names each bad field and what it must be', () => {
    const errors = validateNatural(type, { ...good, day: '2023-02-29', at: '2024-05-01 08:30', amount: 12.5, kind: 'C' });
    const byPath = Object.fromEntries(errors.map((e) => [e.path, e.message]));
    expect(byPath.day).toBe('is not a real calendar date (it has the YYYY-MM-DD form, but no such day exists)');
    expect(byPath.at).toMatch(/ISO 8601/);
    expect(byPath.amount).toMatch(/decimal string/);
    expect(byPath.kind).toBe('must be one of A, B');
  });

  it('tells a date in another form to use YYYY-MM-DD', () => {
    const errors = validateNatural(type, { ...good, day: '01/05/2024' });
    expect(errors).toEqual([{ path: 'day', message: 'must be a date in YYYY-MM-DD form', rule: 'type' }]);
  });

  it('rejects a decimal with more decimals or digits than the schema allows', () => {
    expect(validateNatural(type, { ...good, amount: '1.234' })[0]?.path).toBe('amount');
    expect(validateNatural(type, { ...good, amount: '12345678901234567.00' })[0]?.path).toBe('amount');
  });

  it('reports unknown fields, also inside nested records, and missing required ones', () => {
    const { kind: _k, ...rest } = good;
    const errors = validateNatural(type, { ...rest, extra: 1, inner: { x: 1, y: 2 } });
    expect(errors).toEqual(
      expect.arrayContaining([
        { path: 'extra', message: 'is not a field of this dataset', rule: 'unknown-field' },
        { path: 'inner.y', message: 'is not a field of this dataset', rule: 'unknown-field' },
        { path: 'kind', message: 'is required', rule: 'required' },
      ]),
    );
  });

  it('refuses a record that is not an object', () => {
    expect(validateNatural(type, [1, 2])).toEqual([{ path: '', message: 'a record must be a JSON object', rule: 'type' }]);
    expect(validateNatural(type, 'x')[0]?.rule).toBe('type');
  });
});

describe('unknown fields below the top level', () => {
  const type = compileNaturalType({
    type: 'record',
    name: 'Parcel',
    fields: [
      { name: 'id', type: 'string' },
      { name: 'owners', type: { type: 'array', items: { type: 'record', name: 'Owner', fields: [{ name: 'name', type: 'string' }] } } },
      { name: 'tags', type: ['null', { type: 'map', values: { type: 'record', name: 'Tag', fields: [{ name: 'v', type: 'string' }] } }], default: null },
    ],
  });

  it('are rejected by path inside arrays of records and maps of records', () => {
    const errors = validateNatural(type, { id: 'p1', owners: [{ name: 'a' }, { name: 'b', share: 0.5 }], tags: { k: { v: 'x', w: 'y' } } });
    expect(errors.filter((e) => e.rule === 'unknown-field').map((e) => e.path).sort()).toEqual(['owners.1.share', 'tags.k.w']);
  });

  it('leave valid nested values alone', () => {
    expect(validateNatural(type, { id: 'p1', owners: [{ name: 'a' }], tags: null })).toEqual([]);
  });
});

describe('names every JavaScript object answers to', () => {
  it('are not enum symbols', () => {
    for (const kind of ['toString', 'constructor', 'hasOwnProperty', '__proto__', 'valueOf']) {
      expect(validateNatural(type, { ...good, kind })).toEqual([{ path: 'kind', message: 'must be one of A, B', rule: 'type' }]);
      expect(type.isValid({ ...good, kind })).toBe(false);
      expect(() => type.toBuffer({ ...good, kind })).toThrow();
    }
  });

  it('are unknown fields, at the top and nested, never a crash', () => {
    const top = JSON.parse(JSON.stringify({ ...good, constructor: 1 }).replace(/^\{/, '{"__proto__":{"x":1},'));
    const paths = validateNatural(type, top).map((e) => e.path).sort();
    expect(paths).toEqual(['__proto__', 'constructor']);
    expect(validateNatural(type, { ...good, inner: { x: 1, toString: 2 } })).toEqual([
      { path: 'inner.toString', message: 'is not a field of this dataset', rule: 'unknown-field' },
    ]);
  });

  it('as declared field names, are required like any other field', () => {
    const odd = compileNaturalType({ type: 'record', name: 'Odd', fields: [{ name: 'constructor', type: 'string' }] });
    expect(validateNatural(odd, {})).toEqual([{ path: 'constructor', message: 'is required', rule: 'required' }]);
    expect(validateNatural(odd, { constructor: 'x' })).toEqual([]);
  });
});
