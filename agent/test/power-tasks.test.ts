/**
 * The agent's power tasks against in-memory drivers: operator commands answer at once
 * (a manual machine with what a person must do), the poll asks a bounded number of BMCs
 * at a time and reports each machine, a BMC that never answers fails within the call
 * timeout, and a manual power-on ends on a sighting of the machine, even after a restart.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PowerError, type AgentTaskContext, type PowerDriver, type PowerTarget, type WorkItem } from '@sprout/kernel';
import powerBuiltin from '@sprout/plugin-power-builtin';
import { PowerRunner } from '../src/power/power-runner.ts';
import { PowerWaits, type PowerWait } from '../src/power/power-waits.ts';
import { powerTasks } from '../src/power/power-tasks.ts';
import { deferred } from '../src/machine-waits.ts';

const manualDriver = (await powerBuiltin.agent!()).power!.manual;

const target = (n: number, type = 'mem'): PowerTarget => ({
  machineId: `m-${n}`,
  hostname: `node-${n}`,
  macs: [`52:54:00:00:00:0${n}`],
  bmc: { type, address: `10.0.0.${n}` },
});

/** A driver whose state calls take `delayMs`, counting how many run at once. */
function memoryDriver(delayMs = 20, hang = false) {
  const inFlight = { now: 0, max: 0 };
  const states = new Map<string, 'on' | 'off'>();
  const slow = async <T>(value: T): Promise<T> => {
    inFlight.now++;
    inFlight.max = Math.max(inFlight.max, inFlight.now);
    await new Promise((r) => setTimeout(r, hang ? 60_000 : delayMs).unref());
    inFlight.now--;
    return value;
  };
  const driver: PowerDriver = {
    type: 'mem',
    state: (t) => slow(states.get(t.machineId) ?? 'off'),
    checkCredentials: async (t) => ({ state: states.get(t.machineId) ?? 'off' }),
    on: async (t) => (states.set(t.machineId, 'on'), {}),
    off: async (t) => (states.set(t.machineId, 'off'), {}),
    cycle: async (t) => (states.set(t.machineId, 'on'), {}),
    setNextBoot: async () => ({}),
  };
  return { driver, inFlight, states };
}

function context() {
  const reports: { kind: string; payload: Record<string, unknown> }[] = [];
  const log: string[] = [];
  const ctx: AgentTaskContext = { log: (l) => log.push(l), report: (kind, payload) => reports.push({ kind, payload }), dataDir: '', desiredState: () => ({}) };
  return { ctx, reports, log };
}

const item = (kind: string, payload: Record<string, unknown>): WorkItem => ({ id: `w-${Math.random()}`, kind, payload }) as WorkItem;

function scratch(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'sprout-power-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("power-poll asks at most `concurrency` BMCs at once and reports every machine, failures with the BMC's words", async (t) => {
  const { driver, inFlight } = memoryDriver(30);
  const failing: PowerDriver = {
    ...driver,
    type: 'bad',
    state: async (tg) => Promise.reject(new PowerError('auth', `reading ${tg.hostname}: BMC says: invalid user name`)),
  };
  const tasks = powerTasks(
    new PowerRunner(
      new Map([
        ['mem', driver],
        ['bad', failing],
      ]),
    ),
    new PowerWaits(scratch(t), () => undefined),
  );
  const { ctx, reports } = context();
  const targets = [...Array.from({ length: 9 }, (_, i) => target(i + 1)), target(10, 'bad')];
  const result = await tasks['power-poll'](item('power-poll', { targets, concurrency: 3, callTimeoutMs: 5000 }), ctx);
  t.deepEqual(result, { polled: 10, failed: 1 });
  t.is(inFlight.max, 3);
  const states = reports.filter((r) => r.kind === 'power.state').map((r) => r.payload);
  t.is(states.length, 10);
  t.deepEqual(
    states.find((s) => s.machineId === 'm-10'),
    { machineId: 'm-10', state: 'unknown', error: 'reading node-10: BMC says: invalid user name' },
  );
  t.deepEqual(
    states.find((s) => s.machineId === 'm-1'),
    { machineId: 'm-1', state: 'off', error: null },
  );
});

