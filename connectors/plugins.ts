import { commonKeys, type ConfigProblem, ConfigReader, CONNECTOR_NAME, type ConnectorKind, type KeySpec, type RawConfig, type ValidationContext } from './config';
import { fileSinkPlugin } from './fileSink';
import { fileSourcePlugin } from './fileSource';
import { httpSinkPlugin } from './httpSink';
import type { ConnectorPlugin } from './plugin';
import { postgresSinkPlugin } from './postgresSink';
import { postgresSourcePlugin } from './postgresSource';
import type { ConnectorTask, TaskContext } from './runtime/task';

/** Every connector class govx runs. A new class is a folder of its own (code, config, plugin entry) and one entry here. */
const plugins = [postgresSourcePlugin, fileSourcePlugin, fileSinkPlugin, postgresSinkPlugin, httpSinkPlugin] as const;

type ConfigOf<P> = P extends ConnectorPlugin<infer C> ? C : never;
export type ConnectorConfig = ConfigOf<(typeof plugins)[number]>;
export type ConnectorClass = ConnectorConfig['connectorClass'];

const byClass = new Map<string, ConnectorPlugin<ConnectorConfig>>(plugins.map((p) => [p.class, p]));
const classList = plugins.map((p) => p.class).join(', ');

export const kindOf = (cls: ConnectorClass): ConnectorKind => byClass.get(cls)?.kind ?? 'sink';

export const runsOnOneWorker = (cls: ConnectorClass): boolean => byClass.get(cls)?.runsOnOneWorker ?? false;

export type ValidationResult = { ok: true; config: ConnectorConfig } | { ok: false; problems: ConfigProblem[] };

/** Parses and checks a connector config; the same function runs on submission and when a worker starts it. */
export function validateConnectorConfig(name: string, raw: RawConfig, ctx: ValidationContext): ValidationResult {
  const problems: ConfigProblem[] = [];
  if (!CONNECTOR_NAME.test(name)) {
    problems.push({ key: 'name', message: 'name must be 1 to 100 letters, digits, ".", "_" or "-", starting with a letter or digit' });
  }
  const cls = raw['connector.class'];
  const plugin = cls === undefined ? undefined : byClass.get(cls);
  if (!plugin) {
    problems.push({
      key: 'connector.class',
      message: cls === undefined ? `config.connector.class is required (one of ${classList})` : `config.connector.class must be one of ${classList}, got "${cls}"`,
    });
    return { ok: false, problems };
  }
  const specs: Record<string, KeySpec> = { 'connector.class': { doc: `one of ${classList}`, required: true }, ...commonKeys, ...plugin.keys };
  for (const key of Object.keys(raw)) {
    if (!specs[key]) problems.push({ key, message: `config.${key} is not a setting of ${plugin.class}` });
  }
  const r = new ConfigReader(raw, specs);
  const config = plugin.validateConfig(r, name, raw, ctx);
  problems.push(...r.problems);
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, config };
}

/** The task that runs a validated connector on this worker. */
export const createTask = (ctx: TaskContext<ConnectorConfig>): ConnectorTask => byClass.get(ctx.config.connectorClass)!.create(ctx);
