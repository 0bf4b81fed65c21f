/**
 * govx's key material, kept outside its database so that whoever owns the database (or a dump of it) holds
 * neither the keys that mask citizens' data nor the ones that make the audit trail tamper-evident:
 *
 * - a 32-byte master secret (`GOVX_MASTER_KEY`, base64, or the file `<GOVX_KEYS_DIR>/master.key`), from
 *   which every symmetric key is derived with HKDF-SHA256 under a purpose name ("masking:<dataset>:<field>",
 *   "audit-chain", "seal", …), so one secret to back up yields independent keys;
 * - an Ed25519 signing key (`<GOVX_KEYS_DIR>/audit-signing.pem`) for signed statements such as audit
 *   checkpoints; its public half is what a verifier needs.
 *
 * In development both files are created on first use (mode 0600 in a 0700 directory). In production an
 * operator provides them (a secrets manager mounting files, or the environment) and backs them up: losing
 * the master key changes every keyed hash and makes sealed secrets unreadable.
 */
import crypto, { type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from './paths';

const MASTER_KEY_BYTES = 32;
const SEAL_PREFIX = 'sealed:v1:';

export interface KeyringSource {
  /** Directory of the key files (created in development when missing). */
  readonly keysDir: string;
  /** A base64 master key that takes precedence over the file. */
  readonly masterKeyBase64?: string;
}

export class Keyring {
  private constructor(
    private readonly master: Buffer,
    readonly signingKey: KeyObject,
    readonly verifyKey: KeyObject,
  ) {}

  /** Reads (or, when absent, creates) the key files; a master key of the wrong size is refused. */
  static open(source: KeyringSource): Keyring {
    fs.mkdirSync(source.keysDir, { recursive: true, mode: 0o700 });
    const master = source.masterKeyBase64 ? Buffer.from(source.masterKeyBase64, 'base64') : readOrCreate(path.join(source.keysDir, 'master.key'), () => crypto.randomBytes(MASTER_KEY_BYTES));
    if (master.length !== MASTER_KEY_BYTES) throw new Error(`the govx master key must be ${MASTER_KEY_BYTES} bytes, got ${master.length}`);
    const pem = readOrCreate(path.join(source.keysDir, 'audit-signing.pem'), () =>
      Buffer.from(crypto.generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string),
    );
    const signingKey = crypto.createPrivateKey(pem);
    if (signingKey.asymmetricKeyType !== 'ed25519') throw new Error('audit-signing.pem must hold an Ed25519 private key');
    return new Keyring(master, signingKey, crypto.createPublicKey(signingKey));
  }

  /** A key for one purpose, independent of the keys of every other purpose. Stable across restarts. */
  derive(purpose: string, length = 32): Buffer {
    return Buffer.from(crypto.hkdfSync('sha256', this.master, Buffer.from('govx'), Buffer.from(purpose, 'utf8'), length));
  }

  /** Short, public identifier of the master key (which key sealed a value; checked before unsealing). */
  get keyId(): string {
    return crypto.createHash('sha256').update(this.derive('key-id')).digest('hex').slice(0, 12);
  }

  /** AES-256-GCM encryption bound to a context (e.g. "connector:<name>"): a sealed value moved elsewhere does not open. */
  seal(plaintext: string, context: string): string {
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv('aes-256-gcm', this.derive('seal'), iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `${SEAL_PREFIX}${this.keyId}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
  }

  unseal(sealed: string, context: string): string {
    if (!Keyring.isSealed(sealed)) throw new Error('not a sealed value');
    const [keyId, payload] = sealed.slice(SEAL_PREFIX.length).split(':', 2) as [string, string];
    if (keyId !== this.keyId) throw new Error(`sealed with master key ${keyId}, not the current key ${this.keyId}`);
    const raw = Buffer.from(payload, 'base64');
    const decipher = crypto.createDecipheriv('aes-256-gcm', this.derive('seal'), raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  }

  static isSealed(value: string): boolean {
    return value.startsWith(SEAL_PREFIX);
  }

  sign(data: Buffer): Buffer {
    return crypto.sign(null, data, this.signingKey);
  }

  verify(data: Buffer, signature: Buffer, publicKey: KeyObject = this.verifyKey): boolean {
    return crypto.verify(null, data, publicKey, signature);
  }
}

let defaultKeyring: Keyring | null = null;

/**
 * The keyring the environment names, as lib/config.ts reads it (GOVX_KEYS_DIR, default .cache/keys under the
 * project; GOVX_MASTER_KEY), opened once per process: what the audit chain and masking use when nobody
 * hands them a keyring.
 */
export function openDefaultKeyring(env: NodeJS.ProcessEnv = process.env): Keyring {
  if (!defaultKeyring) {
    const dir = env.GOVX_KEYS_DIR?.trim() ? env.GOVX_KEYS_DIR.trim() : '.cache/keys';
    defaultKeyring = Keyring.open({ keysDir: path.resolve(projectRoot, dir), masterKeyBase64: env.GOVX_MASTER_KEY?.trim() || undefined });
  }
  return defaultKeyring;
}

/** The keyring a govx process runs with, as configured (GOVX_KEYS_DIR, GOVX_MASTER_KEY). */
export function openKeyring(config: { keysDir: string; masterKey?: string | undefined }): Keyring {
  return Keyring.open({ keysDir: config.keysDir, masterKeyBase64: config.masterKey });
}

function readOrCreate(file: string, make: () => Buffer): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  try {
    // 'wx': two processes starting at once must not both write a different key
    fs.writeFileSync(file, make(), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return fs.readFileSync(file);
}
