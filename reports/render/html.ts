/**
 * The sharing report as one self-contained HTML page (inline CSS and SVG charts, no script), laid out for A4
 * so that Chromium prints it as the PDF: a summary page, then one section per department.
 */
import type { DepartmentKpis, Ratio, SharingReport, UsageRow } from '../sharingKpis';
import { chinaDay } from '../workingCalendar';
import { rateBars, shareRing, stackedCounts } from './charts';
import { labels, type Labels, type Lang } from './labels';

const escapeHtml = (value: unknown): string =>
  String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** China time, minutes: 2026-10-09 17:00 */
export function chinaTime(iso: string | null): string {
  if (!iso) return '—';
  const shifted = new Date(Date.parse(iso) + 8 * 3_600_000).toISOString();
  return `<span class="when">${shifted.slice(0, 10)} ${shifted.slice(11, 16)}</span>`;
}

const day = (text: string): string => `<span class="when">${escapeHtml(text)}</span>`;

export function percentText(r: Ratio): string {
  return r.rate === null ? '—' : `${(Math.round(r.rate * 1000) / 10).toFixed(1)}%`;
}

const ratioText = (r: Ratio): string => `${percentText(r)} <small>(${r.numerator}/${r.denominator})</small>`;
const count = (n: number): string => n.toLocaleString('en-US');

