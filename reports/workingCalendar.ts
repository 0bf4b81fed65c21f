/**
 * Working days in China: Monday to Friday, except public holidays, plus the weekend days declared working
 * days (调休). Deadlines in working days (reply deadlines of conditional requests, 10 working days by default)
 * and the daily update cycle are counted with it. Days are calendar days in China (UTC+8, no daylight saving).
 *
 * The official calendar of each year ships as data in reports/calendars/; an operator file
 * (GOVX_WORKDAY_CALENDAR_FILE) adds years or overrides days. A year without data counts weekends only.
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { projectPath } from '../lib/paths';

export const CHINA_OFFSET_MS = 8 * 3_600_000;
const DAY_MS = 86_400_000;
const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

/** The calendar day in China of an instant, as YYYY-MM-DD. */
export function chinaDay(at: Date): string {
  return new Date(at.getTime() + CHINA_OFFSET_MS).toISOString().slice(0, 10);
}

/** The instant a day in China begins (00:00 UTC+8). */
export function chinaDayStart(day: string): Date {
  return new Date(Date.parse(`${day}T00:00:00.000Z`) - CHINA_OFFSET_MS);
}

export function nextDay(day: string, by = 1): string {
  return new Date(Date.parse(`${day}T00:00:00.000Z`) + by * DAY_MS).toISOString().slice(0, 10);
}

/** 0 Sunday … 6 Saturday */
export function weekdayOf(day: string): number {
  return new Date(`${day}T00:00:00.000Z`).getUTCDay();
}

export interface CalendarFile {
  holidays?: Array<{ name: string; from: string; to?: string }>;
  workdays?: string[];
}

export class CalendarError extends Error {}

export class WorkingCalendar {
  private readonly holidays = new Map<string, string>();
  private readonly workdays = new Set<string>();
  private readonly years = new Set<number>();

  constructor(files: CalendarFile[]) {
    for (const file of files) this.add(file);
  }

  private add(file: CalendarFile): void {
    const problems: string[] = [];
    for (const [i, h] of (file.holidays ?? []).entries()) {
      const to = h?.to ?? h?.from;
      if (!h || typeof h.name !== 'string' || !isDay(h.from) || !isDay(to) || to < h.from || nextDay(h.from, 60) < to) {
        problems.push(`holidays[${i}] must be {name, from: YYYY-MM-DD, to?: YYYY-MM-DD} spanning at most 60 days`);
        continue;
      }
      for (let day = h.from; day <= to; day = nextDay(day)) {
        this.holidays.set(day, h.name);
        this.workdays.delete(day);
        this.years.add(Number(day.slice(0, 4)));
      }
    }
    for (const [i, day] of (file.workdays ?? []).entries()) {
      if (!isDay(day)) {
        problems.push(`workdays[${i}] must be a date YYYY-MM-DD`);
        continue;
      }
      this.workdays.add(day);
      this.holidays.delete(day);
      this.years.add(Number(day.slice(0, 4)));
    }
    if (problems.length) throw new CalendarError(`invalid working-day calendar: ${problems.join('; ')}`);
  }

  /** Whether the calendar holds the official arrangement of that year (else only weekends are known). */
  knowsYear(year: number): boolean {
    return this.years.has(year);
  }

  holidayName(day: string): string | null {
    return this.holidays.get(day) ?? null;
  }

  isWorkingDay(day: string): boolean {
    if (this.workdays.has(day)) return true;
    if (this.holidays.has(day)) return false;
    const weekday = weekdayOf(day);
    return weekday !== 0 && weekday !== 6;
  }

  /**
   * The Nth working day after the day of `from` (the starting day itself does not count, as with every
   * legal time limit), as YYYY-MM-DD.
   */
  addWorkingDays(from: Date, n: number): string {
    let day = chinaDay(from);
    for (let counted = 0; counted < n; ) {
      day = nextDay(day);
      if (this.isWorkingDay(day)) counted += 1;
    }
    return day;
  }

  /** Working days after the day of `from` up to and including the day of `to` (0 for the same day or earlier). */
  workingDaysBetween(from: Date, to: Date): number {
    const last = chinaDay(to);
    let n = 0;
    for (let day = nextDay(chinaDay(from)); day <= last; day = nextDay(day)) if (this.isWorkingDay(day)) n += 1;
    return n;
  }

  /** The working days from `fromDay` to `toDay`, both included. */
  workingDaysIn(fromDay: string, toDay: string): string[] {
    const days: string[] = [];
    for (let day = fromDay; day <= toDay; day = nextDay(day)) if (this.isWorkingDay(day)) days.push(day);
    return days;
  }
}

function isDay(value: unknown): value is string {
  return typeof value === 'string' && DAY_PATTERN.test(value) && !Number.isNaN(Date.parse(`${value}T00:00:00Z`)) && new Date(`${value}T00:00:00Z`).toISOString().startsWith(value);
}

export const officialCalendarDir = projectPath('reports', 'calendars');

function readCalendarFile(file: string): CalendarFile {
  let parsed: unknown;
  try {
    parsed = YAML.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CalendarError(`cannot read the working-day calendar ${file}: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new CalendarError(`${file} must hold {holidays, workdays}`);
  return parsed as CalendarFile;
}

/** The shipped official calendars, then the operator's file (its days win). */
export function loadWorkingCalendar(operatorFile?: string | null): WorkingCalendar {
  const official = fs
    .readdirSync(officialCalendarDir)
    .filter((name) => name.endsWith('.yaml'))
    .sort()
    .map((name) => readCalendarFile(path.join(officialCalendarDir, name)));
  return new WorkingCalendar(operatorFile ? [...official, readCalendarFile(operatorFile)] : official);
}
