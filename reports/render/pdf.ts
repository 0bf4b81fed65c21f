/**
 * Prints the report's HTML to PDF with Debian's Chromium (headless, no sandbox inside containers, no GPU),
 * from a private temporary directory that is removed afterwards.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GovxError } from '../../lib/errors';

export const DEFAULT_CHROMIUM = '/usr/bin/chromium';
const PRINT_TIMEOUT_MS = 120_000;

export async function printPdf(html: string, outFile: string, chromium = process.env.GOVX_CHROMIUM ?? DEFAULT_CHROMIUM): Promise<void> {
  if (!fs.existsSync(chromium)) {
    throw new GovxError(503, 'report.no_chromium', `PDF needs Chromium at ${chromium} (apt-get install chromium fonts-noto-cjk, or set GOVX_CHROMIUM)`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'govx-report-'));
  try {
    const page = path.join(dir, 'report.html');
    const pdf = path.join(dir, 'report.pdf');
    fs.writeFileSync(page, html);
    await new Promise<void>((resolve, reject) => {
      execFile(
        chromium,
        [
          '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--no-pdf-header-footer',
          '--disable-extensions', '--disable-background-networking', '--disable-sync', '--disable-default-apps', '--mute-audio',
          `--user-data-dir=${path.join(dir, 'profile')}`, `--print-to-pdf=${pdf}`, `file://${page}`,
        ],
        { timeout: PRINT_TIMEOUT_MS },
        (err, _stdout, stderr) => {
          if (err || !fs.existsSync(pdf)) reject(new GovxError(500, 'report.pdf_failed', `Chromium could not print the report: ${(err?.message ?? stderr).slice(0, 400)}`));
          else resolve();
        },
      );
    });
    fs.copyFileSync(pdf, outFile);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
