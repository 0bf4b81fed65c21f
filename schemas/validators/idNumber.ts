/** Citizen identity number (公民身份号码), GB 11643-1999. */
import { describeType, isProvinceCode } from './divisionCode';

/** ISO 7064 MOD 11-2 weights 2^(17-i) mod 11 for the 17 body digits. */
export const ID_NUMBER_WEIGHTS: readonly number[] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS = '10X98765432';

/** Taiwan residents' residence permits (港澳台居民居住证) use 83 instead of Taiwan's GB/T 2260 code 71. */
const RESIDENCE_PERMIT_PREFIXES = new Set(['83']);

/** The check character for the first 17 digits of an ID number. */
export function idNumberCheckChar(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * ID_NUMBER_WEIGHTS[i];
  return CHECK_CHARS[sum % 11];
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

export function isCalendarDate(year: number, month: number, day: number): boolean {
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
}

const CHINA_OFFSET_MS = 8 * 3600_000;
const DAY_MS = 86_400_000;
/** The last day asked for and its YYYYMMDD: every record of a batch asks for the same day. */
let lastDay = { day: Number.NaN, text: '' };

/** Today as YYYYMMDD in China Standard Time, where the numbers are issued: someone born this morning in Beijing may still be "tomorrow" in UTC. */
function todayInChina(now: Date): string {
  const day = Math.floor((now.getTime() + CHINA_OFFSET_MS) / DAY_MS);
  if (day !== lastDay.day) lastDay = { day, text: new Date(day * DAY_MS).toISOString().slice(0, 10).replace(/-/g, '') };
  return lastDay.text;
}

function birthDateProblem(yyyymmdd: string, now: Date): string | null {
  const year = Number(yyyymmdd.slice(0, 4));
  const month = Number(yyyymmdd.slice(4, 6));
  const day = Number(yyyymmdd.slice(6, 8));
  if (!isCalendarDate(year, month, day)) return `birth date ${yyyymmdd} is not a real calendar date (GB 11643)`;
  if (year < 1900) return `birth date ${yyyymmdd} is before 1900 (GB 11643)`;
  if (yyyymmdd > todayInChina(now)) return `birth date ${yyyymmdd} is in the future (GB 11643)`;
  return null;
}

function characterProblem(value: string): string | null {
  for (let i = 0; i < 17; i++) {
    const ch = value[i];
    if (ch < '0' || ch > '9') return `character ${i + 1} is '${ch}', expected a digit (GB 11643)`;
  }
  const last = value[17];
  if (last === 'x') return "check character must be an uppercase X, got lowercase x (GB 11643)";
  if (!/^[0-9X]$/.test(last)) return `check character is '${last}', expected a digit or X (GB 11643)`;
  return null;
}

/** Like checkIdNumber, against a given "now" (for birth dates in the future). */
export function checkIdNumberAt(value: unknown, now: Date): string | null {
  if (typeof value !== 'string') return `ID number must be a string, got ${describeType(value)} (GB 11643)`;
  if (value.length !== 18) return `ID number must be 18 characters, got ${value.length} (GB 11643)`;
  const badCharacter = characterProblem(value);
  if (badCharacter) return badCharacter;
  const province = value.slice(0, 2);
  if (!isProvinceCode(province) && !RESIDENCE_PERMIT_PREFIXES.has(province)) {
    return `address code ${value.slice(0, 6)} starts with ${province}, which is not a province-level code (GB/T 2260)`;
  }
  const badBirthDate = birthDateProblem(value.slice(6, 14), now);
  if (badBirthDate) return badBirthDate;
  const expected = idNumberCheckChar(value);
  if (value[17] !== expected) return `check digit is ${value[17]}, expected ${expected} (GB 11643)`;
  return null;
}

/** GB 11643 citizen ID number: null when valid, else which rule it breaks. */
export function checkIdNumber(value: unknown): string | null {
  return checkIdNumberAt(value, new Date());
}
