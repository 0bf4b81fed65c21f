import { csvCell } from '../../../../connectors/fileSource/fileSource';
import { compileNaturalType } from '../../../../schemas/codec';

describe('source value conversion', () => {
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
