/**
 * A full disk (a real one: a small tmpfs holding PGlite's folder, or PostgreSQL's whole
 * cluster, filled to the last byte): writes the database refuses for lack of space answer 503 saying so (not
 * 500), /readyz fails while writes fail and recovers when space is back; and the
 * server's own log hitting ENOSPC neither stops nor crashes it.
 */
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { Kernel, loadConfig } from '@sprout/kernel';
import { builtinPlugins } from '@sprout/cli/builtin-plugins';
import { startHarness, withPostgres } from '@sprout/test-support/harness.ts';
import { bin, cleanEnv, freePort } from '@sprout/test-support/processes.ts';
import { ownPostgres } from '@sprout/test-support/own-services.ts';

function tinyFilesystem(t: any, size: string, mode = '0700'): string {
  const dir = mkdtempSync(join(tmpdir(), 'sprout-full-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=${mode}`, 'tmpfs', dir], { encoding: 'utf8' });
  if (mounted.status !== 0) throw new Error(`mount tmpfs: ${mounted.stderr} (the fault tests run as root)`);
  t.teardown(() => {
    spawnSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Fills `dir`'s filesystem to the last byte; returns the filler to remove. */
function fill(dir: string): string {
  const filler = join(dir, 'filler');
  spawnSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k'], { encoding: 'utf8' });
  return filler;
}

const machineRows = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => ({
    site: 'full',
    hostname: `full-${from + i}`,
    arch: 'x86_64',
    bootMode: 'bios',
    tags: ['x'.repeat(60)],
    interfaces: [
      {
        mac: `52:54:0f:${(((from + i) >> 16) & 255).toString(16).padStart(2, '0')}:${(((from + i) >> 8) & 255).toString(16).padStart(2, '0')}:${((from + i) & 255).toString(16).padStart(2, '0')}`,
      },
    ],
  }));

for (const store of ['pglite', 'postgres'] as const) {
  test.serial(`${store} on a filesystem that fills up: 503 naming the full disk, /readyz not ready until space is back, then writes work again`, async (t) => {
    // PostgreSQL's own cluster (data and WAL) on the small filesystem, run as the postgres user
    const fs = tinyFilesystem(t, store === 'pglite' ? '64m' : '96m', store === 'pglite' ? '0700' : '0755');
    const pg = store === 'postgres' ? await ownPostgres({ parent: fs }) : undefined;
    const adminToken = `sprout_test_admin_${randomBytes(16).toString('hex')}`;
    const { config } = loadConfig({
      env: { SPROUT_DATA_DIR: join(fs, 'data'), SPROUT_LOG_LEVEL: 'silent', SPROUT_ADMIN_TOKEN: adminToken, ...(pg ? { SPROUT_DATABASE_URL: pg.url } : {}) },
    });
    const kernel = await Kernel.boot({ config, builtinPlugins, logger: pino({ level: 'silent' }), background: false });
    t.teardown(async () => {
      await kernel.stop();
      await pg?.destroy();
    });
    const request = async (method: string, url: string, body?: unknown) => {
      const r = await kernel.app!.inject({
        method: method as any,
        url,
        headers: { authorization: `Bearer ${adminToken}` },
        ...(body === undefined ? {} : { payload: body as object }),
      });
      return { status: r.statusCode, body: JSON.parse(r.body) };
    };
    t.is((await request('POST', '/v1/sites', { name: 'full' })).status, 201);
    t.is((await request('GET', '/readyz')).status, 200);
    const filler = fill(fs);

    let refused: { status: number; body: any } | undefined;
    let next = 0;
    for (let i = 0; i < 40 && !refused; i++) {
      const r = await request('POST', '/v1/machines/import', machineRows(next, 200));
      next += 200;
      if (r.status !== 200) refused = r;
    }
    t.truthy(refused, 'the disk filled up');
    t.is(refused!.status, 503);
    t.is(refused!.body.code, 'SPROUT_ERR_UNAVAILABLE');
    t.regex(refused!.body.detail, /disk is full/);

    const notReady = await request('GET', '/readyz');
    t.is(notReady.status, 503);
    t.false(notReady.body.checks.writes.ok);
    t.regex(notReady.body.checks.writes.detail, /disk under the database is full/);
    t.is((await request('GET', '/v1/machines?limit=1')).status, 200, 'reads still work');

    rmSync(filler);
    const ready = await request('GET', '/readyz');
    t.is(ready.status, 200, JSON.stringify(ready.body));
    const again = await request('POST', '/v1/machines/import', machineRows(next - 200, 200));
    t.is(again.status, 200);
    t.is(again.body.errors, 0);
  });
}

test.serial(
  'postgres: disk_full (53100) and insufficient_resources (53000) answer 503 with the reason — raised by a trigger, as a stand-in for a full disk',
  async (t) => {
    const h = await startHarness('postgres');
    t.teardown(() => h.stop());
    t.is((await h.request({ method: 'POST', url: '/v1/sites', body: { name: 'full' } })).status, 201);
    const schema = (await h.kernel.store.db.raw('select current_schema() as s')).rows[0].s;
    for (const [state, detail] of [
      ['53100', /disk is full/],
      ['53000', /out of resources/],
    ] as const) {
      await withPostgres(async (db: any) => {
        await db.raw(
          `create or replace function ${schema}.refuse_write() returns trigger language plpgsql as $$ begin raise exception 'could not extend file: No space left on device' using errcode = '${state}'; end $$`,
        );
        await db.raw(`drop trigger if exists refuse_write on ${schema}.machines`);
        await db.raw(`create trigger refuse_write before insert on ${schema}.machines for each row execute function ${schema}.refuse_write()`);
      });
      const r = await h.request({ method: 'POST', url: '/v1/machines', body: machineRows(state === '53100' ? 0 : 1, 1)[0] });
      t.is(r.status, 503, JSON.stringify(r.body));
      t.is(r.body.code, 'SPROUT_ERR_UNAVAILABLE');
      t.regex(r.body.detail, detail);
    }
  },
);

test.serial('a server whose log cannot be written (stdout on /dev/full: ENOSPC) keeps answering and stops cleanly', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sprout-full-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  writeFileSync(join(dir, 'sprout.yaml'), `listen: 127.0.0.1:${port}\nlog: { level: debug }\n`);
  mkdirSync(join(dir, 'home'));
  const full = openSync('/dev/full', 'w');
  const child = spawn(process.execPath, [bin, 'server'], {
    cwd: dir,
    env: { ...cleanEnv(), XDG_CONFIG_HOME: join(dir, 'home') },
    stdio: ['ignore', full, 'pipe'],
  });
  closeSync(full);
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => child.kill('SIGKILL'));
  const get = async (path: string) => {
    try {
      const r = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) });
      return r.status;
    } catch {
      return 0;
    }
  };
  let up = false;
  for (let i = 0; i < 300 && !up && child.exitCode === null; i++) {
    up = (await get('/healthz')) === 200;
    if (!up) await new Promise((r) => setTimeout(r, 200));
  }
  t.true(up, `the server came up with its log on a full device:\n${stderr}`);
  // every request writes log lines that fail with ENOSPC
  const answers: number[] = [];
  for (let i = 0; i < 30; i++) answers.push(await get(i % 2 ? '/readyz' : '/v1/no-such-route'));
  t.deepEqual(
    answers,
    Array.from({ length: 30 }, (_, i) => (i % 2 ? 200 : 404)),
  );
  t.is(child.exitCode, null, 'still running');
  child.kill('SIGTERM');
  const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('hung'), 20_000))]);
  t.is(code, 0, stderr);
});
