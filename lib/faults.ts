/**
 * Fault points for crash tests: with GOVX_TEST_CRASH_AFTER_PRODUCE=<point> (never set in production; refused
 * when NODE_ENV=production) the process kills itself with SIGKILL the first time it passes that point, so a
 * test can prove that a crash between Kafka's acknowledgement and the audit receipt leaves nothing uncovered.
 */
export type CrashPoint = 'publish' | 'share';

export function crashPointForTests(point: CrashPoint): void {
  const wanted = process.env.GOVX_TEST_CRASH_AFTER_PRODUCE;
  if (wanted === undefined || wanted !== point || process.env.NODE_ENV === 'production') return;
  process.kill(process.pid, 'SIGKILL');
}
