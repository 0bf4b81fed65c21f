// A real OpenID provider (the `oidc-provider` package) for sign-on tests, run as its own process because the
// package is ESM only. Configuration comes from the environment:
//   OIDC_PORT, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URIS (comma-separated),
//   OIDC_USERS: JSON {"<login>": {<claims>}}.
// Its sign-in page asks only for a login name among OIDC_USERS (this is a test provider: no passwords), then
// finishes the interaction with login and consent, so the flow runs authorization code + PKCE end to end.
import http from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT);
const users = JSON.parse(process.env.OIDC_USERS ?? '{}');
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: process.env.OIDC_CLIENT_ID,
      client_secret: process.env.OIDC_CLIENT_SECRET,
      redirect_uris: (process.env.OIDC_REDIRECT_URIS ?? '').split(',').filter(Boolean),
      response_types: ['code'],
      grant_types: ['authorization_code'],
    },
  ],
  async findAccount(_ctx, id) {
    if (!Object.hasOwn(users, id)) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...users[id] }) };
  },
  claims: { openid: ['sub'], profile: ['name', 'preferred_username', 'govx_department', 'govx_role'] },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  pkce: { required: () => true },
  cookies: { keys: ['govx-test-provider-cookie-key-0123456789'] },
});

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (uid, error) => `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>统一身份认证（测试）</title></head>
<body><h1>统一身份认证</h1>${error ? `<p role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<label>用户名 <input name="login" autocomplete="username" autofocus></label>
<button type="submit">登录</button></form></body></html>`;

const readBody = (req) =>
  new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (body += c));
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });

const callback = provider.callback();
const server = http.createServer(async (req, res) => {
  if (!req.url.startsWith('/interaction/')) return callback(req, res);
  try {
    const details = await provider.interactionDetails(req, res);
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(page(details.uid));
      return;
    }
    const login = new URLSearchParams(await readBody(req)).get('login') ?? '';
    if (!Object.hasOwn(users, login)) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(page(details.uid, `no user "${login}"`));
      return;
    }
    const grant = new provider.Grant({ accountId: login, clientId: details.params.client_id });
    grant.addOIDCScope(String(details.params.scope));
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { login: { accountId: login }, consent: { grantId } }, { mergeWithLastSubmission: false });
  } catch (err) {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(String(err && err.message));
  }
});

server.listen(port, '127.0.0.1', () => process.stdout.write(`ready ${issuer}\n`));
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
