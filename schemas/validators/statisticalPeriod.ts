import { describeType } from './divisionCode';

/** 统计期: a year (2025), a quarter (2025Q3) or a month (2025-09), as statistical releases name periods. */
export function checkStatisticalPeriod(value: unknown): string | null {
  if (typeof value !== 'string') return `statistical period must be a string, got ${describeType(value)}`;
  const m = /^(\d{4})(?:-(\d{2})|Q(\d))?$/.exec(value);
  if (!m) return `statistical period must be a year (2025), a quarter (2025Q3) or a month (2025-09), got "${value.slice(0, 40)}"`;
  const year = Number(m[1]);
  if (year < 1949 || year > 2200) return `statistical period ${value} has a year outside 1949–2200`;
  if (m[2] !== undefined && (Number(m[2]) < 1 || Number(m[2]) > 12)) return `statistical period ${value} has no month ${m[2]}`;
  if (m[3] !== undefined && (Number(m[3]) < 1 || Number(m[3]) > 4)) return `statistical period ${value} has no quarter ${m[3]}`;
  return null;
}
