/**
 * When hooks run relative to the transaction (docs/plugins.md, "Hooks"): an after hook
 * runs once the change committed — also when the change was made in a savepoint inside
 * a longer transaction — so a tap reading from another connection sees it; it never runs
 * for a change that rolled back. A before hook runs inside the transaction: its veto, its
 * failure, or a tap outrunning its time budget rolls the whole change back.
 */
import test from 'ava';
import { startHarness, type Harness } from '@sprout/test-support/harness.ts';
import { createMachine, siteWithNetwork } from '@sprout/test-support/control-plane.ts';
import { until } from '@sprout/test-support/until.ts';
import { findMachine } from '../src/domain/machines/find-machine.ts';
import { hooksForPlugin } from '../src/hooks/plugin-hooks.ts';
import type { MachineTransition, Removal } from '../src/hooks/hooks.ts';

let h: Harness;
/** What the test taps do this test; the taps stay on the kernel's hooks between tests. */
let onBefore: ((e: MachineTransition) => Promise<{ veto: string } | undefined>) | undefined;
let onRemoving: ((e: Removal) => Promise<void>) | undefined;
let onAfter: ((e: MachineTransition) => Promise<void>) | undefined;
let onAudit: ((e: { id: number; action: string }) => Promise<void>) | undefined;

test.before(async () => {
  h = await startHarness('postgres');
  await siteWithNetwork(h, 'hk', 70);
  const plugin = hooksForPlugin(h.kernel.hooks, 'test-hooks', { budgetMs: 300 });
  plugin.machineTransitionBefore.tap(async (e) => onBefore?.(e));
  plugin.machineRemoving.tap(async (e) => onRemoving?.(e));
  plugin.machineTransitionAfter.tap(async (e) => onAfter?.(e));
  plugin.auditRecorded.tap(async (e) => onAudit?.(e));
});
test.afterEach.always(() => {
  onBefore = onRemoving = onAfter = onAudit = undefined;
});
test.after.always(() => h?.stop());

const db = () => h.kernel.store.db;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test.serial('an after hook runs once the outermost transaction committed, and sees the change from another connection', async (t) => {
  await createMachine(h, 'hk', 'after-1');
  const seen: { status: string; committed: boolean }[] = [];
  let committed = false;
  onAfter = async (e) => {
    // Another connection of the pool: what any reader outside the transaction would see.
    const row = await db()('machines').where({ id: e.machineId }).first('status');
    seen.push({ status: row.status, committed });
  };
  await db().transaction(async (outer) => {
    // The transition in a savepoint, as a report applied inside a batch is: its release is not the commit.
    await outer.transaction(async (inner) => {
      const machine = await findMachine(inner, 'after-1', { forUpdate: true });
      await h.kernel.services.lifecycle.transition(inner, {
        machine,
        action: 'mark_broken',
        actor: 'test',
        reason: { code: 'test', message: 'for the hook test' },
      });
    });
    await sleep(200);
    t.deepEqual(seen, [], 'not while the outer transaction is open');
    committed = true;
  });
  await until('the after hook ran', async () => seen.length > 0);
  t.deepEqual(seen, [{ status: 'broken', committed: true }]);
});

test.serial('an after hook never runs for a change that rolled back', async (t) => {
  await createMachine(h, 'hk', 'after-2');
  const seen: string[] = [];
  onAfter = async (e) => void seen.push(e.hostname);
  onAudit = async (e) => void (['machine.transition', 'test.marker'].includes(e.action) && seen.push(e.action));
  await t.throwsAsync(
    db().transaction(async (trx) => {
      const machine = await findMachine(trx, 'after-2', { forUpdate: true });
      await h.kernel.services.lifecycle.transition(trx, { machine, action: 'mark_broken', actor: 'test', reason: { code: 'test', message: 'rolled back' } });
      throw new Error('roll it back');
    }),
    { message: 'roll it back' },
  );
  // A later committed change's hooks do run: the rolled-back one's would have come first.
  const marker = await h.kernel.services.auditLog.record({ actor: 'test', action: 'test.marker', outcome: 'success' });
  await until('the marker was announced', async () => seen.includes('test.marker'));
  t.deepEqual(seen, ['test.marker']);
  t.true(marker > 0);
  t.is((await db()('machines').where({ hostname: 'after-2' }).first('status')).status, 'new');
});

