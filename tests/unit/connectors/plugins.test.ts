import { problemsOf, source } from './configFixtures';

describe('connector config validation', () => {
  it('reports every problem at once: unknown keys, missing keys, bad enums', () => {
    const { dataset: _d, ...withoutDataset } = source({ mode: 'bulk', 'tabel.include.list': 'x' });
    const keys = problemsOf('x', withoutDataset).map((p) => p.key).sort();
    expect(keys).toEqual(['dataset', 'mode', 'tabel.include.list']);
    expect(problemsOf('x', source({ mode: 'bulk' }))[0]!.message).toBe('config.mode must be one of "timestamp", "timestamp+incrementing", got "bulk"');
  });

  it('refuses an unknown connector class and a hostile connector name', () => {
    expect(problemsOf('x', { 'connector.class': 'io.confluent.JdbcSource' })[0]!.key).toBe('connector.class');
    expect(problemsOf('../etc', source()).map((p) => p.key)).toContain('name');
  });
});
