/**
 * Per-boot tokens are bound to the machine's lease: a real agent (DHCP answering a relay,
 * TFTP, HTTP boot) and a simulated machine that PXE-boots through the relay and sends from
 * the address it was leased (127.79.1.x, local on Linux like all of 127/8). A neighbour on
 * the provisioning network — another address, X-Forwarded-For or not — gets neither the
 * script, nor the metadata, nor a callback; the refusals reach the audit log.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { simulatedSite } from '@sprout/test-support/site-lab.ts';
import { until } from '@sprout/test-support/until.ts';
import { requestFrom } from '@sprout/test-support/request-from.ts';

const from = requestFrom;

test("a neighbour cannot take a leased machine's boot: script, metadata and callbacks refused from another address and audited; the machine at its lease goes on", async (t) => {
  const lab = await simulatedSite(t, '127.79.1');
  const mac = '52:54:00:79:01:01';
  await lab.api('POST', '/v1/machines', { site: 'lab', hostname: 'bind-1', arch: 'x86_64', bootMode: 'bios', interfaces: [{ mac }] });
  await lab.api('POST', '/v1/machines/bind-1/commission', { hwtest: [] });
  // The installer hangs after reading its metadata: the machine holds its lease and a live token.
  void lab.simulator.powerOn({ mac, fail: 'no-callback' });
  t.teardown(() => lab.simulator.powerOff(mac));
  await until('the installer to hang', async () => lab.events.some((e) => e.kind === 'crash'), 60_000);
  const leased = /^iPXE: (\S+), script (\S+)$/.exec(lab.events.filter((e) => e.kind === 'dhcp').at(-1)!.detail)!;
  const [address, scriptUrl] = [leased[1], leased[2]];
  t.regex(address, /^127\.79\.1\.\d+$/);
  const base = new URL(scriptUrl).origin;
  const token = (JSON.parse(readFileSync(join(lab.work, 'agent', 'machine-waits.json'), 'utf8')) as { token: string }[])[0].token;

  const neighbour = '127.79.1.250';
  const attempts = [
    ['script', () => from(neighbour, scriptUrl)],
    ['script, X-Forwarded-For the lease', () => from(neighbour, scriptUrl, { headers: { 'x-forwarded-for': address } })],
    ['script from the agent host', () => from('127.0.0.1', scriptUrl)],
    ['metadata', () => from(neighbour, `${base}/metadata/${token}`)],
    ['metadata, X-Forwarded-For the lease', () => from(neighbour, `${base}/metadata/${token}?format=shell`, { headers: { 'x-forwarded-for': address } })],
    [
      'commission-complete with invented facts',
      () => from(neighbour, `${base}/callbacks/${token}/commission-complete`, { method: 'POST', body: { facts: { memoryMiB: 999999 } } }),
    ],
    ['failed', () => from(neighbour, `${base}/callbacks/${token}/failed`, { method: 'POST', body: { reason: 'forged' } })],
  ] as const;
  for (const [what, attempt] of attempts) {
    const answer = await attempt();
    t.is(answer.status, 403, what);
    t.regex(answer.text, /^Sprout will not boot this machine: 52:54:00:79:01:01 is not leased to 127\.\d+\.\d+\.\d+: /, what);
    t.false(answer.text.includes(token), what);
  }
  t.is((await lab.api('GET', '/v1/machines/bind-1')).status, 'commissioning', 'no forged callback moved the machine');

  const audit = await until('the refusals in the audit log', async () => {
    const page = await lab.api('GET', '/v1/audit?action=agent.boot.refused&limit=50');
    return page.items.length >= 4 && page.items;
  });
  const seen = audit.map((a: any) => `${a.details.route} ${a.details.source}`).sort();
  t.deepEqual(seen, ['callback 127.79.1.250', 'metadata 127.79.1.250', 'script 127.0.0.1', 'script 127.79.1.250']);
  t.true(audit.every((a: any) => a.details.mac === mac && !JSON.stringify(a).includes(token)));

  // The machine itself, at its lease, still has its boot: its script, and its callback moves the step.
  const own = await from(address, scriptUrl);
  t.is(own.status, 200);
  t.true(own.text.includes(`/metadata/${token}`));
  t.is((await from(address, `${base}/callbacks/${token}/commission-complete`, { method: 'POST', body: { facts: { cpus: 2 } } })).status, 202);
  const ready = await until('bind-1 ready', async () => {
    const m = await lab.api('GET', '/v1/machines/bind-1');
    return m.status === 'ready' && m;
  });
  t.is(ready.hardware.cpus, 2);
});