test.serial('an audit record written in a savepoint is announced after the outer commit, readable from another connection', async (t) => {
  const seen: { found: boolean; committed: boolean }[] = [];
  let committed = false;
  onAudit = async (e) => {
    if (e.action !== 'test.savepoint') return;
    seen.push({ found: !!(await db()('audit_records').where({ id: e.id }).first('id')), committed });
  };
  await db().transaction(async (outer) => {
    await outer.transaction((inner) => h.kernel.services.auditLog.record({ actor: 'test', action: 'test.savepoint', outcome: 'success' }, inner));
    await sleep(200);
    committed = true;
  });
  await until('the audit hook ran', async () => seen.length > 0);
  t.deepEqual(seen, [{ found: true, committed: true }]);
});

test.serial("a before hook's veto rolls the whole transition back: status, event and audit record", async (t) => {
  const machine = await createMachine(h, 'hk', 'veto-1');
  onBefore = async (e) => (e.hostname === 'veto-1' ? { veto: 'not on a Friday' } : undefined);
  const res = await h.request({ method: 'POST', url: '/v1/machines/veto-1/mark-broken', body: { reason: 'disk' } });
  t.is(res.status, 409, JSON.stringify(res.body));
  t.is(res.body.detail, 'mark-broken of veto-1 was vetoed: not on a Friday');
  t.is((await db()('machines').where({ id: machine.id }).first('status')).status, 'new');
  t.is((await db()('machine_events').where({ machine_id: machine.id, action: 'mark_broken' })).length, 0);
  t.is((await db()('audit_records').where({ target_id: machine.id, action: 'machine.transition' })).length, 0);
});

test.serial('a before hook reads and writes in the transaction: a failing removal tap rolls the delete back', async (t) => {
  const machine = await createMachine(h, 'hk', 'remove-1');
  let sawRow = false;
  onRemoving = async ({ id, trx }) => {
    sawRow = !!(await trx('machines').where({ id }).first('id'));
    throw new Error('cannot let it go');
  };
  const res = await h.request({ method: 'DELETE', url: `/v1/machines/${machine.id}` });
  t.is(res.status, 500, JSON.stringify(res.body));
  t.is(res.body.code, 'SPROUT_ERR_HOOK_FAILED');
  t.is(res.body.detail, 'plugin test-hooks failed in hook machineRemoving: cannot let it go');
  t.true(sawRow, 'the tap ran inside the deleting transaction, before the delete');
  t.truthy(await db()('machines').where({ id: machine.id }).first('id'), 'the machine is still there');
  t.truthy(await db()('interfaces').where({ machine_id: machine.id }).first('id'), 'and its interfaces');
});

test.serial('a before hook tap that outruns its budget fails naming the plugin, and the change rolls back', async (t) => {
  const machine = await createMachine(h, 'hk', 'slow-1');
  let finishedLate = false;
  onRemoving = async () => {
    await sleep(1500);
    finishedLate = true;
  };
  const res = await h.request({ method: 'DELETE', url: `/v1/machines/${machine.id}` });
  t.is(res.status, 500, JSON.stringify(res.body));
  t.is(res.body.code, 'SPROUT_ERR_HOOK_FAILED');
  t.is(res.body.detail, 'plugin test-hooks took longer than 300 ms in hook machineRemoving, which runs inside the transaction; the change was rolled back');
  t.false(finishedLate, 'the request did not wait for the tap');
  t.truthy(await db()('machines').where({ id: machine.id }).first('id'), 'the machine is still there');
  const audit = await h.request({ url: `/v1/audit?action=machine.delete&target=${machine.id}&outcome=failed` });
  t.is(audit.body.items.length, 1, 'the refused delete is audited');
});

test.serial('a before hook within its budget lets the change through', async (t) => {
  const machine = await createMachine(h, 'hk', 'quick-1');
  onRemoving = async () => {
    await sleep(20);
  };
  t.is((await h.request({ method: 'DELETE', url: `/v1/machines/${machine.id}` })).status, 204);
  t.falsy(await db()('machines').where({ id: machine.id }).first('id'));
});
