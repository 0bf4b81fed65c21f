import { createLogger } from '../../../lib/logger';
import { ShutdownSequence } from '../../../lib/lifecycle';

const log = createLogger('silent');

describe('the shutdown sequence', () => {
  it('stops the roles once, the last started first', async () => {
    const stopped: string[] = [];
    const sequence = new ShutdownSequence(log, 5000);
    for (const name of ['database pool', 'distributor', 'http server']) sequence.add(name, async () => void stopped.push(name));
    const [first, second] = await Promise.all([sequence.run('SIGTERM'), sequence.run('SIGINT')]);
    expect(stopped).toEqual(['http server', 'distributor', 'database pool']);
    expect(first).toEqual({ reason: 'SIGTERM', clean: true, stopped, unfinished: [] });
    expect(second).toBe(first);
    expect(() => sequence.add('late', async () => undefined)).toThrow(/shutting down/);
  });

  it('tells a role to finish now before the deadline, and ends at the deadline whatever is still stopping', async () => {
    const sequence = new ShutdownSequence(log, 400);
    let toldToFinish = false;
    sequence.add('database pool', async () => undefined);
    sequence.add('stuck consumer', () => new Promise<void>(() => undefined));
    sequence.add('http server', (finishNow) => new Promise<void>((resolve) => finishNow.addEventListener('abort', () => ((toldToFinish = true), resolve()))));
    const report = await sequence.run('SIGTERM');
    expect(toldToFinish).toBe(true);
    expect(report).toEqual({ reason: 'SIGTERM', clean: false, stopped: ['http server'], unfinished: ['stuck consumer', 'database pool'] });
  });

  it('goes on past a role that fails to stop, and says the shutdown was not clean', async () => {
    const sequence = new ShutdownSequence(log, 5000);
    sequence.add('database pool', async () => undefined);
    sequence.add('distributor', async () => Promise.reject(new Error('broker gone')));
    expect(await sequence.run('SIGINT')).toEqual({ reason: 'SIGINT', clean: false, stopped: ['database pool'], unfinished: ['distributor'] });
  });
});
