import type { CommonConfig, ConfigReader, ConnectorKind, KeySpec, RawConfig, ValidationContext } from './config';
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
