import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readCatalogFile, seedCatalogFile, type PlannedDataset } from '../../../catalog/catalogFile';
import type { CatalogField } from '../../../catalog/datasets';
import { migrationsDir } from '../../../catalog/migrate';
import {
  identifierFieldsOf,
  Masker,
  planFields,
  policyDelivery,
  rebuildableIdentifiers,
  type FieldDelivery,
  type GrantedField,
  type IdentifierFields,
} from '../../../catalog/sharingPolicy';
import { Keyring } from '../../../lib/keyring';
import { generateSample } from '../../../schemas/samples';
import { USCC_ALPHABET, usccCheckChar } from '../../../schemas/validators/creditCode';
import { districts } from '../../../schemas/validators/divisionCode';
import { idNumberCheckChar } from '../../../schemas/validators/idNumber';
import type { IdentifierKind } from '../../../schemas/validators/identifierSegments';

/**
 * An attacker's test of the masks (issue 12, decision 0016): for every department of the seed, every grant the
 * seed catalog allows it on each dataset that holds a structured identifier (every set of fields it may
 * receive × every mask an approval may choose for each), 1,000 sample records are projected with govx's own
 * masking code and the attacker tries to rebuild each full ID number (credit code) from what it receives.
 * It counts a rebuild when exactly one identifier fits everything delivered.
 *
 * The attacker reads a delivered record by its field names (the derived schema names them): the masked
 * identifier itself, and the fields that carry its parts (birth date, gender, household district; district,
 * entity type, registering authority). Grants that differ only in other fields give it the same material, so
 * each class of grants that agree on those fields is attacked once, on all 1,000 records.
 */

const SAMPLE = 1000;
/** candidates counted per record before the attacker gives up on it (a rebuild needs exactly one) */
const CAP = 20;

const STRICTER: Record<FieldDelivery, FieldDelivery[]> = { clear: ['clear', 'partial', 'hash'], partial: ['partial', 'hash'], hash: ['hash'] };

/** The seed departments and their clearances, from the migration that creates them. */
function seedDepartments(): Array<{ id: string; clearance: number }> {
  const sql = fs.readFileSync(path.join(migrationsDir, '0001_departments_and_keys.sql'), 'utf8');
  const found = [...sql.matchAll(/\('([a-z-]+)',\s*'[^']*',\s*'[^']*',\s*'[a-z-]+',\s*(\d)\)/g)].map((m) => ({ id: m[1]!, clearance: Number(m[2]) }));
  expect(found.length).toBeGreaterThanOrEqual(8);
  return found;
}

/** What the attacker does with each field's value, by name. */
const USEFUL: Record<IdentifierKind, readonly string[]> = {
  'cn-id-number': ['id_number', 'birth_date', 'gender', 'household_district'],
  'cn-uscc': ['uscc', 'district', 'entity_type', 'registration_authority'],
};

const digits = (n: number): string[] => Array.from({ length: 10 ** n }, (_, i) => String(i).padStart(n, '0'));

function daysOf(fromYear: number, toYear: number): string[] {
  const out: string[] = [];
  for (let t = Date.UTC(fromYear, 0, 1); t < Date.UTC(toYear + 1, 0, 1); t += 86_400_000) out.push(new Date(t).toISOString().slice(0, 10).replace(/-/g, ''));
  return out;
}
const ALL_DAYS = daysOf(1900, 2025);
const DAYS_OF_YEAR = new Map<number, string[]>();
const daysOfYear = (y: number): string[] => DAYS_OF_YEAR.get(y) ?? (DAYS_OF_YEAR.set(y, daysOf(y, y)), DAYS_OF_YEAR.get(y)!);
const SEQUENCES = digits(3);
const SEQUENCES_MALE = SEQUENCES.filter((s) => Number(s[2]) % 2 === 1);
const SEQUENCES_FEMALE = SEQUENCES.filter((s) => Number(s[2]) % 2 === 0);
const REGIONS = districts.map((d) => d.code);
const AUTHORITY_DIVISION = new Map(districts.map((d) => [`${d.city}${d.name}市场监督管理局`, d.code]));
const MASKED_USCC = new RegExp(`^[${USCC_ALPHABET}*]{18}$`);
/** records where the attacker narrowed to fewer than CAP candidates without the truth among them: a broken attacker */
let unsound = 0;

/** Characters the masked value shows at [from, to), or null where it hides any of them. */
function shown(masked: string | null, from: number, to: number): string | null {
  if (masked === null) return null;
  const part = masked.slice(from, to);
  return part.includes('*') ? null : part;
}

/**
 * How many identifiers fit, counting up to CAP: the candidates of each segment multiplied out, filtered by the
 * check character when it is shown. `found` receives the candidates when there are fewer than CAP.
 */
