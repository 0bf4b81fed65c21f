import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CalendarError, chinaDay, chinaDayStart, loadWorkingCalendar, WorkingCalendar } from '../../../reports/workingCalendar';

const at = (iso: string): Date => new Date(iso);

describe('the official 2026 working-day calendar of China', () => {
  const calendar = loadWorkingCalendar();

  it('knows the National Day holiday and its two adjusted working weekends', () => {
    for (const day of ['2026-10-01', '2026-10-02', '2026-10-05', '2026-10-07']) expect(calendar.isWorkingDay(day)).toBe(false);
    expect(calendar.holidayName('2026-10-05')).toBe('国庆节');
    expect(calendar.isWorkingDay('2026-09-20')).toBe(true); // a Sunday
    expect(calendar.isWorkingDay('2026-10-10')).toBe(true); // a Saturday
    expect(calendar.isWorkingDay('2026-10-11')).toBe(false); // an ordinary Sunday
    expect(calendar.isWorkingDay('2026-10-08')).toBe(true);
  });

  it('holds 248 working days in 2026 (261 weekdays, less 19 weekday holidays, plus 6 adjusted working days)', () => {
    expect(calendar.workingDaysIn('2026-01-01', '2026-12-31')).toHaveLength(248);
    expect(calendar.knowsYear(2026)).toBe(true);
    expect(calendar.knowsYear(2027)).toBe(false);
  });

  it('counts a 10-working-day deadline from the day after the request, across the National Day holiday', () => {
    // requested on Tuesday 29 September (China time): 30 Sep, 8, 9, 10 (Saturday, worked), 12, 13, 14, 15, 16, 19 October
    expect(calendar.addWorkingDays(at('2026-09-29T02:00:00Z'), 10)).toBe('2026-10-19');
    // the same request without a holiday in the way: 10 working days are two weeks
    expect(calendar.addWorkingDays(at('2026-11-03T02:00:00Z'), 10)).toBe('2026-11-17');
    // late evening in China is already the next day
    expect(calendar.addWorkingDays(at('2026-09-29T16:30:00Z'), 1)).toBe('2026-10-08');
  });

  it('counts the working days between two instants by their days in China', () => {
    expect(calendar.workingDaysBetween(at('2026-09-29T02:00:00Z'), at('2026-10-09T09:00:00Z'))).toBe(3); // 30 Sep, 8 and 9 Oct
    expect(calendar.workingDaysBetween(at('2026-11-03T02:00:00Z'), at('2026-11-03T09:00:00Z'))).toBe(0);
    expect(calendar.workingDaysBetween(at('2026-11-05T02:00:00Z'), at('2026-11-03T09:00:00Z'))).toBe(0);
  });

  it('maps instants to days in China (UTC+8)', () => {
    expect(chinaDay(at('2026-09-30T15:59:59Z'))).toBe('2026-09-30');
    expect(chinaDay(at('2026-09-30T16:00:00Z'))).toBe('2026-10-01');
    expect(chinaDayStart('2026-10-01').toISOString()).toBe('2026-09-30T16:00:00.000Z');
  });
});

describe("an operator's calendar file", () => {
  it('adds years and overrides days of the official calendar', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'govx-cal-')), 'local.yaml');
    fs.writeFileSync(file, 'holidays:\n  - { name: 元旦, from: 2027-01-01 }\n  - { name: 防汛停工, from: 2026-11-05, to: 2026-11-06 }\nworkdays: [2026-10-07]\n');
    const calendar = loadWorkingCalendar(file);
    expect(calendar.isWorkingDay('2027-01-01')).toBe(false);
    expect(calendar.isWorkingDay('2026-11-05')).toBe(false);
    expect(calendar.isWorkingDay('2026-10-07')).toBe(true);
    expect(calendar.knowsYear(2027)).toBe(true);
  });

  it('is refused with every problem named', () => {
    expect(() => new WorkingCalendar([{ holidays: [{ name: 'x', from: '2026-02-30' }], workdays: ['tomorrow'] }])).toThrow(
      new CalendarError('invalid working-day calendar: holidays[0] must be {name, from: YYYY-MM-DD, to?: YYYY-MM-DD} spanning at most 60 days; workdays[0] must be a date YYYY-MM-DD'),
    );
    expect(() => loadWorkingCalendar('/nonexistent/calendar.yaml')).toThrow(/cannot read the working-day calendar/);
  });
});
