/**
 * The sharing KPIs of a period, per department and dataset, from SharingRecords (definitions: docs/kpis.md).
 * Pure: the same records, settings and evaluation time always give the same report.
 */
import { divisionName } from '../schemas/validators/divisionCode';
import type { ReportPeriod } from './period';
import type { AlertRecord, DatasetRecord, DeliveryReceipt, PublishReceipt, RequestRecord, SharingRecords } from './sharingRecords';
import { previousWindow, windowsWithin, type UpdateCycle } from './updateCycles';
import { chinaDay, type WorkingCalendar } from './workingCalendar';

export interface Ratio {
  numerator: number;
  denominator: number;
  /** numerator / denominator rounded to 4 decimals; null when there is nothing to measure */
  rate: number | null;
}

export interface KpiSettings {
  calendar: WorkingCalendar;
  replyDeadlineWorkingDays: number;
}

export interface DatasetKpis {
  id: string;
  title: { zh: string; en: string };
  status: string;
  sharingType: string;
  updateCycle: string;
  schemaRegistered: boolean;
  /** counts toward 目录挂接率: active, with a registered schema, with data published in the period */
  linked: boolean;
  timeliness: Ratio & { missed: string[] };
  acceptedRecords: number;
  rejectedRecords: number;
  lastRecordAt: string | null;
  /** a whole update window passed without data (at the end of the evaluation) */
  overdue: boolean;
  deliveredRecords: number;
  consumingDepartments: string[];
}

export interface RequestKpis {
  received: number;
  decided: number;
  /** undecided and not yet due */
  pending: number;
  onTime: number;
  /** decided after the due day, or undecided past it */
  late: number;
  /** undecided past the due day */
  overdue: number;
  onTimeRate: Ratio;
  medianResponseWorkingDays: number | null;
  averageResponseHours: number | null;
  items: Array<{
    subscription: string;
    dataset: string;
    consumer: string;
    requestedAt: string;
    dueOn: string;
    decision: 'approve' | 'reject' | 'revoke' | null;
    decidedAt: string | null;
    responseWorkingDays: number | null;
    onTime: boolean | null;
  }>;
}

export interface UsageRow {
  subscription: string;
  dataset: string;
  consumer: string;
  owner: string;
  channel: string;
  records: number;
  batches: number;
}

export interface PublishingKpis {
  batches: number;
  accepted: number;
  rejected: number;
  deadLettered: number;
  rejectionRate: Ratio;
  deadLetterRate: Ratio;
}

export interface DepartmentKpis {
  id: string;
  name: { zh: string; en: string };
  kind: string;
  division: { code: string; name: string | null } | null;
  catalogLinkage: Ratio;
  updateTimeliness: Ratio;
  datasets: DatasetKpis[];
  requests: RequestKpis;
  /** records its datasets delivered, per subscription and channel */
  provided: { records: number; byChannel: Record<string, number>; rows: UsageRow[] };
  /** records it received from other departments' datasets */
  received: { records: number; byChannel: Record<string, number>; rows: UsageRow[] };
  publishing: PublishingKpis;
  alerts: Array<{ kind: string; subject: string; raisedAt: string; clearedAt: string | null; details: Record<string, unknown> }>;
}

export interface SharingReport {
  period: { from: string; to: string; label: string | null; evaluatedUntil: string };
  generatedAt: string;
  settings: { replyDeadlineWorkingDays: number; timeZone: 'Asia/Shanghai'; calendarYears: number[] };
  summary: {
    departments: number;
    datasets: number;
    catalogLinkage: Ratio;
    updateTimeliness: Ratio;
    requests: Omit<RequestKpis, 'items'>;
    deliveredRecords: number;
    deliveriesByChannel: Record<string, number>;
    subscriptionsServed: number;
    publishing: PublishingKpis;
    alerts: Record<string, number>;
  };
  departments: DepartmentKpis[];
}

export function ratio(numerator: number, denominator: number): Ratio {
  return { numerator, denominator, rate: denominator === 0 ? null : Math.round((numerator / denominator) * 10_000) / 10_000 };
}

