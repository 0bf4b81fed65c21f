import fs from 'node:fs';
import YAML from 'yaml';
import { configEnvNames } from '../../../lib/config';
import { maskSecrets, restoreMaskedSecrets, SECRET_MASK } from '../../../connectors/config';
import { validateConnectorConfig } from '../../../connectors/plugins';
import { ctx, problemsOf, source } from './configFixtures';

describe('connector config validation', () => {
  it('names the key and the allowed range of a bad number', () => {
    expect(problemsOf('x', source({ 'batch.max.rows': '0' }))).toEqual([
      { key: 'batch.max.rows', message: 'config.batch.max.rows must be an integer between 1 and 100000' },
    ]);
    expect(problemsOf('x', source({ 'poll.interval.ms': 'soon' }))[0]!.message).toBe('config.poll.interval.ms must be an integer between 10 and 86400000');
  });

  it('dead-letters by default into the dataset DLQ with errors.tolerance=all and refuses other topics', () => {
    const r = validateConnectorConfig('x', source({ 'errors.tolerance': 'all' }), ctx);
    expect(r.ok && r.config.deadLetterTopic).toBe('govx.dlq.population.residents');
    expect(problemsOf('x', source({ 'errors.deadletterqueue.topic.name': 'govx.dataset.legal-entity.registry' }))[0]!.key).toBe(
      'errors.deadletterqueue.topic.name',
    );
    expect(problemsOf('x', source({ 'errors.deadletterqueue.topic.name': 'govx.dlq.connect.x' }))).toEqual([]);
  });
});

describe('connector secrets', () => {
  it('masks passwords, passwords inside URLs and HMAC secrets', () => {
    const masked = maskSecrets({ ...source(), 'connection.password': 'pw', 'hmac.secret': 'k' });
    expect(masked['connection.password']).toBe(SECRET_MASK);
    expect(masked['hmac.secret']).toBe(SECRET_MASK);
    expect(masked['connection.url']).toBe(`postgresql://psb:${encodeURIComponent(SECRET_MASK)}@10.1.2.3:5432/hukou`);
    expect(JSON.stringify(masked)).not.toContain('s3cret');
    expect(maskSecrets({ 'connection.url': 'jdbc:postgresql://h/db?user=a&password=topsecret' })['connection.url']).not.toContain('topsecret');
  });

  it('keeps the stored secret when a client sends the mask back', () => {
    const stored = { ...source(), 'connection.password': 'pw' };
    const edited = { ...maskSecrets(stored), 'batch.max.rows': '50' };
    expect(restoreMaskedSecrets(edited, stored)).toEqual({ ...stored, 'batch.max.rows': '50' });
  });
});

describe('the connect worker in docker-compose.yml', () => {
  it('uses only variable names that the configuration knows', () => {
    const compose = YAML.parse(fs.readFileSync(`${__dirname}/../../../docker-compose.yml`, 'utf8'));
    const used = Object.keys(compose.services.connect.environment);
    expect(used).toContain('GOVX_CONNECT_FILE_ROOT');
    expect(used.filter((name) => !configEnvNames.includes(name))).toEqual([]);
  });
});
