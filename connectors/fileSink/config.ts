import path from 'node:path';
import { type CommonConfig, type ConfigReader, connectorDeadLetterTopic, type KeySpec, type RawConfig, readCommonConfig, TOPIC_NAME, type ValidationContext } from '../config';
import { insideRoot } from '../fileRoot';

export interface FileSinkConfig extends CommonConfig {
  connectorClass: 'file-sink';
  topics: string[];
  file: string;
  batchMaxRows: number;
}

export const fileSinkKeys: Record<string, KeySpec> = {
  topics: { doc: 'comma-separated govx topics to write', required: true },
  file: { doc: 'the NDJSON file records are appended to', required: true },
  'batch.max.rows': { doc: 'records per write (and fsync)', default: '500' },
};

export function validateFileSinkConfig(r: ConfigReader, name: string, raw: RawConfig, ctx: ValidationContext): FileSinkConfig {
  const common = readCommonConfig(r, name, raw, connectorDeadLetterTopic(name));
  const topicsText = r.string('topics');
  const topics = topicsText.split(',').map((t) => t.trim()).filter(Boolean);
  if (topicsText && topics.length === 0) r.problem('topics', 'config.topics must list at least one topic');
  for (const t of topics) {
    if (!TOPIC_NAME.test(t) || !t.startsWith('govx.')) r.problem('topics', `config.topics: "${t}" is not a govx topic (govx.dataset.…, govx.share.…)`);
  }
  const file = r.string('file');
  if (file && !insideRoot(ctx.fileRoot, file)) r.problem('file', `config.file must lie inside the connector file root (${ctx.fileRoot})`);
  else if (file && path.resolve(ctx.fileRoot, file) === path.resolve(ctx.fileRoot)) r.problem('file', 'config.file must name a file, not the root directory');
  return {
    ...common,
    connectorClass: 'file-sink',
    topics,
    file: file ? path.resolve(ctx.fileRoot, file) : '',
    batchMaxRows: r.int('batch.max.rows', 1, 100_000),
  };
}