const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);
const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function datasetKpis(d: DatasetRecord, period: ReportPeriod, until: Date, publishes: PublishReceipt[], deliveries: DeliveryReceipt[], calendar: WorkingCalendar): DatasetKpis {
  const mine = publishes.filter((p) => p.dataset === d.id);
  const withData = mine.filter((p) => p.accepted > 0);
  const active = d.status === 'active';
  const cycle = d.updateCycle as UpdateCycle;
  const windows = active ? windowsWithin(cycle, period.from, until, calendar).filter((w) => w.end > d.since) : [];
  const missed = windows.filter((w) => !withData.some((p) => p.at >= w.start && p.at < w.end));
  const delivered = deliveries.filter((r) => r.dataset === d.id);
  const lastSeen = d.lastRecordAt ?? d.since;
  return {
    id: d.id,
    title: { zh: d.titleZh, en: d.titleEn },
    status: d.status,
    sharingType: d.sharingType,
    updateCycle: d.updateCycle,
    schemaRegistered: d.schemaRegistered,
    linked: active && d.schemaRegistered && withData.length > 0,
    timeliness: { ...ratio(windows.length - missed.length, windows.length), missed: missed.map((w) => w.label) },
    acceptedRecords: sum(mine.map((p) => p.accepted)),
    rejectedRecords: sum(mine.map((p) => p.rejected)),
    lastRecordAt: iso(d.lastRecordAt),
    overdue: active && lastSeen < previousWindow(cycle, until, calendar).start,
    deliveredRecords: sum(delivered.map((r) => r.count)),
    consumingDepartments: [...new Set(delivered.map((r) => r.consumer))].sort(),
  };
}

function requestKpis(requests: RequestRecord[], until: Date, settings: KpiSettings): RequestKpis {
  const untilDay = chinaDay(until);
  const items = requests.map((r) => {
    const dueOn = r.dueOn ?? settings.calendar.addWorkingDays(r.requestedAt, settings.replyDeadlineWorkingDays);
    const decidedDay = r.decision ? chinaDay(r.decision.at) : null;
    return {
      subscription: r.subscription,
      dataset: r.dataset,
      consumer: r.consumer,
      requestedAt: r.requestedAt.toISOString(),
      dueOn,
      decision: r.decision?.action ?? null,
      decidedAt: iso(r.decision?.at ?? null),
      responseWorkingDays: r.decision ? settings.calendar.workingDaysBetween(r.requestedAt, r.decision.at) : null,
      onTime: decidedDay !== null ? decidedDay <= dueOn : untilDay > dueOn ? false : null,
      responseHours: r.decision ? (r.decision.at.getTime() - r.requestedAt.getTime()) / 3_600_000 : null,
    };
  });
  const decided = items.filter((i) => i.decision !== null);
  const onTime = items.filter((i) => i.onTime === true).length;
  const late = items.filter((i) => i.onTime === false).length;
  const hours = decided.map((i) => i.responseHours!);
  return {
    received: items.length,
    decided: decided.length,
    pending: items.filter((i) => i.onTime === null).length,
    onTime,
    late,
    overdue: items.filter((i) => i.decision === null && i.onTime === false).length,
    onTimeRate: ratio(onTime, onTime + late),
    medianResponseWorkingDays: median(decided.map((i) => i.responseWorkingDays!)),
    averageResponseHours: hours.length ? Math.round((sum(hours) / hours.length) * 100) / 100 : null,
    items: items.map(({ responseHours: _hours, ...item }) => item),
  };
}

function usage(deliveries: DeliveryReceipt[], ownerOf: Map<string, string>): UsageRow[] {
  const rows = new Map<string, UsageRow>();
  for (const r of deliveries) {
    const key = `${r.subscription}\u0000${r.channel}`;
    const row = rows.get(key) ?? { subscription: r.subscription, dataset: r.dataset, consumer: r.consumer, owner: ownerOf.get(r.dataset) ?? '', channel: r.channel, records: 0, batches: 0 };
    row.records += r.count;
    row.batches += 1;
    rows.set(key, row);
  }
  return [...rows.values()].sort((a, b) => b.records - a.records || a.subscription.localeCompare(b.subscription) || a.channel.localeCompare(b.channel));
}

function byChannel(rows: UsageRow[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rows) out[r.channel] = (out[r.channel] ?? 0) + r.records;
  return out;
}

function publishingKpis(publishes: PublishReceipt[]): PublishingKpis {
  const accepted = sum(publishes.map((p) => p.accepted));
  const rejected = sum(publishes.map((p) => p.rejected));
  const deadLettered = sum(publishes.map((p) => p.deadLettered));
  return {
    batches: publishes.length,
    accepted,
    rejected,
    deadLettered,
    rejectionRate: ratio(rejected, accepted + rejected),
    deadLetterRate: ratio(deadLettered, accepted + rejected),
  };
}

