import { previousWindow, windowsWithin } from '../../../reports/updateCycles';
import { quarterPeriod } from '../../../reports/period';
import { cst } from '../../support/monitoring';
import { loadWorkingCalendar } from '../../../reports/workingCalendar';

const calendar = loadWorkingCalendar();
const q4 = quarterPeriod('2026Q4');
const labels = (cycle: Parameters<typeof windowsWithin>[0], until: Date) => windowsWithin(cycle, q4.from, until, calendar).map((w) => w.label);

describe('update-cycle windows of a quarter', () => {
  it('daily and realtime: the working days that have ended, not the National Day holiday', () => {
    expect(labels('daily', cst('2026-10-13T09:00'))).toEqual(['2026-10-08', '2026-10-09', '2026-10-10', '2026-10-12']);
    expect(labels('realtime', q4.to)).toHaveLength(calendar.workingDaysIn('2026-10-01', '2026-12-31').length);
  });

  it('weekly: Monday-to-Sunday weeks starting inside the period', () => {
    expect(labels('weekly', cst('2026-10-26T00:00'))).toEqual(['week of 2026-10-05', 'week of 2026-10-12', 'week of 2026-10-19']);
  });

  it('monthly, quarterly and yearly: calendar periods in China', () => {
    expect(labels('monthly', q4.to)).toEqual(['2026-10', '2026-11', '2026-12']);
    expect(labels('monthly', cst('2026-11-30T23:59'))).toEqual(['2026-10']);
    expect(labels('quarterly', q4.to)).toEqual(['2026Q4']);
    expect(labels('yearly', q4.to)).toEqual([]);
  });

  it('knows the window before the current one, skipping holidays for daily data', () => {
    expect(previousWindow('daily', cst('2026-10-08T10:00'), calendar).label).toBe('2026-09-30');
    expect(previousWindow('daily', cst('2026-10-12T10:00'), calendar).label).toBe('2026-10-10');
    expect(previousWindow('weekly', cst('2026-10-14T10:00'), calendar).label).toBe('week of 2026-10-05');
    expect(previousWindow('monthly', cst('2026-01-15T10:00'), calendar).label).toBe('2025-12');
    expect(previousWindow('quarterly', cst('2026-11-15T10:00'), calendar)).toMatchObject({ label: '2026Q3', start: cst('2026-07-01T00:00'), end: cst('2026-10-01T00:00') });
    expect(previousWindow('yearly', cst('2026-11-15T10:00'), calendar).label).toBe('2025');
  });
});

describe('report periods', () => {
  it('turn a quarter into China-time bounds', () => {
    expect(quarterPeriod('2026Q1')).toEqual({ from: cst('2026-01-01T00:00'), to: cst('2026-04-01T00:00'), label: '2026Q1' });
    expect(() => quarterPeriod('2026Q0')).toThrow(/quarter must look like 2026Q4/);
  });
});
