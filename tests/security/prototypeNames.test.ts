import { generateSample } from '../../schemas/samples';
import { compileNaturalType } from '../../schemas/codec';
import { httpJson, readTopicUntil, type ReadMessage, startTestStack, type TestStack, topicEnd } from '../support/stack';

/**
 * Names that every JavaScript object answers to ("toString", "constructor", "__proto__") are not members of any
 * govx schema. A publisher who sends them as an enum value or a field name must be refused like any other
 * stranger, not accepted with a function for an enum index (a record nobody can decode, in the dataset topic)
 * or answered with a 500.
 */
jest.setTimeout(60_000);

const DATASET = 'population.residents';
const TOPIC = `govx.dataset.${DATASET}`;
let stack: TestStack;
let publisher: string;

beforeAll(async () => {
  stack = await startTestStack();
  publisher = await stack.key('psb', 'publisher');
});
afterAll(async () => {
  await stack?.close();
});

describe('Object.prototype names in published records', () => {
  it('are refused per record with the field they name, and nothing undecodable reaches the dataset topic', async () => {
    const [good, a, b, c, d, e] = generateSample(DATASET, 6, 4242);
    const records = [
      good,
      { ...a, gender: 'toString' },
      { ...b, marital_status: 'constructor' },
      { ...c, constructor: 'x' },
      { ...d, hasOwnProperty: 1 },
    ];
    // "__proto__" only exists as an own member when the JSON text says so (JSON.parse makes it own).
    const rawBody = JSON.stringify({ records }).replace(/\]\}$/, `,${JSON.stringify(e).replace(/^\{/, '{"__proto__":{"gender":"MALE"},')}]}`);
    const from = await topicEnd(stack.kafka, TOPIC);
    const res = await httpJson(`${stack.url}/v1/datasets/${DATASET}/records`, {
      key: publisher,
      rawBody,
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(200);
    expect(res.body.accepted).toBe(1);
    const byIndex = new Map<number, string[]>(
      res.body.rejected.map((r: { index: number; errors: Array<{ path: string }> }) => [r.index, r.errors.map((x) => x.path)]),
    );
    expect([...byIndex.keys()].sort()).toEqual([1, 2, 3, 4, 5]);
    expect(byIndex.get(1)).toEqual(['gender']);
    expect(byIndex.get(2)).toEqual(['marital_status']);
    expect(byIndex.get(3)).toEqual(['constructor']);
    expect(byIndex.get(4)).toEqual(['hasOwnProperty']);
    expect(byIndex.get(5)).toEqual(['__proto__']);

    // What did reach the topic under this request decodes, and is the one good record.
    const traceId = res.headers.get('x-request-id');
    const ours = (got: ReadMessage[]) => got.filter((m) => m.headers['govx-trace-id'] === traceId && m.headers['govx-dataset'] === DATASET);
    const mine = ours(await readTopicUntil(stack.kafka, TOPIC, (got) => ours(got).length >= 1, 20_000, from));
    expect(mine).toHaveLength(1);
    const schemaId = mine[0]!.value!.readInt32BE(1);
    const { rows } = await stack.pool.query('SELECT schema FROM registry_schemas WHERE id = $1', [schemaId]);
    const decoded = compileNaturalType(JSON.parse(rows[0].schema)).fromBuffer(mine[0]!.value!.subarray(5)) as Record<string, unknown>;
    expect(decoded.id_number).toBe(good!.id_number);
  });
});
