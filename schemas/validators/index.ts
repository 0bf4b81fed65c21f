/** The domain checks a schema field can name with `"govx.check": "<rule>"`, and how to run them on a record. */
import { checkCreditCode } from './creditCode';
import { checkDivisionCode } from './divisionCode';
import { checkGeoJsonGeometry } from './geojson';
import { checkIdNumber } from './idNumber';
import { checkStatisticalPeriod } from './statisticalPeriod';

/** What a check may know about the record beyond the value itself. */
export interface DomainCheckContext {
  /** the time the record speaks of, read from the field the schema names with `"govx.asOf"` */
  asOf?: Date;
}

/** null when the value is valid, else a message naming the broken rule. */
export type DomainCheck = (value: unknown, context?: DomainCheckContext) => string | null;

export interface DomainCheckDefinition {
  rule: string;
  description: string;
  check: DomainCheck;
}

export const CHECK_ATTRIBUTE = 'govx.check';
/** names the field whose value is the record's time, for checks whose answer depends on it */
export const AS_OF_ATTRIBUTE = 'govx.asOf';

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
    description: '行政区划代码 (GB/T 2260): a province, prefecture or county-level division on the official list, or one abolished after the record\'s time (`"govx.asOf"`)',
    check: checkDivisionCode,
  },
  'stat-period': {
    rule: 'stat-period',
    description: '统计期: a year (2025), a quarter (2025Q3) or a month (2025-09)',
    check: checkStatisticalPeriod,
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
  /** the field holding the record's time (`"govx.asOf"`), if the schema names one */
  asOfField?: string;
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
  const asOfField = field[AS_OF_ATTRIBUTE];
  if (asOfField === undefined) return { field: name, rule, check: definition.check, nullable };
  if (typeof asOfField !== 'string') throw new Error(`field ${name}: "${AS_OF_ATTRIBUTE}" must name the field holding the record's time`);
  return { field: name, rule, check: definition.check, nullable, asOfField };
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
  for (const { field, rule, check, nullable, asOfField } of checks) {
    const value = Object.hasOwn(values, field) ? values[field] : undefined;
    if (value === undefined || (value === null && nullable)) continue;
    const asOf = asOfField !== undefined && Object.hasOwn(values, asOfField) ? recordTime(values[asOfField]) : undefined;
    const message = check(value, asOf ? { asOf } : undefined);
    if (message !== null) failures.push({ path: field, rule, message });
  }
  return failures;
}

const STATISTICAL_PERIOD = /^(\d{4})(?:-(0[1-9]|1[0-2])|Q([1-4]))?$/;

/**
 * The start of the time a value names: an ISO 8601 date or timestamp, epoch milliseconds, or a statistical
 * period (2025, 2025Q3, 2025-09). undefined when it is none of these; the field's own rules report that.
 */
export function recordTime(value: unknown): Date | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return new Date(value);
  if (typeof value !== 'string') return undefined;
  const period = STATISTICAL_PERIOD.exec(value);
  if (period) {
    const month = period[2] ? Number(period[2]) - 1 : period[3] ? (Number(period[3]) - 1) * 3 : 0;
    return new Date(Date.UTC(Number(period[1]), month, 1));
  }
  if (!/^\d{4}-\d{2}-\d{2}/.test(value)) return undefined;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? undefined : at;
}
