/**
 * The windows of a dataset's declared update cycle, in which it is expected to receive data: every working day
 * for realtime and daily datasets (a holiday is not a missed update), Monday-to-Sunday weeks, and calendar
 * months, quarters and years, all in China. The timeliness KPI counts the windows that received data; the
 * freshness check calls a dataset overdue when a whole window passed without any.
 */
import { chinaDay, chinaDayStart, nextDay, weekdayOf, type WorkingCalendar } from './workingCalendar';

export type UpdateCycle = 'realtime' | 'daily' | 'weekly' | 'monthly' | 'quarterly' | 'yearly';

export interface CycleWindow {
  start: Date;
  end: Date;
  /** 2026-10-08, 2026-W41 (its Monday's date), 2026-10, 2026Q4, 2026 */
  label: string;
}

function firstDayOfWindow(cycle: UpdateCycle, day: string): string {
  const [y, m] = [day.slice(0, 4), Number(day.slice(5, 7))];
  switch (cycle) {
    case 'weekly':
      return nextDay(day, -((weekdayOf(day) + 6) % 7));
    case 'monthly':
      return `${day.slice(0, 7)}-01`;
    case 'quarterly':
      return `${y}-${String(m - ((m - 1) % 3)).padStart(2, '0')}-01`;
    case 'yearly':
      return `${y}-01-01`;
    default:
      return day;
  }
}

function firstDayOfNextWindow(cycle: UpdateCycle, first: string): string {
  const y = Number(first.slice(0, 4));
  const m = Number(first.slice(5, 7));
  const monthsAhead = (n: number): string => {
    const total = y * 12 + (m - 1) + n;
    return `${Math.floor(total / 12)}-${String((total % 12) + 1).padStart(2, '0')}-01`;
  };
  switch (cycle) {
    case 'weekly':
      return nextDay(first, 7);
    case 'monthly':
      return monthsAhead(1);
    case 'quarterly':
      return monthsAhead(3);
    case 'yearly':
      return `${y + 1}-01-01`;
    default:
      return nextDay(first);
  }
}

function labelOf(cycle: UpdateCycle, first: string): string {
  switch (cycle) {
    case 'monthly':
      return first.slice(0, 7);
    case 'quarterly':
      return `${first.slice(0, 4)}Q${Math.floor((Number(first.slice(5, 7)) - 1) / 3) + 1}`;
    case 'yearly':
      return first.slice(0, 4);
    case 'weekly':
      return `week of ${first}`;
    default:
      return first;
  }
}

const isDayByDay = (cycle: UpdateCycle): boolean => cycle === 'realtime' || cycle === 'daily';

function windowAt(cycle: UpdateCycle, first: string): CycleWindow {
  const next = firstDayOfNextWindow(cycle, first);
  return { start: chinaDayStart(first), end: chinaDayStart(next), label: labelOf(cycle, first) };
}

/** The windows that begin at or after `from` and have ended by `until`, skipping non-working days for day-by-day cycles. */
export function windowsWithin(cycle: UpdateCycle, from: Date, until: Date, calendar: WorkingCalendar): CycleWindow[] {
  const windows: CycleWindow[] = [];
  let first = firstDayOfWindow(cycle, chinaDay(from));
  if (chinaDayStart(first) < from) first = firstDayOfNextWindow(cycle, first);
  for (;;) {
    const w = windowAt(cycle, first);
    if (w.end > until) break;
    if (!isDayByDay(cycle) || calendar.isWorkingDay(first)) windows.push(w);
    first = firstDayOfNextWindow(cycle, first);
  }
  return windows;
}

/** The last complete window before the one `now` is in (for day-by-day cycles: the previous working day). */
export function previousWindow(cycle: UpdateCycle, now: Date, calendar: WorkingCalendar): CycleWindow {
  const current = firstDayOfWindow(cycle, chinaDay(now));
  let first = firstDayOfWindow(cycle, nextDay(current, -1));
  if (isDayByDay(cycle)) while (!calendar.isWorkingDay(first)) first = nextDay(first, -1);
  return windowAt(cycle, first);
}
