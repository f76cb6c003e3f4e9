/**
 * The image store with a real control plane and a real agent, through the CLI: the agent
 * reports a file put in its images/ folder (with its sha256 and format); `sprout image
 * import` copies a file on the agent's host or downloads a URL, keeping it only when the
 * sum matches (nothing half-written is left behind); `sprout image remove` deletes it.
 * (A deploy of an image the site does not hold: provisioning.test.ts.)
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { freePort } from '@sprout/test-support/processes.ts';
import { siteLab } from '@sprout/test-support/site-lab.ts';
import { until } from '@sprout/test-support/until.ts';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

test('sprout image list|import|remove over a real agent: reported, imported from a path and a URL with its sum checked, removed', async (t) => {
  const lab = await siteLab(t, '198.18.62');
  const artifacts = join(lab.work, 'artifacts');
  const images = join(artifacts, 'images');
  mkdirSync(images, { recursive: true });
  const byHand = Buffer.concat([Buffer.from('QFI\xfb', 'latin1'), Buffer.alloc(64 * 1024, 3)]);
  writeFileSync(join(images, 'by-hand.qcow2'), byHand);
  await lab.startAgent([`  http: { port: ${await freePort()}, address: 127.0.0.1, artifactRoot: ${artifacts} }`]);

  // Reported with the sum the agent computed, and the format read from the file.
  const listed = await until('by-hand.qcow2 listed with its sum', async () => {
    const items = JSON.parse((await lab.cli('image', 'list', '--json')).stdout);
    return items.find((i: any) => i.name === 'by-hand.qcow2' && i.sha256) as any;
  });
  t.like(listed, { site: 'lab', size: byHand.length, sha256: sha256(byHand), format: 'qcow2' });
  const table = (await lab.cli('image', 'list', '--site', 'lab')).stdout;
  t.regex(table, /NAME\s+SITE\s+SIZE\s+SHA256\s+FORMAT\s+SEEN/);
  t.regex(table, new RegExp(`by-hand\\.qcow2\\s+lab\\s+64\\.0 KiB\\s+${sha256(byHand).slice(0, 12)}\\s+qcow2\\s+`));

  // A file on the agent's host (this one): the CLI computes its sum, the agent copies it.
  const local = Buffer.alloc(200 * 1024, 9);
  const localFile = join(lab.work, 'debian-12.raw');
  writeFileSync(localFile, local);
  const imported = await lab.cli('image', 'import', localFile, '--site', 'lab');
  t.is(imported.code, 0, imported.stderr);
  t.is(imported.stdout.trim(), `imported debian-12.raw into site lab: 200.0 KiB, sha256 ${sha256(local)}, raw`);
  t.deepEqual(readFileSync(join(images, 'debian-12.raw')), local);
  t.like(JSON.parse(readFileSync(join(images, 'debian-12.raw.manifest.json'), 'utf8')), {
    name: 'debian-12.raw',
    size: local.length,
    sha256: sha256(local),
    format: 'raw',
  });

  // From a URL the agent can reach: a wrong sum keeps nothing; the right one replaces nothing else.
  const served = Buffer.alloc(300 * 1024, 5);
  const server = createServer((req, res) => (req.url === '/images/web.raw' ? res.end(served) : res.writeHead(404).end()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/images/web.raw`;
  const wrong = await lab.cli('image', 'import', url, '--site', 'lab', '--sha256', 'ee'.repeat(32));
  t.is(wrong.code, 1);
  t.regex(
    wrong.stdout + wrong.stderr,
    new RegExp(`import of web\\.raw at site lab failed: sha256 mismatch for ${url.replace(/\./g, '\\.')}: expected ${'ee'.repeat(32)}, got ${sha256(served)}`),
  );
  t.deepEqual(readdirSync(images).sort(), ['by-hand.qcow2', 'debian-12.raw', 'debian-12.raw.manifest.json'], 'no partial file is left');
  const viaUrl = await lab.cli('image', 'import', url, '--site', 'lab', '--name', 'web-os.raw', '--sha256', sha256(served), '--json');
  t.is(viaUrl.code, 0, viaUrl.stdout + viaUrl.stderr);
  t.like(JSON.parse(viaUrl.stdout), { state: 'succeeded', name: 'web-os.raw', result: { size: served.length, sha256: sha256(served), format: 'raw' } });
  t.deepEqual(readFileSync(join(images, 'web-os.raw')), served);
  const names = JSON.parse((await lab.cli('image', 'list', '--site', 'lab', '--json')).stdout).map((i: any) => i.name);
  t.deepEqual(names, ['by-hand.qcow2', 'debian-12.raw', 'web-os.raw']);

  const removed = await lab.cli('image', 'remove', 'debian-12.raw', '--site', 'lab');
  t.is(removed.code, 0, removed.stderr);
  t.is(removed.stdout.trim(), 'removed debian-12.raw from site lab');
  t.false(existsSync(join(images, 'debian-12.raw')));
  t.false(existsSync(join(images, 'debian-12.raw.manifest.json')));
  t.deepEqual(
    JSON.parse((await lab.cli('image', 'list', '--site', 'lab', '--json')).stdout).map((i: any) => i.name),
    ['by-hand.qcow2', 'web-os.raw'],
  );
  const gone = await lab.cli('image', 'remove', 'debian-12.raw', '--site', 'lab');
  t.is(gone.code, 1);
  t.regex(gone.stderr, /site lab has no image debian-12\.raw/);
});
