/** Which file a requested name maps to, and which names are refused, on a real folder. */
import test from 'ava';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lookUpBootFile } from '../../src/services/tftp/boot-file-path.ts';

let base: string;
let root: string;

test.before(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'sprout-tftp-paths-')));
  root = join(base, 'root');
  mkdirSync(join(root, 'efi'), { recursive: true });
  writeFileSync(join(root, 'efi', 'ipxe.efi'), 'efi');
  writeFileSync(join(base, 'outside'), 'secret');
  mkdirSync(join(base, 'root-sibling'));
  writeFileSync(join(base, 'root-sibling', 'file'), 'sibling');
  symlinkSync(join(base, 'outside'), join(root, 'to-outside'));
  symlinkSync(join(base, 'root-sibling'), join(root, 'to-sibling'));
  symlinkSync(join(root, 'efi', 'ipxe.efi'), join(root, 'alias.efi'));
});

test.after.always(() => rmSync(base, { recursive: true, force: true }));

test('files under the root are found, by relative name, leading slash, backslashes or absolute path', async (t) => {
  for (const name of ['efi/ipxe.efi', '/efi/ipxe.efi', 'efi\\ipxe.efi', join(root, 'efi', 'ipxe.efi'), 'alias.efi']) {
    t.like(await lookUpBootFile(root, name), { ok: true, path: join(root, 'efi', 'ipxe.efi'), size: 3 }, name);
  }
});

test('names that leave the root are refused with error 2, whether or not the target exists', async (t) => {
  for (const name of [
    '../outside',
    'efi/../../outside',
    '..\\outside',
    'efi/../efi/ipxe.efi',
    join(base, 'outside'),
    '/etc/passwd',
    'to-outside',
    'to-sibling/file',
    `${root}-sibling/file`,
  ]) {
    t.like(await lookUpBootFile(root, name), { ok: false, code: 2 }, name);
  }
});

test('missing files and folders are error 1', async (t) => {
  for (const name of ['nothing', 'efi', 'efi/ipxe.efi/deeper', '/', 'pxelinux.cfg/default']) {
    t.like(await lookUpBootFile(root, name), { ok: false, code: 1 }, name);
  }
});