test('a BMC that never answers fails with a timeout within the call timeout, naming the machine and the BMC', async (t) => {
  const { driver } = memoryDriver(0, true);
  const tasks = powerTasks(new PowerRunner(new Map([['mem', driver]])), new PowerWaits(scratch(t), () => undefined));
  const started = Date.now();
  const err = await t.throwsAsync(tasks.power(item('power', { action: 'status', power: target(1), callTimeoutMs: 300 }), context().ctx));
  t.true(err instanceof PowerError && err.reason === 'timeout', String(err));
  t.regex(err!.message, /^reading the power state of node-1: the mem BMC at 10\.0\.0\.1 did not answer within 300 ms$/);
  t.true(Date.now() - started < 3000);
});

test("an operator's power on: a BMC machine is on afterwards; a manual one is answered at once with what a person must do", async (t) => {
  const { driver, states } = memoryDriver(0);
  const tasks = powerTasks(
    new PowerRunner(
      new Map([
        ['mem', driver],
        ['manual', manualDriver],
      ]),
    ),
    new PowerWaits(scratch(t), () => undefined),
  );
  t.deepEqual(await tasks.power(item('power', { action: 'on', power: target(1), callTimeoutMs: 1000 }), context().ctx), { state: 'on' });
  t.is(states.get('m-1'), 'on');
  const manual = await tasks.power(item('power', { action: 'on', power: target(2, 'manual'), callTimeoutMs: 1000 }), context().ctx);
  t.deepEqual(manual, { state: 'unknown', awaitsPerson: 'waiting for someone to power on node-2 (manual power driver)' });
  await t.throwsAsync(tasks.power(item('power', { action: 'reboot', power: target(1), callTimeoutMs: 1000 }), context().ctx), {
    message: /power action must be one of status, on, off, cycle/,
  });
});

test('a manual power-on logs at once, waits, and ends on a sighting of one of its MACs made after it started, also after an agent restart', async (t) => {
  const dir = scratch(t);
  const ended: [PowerWait, string, string][] = [];
  const waits = new PowerWaits(dir, (...args) => ended.push(args));
  const tasks = powerTasks(new PowerRunner(new Map([['manual', manualDriver]])), waits);
  const { ctx, log } = context();
  t.is(await tasks['power-on'](item('workflow-step', { step: 'power-on', power: target(3, 'manual'), callTimeoutMs: 1000 }), ctx), deferred);
  t.deepEqual(log, ['waiting for someone to power on node-3 (manual power driver)']);
  waits.seen('52:54:00:00:00:09', 'dhcp');
  t.is(ended.length, 0, 'another machine changes nothing');
  waits.flush();
  // The agent restarts: the wait comes back from disk, and the machine is seen then.
  const again = new PowerWaits(dir, (...args) => ended.push(args));
  again.seen('52-54-00-00-00-03', 'http');
  t.is(ended.length, 1);
  t.like(ended[0][0], { machineId: 'm-3', hostname: 'node-3', step: 'power-on' });
  t.deepEqual(ended[0].slice(1), ['52:54:00:00:00:03', 'http']);
  again.seen('52:54:00:00:00:03', 'http');
  t.is(ended.length, 1, 'a wait ends once');
  again.flush();
});

test('an unknown bmc type names the installed drivers', async (t) => {
  const tasks = powerTasks(new PowerRunner(new Map([['manual', manualDriver]])), new PowerWaits(scratch(t), () => undefined));
  const { ctx, reports } = context();
  await t.throwsAsync(tasks['check-bmc'](item('workflow-step', { step: 'check-bmc', power: target(4, 'ipmi'), callTimeoutMs: 1000 }), ctx), {
    message: 'no power driver for bmc type "ipmi" (machine node-4) on this agent; installed: manual — install the plugin that provides it next to the agent',
  });
  t.like(reports[0], { kind: 'power.state', payload: { machineId: 'm-4', state: 'unknown' } });
});
