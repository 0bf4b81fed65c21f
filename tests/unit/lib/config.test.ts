import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { ConfigError, configEnvNames, loadConfig } from '../../../lib/config';
import { createKafka } from '../../../lib/kafka';
import { createLogger } from '../../../lib/logger';
import { projectRoot } from '../../../lib/paths';

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
    // the compose secrets volume, here a directory holding the same file names
    const secrets = fs.mkdtempSync(path.join(os.tmpdir(), 'govx-secrets-'));
    for (const file of ['ca.pem', 'govx.password']) fs.writeFileSync(path.join(secrets, file), 'x');
    const local = (value: unknown) => String(value).replace('postgres:5432', '127.0.0.1:5432').replace(/^\/secrets\//, `${secrets}/`);
    for (const name of used) expect(() => loadConfig({ [name]: local(compose.services.gateway.environment[name]) })).not.toThrow();
    fs.rmSync(secrets, { recursive: true });
  });
});

describe('Kafka security configuration', () => {
  it('defaults to SCRAM-SHA-512 over TLS as govx, with the development CA and password that services:up generates', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ kafkaSaslMechanism: 'scram-sha-512', kafkaUsername: 'govx', kafkaPassword: undefined });
    expect(config.kafkaCaFile).toBe(path.join(projectRoot, '.cache', 'kafka', 'security', 'ca.pem'));
    expect(config.kafkaPasswordFile).toBe(path.join(projectRoot, '.cache', 'kafka', 'security', 'govx.password'));
    expect(loadConfig({ GOVX_CACHE_DIR: '/var/cache/govx' }).kafkaCaFile).toBe('/var/cache/govx/kafka/security/ca.pem');
  });

  it("reports an operator's unreadable files, a password given twice and a certificate without its key, all at once", () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({
        GOVX_KAFKA_CA_FILE: '/nonexistent/ca.pem',
        GOVX_KAFKA_PASSWORD: 'secret',
        GOVX_KAFKA_PASSWORD_FILE: '/nonexistent/password',
        GOVX_KAFKA_CERT_FILE: __filename,
        GOVX_KAFKA_SASL_MECHANISM: 'gssapi',
      });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('GOVX_KAFKA_SASL_MECHANISM must be one of'),
        'GOVX_KAFKA_PASSWORD and GOVX_KAFKA_PASSWORD_FILE are both set: give one',
        'GOVX_KAFKA_CERT_FILE and GOVX_KAFKA_KEY_FILE go together: give both or neither',
        'GOVX_KAFKA_CA_FILE names a file that cannot be read: /nonexistent/ca.pem',
        'GOVX_KAFKA_PASSWORD_FILE names a file that cannot be read: /nonexistent/password',
      ]),
    );
    expect(error!.message).not.toContain('secret');
  });
});

describe('createKafka', () => {
  it('names the missing development files and how to make them, without starting a client', () => {
    const config = loadConfig({ GOVX_CACHE_DIR: path.join(os.tmpdir(), `govx-no-cache-${process.pid}`) });
    expect(() => createKafka(config, createLogger('silent'))).toThrow(/GOVX_KAFKA_CA_FILE cannot read .*ca\.pem .*services:up[\s\S]*GOVX_KAFKA_PASSWORD_FILE cannot read/);
  });

});

it('runs in docker-compose.yml the Kafka version pinned in scripts/kafka/pom.xml', () => {
  const root = path.join(__dirname, '../../..');
  const pinned = /<kafka.version>([^<]+)<\/kafka.version>/.exec(fs.readFileSync(path.join(root, 'scripts/kafka/pom.xml'), 'utf8'))![1];
  const compose = YAML.parse(fs.readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'));
  expect(compose.services.kafka.image).toBe(`apache/kafka:${pinned}`);
});
