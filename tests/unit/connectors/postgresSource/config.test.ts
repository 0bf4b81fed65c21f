import { validateConnectorConfig } from '../../../../connectors/plugins';
import { ctx, problemsOf, source } from '../configFixtures';

describe('connector config validation', () => {
  it('accepts a complete postgres-source config and fills in the defaults', () => {
    const r = validateConnectorConfig('psb-residents', source(), ctx);
    expect(r).toEqual({
      ok: true,
      config: expect.objectContaining({
        connectorClass: 'postgres-source',
        table: 'public.residents',
        batchMaxRows: 500,
        pollIntervalMs: 5000,
        errorsTolerance: 'none',
        deadLetterTopic: null,
      }),
    });
  });

  it('requires the incrementing column only in timestamp+incrementing mode', () => {
    const { 'incrementing.column.name': _i, ...noIncrementing } = source();
    expect(problemsOf('x', noIncrementing).map((p) => p.key)).toEqual(['incrementing.column.name']);
    expect(problemsOf('x', { ...noIncrementing, mode: 'timestamp' })).toEqual([]);
  });

  it("refuses a source reading govx's own database", () => {
    const p = problemsOf('x', source({ 'connection.url': 'jdbc:postgresql://localhost/govx' }));
    expect(p).toEqual([{ key: 'connection.url', message: "config.connection.url must not point at govx's own database" }]);
  });
});
