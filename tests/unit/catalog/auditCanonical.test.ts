import crypto from 'node:crypto';
import {
  type AuditHashedFields,
  GENESIS_HASH,
  canonicalAuditEncoding,
  computeAuditHash,
} from '../../../catalog/audit';

function entry(overrides: Partial<AuditHashedFields> = {}): AuditHashedFields {
  return {
    seq: 7,
    at: '2026-03-01T08:30:00.123Z',
    actor: { department: 'psb', keyId: 'abcdef123456', role: 'steward' },
    action: 'catalog.dataset.update',
    target: 'dataset:population.residents',
    outcome: 'success',
    requestId: 'req-1',
    details: { fields: ['name', 'idNumber'], change: { from: 1, to: 2 } },
    ...overrides,
  };
}

describe('canonicalAuditEncoding', () => {
  it('sorts keys recursively, so key order does not matter', () => {
    const a = entry({ details: { b: 1, a: { y: [1, { d: 1, c: 2 }], x: null } } });
    const b = entry({ details: { a: { x: null, y: [1, { c: 2, d: 1 }] }, b: 1 } });
    expect(canonicalAuditEncoding(a)).toBe(canonicalAuditEncoding(b));
    expect(canonicalAuditEncoding(a)).toContain('"details":{"a":{"x":null,"y":[1,{"c":2,"d":1}]},"b":1}');
  });

  it('is the same for a differently ordered top-level and actor object', () => {
    const e = entry();
    const reordered = {
      details: e.details,
      target: e.target,
      requestId: e.requestId,
      outcome: e.outcome,
      actor: { role: e.actor.role, keyId: e.actor.keyId, department: e.actor.department },
      action: e.action,
      at: e.at,
      seq: e.seq,
    } as AuditHashedFields;
    expect(canonicalAuditEncoding(reordered)).toBe(canonicalAuditEncoding(e));
  });

  it('keeps array order (arrays are ordered data)', () => {
    expect(canonicalAuditEncoding(entry({ details: { f: ['a', 'b'] } }))).not.toBe(
      canonicalAuditEncoding(entry({ details: { f: ['b', 'a'] } })),
    );
  });

  it('treats absent optional fields as null, as the database returns them', () => {
    const absent = entry({ actor: { department: 'psb' } as AuditHashedFields['actor'], requestId: undefined as unknown as null });
    const nulls = entry({ actor: { department: 'psb', keyId: null, role: null }, requestId: null });
    expect(canonicalAuditEncoding(absent)).toBe(canonicalAuditEncoding(nulls));
  });

  it('encodes details as a jsonb round trip gives them back', () => {
    const stored = JSON.parse(JSON.stringify({ n: 1e21, f: 0.1, neg: -0, d: '2026-01-01T00:00:00.000Z' })) as Record<string, unknown>;
    const original = { n: 1e21, f: 0.1, neg: -0, d: new Date('2026-01-01T00:00:00.000Z'), gone: undefined };
    expect(canonicalAuditEncoding(entry({ details: original }))).toBe(canonicalAuditEncoding(entry({ details: stored })));
  });

  it('does not lose a "__proto__" key', () => {
    const withProto = JSON.parse('{"__proto__":{"x":1},"a":1}') as Record<string, unknown>;
    expect(canonicalAuditEncoding(entry({ details: withProto }))).toContain('"__proto__":{"x":1}');
    expect(canonicalAuditEncoding(entry({ details: withProto }))).not.toBe(canonicalAuditEncoding(entry({ details: { a: 1 } })));
  });

  const changes: Array<[string, Partial<AuditHashedFields>]> = [
    ['seq', { seq: 8 }],
    ['at', { at: '2026-03-01T08:30:00.124Z' }],
    ['actor.department', { actor: { department: 'tax', keyId: 'abcdef123456', role: 'steward' } }],
    ['actor.keyId', { actor: { department: 'psb', keyId: 'abcdef123457', role: 'steward' } }],
    ['actor.role', { actor: { department: 'psb', keyId: 'abcdef123456', role: 'admin' } }],
    ['action', { action: 'catalog.dataset.create' }],
    ['target', { target: 'dataset:legal-entity.registry' }],
    ['outcome', { outcome: 'denied' }],
    ['requestId', { requestId: 'req-2' }],
    ['requestId to null', { requestId: null }],
    ['details value', { details: { fields: ['name', 'idNumber'], change: { from: 1, to: 3 } } }],
    ['details type', { details: { fields: ['name', 'idNumber'], change: { from: '1', to: 2 } } }],
    ['details key', { details: { fields: ['name', 'idNumber'], change: { from: 1, too: 2 } } }],
  ];
  it.each(changes)('changes when %s changes', (_name, change) => {
    expect(canonicalAuditEncoding(entry(change))).not.toBe(canonicalAuditEncoding(entry()));
    expect(computeAuditHash(GENESIS_HASH, entry(change))).not.toBe(computeAuditHash(GENESIS_HASH, entry()));
  });

  it('cannot be confused by separators inside values', () => {
    const a = entry({ action: 'a","target":"b', target: 'c' });
    const b = entry({ action: 'a', target: 'b","target":"c' });
    expect(canonicalAuditEncoding(a)).not.toBe(canonicalAuditEncoding(b));
  });
});

describe('computeAuditHash', () => {
  it('is sha256(prevHash + canonical encoding), as hex, for entries written before keyed hashing', () => {
    const e = entry();
    const expected = crypto.createHash('sha256').update(GENESIS_HASH + canonicalAuditEncoding(e)).digest('hex');
    expect(computeAuditHash(GENESIS_HASH, e)).toBe(expected);
    expect(computeAuditHash(GENESIS_HASH, e)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('chains: each hash depends on the previous one', () => {
    const first = entry({ seq: 1 });
    const second = entry({ seq: 2, action: 'key.create' });
    const h1 = computeAuditHash(GENESIS_HASH, first);
    const h2 = computeAuditHash(h1, second);
    expect(h2).not.toBe(h1);
    // the same second entry after a different first entry hashes differently
    const h1Edited = computeAuditHash(GENESIS_HASH, entry({ seq: 1, outcome: 'failure' }));
    expect(computeAuditHash(h1Edited, second)).not.toBe(h2);
    // and is deterministic
    expect(computeAuditHash(computeAuditHash(GENESIS_HASH, first), second)).toBe(h2);
  });

  it('is HMAC-SHA256 under the audit key when given one: without the key, nobody computes it', () => {
    const e = entry();
    const key = Buffer.alloc(32, 9);
    const expected = crypto.createHmac('sha256', key).update(GENESIS_HASH + canonicalAuditEncoding(e)).digest('hex');
    expect(computeAuditHash(GENESIS_HASH, e, key)).toBe(expected);
    expect(computeAuditHash(GENESIS_HASH, e, key)).not.toBe(computeAuditHash(GENESIS_HASH, e));
    expect(computeAuditHash(GENESIS_HASH, e, key)).not.toBe(computeAuditHash(GENESIS_HASH, e, Buffer.alloc(32, 8)));
  });

  it('uses 64 zeros as the genesis link', () => {
    expect(GENESIS_HASH).toBe('0'.repeat(64));
  });
});
