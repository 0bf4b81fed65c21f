import { checkAddresses, checkTargetEntries, noTargets, resolveAllowed, TargetNotAllowed } from '../../../connectors/targets';
import { canonicalAddress } from '../../../lib/netAddress';

const allowance = (postgresHosts: string[], webhookHosts: string[] = [], allowPrivate = false) => ({
  ...noTargets('civil-affairs'),
  postgres: { hosts: postgresHosts, databases: ['civil'] },
  webhooks: { hosts: webhookHosts, allowPrivate },
});
const at = (...addresses: string[]) => addresses.map((a) => canonicalAddress(a)!);
const refused = (f: () => void) => expect(f).toThrow(TargetNotAllowed);

describe('connector targets', () => {
  it('allows nothing until an administrator allows it', () => {
    refused(() => checkAddresses('postgres', noTargets('x'), 'db.example', at('203.0.113.5'), 'config.connection.url'));
    refused(() => checkAddresses('webhook', noTargets('x'), 'hooks.example', at('203.0.113.5'), 'config.http.url'));
  });

  it('judges every resolved address: one outside the allowance refuses the target', () => {
    const t = allowance(['10.20.0.0/16']);
    expect(() => checkAddresses('postgres', t, 'db.civil', at('10.20.1.1'), 'k')).not.toThrow();
    refused(() => checkAddresses('postgres', t, 'db.civil', at('10.20.1.1', '127.0.0.1'), 'k'));
  });

  it('needs an address block, not just a name, for an internal PostgreSQL address', () => {
    const byName = allowance(['db.civil']);
    expect(() => checkAddresses('postgres', byName, 'db.civil', at('203.0.113.5'), 'k')).not.toThrow();
    refused(() => checkAddresses('postgres', byName, 'db.civil', at('127.0.0.1'), 'k'));
    refused(() => checkAddresses('postgres', byName, 'DB.CIVIL.', at('::1'), 'k'));
  });

  it('needs allowPrivate for a webhook on an internal address, even inside an allowed block', () => {
    refused(() => checkAddresses('webhook', allowance([], ['127.0.0.1/32']), '127.0.0.1', at('127.0.0.1'), 'k'));
    expect(() => checkAddresses('webhook', allowance([], ['127.0.0.1/32'], true), '127.0.0.1', at('127.0.0.1'), 'k')).not.toThrow();
    refused(() => checkAddresses('webhook', allowance([], ['localhost']), 'localhost', at('127.0.0.1'), 'k'));
  });

  it('never allows 0.0.0.0, :: or multicast, whatever the allowance says', () => {
    const all = allowance(['0.0.0.0/0', '::/0'], ['0.0.0.0/0'], true);
    for (const a of ['0.0.0.0', '::', '224.0.0.1', 'ff02::1']) refused(() => checkAddresses('postgres', all, a, at(a), 'k'));
    expect(checkTargetEntries({ postgres: { hosts: ['0.0.0.0'], databases: [] }, webhooks: { hosts: [] } }).problems).toHaveLength(1);
  });

  it('resolves every alias of loopback to what it is', async () => {
    const t = allowance(['10.0.0.0/8'], ['10.0.0.0/8'], true);
    for (const host of ['127.1', '2130706433', '0x7f000001', '0177.0.0.1', '127.0.0.2', '[::ffff:127.0.0.1]', '[::1]', '[0:0:0:0:0:0:0:1]', 'localhost', 'localhost.', 'ip6-localhost']) {
      await expect(resolveAllowed('postgres', t, host, 'k')).rejects.toBeInstanceOf(TargetNotAllowed);
      await expect(resolveAllowed('webhook', t, host, 'k')).rejects.toBeInstanceOf(TargetNotAllowed);
    }
  });

  it('stores entries in canonical form and names each bad one', () => {
    const { problems, hosts } = checkTargetEntries({ postgres: { hosts: ['127.0.0.1', '::FFFF:10.0.0.1/128', 'Db.Civil.'], databases: ['civil'] }, webhooks: { hosts: ['2130706433', 'a b', '10.0.0.0/33'] } });
    expect(hosts.postgres).toEqual(['127.0.0.1/32', '10.0.0.1/32', 'db.civil']);
    expect(problems.map((p) => p.key)).toEqual(['webhooks.hosts[0]', 'webhooks.hosts[1]', 'webhooks.hosts[2]']);
  });
});
