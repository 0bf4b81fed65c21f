import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EndpointRefused, HttpSinkWriter, signature } from '../../../connectors/httpSink/httpSink';
import { noTargets, resolveAllowed } from '../../../connectors/targets';
import { isInternalAddress } from '../../../lib/netAddress';
import type { SinkRecord } from '../../../connectors/runtime/sinkTask';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

let server: http.Server;
let url: string;
const received: Received[] = [];
const answers: number[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.statusCode = answers.shift() ?? 200;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});

const records: SinkRecord[] = [0, 1].map((i) => ({
  topic: 'govx.share.sub-x', partition: 2, offset: String(10 + i), timestamp: new Date().toISOString(), key: `k${i}`, schemaId: 7,
  value: { name: `张*${i}` }, headers: { 'govx-subscription': 'sub-x' },
}));

/** A department allowed loopback webhooks on 127.0.0.1 (and names that resolve there), private ones only with `allowPrivate`. */
function writer(allowPrivate: boolean, target = url): HttpSinkWriter {
  const targets = { ...noTargets('tax'), webhooks: { hosts: ['127.0.0.1/32', '169.254.0.0/16', 'localhost'], allowPrivate } };
  return new HttpSinkWriter({ connector: 'hook', url: target, hmacSecret: 's3cret', timeoutMs: 2000, checkTarget: (host) => resolveAllowed('webhook', targets, host, 'config.http.url') });
}

describe('the HTTP webhook sink writer', () => {
  it('posts a signed batch with a batch id stable across retries', async () => {
    const w = writer(true);
    await w.open();
    try {
      answers.push(503);
      await expect(w.write(records)).rejects.toThrow(/503/);
      expect(await w.write(records)).toEqual({ failed: [] });
    } finally {
      await w.close();
    }
    const [first, second] = received.slice(-2) as [Received, Received];
    expect(first.headers['x-govx-batch-id']).toBe('hook:govx.share.sub-x:2:10-11');
    expect(second.headers['x-govx-batch-id']).toBe(first.headers['x-govx-batch-id']);
    const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(second.headers['x-govx-signature']))!;
    expect(m[2]).toBe(signature('s3cret', m[1]!, second.body));
    expect(JSON.parse(second.body).records.map((r: { value: unknown }) => r.value)).toEqual([{ name: '张*0' }, { name: '张*1' }]);
  });

  it('reports every record as failed when the endpoint refuses the batch for good', async () => {
    const w = writer(true);
    await w.open();
    answers.push(422);
    const result = await w.write(records);
    await w.close();
    expect(result.failed).toEqual([expect.objectContaining({ index: 0, errorClass: 'http:422' }), expect.objectContaining({ index: 1, errorClass: 'http:422' })]);
  });

  it('refuses loopback, link-local and private endpoints unless allowed, also by name at connect time', async () => {
    await expect(writer(false).open()).rejects.toBeInstanceOf(EndpointRefused);
    await expect(writer(false, 'http://169.254.169.254/latest').open()).rejects.toBeInstanceOf(EndpointRefused);
    // allowed when the writer opened, refused at the next connection: the check runs at every connection
    let allowPrivate = true;
    const targets = () => ({ ...noTargets('tax'), webhooks: { hosts: ['localhost'], allowPrivate } });
    const byName = new HttpSinkWriter({ connector: 'hook', url: url.replace('127.0.0.1', 'localhost'), hmacSecret: null, timeoutMs: 2000, checkTarget: (host) => resolveAllowed('webhook', targets(), host, 'config.http.url') });
    await byName.open();
    allowPrivate = false;
    const before = received.length;
    await expect(byName.write(records)).rejects.toBeInstanceOf(EndpointRefused);
    await byName.close();
    expect(received.length).toBe(before);
    for (const a of ['127.0.0.1', '10.1.2.3', '172.20.0.1', '192.168.1.1', '169.254.1.1', '::1', 'fe80::1', 'fd00::1', '::ffff:10.0.0.1', '0.0.0.0', '100.64.0.1']) {
      expect([a, isInternalAddress(a)]).toEqual([a, true]);
    }
    for (const a of ['8.8.8.8', '202.96.134.133', '2001:4860:4860::8888']) expect([a, isInternalAddress(a)]).toEqual([a, false]);
  });
});
