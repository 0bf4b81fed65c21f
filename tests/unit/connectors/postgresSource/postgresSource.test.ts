import { pgTimestampToIso } from '../../../../connectors/postgresSource/postgresSource';

describe('source value conversion', () => {
  it('turns PostgreSQL timestamps into ISO 8601 in UTC', () => {
    expect(pgTimestampToIso('2024-05-01 08:00:00.123456+00')).toBe('2024-05-01T08:00:00.123Z');
    expect(pgTimestampToIso('2024-05-01 16:00:00+08')).toBe('2024-05-01T08:00:00.000Z');
    expect(pgTimestampToIso('2024-05-01 08:00:00')).toBe('2024-05-01T08:00:00.000Z');
    expect(pgTimestampToIso('infinity')).toBe('infinity');
  });
});
