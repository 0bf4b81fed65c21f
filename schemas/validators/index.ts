/** The domain checks a schema field can name with `"govx.check": "<rule>"`, and how to run them on a record. */
import { checkCreditCode } from './creditCode';
import { checkDivisionCode } from './divisionCode';
import { checkGeoJsonGeometry } from './geojson';
import { checkIdNumber } from './idNumber';

/** null when the value is valid, else a message naming the broken rule. */
export type DomainCheck = (value: unknown) => string | null;

export interface DomainCheckDefinition {
  rule: string;
  description: string;
  check: DomainCheck;
}

export const CHECK_ATTRIBUTE = 'govx.check';

export const domainChecks: Record<string, DomainCheckDefinition> = Object.freeze({
  'cn-id-number': {
    rule: 'cn-id-number',
    description: '公民身份号码 (GB 11643-1999): 18 characters, real province, real birth date, ISO 7064 MOD 11-2 check digit',
    check: checkIdNumber,
  },
  'cn-uscc': {
    rule: 'cn-uscc',
    description: '统一社会信用代码 (GB 32100-2015): 18 characters of the 31-character alphabet, registration authority and type, division code, mod-31 check character',
    check: checkCreditCode,
  },
  'cn-division-code': {
    rule: 'cn-division-code',
    description: '行政区划代码 (GB/T 2260): 6 digits starting with a province-level code',
    check: checkDivisionCode,
  },
  'geojson-geometry': {
    rule: 'geojson-geometry',
    description: 'GeoJSON geometry (RFC 7946), as an object or JSON text: known type, coordinate depth, WGS 84 ranges, closed rings, bounded size',
    check: checkGeoJsonGeometry,
  },
});

export interface FieldCheck {
  field: string;
  rule: string;
  check: DomainCheck;
  /** the field's type is a union with null, so a null value is not checked */
  nullable: boolean;
}

export interface DomainCheckFailure {
  path: string;
  rule: string;
  message: string;
}

export function findDomainCheck(rule: string): DomainCheckDefinition | undefined {
  return Object.hasOwn(domainChecks, rule) ? domainChecks[rule] : undefined;
}

function isNullBranch(branch: unknown): boolean {
  return branch === 'null' || (typeof branch === 'object' && branch !== null && (branch as { type?: unknown }).type === 'null');
}

function fieldCheckOf(field: Record<string, unknown>): FieldCheck | null {
  const rule = field[CHECK_ATTRIBUTE];
  if (rule === undefined) return null;
  const name = String(field.name);
  if (typeof rule !== 'string') throw new Error(`field ${name}: "${CHECK_ATTRIBUTE}" must be a string naming a domain check`);
  const definition = findDomainCheck(rule);
  if (!definition) {
    throw new Error(`field ${name} names unknown domain check "${rule}"; known checks: ${Object.keys(domainChecks).join(', ')}`);
  }
  const nullable = Array.isArray(field.type) && field.type.some(isNullBranch);
  return { field: name, rule, check: definition.check, nullable };
}

/** The domain checks a record schema's top-level fields ask for; throws when a field names an unknown check. */
export function domainChecksOf(schema: object): FieldCheck[] {
  const fields = (schema as { fields?: unknown }).fields;
  if (!Array.isArray(fields)) return [];
  const checks: FieldCheck[] = [];
  for (const field of fields) {
    if (typeof field !== 'object' || field === null) continue;
    const fieldCheck = fieldCheckOf(field as Record<string, unknown>);
    if (fieldCheck) checks.push(fieldCheck);
  }
  return checks;
}

/**
 * Runs the checks on one natural-JSON record. A missing field is left to Avro validation (it may have a
 * default); null skips the check only where the schema allows null.
 */
export function runDomainChecks(checks: readonly FieldCheck[], record: unknown): DomainCheckFailure[] {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return [];
  const values = record as Record<string, unknown>;
  const failures: DomainCheckFailure[] = [];
  for (const { field, rule, check, nullable } of checks) {
    const value = Object.hasOwn(values, field) ? values[field] : undefined;
    if (value === undefined || (value === null && nullable)) continue;
    const message = check(value);
    if (message !== null) failures.push({ path: field, rule, message });
  }
  return failures;
}