function table(headers: string[], rows: string[][], emptyText: string): string {
  if (rows.length === 0) return `<p class="empty">${escapeHtml(emptyText)}</p>`;
  return `<table><thead><tr>${headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

function tiles(items: Array<[string, string]>): string {
  return `<div class="tiles">${items.map(([name, value]) => `<div class="tile"><div class="name">${escapeHtml(name)}</div><div class="value">${value}</div></div>`).join('')}</div>`;
}

const deptName = (d: DepartmentKpis, lang: Lang): string => (lang === 'zh' ? d.name.zh : d.name.en);

function usageTable(rows: UsageRow[], t: Labels, who: 'consumer' | 'owner'): string {
  return table(
    [t.subscription, t.dataset, who === 'consumer' ? t.consumer : t.department, t.channel, t.records, t.batches],
    rows.map((r) => [escapeHtml(r.subscription), escapeHtml(r.dataset), escapeHtml(who === 'consumer' ? r.consumer : r.owner), escapeHtml(t.channels[r.channel] ?? r.channel), count(r.records), count(r.batches)]),
    t.nothing,
  );
}

function summaryPage(report: SharingReport, t: Labels, lang: Lang): string {
  const s = report.summary;
  const names = report.departments.map((d) => deptName(d, lang));
  const channels = [...new Set(report.departments.flatMap((d) => Object.keys(d.provided.byChannel)))].sort();
  const charts = [
    rateBars(t.kpiByDepartment, names, [
      { name: t.catalogLinkage, rates: report.departments.map((d) => d.catalogLinkage.rate) },
      { name: t.updateTimeliness, rates: report.departments.map((d) => d.updateTimeliness.rate) },
      { name: t.onTimeRate, rates: report.departments.map((d) => d.requests.onTimeRate.rate) },
    ]),
    channels.length
      ? stackedCounts(t.deliveriesByDepartment, names, channels.map((c) => ({ name: t.channels[c] ?? c, values: report.departments.map((d) => d.provided.byChannel[c] ?? 0) })))
      : '',
  ];
  const rows = report.departments.map((d) => [
    escapeHtml(deptName(d, lang)),
    escapeHtml(d.division ? `${d.division.name ?? ''} ${d.division.code}` : '—'),
    ratioText(d.catalogLinkage),
    ratioText(d.updateTimeliness),
    ratioText(d.requests.onTimeRate),
    escapeHtml(t.workingDays(d.requests.medianResponseWorkingDays)),
    count(d.provided.records),
    percentText(d.publishing.rejectionRate),
    String(d.alerts.length),
  ]);
  return `<section class="page summary">
  <h1>${escapeHtml(t.title)}</h1>
  <h2>${escapeHtml(t.periodTitle(report.period.label, chinaDay(new Date(report.period.from)), chinaDay(new Date(Date.parse(report.period.to) - 1))))}</h2>
  <p class="meta">${escapeHtml(t.period)}: ${chinaTime(report.period.from)} – ${chinaTime(report.period.to)} · ${escapeHtml(t.evaluatedUntil)}: ${chinaTime(report.period.evaluatedUntil)} · ${escapeHtml(t.generatedAt)}: ${chinaTime(report.generatedAt)}</p>
  ${tiles([
    [t.catalogLinkage, ratioText(s.catalogLinkage)],
    [t.updateTimeliness, ratioText(s.updateTimeliness)],
    [t.onTimeRate, ratioText(s.requests.onTimeRate)],
    [t.responseTime, `${escapeHtml(t.workingDays(s.requests.medianResponseWorkingDays))}<small> ${escapeHtml(t.averageHours(s.requests.averageResponseHours))}</small>`],
    [t.deliveredRecords, count(s.deliveredRecords)],
    [t.subscriptionsServed, String(s.subscriptionsServed)],
    [t.rejectionRate, ratioText(s.publishing.rejectionRate)],
    [t.alerts, String(Object.values(s.alerts).reduce((a, b) => a + b, 0))],
  ])}
  <div class="charts">${charts.join('')}</div>
  <h3>${escapeHtml(t.departments)}</h3>
  ${table([t.department, t.division, t.catalogLinkage, t.updateTimeliness, t.onTimeRate, t.responseTime, t.deliveredRecords, t.rejectionRate, t.alerts], rows, t.nothing)}
  <p class="basis"><b>${escapeHtml(t.basis)}:</b> ${escapeHtml(t.basisText(report.settings.replyDeadlineWorkingDays, report.settings.calendarYears.join('、')))}</p>
</section>`;
}

function departmentPage(d: DepartmentKpis, t: Labels, lang: Lang): string {
  const datasetRows = d.datasets.map((ds) => [
    `${escapeHtml(lang === 'zh' ? ds.title.zh : ds.title.en)}<br><small>${escapeHtml(ds.id)}</small>`,
    escapeHtml(t.cycles[ds.updateCycle] ?? ds.updateCycle),
    ds.linked ? t.yes : t.no,
    `${ds.timeliness.numerator}/${ds.timeliness.denominator} <small>${percentText(ds.timeliness)}</small>`,
    ds.timeliness.missed.slice(0, 6).map(day).join(', ') + (ds.timeliness.missed.length > 6 ? ` … (+${ds.timeliness.missed.length - 6})` : ''),
    count(ds.acceptedRecords),
    count(ds.rejectedRecords),
    chinaTime(ds.lastRecordAt),
    ds.overdue ? `<b class="bad">${t.yes}</b>` : t.no,
    count(ds.deliveredRecords),
    escapeHtml(ds.consumingDepartments.join(', ') || '—'),
  ]);
  const r = d.requests;
  const requestRows = r.items.map((i) => [
    escapeHtml(i.subscription),
    escapeHtml(i.dataset),
    escapeHtml(i.consumer),
    chinaTime(i.requestedAt),
    day(i.dueOn),
    escapeHtml(t.decisions[i.decision ?? 'none']),
    chinaTime(i.decidedAt),
    i.responseWorkingDays === null ? '—' : String(i.responseWorkingDays),
    i.onTime === null ? '—' : i.onTime ? t.onTime : `<b class="bad">${t.late}</b>`,
  ]);
  const charts: string[] = [];
  if (d.datasets.length) {
    charts.push(rateBars(t.timelinessByDataset, d.datasets.map((ds) => (lang === 'zh' ? ds.title.zh : ds.title.en)), [{ name: t.updateTimeliness, rates: d.datasets.map((ds) => ds.timeliness.rate) }], 430));
  }
  if (r.received) {
    charts.push(shareRing(t.requestsChart, [
      { name: t.onTime, value: r.onTime },
      { name: t.late, value: r.late },
      { name: t.pending, value: r.pending },
    ]));
  }
  if (d.provided.records) {
    charts.push(shareRing(t.provided, Object.entries(d.provided.byChannel).map(([c, v]) => ({ name: t.channels[c] ?? c, value: v }))));
  }
  const alertRows = d.alerts.map((a) => [
    escapeHtml(t.alertKinds[a.kind] ?? a.kind),
    escapeHtml(a.subject),
    chinaTime(a.raisedAt),
    a.clearedAt ? chinaTime(a.clearedAt) : t.open,
    escapeHtml(typeof a.details.rule === 'string' ? `${a.details.rule}: ${String(a.details.records ?? '')} (receipts ${(a.details.receipts as number[] | undefined)?.slice(0, 5).join(', ') ?? ''})` : ''),
  ]);
  return `<section class="page department">
  <h2>${escapeHtml(deptName(d, lang))} <small>${escapeHtml(lang === 'zh' ? d.name.en : d.name.zh)}</small></h2>
  <p class="meta">${escapeHtml(t.division)}: ${escapeHtml(d.division ? `${d.division.name ?? ''}（${d.division.code}）` : '—')}</p>
  ${tiles([
    [t.catalogLinkage, ratioText(d.catalogLinkage)],
    [t.updateTimeliness, ratioText(d.updateTimeliness)],
    [t.onTimeRate, ratioText(r.onTimeRate)],
    [t.responseTime, `${escapeHtml(t.workingDays(r.medianResponseWorkingDays))}<small> ${escapeHtml(t.averageHours(r.averageResponseHours))}</small>`],
    [t.deliveredRecords, count(d.provided.records)],
    [t.rejectionRate, ratioText(d.publishing.rejectionRate)],
    [t.deadLetterRate, ratioText(d.publishing.deadLetterRate)],
    [t.alerts, String(d.alerts.length)],
  ])}
  <div class="charts">${charts.join('')}</div>
  <h3>${escapeHtml(t.datasets)}</h3>
  ${table([t.dataset, t.updateCycle, t.linked, t.windows, t.missed, t.accepted, t.rejected, t.lastRecord, t.overdue, t.deliveredRecords, t.consumingDepartments], datasetRows, t.nothing)}
  <h3>${escapeHtml(t.requests)} <small>${escapeHtml(`${t.received} ${r.received} · ${t.decided} ${r.decided} · ${t.onTime} ${r.onTime} · ${t.late} ${r.late} · ${t.overdueOpen} ${r.overdue} · ${t.pending} ${r.pending}`)}</small></h3>
  ${table([t.subscription, t.dataset, t.consumer, t.requestedAt, t.dueOn, t.decision, t.decidedAt, t.responseDays, t.onTimeRate], requestRows, t.nothing)}
  <h3>${escapeHtml(t.provided)}</h3>
  ${usageTable(d.provided.rows, t, 'consumer')}
  <h3>${escapeHtml(t.receivedData)}</h3>
  ${usageTable(d.received.rows, t, 'owner')}
  <h3>${escapeHtml(t.publishing)}</h3>
  ${table([t.batchesPublished, t.accepted, t.rejected, t.rejectionRate, t.deadLetterRate], [[count(d.publishing.batches), count(d.publishing.accepted), count(d.publishing.rejected), ratioText(d.publishing.rejectionRate), ratioText(d.publishing.deadLetterRate)]], t.nothing)}
  <h3>${escapeHtml(t.alerts)}</h3>
  ${alertRows.length ? table([t.alerts, t.subject, t.raisedAt, t.clearedAt, ''], alertRows, t.noAlerts) : `<p class="empty">${escapeHtml(t.noAlerts)}</p>`}
</section>`;
}

const STYLE = `
@page { size: A4; margin: 14mm 12mm; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Microsoft YaHei", sans-serif; color: #1f2328; font-size: 10.5px; margin: 0; }
.page { page-break-after: always; break-after: page; padding: 4px; }
.page:last-child { page-break-after: auto; break-after: auto; }
h1 { font-size: 24px; margin: 8px 0 4px; color: #1f3864; }
h2 { font-size: 18px; margin: 4px 0; color: #1f3864; border-bottom: 2px solid #2f5597; padding-bottom: 3px; }
h2 small, h3 small { font-weight: normal; color: #57606a; font-size: 11px; }
h3 { font-size: 13px; margin: 12px 0 4px; color: #2f5597; }
.meta { color: #57606a; margin: 2px 0 8px; }
.tiles { display: grid; grid-template-columns: repeat(4, 1fr); gap: 6px; margin: 8px 0; }
.tile { border: 1px solid #d0d7de; border-radius: 4px; padding: 6px 8px; background: #f6f8fa; }
.tile .name { color: #57606a; font-size: 10px; }
.tile .value { font-size: 16px; font-weight: bold; color: #1f3864; }
.tile small { font-size: 10px; font-weight: normal; color: #57606a; }
.charts { display: flex; flex-wrap: wrap; justify-content: center; gap: 4px; break-inside: avoid; }
.charts svg { max-width: 100%; height: auto; }
table { width: 100%; border-collapse: collapse; margin: 2px 0 6px; break-inside: auto; }
th, td { border: 1px solid #d0d7de; padding: 3px 4px; text-align: left; vertical-align: top; }
th { background: #e7edf6; font-weight: bold; }
tr { break-inside: avoid; }
td small { color: #57606a; }
.bad { color: #b42318; }
.when { white-space: nowrap; }
.empty { color: #57606a; font-style: italic; }
.basis { color: #57606a; margin-top: 10px; font-size: 9.5px; }
`;

export function renderSharingReportHtml(report: SharingReport, lang: Lang = 'zh'): string {
  const t = labels[lang];
  const title = `${t.title} · ${t.periodTitle(report.period.label, chinaDay(new Date(report.period.from)), chinaDay(new Date(Date.parse(report.period.to) - 1)))}`;
  return `<!DOCTYPE html>
<html lang="${lang === 'zh' ? 'zh-CN' : 'en'}">
<head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body>
${summaryPage(report, t, lang)}
${report.departments.map((d) => departmentPage(d, t, lang)).join('\n')}
</body>
</html>
`;
}
