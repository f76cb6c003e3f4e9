/**
 * The store on both drivers: the same value types, migrations that readiness checks,
 * audit records that commit with their change or not at all, and the PGlite lock that
 * keeps a second process out of a data directory.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSproutError, openStore } from '@sprout/kernel';
import { backends, startHarness } from '@sprout/test-support/harness.ts';

for (const backend of backends) {
  test.serial(`${backend}: a delete and an update answer how many rows they changed`, async (t) => {
    const h = await startHarness(backend);
    t.teardown(() => h.stop());
    const db = h.kernel.store.db;
    // A throwaway table of the harness's own schema or database.
    await db.schema.createTable('row_counts', (table) => table.integer('a'));
    await db('row_counts').insert([{ a: 1 }, { a: 2 }, { a: 3 }]);
    t.is(await db('row_counts').where('a', '<', 3).delete(), 2);
    t.is(await db('row_counts').update({ a: 5 }), 1);
    t.is(await db('row_counts').where({ a: 1 }).delete(), 0);
  });

  test.serial(`${backend}: count(*) and bigint ids come back as numbers; readiness follows migrations`, async (t) => {
    const h = await startHarness(backend);
    t.teardown(() => h.stop());
    const db = h.kernel.store.db;
    const count = await db('audit_records').count('* as count').first();
    t.is(typeof count!.count, 'number');
    const [row] = await db('audit_records').select('id').limit(1);
    t.is(typeof row.id, 'number');
    const sum = await db('audit_records').sum('id as total').first();
    t.is(typeof sum!.total, 'number');

    // roll the last kernel migration back: readiness must say so, then recover
    await db('sprout_migrations').where('name', 'like', 'kernel/%').delete();
    const notReady = await h.request({ url: '/readyz', token: null });
    t.is(notReady.status, 503);
    t.is(notReady.body.status, 'not_ready');
    t.regex(notReady.body.checks.migrations.detail, /pending: kernel\/0001_tokens_and_audit/);
  });

  test.serial(`${backend}: a change and its audit record commit together or not at all`, async (t) => {
    const h = await startHarness(backend);
    t.teardown(() => h.stop());
    const db = h.kernel.store.db;
    const tokensBefore = (await db('api_tokens').count('* as c').first())!.c;
    // the audit insert fails (action longer than its column): the token must not stay behind
    await t.throwsAsync(
      db.transaction(async (trx) => {
        await h.kernel.services.tokens.create({ name: 'orphan', role: 'viewer', createdBy: 'test' }, trx);
        await h.kernel.services.auditLog.record({ actor: 'test', action: 'x'.repeat(500), outcome: 'success' }, trx);
      }),
    );
    t.is((await db('api_tokens').count('* as c').first())!.c, tokensBefore);
    t.is(await db('api_tokens').where({ name: 'orphan' }).first(), undefined);
  });
}

test.serial('pglite: a second process opening the same data directory fails with a clear message', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sprout-lock-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const holder = spawn(
    process.execPath,
    [
      '--conditions=sprout-source',
      '--import',
      'tsx',
      '-e',
      `
    import('@sprout/kernel').then(async ({ openStore }) => {
      const store = await openStore({ dataDir: ${JSON.stringify(dataDir)} });
      await store.db('pg_class').count('* as c');
      process.stdout.write('open\\n');
      process.stdin.on('data', async () => { await store.close(); process.exit(0); });
    });`,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    holder.stdout.on('data', (d) => String(d).includes('open') && resolve());
    holder.on('exit', (code) => reject(new Error(`holder exited with ${code}`)));
  });
  try {
    const err = await t.throwsAsync(openStore({ dataDir }));
    t.true(isSproutError(err, 'SPROUT_ERR_DATA_DIR_LOCKED'));
    t.regex(err!.message, new RegExp(`in use by process ${holder.pid}`));
  } finally {
    holder.stdin.write('stop\n');
    await new Promise((resolve) => holder.on('exit', resolve));
  }
  // once the holder is gone, the directory opens again and the data is still there
  const again = await openStore({ dataDir });
  t.teardown(() => again.close());
  t.true(Number((await again.db('pg_class').count('* as c').first())!.c) > 0);
});

test.serial('pglite: a lock left by a dead process is taken over; a second open in one process is refused', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sprout-lock-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const { writeFileSync } = await import('node:fs');
  writeFileSync(join(dataDir, 'pglite.lock'), '999999\n');
  const store = await openStore({ dataDir });
  t.teardown(() => store.close());
  const err = await t.throwsAsync(openStore({ dataDir }));
  t.true(isSproutError(err, 'SPROUT_ERR_DATA_DIR_LOCKED'));
});

test.serial('pglite: a holder killed with SIGKILL frees the lock at once, even as an unreaped zombie; a live holder still refuses', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sprout-lock-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const holderScript = `import('@sprout/kernel').then(async ({ openStore }) => {
      const store = await openStore({ dataDir: ${JSON.stringify(dataDir)} });
      await store.db('pg_class').count('* as c');
      process.stdout.write('open ' + process.pid + '\\n');
      setInterval(() => {}, 1000);
    });`;
  // `sh` starts the holder in the background and becomes `sleep`, which never waits for
  // children: once killed, the holder stays a zombie for as long as `sleep` runs.
  const parent = spawn('sh', ['-c', `"$0" --conditions=sprout-source --import tsx -e "$1" & exec sleep 60`, process.execPath, holderScript], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => parent.kill('SIGKILL')); // its end reaps the zombie (adopted by init)
  const holderPid = await new Promise<number>((resolve, reject) => {
    let out = '';
    parent.stdout.on('data', (d) => {
      out += d;
      const m = /open (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    parent.on('exit', (code) => reject(new Error(`holder's parent exited with ${code}`)));
  });

  // alive: refused, naming the holder
  const err = await t.throwsAsync(openStore({ dataDir }));
  t.true(isSproutError(err, 'SPROUT_ERR_DATA_DIR_LOCKED'));
  t.regex(err!.message, new RegExp(`in use by process ${holderPid}`));

  process.kill(holderPid, 'SIGKILL');
  const state = () => /^\d+ \(.*\) (\S)/.exec(readFileSync(`/proc/${holderPid}/stat`, 'utf8'))?.[1];
  // Dead as its parent would learn it (SIGCHLD comes once the last thread is gone): a zombie leader alone.
  const dead = () => state() === 'Z' && readdirSync(`/proc/${holderPid}/task`).length === 1;
  for (let i = 0; i < 200 && !dead(); i++) await new Promise((r) => setTimeout(r, 50));
  t.is(state(), 'Z', 'the killed holder is an unreaped zombie');
  process.kill(holderPid, 0); // and signal 0 still reaches it: a pid check would call it alive

  const again = await openStore({ dataDir });
  t.teardown(() => again.close());
  t.true(Number((await again.db('pg_class').count('* as c').first())!.c) > 0);
  t.is(state(), 'Z', 'the zombie was still there when the new store opened');
});
