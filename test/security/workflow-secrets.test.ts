/**
 * Deploy user-data is a secret of the operator who deployed: viewers never see it (not in
 * workflows, lists, the audit trail, machines or their events; the audit record keeps its
 * sha256 and size), operators read it at one audited route, and the site agent still
 * receives it with the deploy's work. Workflows start only through the machine action
 * routes: `POST /v1/workflows`, which skipped their validation and allocation, is gone.
 * On both stores.
 */
import test from 'ava';
import { createHash, randomUUID } from 'node:crypto';
import { backends, startHarness, type Harness } from '@sprout/test-support/harness.ts';
import { finishSiteStep, readyMachine as readyMachineAt, siteWithNetwork, waitForWorkflow } from '@sprout/test-support/control-plane.ts';
import { fakeAgent } from '@sprout/test-support/fake-power-agent.ts';
import { down as migration6Down, up as migration6Up } from '../../kernel/migrations/0006_workflow_secrets.ts';

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

for (const backend of backends) {
  let h: Harness;
  let viewer: string;
  let operator: string;
  test.before(async () => {
    h = await startHarness(backend);
    const { joinToken } = await siteWithNetwork(h, 'ud-site', 40);
    // The site's agent holds the image the tests deploy by name.
    await (await fakeAgent(h.request, joinToken)).heartbeat({ images: [{ name: 'debian-12', size: 1024, sha256: 'ab'.repeat(32), format: 'raw' }] });
    viewer = await h.token('viewer', 'ud-viewer');
    operator = await h.token('operator', 'ud-operator');
  });
  test.after.always(async () => h?.stop());

  const readyMachine = (hostname: string) => readyMachineAt(h, 'ud-site', hostname);

  test.serial(
    `${backend}: a viewer sees no user-data in workflows, the audit trail, machines or events; the deploy's audit record keeps its sha256 and size`,
    async (t) => {
      const machine = await readyMachine('ud-01');
      const marker = randomUUID();
      const userData = `#cloud-config\nruncmd:\n  - echo ${marker} > /root/ünïcode\n`;
      const digest = { sha256: sha256(userData), size: Buffer.byteLength(userData) };

      const deploy = await h.request({ method: 'POST', url: '/v1/machines/ud-01/deploy', token: operator, body: { image: 'debian-12', userData } });
      t.is(deploy.status, 202, JSON.stringify(deploy.body));
      t.false(JSON.stringify(deploy.body).includes(marker), 'the deploy answer does not echo it');
      t.deepEqual(deploy.body.params, { image: 'debian-12', firstBootSeconds: 900 }, 'the params hold no user-data');
      t.deepEqual(deploy.body.secrets, [{ name: 'userData', ...digest }]);
      const wf = await waitForWorkflow(h, deploy.body.id, (w) => w.steps.some((s: any) => s.name === 'power-on' && s.state === 'dispatched'));

      for (const [who, token] of [
        ['viewer', viewer],
        ['operator', operator],
        ['admin', undefined],
      ] as const) {
        const shown = await h.request({ url: `/v1/workflows/${wf.id}`, token });
        t.is(shown.status, 200);
        t.false(JSON.stringify(shown.body).includes(marker), `GET /v1/workflows/{id} as ${who}`);
        t.deepEqual(shown.body.secrets, [{ name: 'userData', ...digest }]);
        const listed = await h.request({ url: `/v1/workflows?machine=ud-01`, token });
        t.is(listed.status, 200);
        t.true(listed.body.items.some((w: any) => w.id === wf.id));
        t.false(JSON.stringify(listed.body).includes(marker), `GET /v1/workflows as ${who}`);
      }

      const audit = await h.request({ url: `/v1/audit?action=machine.deploy&target=${machine.id}`, token: viewer });
      t.is(audit.status, 200);
      t.is(audit.body.items.length, 1);
      t.deepEqual(audit.body.items[0].details.userData, digest);
      t.is(audit.body.items[0].details.image, 'debian-12');
      const wholeTrail = await h.request({ url: '/v1/audit?limit=500', token: viewer });
      t.false(JSON.stringify(wholeTrail.body).includes(marker), 'GET /v1/audit');

      for (const url of ['/v1/machines/ud-01', '/v1/machines/ud-01/events', '/v1/machines?site=ud-site']) {
        const answer = await h.request({ url, token: viewer });
        t.is(answer.status, 200);
        t.false(JSON.stringify(answer.body).includes(marker), url);
      }

      // Stored once: not in the workflow's params, its steps, the boot intent, machine events or audit records.
      const db = h.kernel.store.db;
      for (const table of ['workflows', 'workflow_steps', 'boot_intents', 'machine_events', 'audit_records']) {
        const rows = await db.from({ t: table }).select(db.raw('t::text as text'));
        t.false(
          rows.some((r: { text: string }) => r.text.includes(marker)),
          `table ${table}`,
        );
      }
      t.is((await db('workflow_secrets').where({ workflow_id: wf.id })).length, 1);

      // The work for the site carries it: the agent serves it to the machine's installer.
      await finishSiteStep(h, wf.id);
      await waitForWorkflow(h, wf.id, (w) => w.steps.some((s: any) => s.name === 'install' && s.state === 'dispatched'));
      const install = await db('outbox').where({ workflow_id: wf.id }).orderBy('id', 'desc').first();
      const payload = typeof install.payload === 'string' ? JSON.parse(install.payload) : install.payload;
      t.is(payload.step, 'install');
      t.is(payload.params.userData, userData);
      t.is(payload.params.image, 'debian-12');
    },
  );

  test.serial(
    `${backend}: an operator reads the user-data at GET /v1/workflows/{id}/user-data, audited; a viewer is refused 403 and the refusal audited`,
    async (t) => {
      await readyMachine('ud-02');
      const userData = `#!/bin/sh\necho ${randomUUID()}\n`;
      const deploy = await h.request({ method: 'POST', url: '/v1/machines/ud-02/deploy', token: operator, body: { image: 'debian-12', userData } });
      t.is(deploy.status, 202);

      const read = await h.request({ url: `/v1/workflows/${deploy.body.id}/user-data`, token: operator });
      t.is(read.status, 200, JSON.stringify(read.body));
      t.deepEqual(read.body, { workflow: deploy.body.id, userData, sha256: sha256(userData), size: Buffer.byteLength(userData) });
      const readRecord = (await h.request({ url: `/v1/audit?action=workflow.user-data.read&target=${deploy.body.id}` })).body.items;
      t.is(readRecord.length, 1);
      t.like(readRecord[0], { outcome: 'success', actor: 'token:ud-operator', details: { sha256: sha256(userData), size: Buffer.byteLength(userData) } });

      const refused = await h.request({ url: `/v1/workflows/${deploy.body.id}/user-data`, token: viewer });
      t.is(refused.status, 403);
      t.is(refused.body.code, 'SPROUT_ERR_FORBIDDEN');
      t.regex(String(refused.headers['content-type']), /application\/problem\+json/);
      t.false(JSON.stringify(refused.body).includes(userData));
      const denied = (await h.request({ url: `/v1/audit?action=workflow.user-data.read&outcome=denied&target=${deploy.body.id}` })).body.items;
      t.is(denied.length, 1);
      t.is(denied[0].actor, 'token:ud-viewer');

      const none = await h.request({
        url: `/v1/workflows/${(await h.request({ url: '/v1/workflows?kind=commission&limit=1' })).body.items[0].id}/user-data`,
        token: operator,
      });
      t.is(none.status, 404);
      t.is(none.body.code, 'SPROUT_ERR_NOT_FOUND');
      t.regex(none.body.detail, /has no user-data/);
    },
  );

  test.serial(
    `${backend}: existing rows move: the migration takes user-data out of workflow params and boot intents and scrubs audit details to sha256 and size`,
    async (t) => {
      const machine = await readyMachine('ud-03');
      const db = h.kernel.store.db;
      const userData = `#cloud-config\n# legacy ${randomUUID()}\n`;
      const deploy = await h.request({ method: 'POST', url: '/v1/machines/ud-03/deploy', body: { image: 'debian-12' } });
      t.is(deploy.status, 202);
      await waitForWorkflow(h, deploy.body.id, (w) => w.steps.some((s: any) => s.name === 'power-on' && s.state === 'dispatched'));
      // As the rows were before: the user-data inside params, the boot intent and the audit details.
      await migration6Down(db);
      await db('workflows')
        .where({ id: deploy.body.id })
        .update({ params: JSON.stringify({ image: 'debian-12', userData }) });
      await db('boot_intents')
        .where({ machine_id: machine.id })
        .update({ params: JSON.stringify({ image: 'debian-12', userData }) });
      const record = await db('audit_records').where({ action: 'machine.deploy', target_id: machine.id }).first();
      await db('audit_records')
        .where({ id: record.id })
        .update({ details: JSON.stringify({ ...(typeof record.details === 'string' ? JSON.parse(record.details) : record.details), userData }) });
      await migration6Up(db);

      const digest = { sha256: sha256(userData), size: Buffer.byteLength(userData) };
      const shown = await h.request({ url: `/v1/workflows/${deploy.body.id}`, token: viewer });
      t.deepEqual(shown.body.params, { image: 'debian-12' });
      t.deepEqual(shown.body.secrets, [{ name: 'userData', ...digest }]);
      const audit = (await h.request({ url: `/v1/audit?action=machine.deploy&target=${machine.id}`, token: viewer })).body.items;
      t.deepEqual(audit[0].details.userData, digest);
      const intent = await db('boot_intents').where({ machine_id: machine.id }).first();
      t.deepEqual(typeof intent.params === 'string' ? JSON.parse(intent.params) : intent.params, { image: 'debian-12' });
      const read = await h.request({ url: `/v1/workflows/${deploy.body.id}/user-data`, token: operator });
      t.is(read.body.userData, userData);
    },
  );

  test.serial(`${backend}: POST /v1/workflows is gone: malformed and well-formed bodies alike change no machine and create no workflow`, async (t) => {
    const machine = await readyMachine('ud-04');
    const db = h.kernel.store.db;
    const before = Number((await db('workflows').count('* as n').first())!.n);
    const bodies = [
      { kind: 'deploy', machine: 'ud-04', params: { image: 'debian\n12' } },
      { kind: 'deploy', machine: 'ud-04', params: { image: 'debian-12', imageSha256: { not: 'a sum' } } },
      { kind: 'deploy', machine: 'ud-04', params: { image: 'debian-12', userData: ['not', 'text'] } },
      { kind: 'deploy', machine: 'ud-04', params: { image: 'debian-12' } },
      { kind: 'commission', machine: 'ud-04' },
      { kind: 'sync-site', site: 'ud-site' },
    ];
    for (const body of bodies) {
      const answer = await h.request({ method: 'POST', url: '/v1/workflows', token: operator, body });
      t.is(answer.status, 404, JSON.stringify(body));
      t.is(answer.body.code, 'SPROUT_ERR_NOT_FOUND');
      t.regex(String(answer.headers['content-type']), /application\/problem\+json/);
      t.regex(answer.body.detail, /POST \/v1\/machines\/\{id\}\/deploy/);
    }
    const after = (await h.request({ url: '/v1/machines/ud-04' })).body;
    t.like(after, { status: 'ready', owner: null, currentWorkflow: null });
    t.is(Number((await db('workflows').count('* as n').first())!.n), before, 'no workflow row');
    t.is((await db('workflows').where({ machine_id: machine.id, kind: 'deploy' })).length, 0);
  });
}
