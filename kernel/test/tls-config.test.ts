/**
 * `tls:` in sprout.yaml: paths resolve like the other paths of the file, the environment
 * sets them, and each unusable file is refused naming its field before anything listens.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, readTlsMaterial, isSproutError } from '@sprout/kernel';

const pki = mkdtempSync(join(tmpdir(), 'sprout-tls-config-'));
test.after.always(() => rmSync(pki, { recursive: true, force: true }));
for (const name of ['a', 'b']) {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '1',
      '-subj',
      `/CN=${name}`,
    ],
    { cwd: pki, stdio: 'ignore' },
  );
}
writeFileSync(join(pki, 'garbage.pem'), 'not a certificate\n');

function problems(files: { cert: string; key: string; ca?: string }): { field?: string; message: string }[] {
  try {
    readTlsMaterial(files);
  } catch (err) {
    if (isSproutError(err, 'SPROUT_ERR_CONFIG')) return err.details;
    throw err;
  }
  return [];
}

test('tls paths resolve against the config file; SPROUT_TLS_CERT and SPROUT_TLS_KEY set them', (t) => {
  writeFileSync(join(pki, 'sprout.yaml'), 'tls: { cert: a.pem, key: a.key }\n');
  t.deepEqual(loadConfig({ file: join(pki, 'sprout.yaml'), env: {} }).config.tls, { cert: join(pki, 'a.pem'), key: join(pki, 'a.key') });
  const fromEnv = loadConfig({ env: { SPROUT_TLS_CERT: join(pki, 'b.pem'), SPROUT_TLS_KEY: join(pki, 'b.key') }, cwd: pki, file: undefined });
  t.like(fromEnv.config.tls, { cert: join(pki, 'b.pem'), key: join(pki, 'b.key') });
  writeFileSync(join(pki, 'half.yaml'), 'tls: { cert: a.pem, chain: x.pem }\n');
  const err = t.throws(() => loadConfig({ file: join(pki, 'half.yaml'), env: {} }));
  t.regex((err as any).explain(), /tls\.key: is required/);
  t.regex((err as any).explain(), /tls\.chain: unknown key/);
});

test('a matching pair loads; a key of another certificate, a file that is not PEM and a missing file are each named', (t) => {
  t.deepEqual(problems({ cert: join(pki, 'a.pem'), key: join(pki, 'a.key') }), []);
  t.like(problems({ cert: join(pki, 'a.pem'), key: join(pki, 'b.key') }), [
    { field: 'tls.key', message: `${join(pki, 'b.key')} does not belong to the certificate in ${join(pki, 'a.pem')}: key values mismatch` },
  ]);
  t.like(problems({ cert: join(pki, 'garbage.pem'), key: join(pki, 'a.key') }), [{ field: 'tls.cert' }]);
  t.like(problems({ cert: join(pki, 'a.pem'), key: join(pki, 'a.key'), ca: join(pki, 'garbage.pem') }), [{ field: 'tls.ca' }]);
  t.deepEqual(
    problems({ cert: join(pki, 'none.pem'), key: join(pki, 'none.key') }).map((p) => p.field),
    ['tls.cert', 'tls.key'],
  );
});
