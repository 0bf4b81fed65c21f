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

  it('refuses connection parameters that change the target or the session, unix sockets and host lists', () => {
    for (const url of [
      'postgresql://10.1.2.3/hukou?host=127.0.0.1',
      'postgresql://10.1.2.3/hukou?hostaddr=127.0.0.1',
      'postgresql://10.1.2.3/hukou?port=5433',
      'postgresql://10.1.2.3/hukou?dbname=govx',
      'postgresql://10.1.2.3/hukou?service=govx',
      'postgresql://10.1.2.3/hukou?options=-c%20search_path%3Dpublic',
      'postgresql://10.1.2.3/hukou?passfile=/root/.pgpass',
      'postgresql://10.1.2.3/hukou?sslrootcert=/etc/passwd',
      'postgresql://10.1.2.3/hukou?host=/var/run/postgresql',
      'postgresql:///hukou',
      'postgresql://%2Fvar%2Frun%2Fpostgresql/hukou',
      'postgresql://a.example,b.example/hukou',
      'postgresql://10.1.2.3:5432/',
      'mysql://10.1.2.3/hukou',
    ]) {
      expect([url, problemsOf('x', source({ 'connection.url': url })).map((p) => p.key)]).toEqual([url, ['connection.url']]);
    }
    expect(problemsOf('x', source({ 'connection.url': 'postgresql://u@10.1.2.3/hukou?sslmode=require&connect_timeout=3' }))).toEqual([]);
  });
});
