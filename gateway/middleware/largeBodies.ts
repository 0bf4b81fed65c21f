import { finished } from 'node:stream';
import type { NextFunction, Request, Response } from 'express';
import { GovxError } from '../../lib/errors';

/**
 * How many bytes of large request bodies one gateway process reads and works on at once. A publish body of
 * up to GOVX_MAX_BODY_BYTES is held as bytes, as text and as parsed records while it is validated, encoded and
 * dead-lettered, so eight 16 MB requests at once cost the process several hundred MB. Bodies at or above
 * `thresholdBytes` (by Content-Length; a body without one counts as the largest allowed) share a budget of
 * `budgetBytes`; a request that does not fit waits, before its body is read, in a queue of at most
 * `maxWaiting` requests for at most `maxWaitMs`, first come first served. Beyond that it is refused with
 * 429 `publish.busy` and Retry-After: the caller's request was fine, this process is full. Small bodies (the
 * usual batches of a few hundred records) never wait.
 *
 * The budget is shared between departments, and each is an adversary of the others: one department's large
 * bodies (sent slowly, they are held until the request times out) may hold at most half of it, so another
 * department's large publish always finds room. A waiter held back only by its own department's share does not
 * hold up the queue behind it.
 */
export interface LargeBodyLimits {
  thresholdBytes: number;
  budgetBytes: number;
  maxWaiting: number;
  maxWaitMs: number;
}

interface Waiter {
  bytes: number;
  owner: string;
  grant: () => void;
}

export const BUSY = 'publish.busy';
const RETRY_AFTER_SECONDS = 1;

export class LargeBodyGate {
  private inFlight = 0;
  private readonly inFlightBy = new Map<string, number>();
  private readonly waiting: Waiter[] = [];

  constructor(private readonly limits: LargeBodyLimits) {}

  /** Bytes of large bodies admitted and not yet released. */
  get bytesInFlight(): number {
    return this.inFlight;
  }

  get waitingRequests(): number {
    return this.waiting.length;
  }

  /**
   * Resolves with the release function once `owner`'s body of `bodyBytes` may be read (at once for a small
   * one); rejects with 429 publish.busy when the queue is full or the wait runs out. Release exactly once.
   */
  admit(bodyBytes: number, owner = ''): Promise<() => void> {
    if (bodyBytes < this.limits.thresholdBytes) return Promise.resolve(() => undefined);
    // A body larger than the whole budget runs alone rather than never.
    const bytes = Math.min(bodyBytes, this.limits.budgetBytes);
    if (this.waiting.length === 0 && this.fits(bytes) && this.withinShare(bytes, owner)) return Promise.resolve(this.take(bytes, owner));
    if (this.waiting.length >= this.limits.maxWaiting) return Promise.reject(this.busy('already waits for'));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        bytes,
        owner,
        grant: () => {
          clearTimeout(timer);
          resolve(this.take(bytes, owner));
        },
      };
      const timer = setTimeout(() => {
        const at = this.waiting.indexOf(waiter);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(this.busy('waited too long for'));
        this.grantWaiting();
      }, this.limits.maxWaitMs);
      this.waiting.push(waiter);
      // the waiters ahead may be held back only by their own department's share
      this.grantWaiting();
    });
  }

  private fits(bytes: number): boolean {
    return this.inFlight === 0 || this.inFlight + bytes <= this.limits.budgetBytes;
  }

  /** An owner with nothing in flight may always start one body; beyond that it holds at most half the budget. */
  private withinShare(bytes: number, owner: string): boolean {
    const held = this.inFlightBy.get(owner) ?? 0;
    return held === 0 || held + bytes <= this.limits.budgetBytes / 2;
  }

  private take(bytes: number, owner: string): () => void {
    this.inFlight += bytes;
    this.inFlightBy.set(owner, (this.inFlightBy.get(owner) ?? 0) + bytes);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight -= bytes;
      const left = this.inFlightBy.get(owner)! - bytes;
      if (left > 0) this.inFlightBy.set(owner, left);
      else this.inFlightBy.delete(owner);
      this.grantWaiting();
    };
  }

  /** First come first served, except that a waiter held back only by its owner's share lets the next one by. */
  private grantWaiting(): void {
    for (let i = 0; i < this.waiting.length; ) {
      const w = this.waiting[i]!;
      if (!this.fits(w.bytes)) return;
      if (!this.withinShare(w.bytes, w.owner)) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      w.grant();
    }
  }

  private busy(why: string): GovxError {
    const mb = (n: number) => `${Math.round((n / (1024 * 1024)) * 10) / 10} MB`;
    return new GovxError(
      429,
      BUSY,
      `this gateway process ${why} large request bodies (${mb(this.limits.budgetBytes)} at once, ${this.limits.maxWaiting} waiting at most); retry after ${RETRY_AFTER_SECONDS} s, or send smaller batches`,
      {
        details: { limit: 'large-bodies', budgetBytes: this.limits.budgetBytes, thresholdBytes: this.limits.thresholdBytes, maxWaiting: this.limits.maxWaiting },
        headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) },
      },
    );
  }
}

/**
 * Express middleware: admits the request's body through `gate` before `readBody` reads it and releases it
 * when the response is done. A refused request's body is read off and dropped before the 429 is sent, as
 * body-parser does, so the client sees the answer rather than a reset connection. A declared body over
 * `maxBodyBytes` is left to `readBody`'s own 413.
 */
export function admitLargeBody(
  gate: LargeBodyGate,
  maxBodyBytes: number,
  ownerOf: (res: Response) => string,
  onRefused: (res: Response) => void = () => undefined,
) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const declared = Number(req.get('content-length'));
    if (Number.isFinite(declared) && declared > maxBodyBytes) return next();
    gate.admit(Number.isFinite(declared) ? declared : maxBodyBytes, ownerOf(res)).then(
      (release) => {
        res.once('close', release);
        next();
      },
      (err: unknown) => {
        onRefused(res);
        req.resume();
        finished(req, () => next(err));
      },
    );
  };
}
