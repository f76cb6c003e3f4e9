/**
 * The control-plane story as an operator types it, against a real `sprout server` on
 * the embedded store and on PostgreSQL: site, network with ranges, CSV import with two
 * bad rows, addresses, commissioning waiting for an agent, cancel, and the audit trail.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withPostgres, postgresUrl } from '@sprout/test-support/harness.ts';
import { startServer, sprout, type ServerProcess } from '@sprout/test-support/processes.ts';

for (const backend of ['pglite', 'postgres'] as const) {
  test(`${backend}: site, network, CSV import, addresses, commission waiting for an agent, cancel, audit`, async (t) => {
    let database: string | undefined;
    let url: string | undefined;
    if (backend === 'postgres') {
      database = `sprout_cli_${randomBytes(4).toString('hex')}`;
      await withPostgres((db) => db.raw(`create database ${database}`));
      url = postgresUrl.replace(/\/[^/]*$/, `/${database}`);
    }
    let server: ServerProcess | undefined;
    t.teardown(async () => {
      await server?.stop();
      if (database) await withPostgres((db) => db.raw(`drop database if exists ${database} with (force)`));
    });
    server = await startServer(url ? { SPROUT_DATABASE_URL: url } : {});
    const run = (...args: string[]) => sprout(args, { cwd: server!.dir, env: server!.env });

    const site = await run('site', 'create', 'fra1', '--description', 'Frankfurt', '--json');
    t.is(site.code, 0, site.stderr);
    t.regex(JSON.parse(site.stdout).joinToken.token, /^sprout_join_/);

    const network = await run(
      'network',
      'create',
      '--site',
      'fra1',
      '--name',
      'prov',
      '--cidr',
      '198.18.4.0/24',
      '--gateway',
      '198.18.4.1',
      '--domain',
      'fra1.example',
      '--dynamic',
      '198.18.4.200-198.18.4.250',
      '--reserved',
      '198.18.4.2-198.18.4.19',
      '--pxe',
    );
    t.is(network.code, 0, network.stderr);

    const lines = ['site,hostname,arch,bootMode,mac,tags'];
    for (let i = 1; i <= 20; i++) lines.push(`fra1,web-${String(i).padStart(2, '0')},x86_64,bios,52:54:00:aa:00:${i.toString(16).padStart(2, '0')},rack1`);
    lines[3] = 'fra1,web-03,x86_64,floppy,52:54:00:aa:00:03,rack1';
    lines[7] = 'fra1,web-07,x86_64,bios,zz:zz:zz:zz:zz:zz,rack1';
    const csv = join(server.dir, 'rack1.csv');
    writeFileSync(csv, `${lines.join('\n')}\n`);
    const imported = await run('machine', 'import', csv);
    t.is(imported.code, 1, 'bad rows make the import exit non-zero');
    t.regex(imported.stdout, /18 created, 0 unchanged, 2 with errors/);
    t.regex(imported.stdout, /4\s+web-03\s+bootMode/);
    t.regex(imported.stdout, /8\s+web-07\s+interfaces\/0\/mac/);
    const reimport = await run('machine', 'import', csv, '--json');
    t.like(JSON.parse(reimport.stdout), { created: 0, unchanged: 18, errors: 2 });

    const allocated = await run('ip', 'allocate', 'prov', '--hostname', 'bastion', '--json');
    t.is(allocated.code, 0, allocated.stderr);
    t.regex(JSON.parse(allocated.stdout).address, /^198\.18\.4\.(2[0-9]|[3-9][0-9]|1[0-9]{2})$/);
    const ips = await run('ip', 'list', 'prov');
    t.regex(ips.stdout, /bastion/);

    const started = await run('machine', 'commission', 'web-01', '--json');
    t.is(started.code, 0, started.stderr);
    const workflowId = JSON.parse(started.stdout).id;
    let shown = '';
    for (let i = 0; i < 50 && !/waiting for an agent at site fra1/.test(shown); i++) {
      shown = (await run('workflow', 'show', workflowId)).stdout;
      await new Promise((r) => setTimeout(r, 200));
    }
    t.regex(shown, /check-bmc\s+site\s+dispatched\s+1\s+.*waiting for an agent at site fra1/);
    const inWorkflow = (await run('machine', 'show', 'web-01')).stdout;
    t.regex(inWorkflow, /^web-01\s+COMMISSIONING/);
    t.regex(inWorkflow, /^\s+now: check-bmc — waiting for an agent at site fra1$/m, 'machine show names the step the machine is at');

    const cancelled = await run('workflow', 'cancel', workflowId);
    t.is(cancelled.code, 0, cancelled.stderr);
    t.regex(cancelled.stdout, /CANCELLED/);
    const after = await run('machine', 'show', 'web-01');
    t.regex(after.stdout, /^web-01\s+NEW\s+— commission cancelled by token:bootstrap-admin before step check-bmc/);

    // The events give the lifecycle's reason (typed {code, message} in the API): the cancel's.
    const events = await run('machine', 'events', 'web-01');
    t.regex(events.stdout, /commissioning\s+new\s+\S+\s+commission cancelled by token:bootstrap-admin before step check-bmc/);

    // workflow list pages like machine list: the API's cursor, a notice that names it, {items, nextCursor} with --json.
    const second = JSON.parse((await run('machine', 'commission', 'web-02', '--json')).stdout).id;
    const all = JSON.parse((await run('workflow', 'list', '--all', '--json')).stdout);
    t.is(all.nextCursor, null);
    t.deepEqual(
      all.items.slice(0, 2).map((w: { id: string }) => w.id),
      [second, workflowId],
      'newest first',
    );
    const firstPage = await run('workflow', 'list', '--limit', '1');
    t.is(firstPage.code, 0, firstPage.stderr);
    t.regex(firstPage.stdout, new RegExp(second));
    const notice = /^note: showing 1, more remain; next page: sprout workflow list --limit 1 --cursor (\S+) \(or --all for everything\)$/m.exec(
      firstPage.stderr,
    );
    t.truthy(notice, firstPage.stderr);
    const nextPage = JSON.parse((await run('workflow', 'list', '--limit', '1', '--cursor', notice![1], '--json')).stdout);
    t.deepEqual(
      nextPage.items.map((w: { id: string }) => w.id),
      [workflowId],
      "the notice's cursor continues after the first page",
    );
    const walked: string[] = [];
    let cursor: string | null = null;
    for (let i = 0; i <= all.items.length; i++) {
      const page: { items: { id: string }[]; nextCursor: string | null } = JSON.parse(
        (await run('workflow', 'list', '--limit', '2', '--json', ...(cursor ? ['--cursor', cursor] : []))).stdout,
      );
      walked.push(...page.items.map((w) => w.id));
      cursor = page.nextCursor;
      if (!cursor) break;
    }
    t.deepEqual(
      walked,
      all.items.map((w: { id: string }) => w.id),
      'pages of 2 hold every workflow once',
    );
    const badCursor = await run('workflow', 'list', '--cursor', 'not-one-of-ours');
    t.is(badCursor.code, 1);
    t.regex(badCursor.stderr, /cursor/);

    const audit = await run('audit', 'list', '--actor', 'token:bootstrap-admin', '--json', '--limit', '100');
    const actions = JSON.parse(audit.stdout).items.map((r: { action: string }) => r.action);
    for (const action of ['site.create', 'network.create', 'machine.import', 'ip.allocate', 'machine.commission', 'workflow.cancel']) {
      t.true(actions.includes(action), `${action} missing from the audit trail`);
    }
    const human = await run('audit', 'list', '--action', 'workflow.cancel');
    t.regex(human.stdout, /token:bootstrap-admin\s+workflow\.cancel\s+workflow:[0-9a-f-]+\s+success/);
  });
}
