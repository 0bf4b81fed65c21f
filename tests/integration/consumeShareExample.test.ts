import { spawn } from 'node:child_process';
import { projectPath } from '../../lib/paths';
import { generateSample } from '../../schemas/samples';
import { unique } from '../support/fixtures';
import { httpJson, startTestStack, type TestStack } from '../support/stack';

/**
 * examples/consume-share.js, the consumer snippet of the README, run as written (a child process, only
 * environment variables) against the real secured broker and govx's registry: with a department's issued
 * credentials it reads its share topic and prints the records decoded, holding only the granted fields.
 * (haidian: no other suite issues its Kafka credentials.)
 */

const DEPARTMENT = 'haidian';
const DATASET = 'population.residents';
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.close();
});

function runExample(env: Record<string, string>, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [projectPath('examples', 'consume-share.js')], { env: { PATH: process.env.PATH ?? '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`examples/consume-share.js gave no result within ${timeoutMs} ms; stdout: ${stdout.slice(0, 500)} stderr: ${stderr.slice(0, 500)}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

it('reads and decodes the share topic with a department\'s credentials, as the README says', async () => {
  const steward = await stack.key(DEPARTMENT, 'steward');
  const consumerKey = await stack.key(DEPARTMENT, 'consumer');
  const credentials = await httpJson(`${stack.url}/v1/departments/${DEPARTMENT}/kafka-credentials`, { method: 'POST', key: steward });
  expect(credentials.status).toBe(201);
  try {
    const requested = await httpJson(`${stack.url}/v1/subscriptions`, {
      key: consumerKey,
      body: { dataset: DATASET, fields: ['name', 'birth_date', 'household_district'], purpose: '高龄津贴发放', expiresAt: new Date(Date.now() + 30 * 86_400_000).toISOString(), delivery: 'kafka', startFrom: 'latest' },
    });
    expect(requested.status).toBe(201);
    const approved = await httpJson(`${stack.url}/v1/subscriptions/${requested.body.id}/approve`, { key: await stack.key('psb', 'steward'), body: {} });
    expect(approved.status).toBe(200);
    const published = await httpJson(`${stack.url}/v1/datasets/${DATASET}/records`, { key: await stack.key('psb', 'publisher'), body: { records: generateSample(DATASET, 2) } });
    expect(published.body.accepted).toBe(2);

    const { code, stdout, stderr } = await runExample(
      {
        KAFKA_BOOTSTRAP_SERVERS: credentials.body.bootstrapServers.join(','),
        KAFKA_USERNAME: credentials.body.username,
        KAFKA_PASSWORD: credentials.body.password,
        KAFKA_CA_FILE: stack.config.kafkaCaFile,
        KAFKA_GROUP_ID: `${credentials.body.groupPrefix}example-${unique()}`,
        SHARE_TOPIC: approved.body.topic,
        REGISTRY_URL: `${stack.url}/registry`,
        REGISTRY_USER: DEPARTMENT,
        REGISTRY_KEY: consumerKey,
        MAX_RECORDS: '2',
      },
      120_000,
    );
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const records = stdout.trim().split('\n').map((line) => JSON.parse(line) as { offset: string; key: string; value: Record<string, unknown> });
    expect(records).toHaveLength(2);
    for (const record of records) {
      expect(Object.keys(record.value).sort()).toEqual(['birth_date', 'household_district', 'name']);
      expect(record.value.name).toMatch(/\*/); // delivered partially masked to a clearance-2 department
      expect(record.value.household_district).toMatch(/^\d{6}$/);
    }
  } finally {
    await httpJson(`${stack.url}/v1/departments/${DEPARTMENT}/kafka-credentials`, { method: 'DELETE', key: steward });
  }
});
