import fs from 'node:fs';
import path from 'node:path';

/**
 * The security suite's figures (requests tried, leaks, 5xx, SSRF reached): printed with the test output and
 * kept in .cache/security-figures.json, from which docs/security.md quotes them.
 */
export function recordFigures(suite: string, figures: Record<string, number>): void {
  const line = Object.entries(figures).map(([k, v]) => `${k}=${v}`).join(' ');
  process.stdout.write(`\n[security] ${suite}: ${line}\n`);
  const file = path.resolve(__dirname, '..', '..', '.cache', 'security-figures.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  let all: Record<string, unknown> = {};
  try {
    all = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    /* first suite of the run */
  }
  all[suite] = { ...figures, at: new Date().toISOString() };
  fs.writeFileSync(file, `${JSON.stringify(all, null, 2)}\n`);
}
