import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Keyring } from '../../../lib/keyring';

describe('Keyring', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'govx-keys-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('creates its key files once, private to the owner, and derives the same keys after a restart', () => {
    const first = Keyring.open({ keysDir: dir });
    expect(fs.statSync(path.join(dir, 'master.key')).mode & 0o077).toBe(0);
    expect(fs.statSync(path.join(dir, 'audit-signing.pem')).mode & 0o077).toBe(0);
    const again = Keyring.open({ keysDir: dir });
    expect(again.derive('masking:population.residents:id_number')).toEqual(first.derive('masking:population.residents:id_number'));
    expect(first.derive('masking:population.residents:id_number')).not.toEqual(first.derive('masking:population.residents:name'));
  });

  it('seals a secret so that it opens only with the same key and context', () => {
    const keys = Keyring.open({ keysDir: dir });
    const sealed = keys.seal('s3cret', 'connector:a');
    expect(sealed).not.toContain('s3cret');
    expect(keys.unseal(sealed, 'connector:a')).toBe('s3cret');
    expect(() => keys.unseal(sealed, 'connector:b')).toThrow();
    const other = Keyring.open({ keysDir: dir, masterKeyBase64: Buffer.alloc(32, 7).toString('base64') });
    expect(() => other.unseal(sealed, 'connector:a')).toThrow(/master key/);
  });

  it('signs with Ed25519 and refuses a master key of the wrong size', () => {
    const keys = Keyring.open({ keysDir: dir });
    const sig = keys.sign(Buffer.from('head'));
    expect(keys.verify(Buffer.from('head'), sig)).toBe(true);
    expect(keys.verify(Buffer.from('head!'), sig)).toBe(false);
    expect(() => Keyring.open({ keysDir: dir, masterKeyBase64: Buffer.alloc(16).toString('base64') })).toThrow(/32 bytes/);
  });
});
