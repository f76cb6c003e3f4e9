/**
 * The agent always serves the site's current desired state, with no `site sync` and no
 * work item carrying it: machines commissioned back to back are answered in DNS, a new
 * network's zone and DHCP scope are served, a deleted machine's name and reservation
 * leave, a burst of changes ends at the final revision without ever going back, and a
 * document the agent refuses keeps the last valid one and shows in `site show`. Run on
 * PGlite with the HTTP transport and on PostgreSQL with NATS.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { siteLab, type SiteLab } from '@sprout/test-support/site-lab.ts';
import { freePort } from '@sprout/test-support/processes.ts';
import { freshDatabase } from '@sprout/test-support/harness.ts';
import { until } from '@sprout/test-support/until.ts';

const run = promisify(execFile);
const natsUrl = process.env.SPROUT_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

interface Variant {
  name: string;
  /** The channel that carries documents after the agent's start-up catch-up (logged as `via`). */
  channel: 'http' | 'jetstream';
  env(t: any): Promise<Record<string, string>>;
  yaml: string;
}

const variants: Variant[] = [
  { name: 'pglite + http', channel: 'http', env: async () => ({}), yaml: 'plugins:\n  transport-http: { waitSeconds: 2 }\n' },
  {
    name: 'postgres + nats',
    channel: 'jetstream',
    env: async (t) => {
      return { SPROUT_DATABASE_URL: await freshDatabase(t, 'conv'), SPROUT_NATS_URL: natsUrl };
    },
    yaml: `plugins:\n  transport-nats: { prefix: c${randomBytes(4).toString('hex')} }\n`,
  },
];

/** Commissioning times out soon: a machine that never boots ends failed, and may be deleted. */
const shortCommissioning = 'lifecycle: { timeouts: { commissioning: 15, testing: 1200, deploying: 2400, releasing: 600 }, watchdogIntervalSeconds: 1 }\n';

async function labWithAgent(
  t: any,
  variant: Variant,
  subnet: string,
): Promise<{ lab: SiteLab; dig: (...args: string[]) => Promise<string>; agentDir: string; agentLog: () => string }> {
  const lab = await siteLab(t, subnet, { env: await variant.env(t), serverYaml: variant.yaml + shortCommissioning });
  const [dnsPort, dhcpPort] = [await freePort(), await freePort()];
  const agent = await lab.startAgent([`  dns: { port: ${dnsPort}, address: 127.0.0.1 }`, `  dhcp: { port: ${dhcpPort}, address: 127.0.0.1 }`]);
  const dig = async (...args: string[]) => (await run('dig', ['@127.0.0.1', '-p', String(dnsPort), '+time=2', '+tries=2', ...args])).stdout;
  return { lab, dig, agentDir: join(lab.work, 'agent'), agentLog: () => agent.log() };
}

const held = (agentDir: string) =>
  existsSync(join(agentDir, 'desired-state.json')) ? JSON.parse(readFileSync(join(agentDir, 'desired-state.json'), 'utf8')).document : null;

