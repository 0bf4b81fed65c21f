import { InputError } from '../lib/errors';
import { chinaDayStart } from './workingCalendar';

/** A reporting period: [from, to), instants; quarters and days are those of China (UTC+8). */
export interface ReportPeriod {
  from: Date;
  to: Date;
  /** 2026Q4 when the period is a quarter */
  label: string | null;
}

const MAX_PERIOD_DAYS = 400;
const QUARTER = /^(\d{4})Q([1-4])$/;

export function quarterPeriod(text: string): ReportPeriod {
  const m = QUARTER.exec(text);
  if (!m) throw new InputError('report.invalid_period', `quarter must look like 2026Q4, got "${text.slice(0, 20)}"`);
  const year = Number(m[1]);
  const q = Number(m[2]);
  const month = (q - 1) * 3 + 1;
  const start = `${year}-${String(month).padStart(2, '0')}-01`;
  const end = q === 4 ? `${year + 1}-01-01` : `${year}-${String(month + 3).padStart(2, '0')}-01`;
  return { from: chinaDayStart(start), to: chinaDayStart(end), label: `${year}Q${q}` };
}

/** A date (YYYY-MM-DD, the start of that day in China) or an ISO 8601 timestamp with its offset. */
function instant(text: string, name: string): Date {
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) {
    const d = chinaDayStart(text);
    if (!Number.isNaN(d.getTime()) && new Date(`${text}T00:00:00Z`).toISOString().startsWith(text)) return d;
  } else if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.test(text)) {
    const d = new Date(text);
    if (!Number.isNaN(d.getTime())) return d;
  }
  throw new InputError('report.invalid_period', `${name} must be a date (2026-10-01, a day in China) or an ISO 8601 timestamp with an offset`);
}

/** `?quarter=` or `?from=&to=` (to exclusive); exactly one of the two forms. */
export function parseReportPeriod(q: { quarter?: string; from?: string; to?: string }): ReportPeriod {
  if (q.quarter !== undefined) {
    if (q.from !== undefined || q.to !== undefined) throw new InputError('report.invalid_period', 'give either quarter or from and to, not both');
    return quarterPeriod(q.quarter);
  }
  if (q.from === undefined || q.to === undefined) throw new InputError('report.invalid_period', 'give quarter (2026Q4), or both from and to');
  const from = instant(q.from, 'from');
  const to = instant(q.to, 'to');
  if (to <= from) throw new InputError('report.invalid_period', 'to must be after from');
  if (to.getTime() - from.getTime() > MAX_PERIOD_DAYS * 86_400_000) throw new InputError('report.invalid_period', `a report covers at most ${MAX_PERIOD_DAYS} days`);
  return { from, to, label: null };
}
