import path from 'node:path';
import { type CommonConfig, type ConfigReader, DATASET_ID, type KeySpec, type RawConfig, readCommonConfig, type ValidationContext } from '../config';
import { insideRoot } from '../fileRoot';

export interface FileSourceConfig extends CommonConfig {
  connectorClass: 'file-source';
  dataset: string;
  directory: string;
  format: 'csv' | 'ndjson';
  pollIntervalMs: number;
  batchMaxRows: number;
}

export const fileSourceKeys: Record<string, KeySpec> = {
  dataset: { doc: 'the dataset the records are published to', required: true },
  'file.path': { doc: 'directory whose .csv / .ndjson files are each published once', required: true },
  format: { doc: '`csv` (header row) or `ndjson`', required: true },
  'poll.interval.ms': { doc: 'wait between directory scans', default: '5000' },
  'batch.max.rows': { doc: 'records per batch', default: '500' },
};

export function validateFileSourceConfig(r: ConfigReader, name: string, raw: RawConfig, ctx: ValidationContext): FileSourceConfig {
  const dataset = r.string('dataset', DATASET_ID, 'a dataset id such as population.residents');
  const common = readCommonConfig(r, name, raw, `govx.dlq.${dataset}`);
  const directory = r.string('file.path');
  if (directory && !insideRoot(ctx.fileRoot, directory)) r.problem('file.path', `config.file.path must lie inside the connector file root (${ctx.fileRoot})`);
  return {
    ...common,
    connectorClass: 'file-source',
    dataset,
    directory: directory ? path.resolve(ctx.fileRoot, directory) : '',
    format: r.oneOf('format', ['csv', 'ndjson'] as const),
    pollIntervalMs: r.int('poll.interval.ms', 10, 86_400_000),
    batchMaxRows: r.int('batch.max.rows', 1, 100_000),
  };
}
