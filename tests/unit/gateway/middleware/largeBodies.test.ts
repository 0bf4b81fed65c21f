import { BUSY, LargeBodyGate } from '../../../../gateway/middleware/largeBodies';
import { GovxError } from '../../../../lib/errors';

const MB = 1024 * 1024;
// each request from a department of its own, unless a test is about one department's share
let departments = 0;
const department = () => `dept-${++departments}`;
const limits = { thresholdBytes: 1 * MB, budgetBytes: 32 * MB, maxWaiting: 2, maxWaitMs: 60_000 };
const settled = async <T>(p: Promise<T>): Promise<'pending' | 'resolved' | 'rejected'> => {
  let state: 'pending' | 'resolved' | 'rejected' = 'pending';
  p.then(() => (state = 'resolved'), () => (state = 'rejected'));
  await new Promise((r) => setImmediate(r));
  return state;
};

describe('LargeBodyGate', () => {
  it('lets small bodies through at once, however full the budget is', async () => {
    const gate = new LargeBodyGate(limits);
    await gate.admit(32 * MB, department());
    const release = await gate.admit(MB - 1, department());
    release();
    expect(gate.bytesInFlight).toBe(32 * MB);
  });

  it('admits large bodies up to the budget, makes the next one wait, and lets it in when one is released', async () => {
    const gate = new LargeBodyGate(limits);
    const first = await gate.admit(16 * MB, department());
    await gate.admit(15 * MB, department());
    const third = gate.admit(15 * MB, department());
    expect(await settled(third)).toBe('pending');
    first();
    first(); // a second release changes nothing
    expect(await settled(third)).toBe('resolved');
    expect(gate.bytesInFlight).toBe(30 * MB);
  });

  it('serves waiting requests first come first served, so a large one is not overtaken by smaller ones', async () => {
    const gate = new LargeBodyGate(limits);
    const a = await gate.admit(20 * MB, department());
    const big = gate.admit(16 * MB, department());
    const small = gate.admit(2 * MB, department());
    expect([await settled(big), await settled(small)]).toEqual(['pending', 'pending']);
    a();
    expect([await settled(big), await settled(small)]).toEqual(['resolved', 'resolved']);
  });

  it('refuses with 429 publish.busy and Retry-After when the queue is full', async () => {
    const gate = new LargeBodyGate(limits);
    const held = await gate.admit(32 * MB, department());
    void gate.admit(2 * MB, department()).catch(() => undefined);
    void gate.admit(2 * MB, department()).catch(() => undefined);
    const refused = await gate.admit(2 * MB, department()).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(GovxError);
    expect(refused).toMatchObject({ status: 429, code: BUSY, headers: { 'Retry-After': '1' }, details: { limit: 'large-bodies', budgetBytes: 32 * MB } });
    expect(gate.waitingRequests).toBe(2);
    held();
    expect(gate.waitingRequests).toBe(0);
  });

  it('refuses a request that waited longer than allowed, and admits the one behind it when it fits', async () => {
    jest.useFakeTimers();
    try {
      const gate = new LargeBodyGate({ ...limits, maxWaitMs: 1000 });
      const held = await gate.admit(20 * MB, department());
      const tooBig = gate.admit(16 * MB, department());
      jest.advanceTimersByTime(500);
      const fitting = gate.admit(2 * MB, department());
      jest.advanceTimersByTime(600);
      await expect(tooBig).rejects.toMatchObject({ status: 429, code: BUSY });
      await expect(fitting).resolves.toBeInstanceOf(Function);
      held();
    } finally {
      jest.useRealTimers();
    }
  });

  it('runs a body larger than the whole budget alone rather than never', async () => {
    const gate = new LargeBodyGate({ ...limits, budgetBytes: 8 * MB });
    const release = await gate.admit(16 * MB, department());
    expect(gate.bytesInFlight).toBe(8 * MB);
    const next = gate.admit(2 * MB, department());
    expect(await settled(next)).toBe('pending');
    release();
    expect(await settled(next)).toBe('resolved');
  });

  it("holds one department to half the budget, so another department's large body finds room at once", async () => {
    const gate = new LargeBodyGate(limits);
    const first = await gate.admit(16 * MB, 'tax');
    const second = gate.admit(8 * MB, 'tax'); // tax would hold 24 MB of 32
    expect(await settled(second)).toBe('pending');
    const other = gate.admit(16 * MB, 'psb');
    expect(await settled(other)).toBe('resolved'); // not queued behind tax's own excess
    first();
    expect(await settled(second)).toBe('resolved'); // tax's own body done: its next one runs beside psb's
    expect(gate.bytesInFlight).toBe(24 * MB);
  });
});
