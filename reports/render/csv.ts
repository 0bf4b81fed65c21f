/**
 * The sharing report as CSV, one row per figure (department, dataset or subscription), for spreadsheets. It
 * starts with a byte-order mark so that spreadsheet programs read the Chinese names as UTF-8.
 */
import type { Ratio, SharingReport } from '../sharingKpis';
import type { Lang } from './labels';

const HEADER = ['period', 'department', 'department_name', 'scope', 'item', 'metric', 'numerator', 'denominator', 'value'];

function cell(value: unknown): string {
  const text = value === null || value === undefined ? '' : String(value);
  // A leading =, +, - or @ would run as a formula in a spreadsheet.
  const safe = /^[=+\-@\t\r]/.test(text) && !/^-?\d+(\.\d+)?$/.test(text) ? `'${text}` : text;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function renderSharingReportCsv(report: SharingReport, lang: Lang = 'zh'): string {
  const period = report.period.label ?? `${report.period.from}/${report.period.to}`;
  const rows: unknown[][] = [];
  const ratioRow = (dept: string, name: string, scope: string, item: string, metric: string, r: Ratio) =>
    rows.push([period, dept, name, scope, item, metric, r.numerator, r.denominator, r.rate]);
  const valueRow = (dept: string, name: string, scope: string, item: string, metric: string, value: number | null) =>
    rows.push([period, dept, name, scope, item, metric, '', '', value]);
  for (const d of report.departments) {
    const name = lang === 'zh' ? d.name.zh : d.name.en;
    ratioRow(d.id, name, 'department', d.id, 'catalog_linkage_rate', d.catalogLinkage);
    ratioRow(d.id, name, 'department', d.id, 'update_timeliness_rate', d.updateTimeliness);
    ratioRow(d.id, name, 'department', d.id, 'on_time_reply_rate', d.requests.onTimeRate);
    valueRow(d.id, name, 'department', d.id, 'requests_received', d.requests.received);
    valueRow(d.id, name, 'department', d.id, 'requests_overdue', d.requests.overdue);
    valueRow(d.id, name, 'department', d.id, 'median_reply_working_days', d.requests.medianResponseWorkingDays);
    valueRow(d.id, name, 'department', d.id, 'average_reply_hours', d.requests.averageResponseHours);
    valueRow(d.id, name, 'department', d.id, 'records_delivered', d.provided.records);
    valueRow(d.id, name, 'department', d.id, 'records_received', d.received.records);
    ratioRow(d.id, name, 'department', d.id, 'publish_rejection_rate', d.publishing.rejectionRate);
    ratioRow(d.id, name, 'department', d.id, 'dead_letter_rate', d.publishing.deadLetterRate);
    valueRow(d.id, name, 'department', d.id, 'alerts', d.alerts.length);
    for (const ds of d.datasets) {
      ratioRow(d.id, name, 'dataset', ds.id, 'update_timeliness_rate', ds.timeliness);
      valueRow(d.id, name, 'dataset', ds.id, 'linked', ds.linked ? 1 : 0);
      valueRow(d.id, name, 'dataset', ds.id, 'records_published', ds.acceptedRecords);
      valueRow(d.id, name, 'dataset', ds.id, 'records_delivered', ds.deliveredRecords);
      valueRow(d.id, name, 'dataset', ds.id, 'consuming_departments', ds.consumingDepartments.length);
    }
    for (const u of d.provided.rows) valueRow(d.id, name, `subscription:${u.channel}`, u.subscription, 'records_delivered', u.records);
  }
  return `\uFEFF${[HEADER, ...rows].map((r) => r.map(cell).join(',')).join('\r\n')}\r\n`;
}
