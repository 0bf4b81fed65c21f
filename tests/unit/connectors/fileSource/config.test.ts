import { problemsOf } from '../configFixtures';

describe('connector config validation', () => {
  it('keeps file connectors inside the file root: the file source', () => {
    const file = { 'connector.class': 'file-source', dataset: 'population.residents', format: 'csv' };
    expect(problemsOf('x', { ...file, 'file.path': '../../etc' })[0]!.key).toBe('file.path');
    expect(problemsOf('x', { ...file, 'file.path': 'psb/incoming' })).toEqual([]);
  });
});
