/**
 * The agent's power tasks. Workflow site steps: `check-bmc` (commission: the credentials
 * work, and the BMC's power state), `power-on` (next boot network, then on, or cycle
 * when it is on; a manual machine: say so at once and end when it is seen booting),
 * `boot-disk` (deploy: next boot disk) and `power-off` (release: hard off). Operator
 * work: `power` (status, on, off, cycle; a manual machine is answered at once with what
 * a person must do) and `power-poll` (each machine's state, a few BMCs at a time).
 * Every state learned goes to the control plane as a `power.state` report.
 */
import type { AgentTask, AgentTaskContext, PowerState } from '@sprout/kernel/sdk';
import { deferred } from '../machine-waits.ts';
import { powerWorkOf, type PowerRunner, type PowerStateReport, type PowerWork } from './power-runner.ts';
import type { PowerWaits } from './power-waits.ts';

const reporter =
  (ctx: AgentTaskContext): PowerStateReport =>
  (payload) =>
    ctx.report('power.state', { error: null, ...payload });

const actions = ['status', 'on', 'off', 'cycle'] as const;

export function powerTasks(runner: PowerRunner, waits: PowerWaits): Record<string, AgentTask> {
  const learned = (ctx: AgentTaskContext, work: PowerWork, state: PowerState) => reporter(ctx)({ machineId: work.target.machineId, state });

  const checkBmc: AgentTask = async (item, ctx) => {
    const work = powerWorkOf(item);
    const { state } = await runner.call(work, 'checking the BMC credentials of', (d, o) => d.checkCredentials(work.target, o), reporter(ctx));
    const driver = runner.driverFor(work.target);
    learned(ctx, work, state);
    ctx.log(
      driver.manual
        ? `${work.target.hostname} has no BMC: it is powered by hand (manual power driver)`
        : `the ${driver.type} BMC of ${work.target.hostname} accepts its credentials; power is ${state}`,
    );
    return { driver: driver.type, state };
  };

  const powerOn: AgentTask = async (item, ctx) => {
    const work = powerWorkOf(item);
    const { target } = work;
    const driver = runner.driverFor(target);
    const report = reporter(ctx);
    if (driver.manual) {
      const asked = await runner.call(work, 'powering on', (d, o) => d.on(target, o), report);
      waits.add({ workItemId: item.id, machineId: target.machineId, hostname: target.hostname, macs: target.macs, step: String(item.payload.step) });
      ctx.log(asked.awaitsPerson ?? `waiting for someone to power on ${target.hostname} (${driver.type} power driver)`);
      return deferred;
    }
    const was = await runner.call(work, 'reading the power state of', (d, o) => d.state(target, o), report);
    learned(ctx, work, was);
    const boot = await runner.call(work, 'setting the next boot to the network on', (d, o) => d.setNextBoot(target, 'network', o), report);
    ctx.log(`${target.hostname} boots from the network next${boot.note ? ` (${boot.note})` : ''}`);
    const action = was === 'on' ? 'cycle' : 'on';
    const done = await runner.call(
      work,
      action === 'cycle' ? 'power-cycling' : 'powering on',
      (d, o) => (action === 'cycle' ? d.cycle(target, o) : d.on(target, o)),
      report,
    );
    learned(ctx, work, 'on');
    ctx.log(
      `${action === 'cycle' ? `${target.hostname} was on: power-cycled it` : `powered on ${target.hostname} (it was ${was})`} through its ${driver.type} BMC${done.note ? `; ${done.note}` : ''}`,
    );
    return { driver: driver.type, was, action };
  };

  const bootDisk: AgentTask = async (item, ctx) => {
    const work = powerWorkOf(item);
    const driver = runner.driverFor(work.target);
    const done = await runner.call(work, 'setting the next boot to disk on', (d, o) => d.setNextBoot(work.target, 'disk', o), reporter(ctx));
    ctx.log(done.note ?? `${work.target.hostname} boots from its disk from now on (${driver.type} BMC)`);
    return { driver: driver.type, device: 'disk' };
  };

  const powerOff: AgentTask = async (item, ctx) => {
    const work = powerWorkOf(item);
    const driver = runner.driverFor(work.target);
    const done = await runner.call(work, 'powering off', (d, o) => d.off(work.target, o), reporter(ctx));
    if (driver.manual) {
      ctx.log(`${done.awaitsPerson ?? `power off ${work.target.hostname} by hand (${driver.type} power driver)`}; its power state is unknown`);
      return { driver: driver.type, state: 'unknown' };
    }
    learned(ctx, work, 'off');
    ctx.log(`powered off ${work.target.hostname} through its ${driver.type} BMC${done.note ? `; ${done.note}` : ''}`);
    return { driver: driver.type, state: 'off' };
  };

  /** An operator's power command: done at once, a manual machine answered with what a person must do. */
  const power: AgentTask = async (item, ctx) => {
    const work = powerWorkOf(item);
    const action = String(item.payload.action) as (typeof actions)[number];
    if (!actions.includes(action)) throw new Error(`power action must be one of ${actions.join(', ')}, not ${JSON.stringify(item.payload.action)}`);
    const report = reporter(ctx);
    const { target } = work;
    let outcome: { awaitsPerson?: string; note?: string } = {};
    if (action !== 'status') {
      const what = { on: 'powering on', off: 'powering off', cycle: 'power-cycling' }[action];
      outcome = await runner.call(
        work,
        what,
        (d, o) => (action === 'off' ? d.off(target, { ...o, soft: item.payload.soft === true }) : d[action](target, o)),
        report,
      );
    }
    const state = await runner.call(work, 'reading the power state of', (d, o) => d.state(target, o), report);
    learned(ctx, work, state);
    for (const line of [outcome.awaitsPerson, outcome.note]) if (line) ctx.log(line);
    return { state, ...(outcome.note ? { note: outcome.note } : {}), ...(outcome.awaitsPerson ? { awaitsPerson: outcome.awaitsPerson } : {}) };
  };

  /** The site's periodic poll: every machine's state, `concurrency` BMCs at a time, one report each. */
  const powerPoll: AgentTask = async (item, ctx) => {
    const targets = Array.isArray(item.payload.targets) ? (item.payload.targets as PowerWork['target'][]) : [];
    const concurrency = Math.max(1, Math.min(Number(item.payload.concurrency) || 8, 256));
    const report = reporter(ctx);
    let failed = 0;
    let next = 0;
    const worker = async () => {
      while (next < targets.length) {
        const target = targets[next++];
        try {
          const work = powerWorkOf({ ...item, payload: { power: target, callTimeoutMs: item.payload.callTimeoutMs } });
          const state = await runner.call(work, 'reading the power state of', (d, o) => d.state(target, o), report);
          learned(ctx, work, state);
        } catch {
          failed++; // reported by the runner with the BMC's message
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, targets.length) }, worker));
    if (failed > 0) ctx.log(`${failed} of ${targets.length} BMCs did not answer`);
    return { polled: targets.length, failed };
  };

  return { 'check-bmc': checkBmc, 'power-on': powerOn, 'boot-disk': bootDisk, 'power-off': powerOff, power, 'power-poll': powerPoll };
}
