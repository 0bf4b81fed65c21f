import { validateConnectorConfig } from '../../../connectors/plugins';

/** What the connector config unit tests share: a validation context and a complete postgres-source config. */

export const ctx = { fileRoot: '/srv/govx/connect/psb' };

export const source = (extra: Record<string, string> = {}) => ({
  'connector.class': 'postgres-source',
  'connection.url': 'postgresql://psb:s3cret@10.1.2.3:5432/hukou',
  'table.include.list': 'public.residents',
  dataset: 'population.residents',
  mode: 'timestamp+incrementing',
  'timestamp.column.name': 'updated_at',
  'incrementing.column.name': 'row_id',
  ...extra,
});

export const problemsOf = (name: string, raw: Record<string, string>) => {
  const r = validateConnectorConfig(name, raw, ctx);
  return r.ok ? [] : r.problems;
};
