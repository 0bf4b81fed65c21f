/** `govx report sharing`: fetches the sharing report from the gateway and writes it as HTML, PDF or CSV. */
import fs from 'node:fs';
import { GovxError } from '../lib/errors';
import type { SharingReport } from '../reports/sharingKpis';
import { renderSharingReportCsv } from '../reports/render/csv';
import { renderSharingReportHtml } from '../reports/render/html';
import type { Lang } from '../reports/render/labels';
import { printPdf } from '../reports/render/pdf';

export type ReportFormat = 'html' | 'pdf' | 'csv';

export interface SharingReportRequest {
  url: string;
  key: string;
  quarter?: string;
  from?: string;
  to?: string;
  department?: string;
  format: ReportFormat;
  lang: Lang;
  out?: string;
}

export async function fetchSharingReport(req: Pick<SharingReportRequest, 'url' | 'key' | 'quarter' | 'from' | 'to' | 'department'>): Promise<SharingReport> {
  const query = new URLSearchParams();
  for (const name of ['quarter', 'from', 'to', 'department'] as const) if (req[name] !== undefined) query.set(name, req[name]!);
  let res: Response;
  try {
    res = await fetch(`${req.url}/v1/reports/sharing?${query}`, { headers: { authorization: `Bearer ${req.key}` } });
  } catch (err) {
    throw new GovxError(503, 'cli.unreachable', `cannot reach the gateway at ${req.url}: ${(err as Error).message}`);
  }
  const body = (await res.json().catch(() => null)) as { error?: { code: string; message: string } } | null;
  if (!res.ok) throw new GovxError(res.status, body?.error?.code ?? 'cli.report_failed', `the gateway refused the report: ${body?.error?.message ?? res.status}`);
  return body as unknown as SharingReport;
}

/** Writes the report and returns the file it wrote. */
export async function writeSharingReport(req: SharingReportRequest): Promise<string> {
  const report = await fetchSharingReport(req);
  const name = report.period.label ?? `${report.period.from.slice(0, 10)}_${report.period.to.slice(0, 10)}`;
  const out = req.out ?? `govx-sharing-${name}${req.department ? `-${req.department}` : ''}${req.lang === 'en' ? '-en' : ''}.${req.format}`;
  if (req.format === 'csv') fs.writeFileSync(out, renderSharingReportCsv(report, req.lang));
  else if (req.format === 'html') fs.writeFileSync(out, renderSharingReportHtml(report, req.lang));
  else await printPdf(renderSharingReportHtml(report, req.lang), out);
  return out;
}
