import { problemsOf } from '../configFixtures';

describe('connector config validation', () => {
  it('keeps file connectors inside the file root: the file sink', () => {
    const sink = { 'connector.class': 'file-sink', topics: 'govx.dataset.population.residents' };
    expect(problemsOf('x', { ...sink, file: '/tmp/out.ndjson' })[0]!.key).toBe('file');
  });

  it('only lets a sink read govx topics', () => {
    const sink = { 'connector.class': 'file-sink', file: 'out.ndjson' };
    expect(problemsOf('x', { ...sink, topics: '__consumer_offsets' })[0]!.key).toBe('topics');
    expect(problemsOf('x', { ...sink, topics: 'govx.dataset.a.b, govx.share.s1' })).toEqual([]);
  });
});