function alertView(a: AlertRecord): DepartmentKpis['alerts'][number] {
  return { kind: a.kind, subject: a.subject, raisedAt: a.raisedAt.toISOString(), clearedAt: iso(a.clearedAt), details: a.details };
}

/**
 * The report of `period` as seen at `now` (a period still running is evaluated up to now), for the given
 * departments (all of them for administrators).
 */
export function computeSharingReport(records: SharingRecords, period: ReportPeriod, now: Date, settings: KpiSettings, departments?: readonly string[]): SharingReport {
  const until = now < period.to ? now : period.to;
  const ownerOf = new Map(records.datasets.map((d) => [d.id, d.owner]));
  const inScope = departments ? records.departments.filter((d) => departments.includes(d.id)) : records.departments;
  const sections: DepartmentKpis[] = inScope.map((dept) => {
    const owned = records.datasets.filter((d) => d.owner === dept.id && d.status !== 'retired');
    const datasets = owned.map((d) => datasetKpis(d, period, until, records.publishes, records.deliveries, settings.calendar));
    const conditional = new Set(owned.filter((d) => d.sharingType === 'conditional').map((d) => d.id));
    const provided = usage(records.deliveries.filter((r) => ownerOf.get(r.dataset) === dept.id), ownerOf);
    const received = usage(records.deliveries.filter((r) => r.consumer === dept.id), ownerOf);
    return {
      id: dept.id,
      name: { zh: dept.nameZh, en: dept.nameEn },
      kind: dept.kind,
      division: dept.divisionCode ? { code: dept.divisionCode, name: divisionName(dept.divisionCode) } : null,
      catalogLinkage: ratio(datasets.filter((d) => d.linked).length, datasets.length),
      updateTimeliness: ratio(sum(datasets.map((d) => d.timeliness.numerator)), sum(datasets.map((d) => d.timeliness.denominator))),
      datasets,
      requests: requestKpis(records.requests.filter((r) => conditional.has(r.dataset)), until, settings),
      provided: { records: sum(provided.map((r) => r.records)), byChannel: byChannel(provided), rows: provided },
      received: { records: sum(received.map((r) => r.records)), byChannel: byChannel(received), rows: received },
      publishing: publishingKpis(records.publishes.filter((p) => p.publisher === dept.id)),
      alerts: records.alerts.filter((a) => a.department === dept.id).map(alertView),
    };
  });
  const allDatasets = sections.flatMap((s) => s.datasets);
  const requestTotals = requestKpis(
    records.requests.filter((r) => sections.some((s) => s.datasets.some((d) => d.id === r.dataset && d.sharingType === 'conditional'))),
    until,
    settings,
  );
  const { items: _items, ...requestSummary } = requestTotals;
  const provided = sections.flatMap((s) => s.provided.rows);
  const alertCounts: Record<string, number> = {};
  for (const a of sections.flatMap((s) => s.alerts)) alertCounts[a.kind] = (alertCounts[a.kind] ?? 0) + 1;
  return {
    period: { from: period.from.toISOString(), to: period.to.toISOString(), label: period.label, evaluatedUntil: until.toISOString() },
    generatedAt: now.toISOString(),
    settings: {
      replyDeadlineWorkingDays: settings.replyDeadlineWorkingDays,
      timeZone: 'Asia/Shanghai',
      calendarYears: yearsOf(period).filter((y) => settings.calendar.knowsYear(y)),
    },
    summary: {
      departments: sections.length,
      datasets: allDatasets.length,
      catalogLinkage: ratio(allDatasets.filter((d) => d.linked).length, allDatasets.length),
      updateTimeliness: ratio(sum(allDatasets.map((d) => d.timeliness.numerator)), sum(allDatasets.map((d) => d.timeliness.denominator))),
      requests: requestSummary,
      deliveredRecords: sum(provided.map((r) => r.records)),
      deliveriesByChannel: byChannel(provided),
      subscriptionsServed: new Set(provided.map((r) => r.subscription)).size,
      publishing: publishingKpis(records.publishes.filter((p) => sections.some((s) => s.id === p.publisher))),
      alerts: alertCounts,
    },
    departments: sections,
  };
}

function yearsOf(period: ReportPeriod): number[] {
  const first = Number(chinaDay(period.from).slice(0, 4));
  const last = Number(chinaDay(new Date(period.to.getTime() - 1)).slice(0, 4));
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}
