import fs from 'node:fs';
import { compileNaturalType, validateNatural } from '../../../schemas/codec';
import { generateSample, sampleDatasetIds } from '../../../schemas/samples';
import { divisionRegistry } from '../../../schemas/validators/divisionRegistry';
import { domainChecksOf, recordTime, runDomainChecks } from '../../../schemas/validators';
import { projectPath } from '../../../lib/paths';

const schemaOf = (dataset: string): object => JSON.parse(fs.readFileSync(projectPath('schemas', `${dataset}.avsc`), 'utf8')) as object;

describe('sample generators', () => {
  it('cover the base datasets of the plan, the macro economy included', () => {
    expect(sampleDatasetIds).toEqual(expect.arrayContaining(['population.residents', 'legal-entity.registry', 'geospatial.buildings', 'macro-economy.indicators']));
  });

  it.each(sampleDatasetIds)('%s: records satisfy the schema and every domain check', (dataset) => {
    const schema = schemaOf(dataset);
    const type = compileNaturalType(schema);
    const checks = domainChecksOf(schema);
    for (const record of generateSample(dataset, 300, 20261)) {
      expect(validateNatural(type, record)).toEqual([]);
      expect(runDomainChecks(checks, record)).toEqual([]);
    }
  });

  it('macro-economy.indicators: real division codes of Beijing, periods released before the data date, unique record ids', () => {
    const records = generateSample('macro-economy.indicators', 2000, 7, { asOf: new Date('2026-11-15T00:00:00Z') });
    expect(new Set(records.map((r) => r.record_id)).size).toBe(2000);
    const divisions = new Set(records.map((r) => r.division as string));
    for (const code of divisions) expect(divisionRegistry().lookup(code)).toMatchObject({ abolishedIn: null });
    expect(divisions).toContain('110000');
    expect(divisions).toContain('110108');
    for (const r of records) {
      expect(r.record_id).toBe(`${r.indicator_code}-${r.division}-${r.period}`);
      expect(recordTime(r.period)!.getTime()).toBeLessThan(Date.parse('2026-11-01T00:00:00Z'));
    }
    const yearlyGdp = records.filter((r) => r.indicator_code === 'GDP' && r.division === '110000' && String(r.period).endsWith('Q4'));
    expect(yearlyGdp.length).toBeGreaterThan(0);
    for (const gdp of yearlyGdp) expect(gdp.value as number).toBeGreaterThan(40_000);
  });
});
