import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import avro from 'avsc';
import { registerSchema } from '../../../catalog/registry/store';
import { encodeWireFormat } from '../../../schemas/wireFormat';
import { type ConnectTestStack, readTopicFrom, startConnectTestStack } from './connectSupport';

jest.setTimeout(180_000);

/**
 * avsc trusts the counts on the wire: a value of a few bytes that announces 10^8 array items would make a
 * sink build a 10^8-item array. Every sink decodes through the schema cache and its bounded decoder, so
 * such a value is dead-lettered like any other undecodable one, and the connector goes on.
 */
let stack: ConnectTestStack;
beforeAll(async () => {
  stack = await startConnectTestStack('hostile');
});
afterAll(async () => {
  await stack?.close();
});

const tagged = { type: 'record', name: 'Tagged', fields: [{ name: 'id', type: 'string' }, { name: 'tags', type: { type: 'array', items: 'null' } }] };

describe('a running sink fed a hostile value', () => {
  it('dead-letters a value whose 7-byte Avro body claims 10^8 array items, and goes on writing the records around it', async () => {
    const { id: schemaId } = await registerSchema(stack.pool, `conntest-hostile-${crypto.randomBytes(4).toString('hex')}-value`, JSON.stringify(tagged));
    const type = avro.Type.forSchema(tagged as avro.Schema);
    const good = (id: string): Buffer => encodeWireFormat(schemaId, type.toBuffer({ id, tags: [null] }));
    // id "a" (2 bytes), then one block of 10^8 nulls (a 4-byte varint: nulls take no bytes), then the end of the array
    const body = Buffer.from([0x02, 0x61, 0x80, 0x84, 0xaf, 0x5f, 0x00]);
    expect(body.length).toBe(7);

    const topic = `govx.share.conntest-${crypto.randomBytes(4).toString('hex')}`;
    const name = `${stack.prefix}hostile`;
    const dlq = `govx.dlq.connect.${name}`;
    stack.dropTopicsOnClose(topic, dlq);
    const admin = stack.kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const producer = stack.kafka.producer({ idempotent: true });
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: [
        { key: 'before', value: good('before') },
        { key: 'hostile', value: encodeWireFormat(schemaId, body) },
        { key: 'after', value: good('after') },
      ],
    });

    const created = await stack.api('POST', '/v1/connectors', {
      name,
      config: { 'connector.class': 'file-sink', topics: topic, file: 'hostile.ndjson', 'errors.tolerance': 'all' },
    });
    expect(created.status).toBe(201);
    const worker = await stack.startWorker();
    try {
      await stack.waitForStatus(name, (s) => s.records.out === 2 && s.records.deadLettered === 1);
      // still healthy: it keeps running the connector and writes what comes next
      await producer.send({ topic, acks: -1, messages: [{ key: 'later', value: good('later') }] });
      const status = await stack.waitForStatus(name, (s) => s.records.out === 3);
      expect(status.connector.state).toBe('RUNNING');
      expect(worker.running()).toContain(name);
    } finally {
      await producer.disconnect();
      await worker.close();
    }
    const written = fs.readFileSync(path.join(stack.dirOf('info-office'), 'hostile.ndjson'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(written.map((l) => l.key)).toEqual(['before', 'after', 'later']);
    const [dead] = await readTopicFrom(stack.kafka, dlq, [], (got) => got.length >= 1);
    expect(dead!.headers).toMatchObject({ 'govx-connector': name, 'govx-topic': topic, 'govx-offset': '1', 'govx-error-class': 'undecodable:avro-decode' });
    expect(dead!.value).toEqual(encodeWireFormat(schemaId, body));
  });
});