function countFits(segments: string[][], checkOf: (first17: string) => string, check: string | null, found: string[]): number {
  const product = segments.reduce((n, s) => n * s.length, 1);
  // a check character keeps about 1 in 11 (ID) or 31 (credit code): far more than CAP fit
  if (product > 200_000) return CAP;
  let count = 0;
  const walk = (i: number, prefix: string): boolean => {
    if (i === segments.length) {
      const full = prefix + checkOf(prefix);
      if (check !== null && full[17] !== check) return true;
      count++;
      if (count <= CAP) found.push(full);
      return count < CAP;
    }
    for (const s of segments[i]!) if (!walk(i + 1, prefix + s)) return false;
    return true;
  };
  walk(0, '');
  return count;
}

function rebuildIdNumber(v: Record<string, unknown>, truth: string): number {
  const masked = typeof v.id_number === 'string' && /^[0-9X*]{18}$/.test(v.id_number) ? v.id_number : null;
  const region = shown(masked, 0, 6) ?? (typeof v.household_district === 'string' && /^\d{6}$/.test(v.household_district) ? v.household_district : null);
  let birth: string[] = ALL_DAYS;
  const shownBirth = shown(masked, 6, 14);
  const bd = typeof v.birth_date === 'string' ? v.birth_date : null;
  if (shownBirth) birth = [shownBirth];
  else if (bd && /^\d{4}-\d{2}-\d{2}$/.test(bd)) birth = [bd.replace(/-/g, '')];
  else if (bd && /^\d{4}\*+$/.test(bd)) birth = daysOfYear(Number(bd.slice(0, 4)));
  let sequence = SEQUENCES;
  const shownSequence = shown(masked, 14, 17);
  const g = typeof v.gender === 'string' ? v.gender : '';
  const male = g === 'MALE' || /^M\*+E$/.test(g) ? true : g === 'FEMALE' || /^FE\*+E$/.test(g) ? false : null;
  if (shownSequence) sequence = [shownSequence];
  else if (male !== null) sequence = male ? SEQUENCES_MALE : SEQUENCES_FEMALE;
  const regions = region ? [region] : REGIONS;
  const found: string[] = [];
  const n = countFits([regions, birth, sequence], (f) => idNumberCheckChar(f), shown(masked, 17, 18), found);
  if (n < CAP && !found.includes(truth)) unsound++; // the attacker is sound: what it narrowed to still holds the truth
  return n;
}

function rebuildUscc(v: Record<string, unknown>, truth: string): number {
  const masked = typeof v.uscc === 'string' && MASKED_USCC.test(v.uscc) ? v.uscc : null;
  const type = typeof v.entity_type === 'string' ? (v.entity_type === 'INDIVIDUAL_BUSINESS' ? '2' : v.entity_type === 'FARMERS_COOPERATIVE' ? '3' : '1') : null;
  const division =
    shown(masked, 2, 8) ??
    (typeof v.district === 'string' && /^\d{6}$/.test(v.district) ? v.district : null) ??
    (typeof v.registration_authority === 'string' ? AUTHORITY_DIVISION.get(v.registration_authority) ?? null : null);
  const segments = [
    [shown(masked, 0, 1) ?? (type ? '9' : null)].filter((x): x is string => x !== null),
    [shown(masked, 1, 2) ?? type].filter((x): x is string => x !== null),
    division ? [division] : REGIONS,
  ];
  if (segments[0]!.length === 0) segments[0] = [...USCC_ALPHABET];
  if (segments[1]!.length === 0) segments[1] = ['1', '2', '3', '9'];
  const organization = shown(masked, 8, 17);
  // nine characters of the 31-character alphabet: no attacker lists them
  if (!organization) return CAP;
  segments.push([organization]);
  const found: string[] = [];
  const n = countFits(segments, (f) => usccCheckChar(f), shown(masked, 17, 18), found);
  if (n < CAP && !found.includes(truth)) unsound++;
  return n;
}

interface Figures {
  department: string;
  dataset: string;
  grants: number;
  classes: number;
  inClear: number;
  refused: number;
  attacked: number;
  rebuilt: number;
  fewest: number;
}