for (const [index, variant] of variants.entries()) {
  const subnet = `198.18.${60 + index * 4}`;

  test.serial(
    `${variant.name}: machines commissioned back to back are answered in DNS; a new network is served; a deleted machine leaves — all with no sync`,
    async (t) => {
      const { lab, dig, agentDir } = await labWithAgent(t, variant, subnet);
      const sync = () => lab.api('GET', '/v1/workflows?kind=sync-site');

      // Three machines, back to back: each one's A and PTR records answer once its write-dns step is done.
      const addresses: Record<string, string> = {};
      for (const name of ['node-1', 'node-2', 'node-3']) {
        const made = await lab.api('POST', '/v1/machines', {
          site: 'lab',
          hostname: name,
          arch: 'x86_64',
          bootMode: 'bios',
          interfaces: [{ mac: `52:54:00:${randomBytes(3).toString('hex').match(/../g)!.join(':')}` }],
        });
        const wf = await lab.api('POST', `/v1/machines/${made.id}/commission`, { hwtest: false });
        const dns = await until(`${name}'s write-dns step`, async () => {
          const shown = await lab.api('GET', `/v1/workflows/${wf.id}`);
          return (
            shown.steps.find((s: any) => s.name === 'allocate-ip' && s.state === 'succeeded') &&
            shown.steps.find((s: any) => s.name === 'write-dns' && s.state === 'succeeded') &&
            shown
          );
        });
        addresses[name] = dns.steps.find((s: any) => s.name === 'allocate-ip').result.address;
      }
      for (const [name, address] of Object.entries(addresses)) {
        await until(`${name} answers A`, async () => (await dig('+short', `${name}.lab.example`, 'A')).trim() === address);
        await until(`${name} answers PTR`, async () => (await dig('+short', '-x', address)).trim() === `${name}.lab.example.`);
      }

      // A network created at the site: its zone answers SOA and its DHCP scope is served.
      const second = `198.18.${61 + index * 4}`;
      await lab.api('POST', '/v1/networks', {
        site: 'lab',
        name: 'second',
        cidr: `${second}.0/24`,
        gateway: `${second}.1`,
        domain: 'second.example',
        pxe: true,
      });
      await until(
        'the new zone answers SOA',
        async () => /status: NOERROR/.test(await dig('second.example', 'SOA')) && /IN\s+SOA/.test(await dig('second.example', 'SOA')),
      );
      await until('the DHCP service serves the new scope', async () => {
        const site = await lab.api('GET', '/v1/sites/lab');
        return (site.agents[0]?.services?.dhcp?.scopes ?? []).includes(`${second}.0/24`);
      });

      // A machine that never booted (its commissioning times out) is deleted: its name and reservation leave the agent.
      await until('node-3 is failed by its watchdog', async () => (await lab.api('GET', '/v1/machines/node-3')).status === 'failed_commissioning', 60_000);
      await lab.api('DELETE', '/v1/machines/node-3');
      await until('node-3 no longer answers', async () => /status: NXDOMAIN/.test(await dig('node-3.lab.example', 'A')));
      await until('its reverse record is gone too', async () => (await dig('+short', '-x', addresses['node-3'])).trim() === '');
      await until("its reservation is gone from the agent's state", async () => {
        const state = held(agentDir);
        return state && !state.reservations.some((r: any) => r.address === addresses['node-3']) && !state.bootIntents.some((b: any) => b.hostname === 'node-3');
      });
      t.is((await dig('+short', 'node-1.lab.example', 'A')).trim(), addresses['node-1'], 'the others stay');

      t.is((await sync()).items.length, 0, 'no sync-site workflow was needed');
      const site = await lab.api('GET', '/v1/sites/lab');
      await until('site show says the agent is current', async () => (await lab.api('GET', '/v1/sites/lab')).agents[0].desiredState.behind === 0);
      t.true(site.desiredRevision > 0);
    },
  );

  test.serial(`${variant.name}: 100 rapid changes end at the final revision, never going back`, async (t) => {
    const { lab, agentDir, agentLog } = await labWithAgent(t, variant, `198.18.${62 + index * 4}`);
    const made = await lab.api('POST', '/v1/machines', {
      site: 'lab',
      hostname: 'busy-1',
      arch: 'x86_64',
      bootMode: 'bios',
      interfaces: [{ mac: '52:54:00:6e:00:01' }],
    });
    // 100 changes, ten at a time.
    for (let round = 0; round < 10; round++) {
      await Promise.all(
        Array.from({ length: 10 }, (_, i) => lab.api('PATCH', `/v1/machines/${made.id}`, { tags: [`round-${round}`, `change-${round * 10 + i}`] })),
      );
    }
    const latest = (await lab.api('GET', '/v1/sites/lab')).desiredRevision;
    t.true(latest >= 100);
    await until('the agent serves the final revision', async () => held(agentDir)?.revision === latest);
    await until('and says so', async () => (await lab.api('GET', '/v1/sites/lab')).agents[0].desiredState.revision === latest);
    const applied = [...agentLog().matchAll(/"revision":(\d+),"previous":(null|\d+)[^\n]*applied desired state/g)].map((m) => Number(m[1]));
    t.true(applied.length > 0);
    t.deepEqual(
      applied,
      [...applied].sort((a, b) => a - b),
      'revisions were applied in increasing order',
    );
    t.is(new Set(applied).size, applied.length, 'none twice');
    t.is(applied.at(-1), latest);
    // (The agent coalesces: it applies the newest it is handed, not each one.)
    t.true(applied.length <= latest);
    // With NATS the documents come through JetStream (the key-value watch), not the HTTP long poll.
    const vias = [...agentLog().matchAll(/"revision":(\d+),"previous":(?:null|\d+),"via":"(\w+)"[^\n]*applied desired state/g)];
    t.is(vias.length, applied.length);
    t.is(vias.at(-1)![2], variant.channel, `the final revision came through ${variant.channel}`);
    t.true(
      vias.filter((m) => Number(m[1]) > (applied[0] ?? 0)).every((m) => m[2] === variant.channel),
      `every change after the start-up catch-up came through ${variant.channel}`,
    );
  });
}

