import { generateSample } from '../../../schemas/samples';
import { httpJson, startTestStack, type TestStack } from '../../support/stack';

/**
 * The domain checks the seed schemas reference (`govx.check`), applied on publish of every seed dataset:
 * one valid record is accepted, and each broken one is rejected by index, naming the field and the rule.
 */

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.close();
});

interface Case {
  dataset: string;
  owner: string;
  broken: Array<{ field: string; value: unknown; rule: string }>;
}

const openRing = JSON.stringify({ type: 'Polygon', coordinates: [[[116.1, 40.1], [116.2, 40.1], [116.2, 40.2], [116.1, 40.2]]] });
const outOfRange = JSON.stringify({ type: 'Point', coordinates: [116.4, 95.0] });

const cases: Case[] = [
  {
    dataset: 'population.residents',
    owner: 'psb',
    broken: [
      { field: 'id_number', value: '110101199007104961', rule: 'cn-id-number' },
      { field: 'id_number', value: '11010119990231496X', rule: 'cn-id-number' },
      { field: 'household_district', value: '990101', rule: 'cn-division-code' },
    ],
  },
  {
    dataset: 'legal-entity.registry',
    owner: 'amr',
    broken: [
      { field: 'uscc', value: '92110101749441422Y', rule: 'cn-uscc' },
      { field: 'district', value: '11010', rule: 'cn-division-code' },
    ],
  },
  {
    dataset: 'geospatial.buildings',
    owner: 'planning',
    broken: [
      { field: 'geometry', value: openRing, rule: 'geojson-geometry' },
      { field: 'geometry', value: outOfRange, rule: 'geojson-geometry' },
      { field: 'geometry', value: JSON.stringify({ type: 'Circle', coordinates: [116.4, 39.9] }), rule: 'geojson-geometry' },
      { field: 'district', value: '000000', rule: 'cn-division-code' },
    ],
  },
  {
    dataset: 'population.criminal-records',
    owner: 'psb',
    broken: [{ field: 'id_number', value: '310101198507164146', rule: 'cn-id-number' }],
  },
];

describe.each(cases)('publishing $dataset', ({ dataset, owner, broken }) => {
  it('accepts a valid record and rejects each broken value by field and rule', async () => {
    const publisher = await stack.key(owner, 'publisher');
    const [valid, ...rest] = generateSample(dataset, broken.length + 1, 9001);
    const records = [valid, ...broken.map((b, i) => ({ ...rest[i], [b.field]: b.value }))];
    const res = await httpJson(`${stack.url}/v1/datasets/${dataset}/records`, { key: publisher, body: { records } });
    expect(res.status).toBe(200);
    expect(res.body.accepted).toBe(1);
    expect(res.body.rejected.map((r: { index: number }) => r.index)).toEqual(broken.map((_, i) => i + 1));
    for (const [i, b] of broken.entries()) {
      const errors = res.body.rejected[i].errors as Array<{ path: string; rule?: string; message: string }>;
      expect(errors).toEqual([expect.objectContaining({ path: b.field, rule: b.rule, message: expect.any(String) })]);
    }
  });
});
