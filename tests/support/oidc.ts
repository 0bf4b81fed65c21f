import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';

/** A free TCP port on the loopback interface (for a service that must know its URL before it starts). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface TestProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  stop: () => Promise<void>;
}

/** The users the test provider knows, by login name, with their claims. */
export const testUsers = {
  'wang.steward': { name: '王管理', govx_department: 'psb', govx_role: 'steward' },
  'li.consumer': { name: '李用户', govx_department: 'civil-affairs', govx_role: 'consumer' },
  'zhao.admin': { name: '赵管理员', govx_department: 'info-office', govx_role: 'admin' },
  'sun.outsider': { name: '孙外来', govx_department: 'unknown-bureau', govx_role: 'consumer' },
  'zhou.norole': { name: '周无角色', govx_department: 'tax', govx_role: 'visitor' },
} as const;

/**
 * Starts a real OpenID provider (tests/support/oidcProvider.mjs, the `oidc-provider` package) on `port`, with one
 * confidential client allowed to redirect to `redirectUris`.
 */
export async function startTestProvider(port: number, redirectUris: string[]): Promise<TestProvider> {
  const clientId = 'govx-console';
  const clientSecret = 'govx-console-test-secret-0123456789abcdef';
  const child: ChildProcess = spawn(process.execPath, [path.join(__dirname, 'oidcProvider.mjs')], {
    env: {
      ...process.env,
      NODE_ENV: 'test',
      OIDC_PORT: String(port),
      OIDC_CLIENT_ID: clientId,
      OIDC_CLIENT_SECRET: clientSecret,
      OIDC_REDIRECT_URIS: redirectUris.join(','),
      OIDC_USERS: JSON.stringify(testUsers),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the test OpenID provider did not start: ${stderr}`)), 30_000);
    child.stdout!.on('data', (c: Buffer) => {
      if (c.toString().includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the test OpenID provider exited (${code}): ${stderr}`));
    });
  });
  return {
    issuer: `http://127.0.0.1:${port}`,
    clientId,
    clientSecret,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** The gateway configuration for single sign-on against a test provider. */
export function oidcEnv(p: Pick<TestProvider, 'issuer' | 'clientId' | 'clientSecret'>): Record<string, string> {
  return { GOVX_OIDC_ISSUER: p.issuer, GOVX_OIDC_CLIENT_ID: p.clientId, GOVX_OIDC_CLIENT_SECRET: p.clientSecret, GOVX_OIDC_SCOPES: 'openid profile' };
}
