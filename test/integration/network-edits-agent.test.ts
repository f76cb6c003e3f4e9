/**
 * A network changed or deleted through the CLI reaches a running agent by itself: the
 * site's revision carries it, with no `site sync` and no work item, and `dig` (a peer
 * no one here wrote) sees the agent's DNS follow. Loopback only, unprivileged ports.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { freePort } from '@sprout/test-support/processes.ts';
import { siteLab } from '@sprout/test-support/site-lab.ts';
import { until } from '@sprout/test-support/until.ts';

const run = promisify(execFile);

test('after network update --domain the agent answers SOA for the new zone and REFUSED for the old one; after network delete the zone is REFUSED', async (t) => {
  const lab = await siteLab(t, '198.18.62');
  const dnsPort = await freePort();
  await lab.startAgent([`  dns: { port: ${dnsPort}, address: 127.0.0.1 }`]);
  const status = async (zone: string) => {
    const out = (await run('dig', ['@127.0.0.1', '-p', String(dnsPort), '+time=1', '+tries=1', zone, 'SOA'])).stdout;
    const code = /status: (\w+)/.exec(out)?.[1];
    return code === 'NOERROR' && !new RegExp(`^${zone.replace(/\./g, '\\.')}\\.\\s+\\d+\\s+IN\\s+SOA\\s`, 'm').test(out) ? 'NOERROR without SOA' : code;
  };
  // The bound: 15 s for each change to arrive (no timing is asserted).
  const converges = (what: string, expected: Record<string, string>) =>
    until(
      what,
      async () => {
        for (const [zone, code] of Object.entries(expected)) if ((await status(zone)) !== code) return false;
        return true;
      },
      15_000,
    );

  await converges('the agent serves the network created before it joined', { 'lab.example': 'NOERROR' });

  const updated = await lab.cli('network', 'update', 'prov', '--site', 'lab', '--domain', 'new.example', '--json');
  t.is(updated.code, 0, updated.stderr);
  t.is(JSON.parse(updated.stdout).domain, 'new.example');
  t.true(await converges('the new zone answers and the old one is refused', { 'new.example': 'NOERROR', 'lab.example': 'REFUSED' }));

  const deleted = await lab.cli('network', 'delete', 'prov', '--site', 'lab');
  t.is(deleted.code, 0, deleted.stderr);
  t.true(await converges("the deleted network's zone is refused", { 'new.example': 'REFUSED', 'lab.example': 'REFUSED' }));

  // Nothing but the revision carried the changes.
  t.deepEqual((await lab.api('GET', '/v1/workflows')).items, []);
  const site = await until(
    'site show says the agent serves the latest revision',
    async () => {
      const shown = await lab.api('GET', '/v1/sites/lab');
      return shown.agents[0]?.desiredState.behind === 0 && shown;
    },
    15_000,
  );
  t.is(site.agents[0].desiredState.revision, site.desiredRevision);
});
