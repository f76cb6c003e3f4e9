import test from 'ava';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CredentialSealer, credentialSealer } from '../src/domain/machines/bmc-credentials.ts';

test('a sealed BMC password opens only for its machine and under its key', (t) => {
  const key = randomBytes(32);
  const sealer = new CredentialSealer(key);
  const sealed = sealer.seal('m-1', 'hunter2-secret');
  t.false(sealed.includes('hunter2'), 'the password is not in the stored text');
  t.regex(sealed, /^v1:[A-Za-z0-9+/=]+$/);
  t.not(sealer.seal('m-1', 'hunter2-secret'), sealed, 'a fresh IV each time');
  t.is(sealer.open('m-1', sealed), 'hunter2-secret');
  t.throws(() => sealer.open('m-2', sealed), { message: /do not open with this control plane's credential key/ });
  t.throws(() => new CredentialSealer(randomBytes(32)).open('m-1', sealed), { message: /credential key/ });
  const tampered = `v1:${Buffer.from(Buffer.from(sealed.slice(3), 'base64').map((b, i) => (i === 40 ? b ^ 1 : b))).toString('base64')}`;
  t.throws(() => sealer.open('m-1', tampered), { message: /do not open/ });
});

test('without a configured key one is generated once in the data directory, readable by its owner only', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sprout-bmc-key-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = { dataDir: join(dir, 'data'), power: { pollSeconds: 300, pollConcurrency: 8, callTimeoutSeconds: 60 } };
  const sealed = credentialSealer(config).seal('m-1', 'pw');
  t.is(statSync(join(dir, 'data', 'power-credential.key')).mode & 0o777, 0o600);
  t.is(credentialSealer(config).open('m-1', sealed), 'pw', 'the second start reads the same key');
  const configured = { ...config, power: { ...config.power, credentialKey: randomBytes(32).toString('base64') } };
  t.throws(() => credentialSealer(configured).open('m-1', sealed), { message: /credential key/ });
});
