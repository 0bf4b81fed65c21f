import { Writable } from 'node:stream';
import { createLogger } from '../../../lib/logger';

function capture(): { stream: Writable; text: () => string } {
  let out = '';
  const stream = new Writable({
    write(chunk, _enc, done) {
      out += String(chunk);
      done();
    },
  });
  return { stream, text: () => out };
}

const secretBits = { value: { id_number: '110101199003074512' }, password: 'hunter2', records: [{ name: '张三' }] };

describe('createLogger', () => {
  it('writes one JSON object a line for collectors, payloads and secrets redacted', () => {
    const { stream, text } = capture();
    createLogger('info', 'govx-test', 'json', stream).info({ dataset: 'population.residents', ...secretBits }, 'published');
    const line = JSON.parse(text().trim());
    expect(line).toMatchObject({ msg: 'published', dataset: 'population.residents', value: '[redacted]', password: '[redacted]', records: '[redacted]' });
  });

  it('writes readable lines for people, with the same redaction', () => {
    const { stream, text } = capture();
    createLogger('info', 'govx-test', 'pretty', stream).info({ dataset: 'population.residents', ...secretBits }, 'published');
    const out = text();
    expect(out).toMatch(/INFO.*published/);
    expect(out).toContain('population.residents');
    expect(() => JSON.parse(out.trim())).toThrow();
    for (const leaked of ['110101199003074512', 'hunter2', '张三']) expect(out).not.toContain(leaked);
  });

  it('auto is JSON when the output is not a terminal', () => {
    const { stream, text } = capture();
    createLogger('info', 'govx-test', 'auto', stream).info('started');
    expect(JSON.parse(text().trim()).msg).toBe('started');
  });
});