test.serial(
  'postgres + nats: a hand-crafted invalid document is refused by the agent, which keeps serving the last valid one; site show says why',
  async (t) => {
    const variant = variants[1];
    const env = await variant.env(t);
    const lab = await siteLab(t, '198.18.70', { env, serverYaml: variant.yaml });
    const dnsPort = await freePort();
    await lab.startAgent([`  dns: { port: ${dnsPort}, address: 127.0.0.1 }`]);
    const agentDir = join(lab.work, 'agent');
    const site = await lab.api('GET', '/v1/sites/lab');
    await until('the agent serves the site', async () => held(agentDir)?.networks?.length === 1);
    const good = held(agentDir).revision;
    // What no API allows: a resolver that is not an address, written straight into the database, and the site's revision bumped.
    const { default: knex } = await import('knex');
    const db = (knex as any)({ client: 'pg', connection: env.SPROUT_DATABASE_URL, pool: { min: 0, max: 1 } });
    t.teardown(() => db.destroy());
    await db('networks')
      .where({ site_id: site.id })
      .update({ dns_servers: JSON.stringify(['not-an-address']) });
    const [{ desired_revision: bad }] = await db('sites').where({ id: site.id }).increment('desired_revision', 1).returning('desired_revision');
    await db.raw('select pg_notify(?, ?)', ['sprout_site_revision', `${site.id} ${bad}`]);
    const shown = await until('site show names the refusal', async () => {
      const now = await lab.api('GET', '/v1/sites/lab');
      return now.agents[0].desiredState.error && now;
    });
    t.regex(shown.agents[0].desiredState.error, new RegExp(`revision ${bad} refused: /networks/0/dnsServers/0 must match format "ipv4"`));
    t.is(shown.agents[0].desiredState.revision, good, 'it serves the last valid revision');
    t.is(held(agentDir).revision, good);
    t.deepEqual(held(agentDir).networks[0].dnsServers, [], 'nothing of the invalid document was applied');
    const text = (await lab.cli('site', 'show', 'lab')).stdout;
    t.regex(text, new RegExp(`revision ${good} \\(1 behind ${bad}\\), refused a newer one`));
    t.regex(text, /agent agent-lab refused the site's desired state and serves revision \d+: revision \d+ refused: \/networks\/0\/dnsServers\/0/);
    // Fixed, the next revision is served again.
    await db('networks')
      .where({ site_id: site.id })
      .update({ dns_servers: JSON.stringify(['198.18.70.53']) });
    const [{ desired_revision: fixed }] = await db('sites').where({ id: site.id }).increment('desired_revision', 1).returning('desired_revision');
    await db.raw('select pg_notify(?, ?)', ['sprout_site_revision', `${site.id} ${fixed}`]);
    await until('the fixed revision is served', async () => held(agentDir)?.revision === Number(fixed));
    await until('and the error is gone', async () => (await lab.api('GET', '/v1/sites/lab')).agents[0].desiredState.error === null);
  },
);