describe('no grant the seed catalog allows rebuilds an identifier beyond it', () => {
  const catalog = readCatalogFile(seedCatalogFile);
  const keysDir = fs.mkdtempSync(path.join(os.tmpdir(), 'govx-attack-'));
  const masker = (dataset: string) => new Masker(Keyring.open({ keysDir }), dataset);
  afterAll(() => fs.rmSync(keysDir, { recursive: true, force: true }));

  const targets: Array<{ planned: PlannedDataset; identifiers: IdentifierFields; field: string; kind: IdentifierKind }> = [];
  for (const planned of catalog) {
    const identifiers = identifierFieldsOf(JSON.parse(planned.schemaText));
    if (planned.definition.sharingType === 'none') continue;
    for (const [field, kind] of Object.entries(identifiers)) targets.push({ planned, identifiers, field, kind });
  }

  it('finds the ID number and the credit code in the seed catalog', () => {
    expect(targets.map((t) => `${t.planned.definition.id}.${t.field}`).sort()).toEqual(['legal-entity.registry.uscc', 'population.residents.id_number']);
  });

  it('rebuilds no ID number and no credit code from 1,000 sample records under any grant', () => {
    const figures: Figures[] = [];
    for (const { planned, identifiers, field, kind } of targets) {
      const dataset = planned.definition;
      const sample = generateSample(dataset.id, SAMPLE, 20261202);
      const mask = masker(dataset.id);
      const useful = USEFUL[kind];
      // departments whose clearance gives the attacker's fields the same loosest grant face the same classes
      const byMaterial = new Map<string, Omit<Figures, 'department' | 'dataset' | 'grants'>>();
      const columns = new Map<string, unknown[]>();
      for (const dept of seedDepartments()) {
        const result = attackAll(dataset.fields, dept.clearance);
        figures.push({ department: `${dept.id} (clearance ${dept.clearance})`, dataset: `${dataset.id}.${field}`, ...result });
      }

      // masks are applied field by field (Masker.project), so each field's delivered column is computed once
      function column(clearance: number, grant: GrantedField): unknown[] {
        const id = `${clearance}:${JSON.stringify(grant)}`;
        let values = columns.get(id);
        if (!values) columns.set(id, (values = sample.map((record) => mask.project([grant], record)[grant.name])));
        return values;
      }

      function attackAll(fields: CatalogField[], clearance: number): Omit<Figures, 'department' | 'dataset'> {
        // every mask an approval may choose for each field this clearance lets through, or the field left out
        const options = fields.map((f) => {
          const policy = policyDelivery(f, clearance);
          return { field: f, choices: policy ? STRICTER[policy] : [] };
        });
        const grants = options.reduce((n, o) => n * (o.choices.length + 1), 1) - 1;
        const usefulOptions = options.filter((o) => useful.includes(o.field.name) && o.choices.length > 0);
        const material = JSON.stringify(planFields({ fields }, usefulOptions.map((o) => o.field.name), clearance, {}, identifiers).granted);
        const known = byMaterial.get(material);
        if (known) return { grants, ...known };
        let classes = 0;
        let inClear = 0;
        let refused = 0;
        let attacked = 0;
        let rebuilt = 0;
        let fewest = CAP;
        const walk = (i: number, chosen: Array<[string, FieldDelivery]>): void => {
          if (i < usefulOptions.length) {
            const o = usefulOptions[i]!;
            walk(i + 1, chosen);
            for (const c of o.choices) walk(i + 1, [...chosen, [o.field.name, c]]);
            return;
          }
          classes++;
          if (chosen.some(([f, c]) => f === field && c === 'clear')) {
            inClear++; // granted in clear: nothing lies beyond the grant
            return;
          }
          const requested = chosen.map(([f]) => f);
          const plan = planFields({ fields }, requested, clearance, Object.fromEntries(chosen), identifiers);
          // refused at request time: every grant of this class holds these fields, so every one is refused
          if (rebuildableIdentifiers({ fields }, identifiers, clearance, plan.granted).length > 0) {
            refused++;
            return;
          }
          const cols = plan.granted.map((g) => [g.name, column(clearance, g)] as const);
          for (let r = 0; r < sample.length; r++) {
            const record = sample[r]!;
            const delivered: Record<string, unknown> = {};
            for (const [name, values] of cols) delivered[name] = values[r];
            const n = kind === 'cn-id-number' ? rebuildIdNumber(delivered, record[field] as string) : rebuildUscc(delivered, record[field] as string);
            attacked++;
            if (n === 1) rebuilt++;
            fewest = Math.min(fewest, n);
          }
        };
        walk(0, []);
        byMaterial.set(material, { classes, inClear, refused, attacked, rebuilt, fewest });
        return { grants, classes, inClear, refused, attacked, rebuilt, fewest };
      }
    }
    // eslint-disable-next-line no-console
    console.log(
      [
        `mask composition attack: ${SAMPLE} sample records per dataset; candidates counted up to ${CAP}; departments whose grants give the attacker the same material share one attack`,
        '| department | identifier | grants allowed | classes attacked | classes with it in clear | refused | records attacked | rebuilt | fewest candidates |',
        ...figures.map((f) => `| ${f.department} | ${f.dataset} | ${f.grants} | ${f.classes - f.inClear - f.refused} | ${f.inClear} | ${f.refused} | ${f.attacked} | ${f.rebuilt} | ${f.fewest}${f.fewest === CAP ? '+' : ''} |`),
      ].join('\n'),
    );
    expect(figures.reduce((n, f) => n + f.attacked, 0)).toBeGreaterThan(100_000);
    expect(figures.filter((f) => f.rebuilt > 0)).toEqual([]);
    expect(unsound).toBe(0);
  });

  it('would have rebuilt them with the old mask (region and last four kept, birth date in clear)', () => {
    const sample = generateSample('population.residents', SAMPLE, 20261202);
    const old = (id: string) => `${id.slice(0, 6)}${'*'.repeat(8)}${id.slice(14)}`;
    const rebuilt = sample.filter((r) => rebuildIdNumber({ id_number: old(r.id_number as string), birth_date: r.birth_date }, r.id_number as string) === 1).length;
    expect(rebuilt).toBe(SAMPLE);
  });
});
