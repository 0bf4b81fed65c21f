import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { ConfigError, configEnvNames, loadConfig } from '../../../lib/config';

describe('configuration', () => {
  it('has working defaults for a local stack', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/govx',
      kafkaBrokers: ['127.0.0.1:9092'],
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reports every problem at once, naming each variable', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({ GOVX_PORT: 'eighty', DATABASE_URL: 'mysql://x/y', KAFKA_BROKERS: 'nohost', GOVX_LOG_LEVEL: 'loud', GOVX_MAX_BODY_BYTES: '2gb' });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.problems).toHaveLength(5);
    for (const name of ['GOVX_PORT', 'DATABASE_URL', 'KAFKA_BROKERS', 'GOVX_LOG_LEVEL', 'GOVX_MAX_BODY_BYTES']) {
      expect(error!.message).toContain(name);
    }
  });

  it('parses sizes and broker lists', () => {
    const config = loadConfig({ GOVX_MAX_BODY_BYTES: '2mb', KAFKA_BROKERS: 'a:9092, b:9093' });
    expect(config.maxBodyBytes).toBe(2 * 1024 * 1024);
    expect(config.kafkaBrokers).toEqual(['a:9092', 'b:9093']);
  });

  it('uses in docker-compose.yml only variable names that the configuration knows', () => {
    const compose = YAML.parse(fs.readFileSync(path.join(__dirname, '../../../docker-compose.yml'), 'utf8'));
    const used = Object.keys(compose.services.gateway.environment);
    expect(used.length).toBeGreaterThan(0);
    expect(used.filter((name) => !configEnvNames.includes(name))).toEqual([]);
    for (const name of used) expect(() => loadConfig({ [name]: String(compose.services.gateway.environment[name]).replace('postgres:5432', '127.0.0.1:5432') })).not.toThrow();
  });
});

it('runs in docker-compose.yml the Kafka version pinned in scripts/kafka/pom.xml', () => {
  const root = path.join(__dirname, '../../..');
  const pinned = /<kafka.version>([^<]+)<\/kafka.version>/.exec(fs.readFileSync(path.join(root, 'scripts/kafka/pom.xml'), 'utf8'))![1];
  const compose = YAML.parse(fs.readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'));
  expect(compose.services.kafka.image).toBe(`apache/kafka:${pinned}`);
});
