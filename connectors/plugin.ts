import type { CommonConfig, ConfigReader, ConnectorKind, KeySpec, RawConfig, SinkCommonConfig, SourceCommonConfig, ValidationContext } from './config';
import { SinkTask, type SinkWriter } from './runtime/sinkTask';
import { SourceTask, type SourceReader } from './runtime/sourceTask';
import type { ConnectorTask, TaskContext } from './runtime/task';

/** One connector class, as its folder exports it and `plugins.ts` lists it. */
export interface ConnectorPlugin<C extends CommonConfig & { connectorClass: string }> {
  /** the value of `connector.class` */
  class: C['connectorClass'];
  kind: ConnectorKind;
  /** its settings besides the common ones; any other key is refused */
  keys: Record<string, KeySpec>;
  /**
   * Whether exactly one worker at a time may run it (while holding its advisory lock): sources (one reader
   * of the table or directory) and the file sink (one appender, so a torn line can be cut off safely).
   * Other sinks scale out through their consumer group.
   */
  runsOnOneWorker: boolean;
  /** Reads the class's keys (problems go to `r`); the same check runs on submission and when a worker starts it. */
  validateConfig(r: ConfigReader, name: string, raw: RawConfig, ctx: ValidationContext): C;
  create(ctx: TaskContext<C>): ConnectorTask;
}

type PluginParts<C extends CommonConfig & { connectorClass: string }> = Pick<ConnectorPlugin<C>, 'class' | 'keys' | 'runsOnOneWorker' | 'validateConfig'>;

/** A source class: its reader, run by the source task (publish through the governed path, offsets, dead letters). */
export function sourcePlugin<C extends SourceCommonConfig & { connectorClass: string }>(
  parts: PluginParts<C> & { reader: (ctx: TaskContext<C>) => SourceReader },
): ConnectorPlugin<C> {
  const { reader, ...plugin } = parts;
  return { ...plugin, kind: 'source', create: (ctx) => new SourceTask(ctx, reader(ctx)) };
}

/** A sink class: its writer, run by the sink task (consumer group, decoding, commits after durable writes, dead letters). */
export function sinkPlugin<C extends SinkCommonConfig & { connectorClass: string }>(
  parts: PluginParts<C> & { writer: (ctx: TaskContext<C>) => SinkWriter },
): ConnectorPlugin<C> {
  const { writer, ...plugin } = parts;
  return { ...plugin, kind: 'sink', create: (ctx) => new SinkTask(ctx, writer(ctx)) };
}
