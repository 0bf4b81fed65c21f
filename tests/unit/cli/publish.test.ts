import { csvCellConverter } from '../../../cli/publish';

describe('csvCellConverter', () => {
  it('turns cells into the values the field types want, and empty nullable cells into null', () => {
    expect(csvCellConverter('int')('42')).toBe(42);
    expect(csvCellConverter('long')('-7')).toBe(-7);
    expect(csvCellConverter('double')('3.25')).toBe(3.25);
    expect(csvCellConverter('boolean')('TRUE')).toBe(true);
    expect(csvCellConverter('null | string')('')).toBeNull();
    expect(csvCellConverter('null | enum MaritalStatus')('MARRIED')).toBe('MARRIED');
    expect(csvCellConverter('string')('')).toBe('');
    expect(csvCellConverter('int (date)')('1990-03-07')).toBe('1990-03-07');
    expect(csvCellConverter('null | bytes (decimal)')('1000000.00')).toBe('1000000.00');
    expect(csvCellConverter('array<string>')('["a","b"]')).toEqual(['a', 'b']);
  });

  it('leaves a cell that does not fit its type as text, for the gateway to reject by field', () => {
    expect(csvCellConverter('int')('forty')).toBe('forty');
    expect(csvCellConverter('boolean')('yes')).toBe('yes');
    expect(csvCellConverter('record Geometry')('{broken')).toBe('{broken');
  });
});
