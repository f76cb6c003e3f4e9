/**
 * The driver's own decisions, against a stand-in ipmitool that replays answers captured
 * from a real one: a BMC that says yes to `chassis bootdev` but keeps its old boot flags,
 * and one that never answers.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { PowerError, type PowerTarget } from '@sprout/kernel';
import { ipmiDriver } from '../src/driver.ts';

const target: PowerTarget = {
  machineId: 'm1',
  hostname: 'node-1',
  macs: ['52:54:00:00:00:01'],
  bmc: { type: 'ipmi', address: '127.0.0.1:9001', username: 'admin', password: 'pw' },
};

/** A stand-in ipmitool (a shell script) in a temp folder; its calls are logged. */
function fakeIpmitool(t: import('ava').ExecutionContext, body: string): { path: string; calls: () => string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'fake-ipmitool-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'ipmitool');
  writeFileSync(path, `#!/bin/sh\necho "$*" >> '${dir}/calls'\n${body}\n`);
  chmodSync(path, 0o755);
  return { path, calls: () => readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n') };
}

test('a BMC that answers `chassis bootdev` with success but keeps its boot flags is refused', async (t) => {
  const fake = fakeIpmitool(
    t,
    `case "$*" in
  *"chassis bootdev"*) echo "Set Boot Device to pxe" ;;
  *"bootparam get 5"*) printf 'Boot parameter version: 1\\nBoot parameter 5 is valid/unlocked\\nBoot parameter data: 0008000000\\n   - Boot Device Selector : Force Boot from default Hard-Drive\\n' ;;
esac`,
  );
  const err = await t.throwsAsync(ipmiDriver({ ipmitool: fake.path }).setNextBoot(target, 'network', { timeoutMs: 5_000 }));
  t.true(err instanceof PowerError, err?.message);
  t.is((err as PowerError).reason, 'refused');
  t.is(err?.message, 'ipmi 127.0.0.1:9001: chassis bootdev pxe: the BMC did not take it: its boot flags say disk instead of network');
  t.true(fake.calls()[1].endsWith('chassis bootparam get 5'), 'the flags were read back');
});

test('setting the disk asks for it persistently, and succeeds when the flags say disk', async (t) => {
  const fake = fakeIpmitool(
    t,
    `case "$*" in
  *"chassis bootdev"*) echo "Set Boot Device to disk" ;;
  *"bootparam get 5"*) printf 'Boot parameter data: 80c8000000\\n' ;;
esac`,
  );
  t.deepEqual(await ipmiDriver({ ipmitool: fake.path }).setNextBoot(target, 'disk', { timeoutMs: 5_000 }), {});
  t.true(fake.calls()[0].endsWith('chassis bootdev disk options=persistent'), fake.calls()[0]);
});

test('a BMC that never answers fails with timeout at the call timeout, naming the BMC, and ipmitool is killed', async (t) => {
  const fake = fakeIpmitool(t, 'echo $$ > "$(dirname "$0")/pid"; exec sleep 30');
  const started = Date.now();
  const err = await t.throwsAsync(ipmiDriver({ ipmitool: fake.path }).state(target, { timeoutMs: 1_500 }));
  t.is((err as PowerError).reason, 'timeout', err?.message);
  t.regex(err?.message ?? '', /^ipmi 127\.0\.0\.1:9001: chassis power status: the BMC at 127\.0\.0\.1:9001 did not answer within 1500 ms/);
  t.true(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
  const pid = Number(readFileSync(join(fake.path, '..', 'pid'), 'utf8'));
  t.throws(() => process.kill(pid, 0), undefined, 'the ipmitool process is gone');
});

test('an operation of several ipmitool runs ends within the call timeout as a whole', async (t) => {
  // The status answers after 2 s, the power-on never: 3 s for the whole call, not 3 s for each run.
  const fake = fakeIpmitool(t, `case "$*" in *"power status"*) sleep 2; echo "Chassis Power is off" ;; *) exec sleep 30 ;; esac`);
  const started = Date.now();
  const err = await t.throwsAsync(ipmiDriver({ ipmitool: fake.path }).on(target, { timeoutMs: 3_000 }));
  t.is((err as PowerError).reason, 'timeout', err?.message);
  t.regex(err?.message ?? '', /^ipmi 127\.0\.0\.1:9001: chassis power on: the BMC at 127\.0\.0\.1:9001 did not answer within 3000 ms/);
  t.true(Date.now() - started < 4_500, `took ${Date.now() - started} ms`);
});

test('without ipmitool installed the driver says so', async (t) => {
  const err = await t.throwsAsync(ipmiDriver({ ipmitool: '/nonexistent/ipmitool' }).state(target, { timeoutMs: 5_000 }));
  t.is((err as PowerError).reason, 'unsupported');
  t.regex(err?.message ?? '', /install the ipmitool package/);
});

test('a machine already in the asked state is left alone, with a note', async (t) => {
  const fake = fakeIpmitool(t, `case "$*" in *"power status"*) echo "Chassis Power is on" ;; *) echo "unexpected" >&2; exit 1 ;; esac`);
  t.deepEqual(await ipmiDriver({ ipmitool: fake.path }).on(target, { timeoutMs: 5_000 }), { note: 'already on' });
  t.is(fake.calls().length, 1);
});
