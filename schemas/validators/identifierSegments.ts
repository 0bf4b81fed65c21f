/**
 * The parts of the structured identifiers govx masks, so that a partial mask can say exactly which parts it
 * keeps and the sharing policy can tell which other fields complete the hidden ones.
 *
 * - 公民身份号码 (GB 11643): 6 region (address code) + 8 birth date + 3 sequence (odd for men) + 1 check.
 * - 统一社会信用代码 (GB 32100): 1 registration authority + 1 organisation type + 6 division + 9 organisation
 *   code (GB 11714, its own check last) + 1 check.
 */
import { USCC_ALPHABET, usccCheckChar } from './creditCode';

export const identifierKinds = ['cn-id-number', 'cn-uscc'] as const;
export type IdentifierKind = (typeof identifierKinds)[number];

export interface IdentifierSegment {
  name: string;
  from: number;
  to: number;
  /** about how many values the segment takes (what an attacker who knows nothing else must search) */
  space: number;
  /** computed from the other segments (a check character): it narrows the search, it identifies nothing */
  derived?: boolean;
}

export interface IdentifierModel {
  kind: IdentifierKind;
  length: number;
  pattern: RegExp;
  segments: readonly IdentifierSegment[];
  /** the segments that make the identifier a secret: while one of them stays hidden, it cannot be rebuilt */
  secrets: readonly string[];
  /** what a partial mask keeps when nothing else the consumer may receive completes it */
  defaultKeep: readonly string[];
}

const usccChar = `[${USCC_ALPHABET}]`;

export const identifierModels: Readonly<Record<IdentifierKind, IdentifierModel>> = Object.freeze({
  'cn-id-number': {
    kind: 'cn-id-number',
    length: 18,
    pattern: /^\d{17}[\dX]$/,
    segments: [
      { name: 'region', from: 0, to: 6, space: 3_500 },
      // 1900-01-01 until today
      { name: 'birth', from: 6, to: 14, space: 46_000 },
      { name: 'sequence', from: 14, to: 17, space: 1_000 },
      { name: 'check', from: 17, to: 18, space: 11, derived: true },
    ],
    secrets: ['birth', 'sequence'],
    defaultKeep: ['region', 'sequence', 'check'],
  },
  'cn-uscc': {
    kind: 'cn-uscc',
    length: 18,
    pattern: new RegExp(`^${usccChar}{18}$`),
    segments: [
      { name: 'authority', from: 0, to: 1, space: 13 },
      { name: 'type', from: 1, to: 2, space: 6 },
      { name: 'division', from: 2, to: 8, space: 3_500 },
      { name: 'organization', from: 8, to: 17, space: 31 ** 8 },
      { name: 'check', from: 17, to: 18, space: 31, derived: true },
    ],
    secrets: ['organization'],
    defaultKeep: ['authority', 'type', 'division', 'check'],
  },
});

/**
 * Which kind of identifier a value looks like (for fields the schema does not annotate): anything shaped
 * like an ID number counts as one; a credit code needs its check character right, so that an ordinary
 * 18-character code is not taken for one.
 */
export function identifierKindOf(value: string): IdentifierKind | null {
  if (/^\d{17}[\dXx]$/.test(value)) return 'cn-id-number';
  if (identifierModels['cn-uscc'].pattern.test(value) && usccCheckChar(value.slice(0, 17)) === value[17]) return 'cn-uscc';
  return null;
}

/**
 * Keeps the named segments of an identifier and replaces every other character with `*`, preserving the
 * length. A value that does not have the identifier's shape is masked whole: a mask never guesses.
 */
export function maskSegments(value: string, kind: IdentifierKind, keep: readonly string[]): string {
  const model = identifierModels[kind];
  const chars = Array.from(value);
  if (chars.length !== model.length) return '*'.repeat(chars.length);
  const kept = new Set<number>();
  for (const s of model.segments) if (keep.includes(s.name)) for (let i = s.from; i < s.to; i++) kept.add(i);
  return chars.map((c, i) => (kept.has(i) ? c : '*')).join('');
}
