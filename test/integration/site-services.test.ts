/**
 * Site services under a real agent: the agent config enables TFTP and DNS, the control
 * plane's desired state reaches them through sync-site, and peers no one here wrote
 * (dig, curl) see the result. Loopback only, unprivileged ports.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '@sprout/test-support/processes.ts';
import { siteLab } from '@sprout/test-support/site-lab.ts';
import { until } from '@sprout/test-support/until.ts';

const run = promisify(execFile);

test('an agent serves the site: DNS answers the machine A and PTR records, TFTP serves boot files, the heartbeat shows both', async (t) => {
  const lab = await siteLab(t, '198.18.50');
  const { cli, work } = lab;
  await cli('machine', 'create', 'node-1', '--site', 'lab', '--mac', '52:54:00:00:50:01');
  const commissioned = JSON.parse((await cli('machine', 'commission', 'node-1', '--no-hwtest', '--json')).stdout);

  const bootRoot = join(work, 'boot');
  mkdirSync(bootRoot);
  const bootFile = randomBytes(300_000);
  writeFileSync(join(bootRoot, 'undionly.kpxe'), bootFile);
  const [tftpPort, dnsPort] = [await freePort(), await freePort()];
  await lab.startAgent([`  tftp: { port: ${tftpPort}, address: 127.0.0.1, root: ${bootRoot} }`, `  dns: { port: ${dnsPort}, address: 127.0.0.1 }`]);

  // the commission's control steps allocated the address and wrote DNS; sync-site carries them to the agent
  // check-bmc (the agent's) comes first: the control steps run once the agent has answered it.
  const wf = await until('the commission allocated the address', async () => {
    const shown = JSON.parse((await cli('workflow', 'show', commissioned.id, '--json')).stdout);
    return shown.steps.find((s: { name: string; state: string }) => s.name === 'write-dns' && s.state === 'succeeded') && shown;
  });
  const address = wf.steps.find((s: { name: string }) => s.name === 'allocate-ip').result.address as string;
  const synced = await cli('site', 'sync', 'lab', '--watch');
  t.is(synced.code, 0, synced.stdout + synced.stderr);

  const dig = async (...args: string[]) => (await run('dig', ['@127.0.0.1', '-p', String(dnsPort), '+time=2', '+tries=2', ...args])).stdout;
  t.is((await dig('+short', 'node-1.lab.example', 'A')).trim(), address);
  t.is((await dig('+short', '-x', address)).trim(), 'node-1.lab.example.');
  const missing = await dig('nobody.lab.example', 'A');
  t.regex(missing, /status: NXDOMAIN/);
  t.regex(missing, /flags: qr aa/);

  const out = join(work, 'fetched');
  await run('curl', ['-s', '--tftp-blksize', '1468', `tftp://127.0.0.1:${tftpPort}/undionly.kpxe`, '-o', out]);
  t.is(createHash('sha256').update(readFileSync(out)).digest('hex'), createHash('sha256').update(bootFile).digest('hex'));
  const refused = await run('curl', ['-s', `tftp://127.0.0.1:${tftpPort}/../agent/agent.json`, '-o', join(work, 'stolen')]).then(
    () => 0,
    (err) => err.code,
  );
  t.not(refused, 0, 'a path out of the TFTP root is refused');

  const services = await (async () => {
    for (let i = 0; i < 50; i++) {
      const shown = JSON.parse((await cli('site', 'show', 'lab', '--json')).stdout);
      const s = shown.agents[0]?.services;
      if (s?.dns?.state === 'running' && s?.tftp?.state === 'running' && Number(s.tftp.completedTransfers) >= 1 && Number(s.dns.queriesAnswered) >= 3) return s;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('services never showed in the heartbeat');
  })();
  t.true(Number(services.dns.queriesAnswered) >= 3);
  t.true(Number(services.tftp.completedTransfers) >= 1);
});
