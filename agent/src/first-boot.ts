/**
 * A deploy ends `deployed` only when the installed OS says it booted: the install step
 * mints a seed token, the installer writes the NoCloud seed URL holding it into the target
 * (services/http-boot/nocloud.ts serves it), and at install-complete a `first-boot` wait
 * under that token starts. cloud-init's phone_home (vendor-data) POSTs
 * `/callbacks/<token>/first-boot`; the deploy's `first-boot` site step ends with it —
 * also when the call came before the step reached the agent — or fails at its deadline
 * naming the last thing heard from the machine.
 */
import type { AgentTask } from '@sprout/kernel/sdk';
import { deferred, type MachineWait, type MachineWaits } from './machine-waits.ts';

export const defaultFirstBootSeconds = 900;

type ReportFor = (workItemId: string, kind: string, payload: Record<string, unknown>) => void;

/** The install finished: from now on the installed OS's seed token names a first-boot wait (until the deploy's step takes it). */
export function expectFirstBoot(waits: MachineWaits, install: MachineWait): void {
  if (!install.seedToken) return;
  waits.add({
    token: install.seedToken,
    machineId: install.machineId,
    workItemId: '',
    workflowId: install.workflowId,
    step: 'first-boot',
    params: install.params,
    lastHeard: `the installer finished at ${new Date().toISOString()}`,
  });
  // On disk before the installer hears install-complete was taken: an agent restarted now still serves the seed.
  waits.flush();
}

/** Something the installed OS did (fetched its meta-data, …): kept for the reason a silent machine fails with. */
export function heardFrom(waits: MachineWaits, wait: MachineWait, what: string): void {
  waits.update(wait.token, { lastHeard: `${wait.lastHeard?.split('; ')[0]}; ${what} at ${new Date().toISOString()}` });
}

const succeeded = (wait: MachineWait, at: string) => ({
  result: { event: 'first-boot', calledBackAt: at },
  log: [`the installed OS of ${wait.machineId} reported its first boot at ${at}`],
});

/** POST /callbacks/<token>/first-boot: the step ends now, or as soon as it reaches the agent. */
export function firstBootCalledBack(waits: MachineWaits, reportFor: ReportFor, wait: MachineWait, body: Record<string, unknown>): void {
  const at = new Date().toISOString();
  const hostname = typeof body.hostname === 'string' ? body.hostname.slice(0, 255) : undefined;
  if (wait.workItemId) {
    const done = succeeded(wait, at);
    reportFor(wait.workItemId, 'task.succeeded', { ...done, result: { ...done.result, ...(hostname ? { hostname } : {}) } });
    waits.remove(wait.token);
  } else waits.update(wait.token, { calledBackAt: at, lastHeard: `${wait.lastHeard}; the installed OS called back at ${at}` });
  waits.flush();
}

/** The deploy's `first-boot` step: takes the wait its install left, and ends when the installed OS calls back or its deadline passes. */
export function firstBootTask(waits: MachineWaits): AgentTask {
  return async (item, ctx) => {
    const machineId = String(item.payload.machine ?? '');
    const wait = waits.byMachine(machineId);
    if (wait?.step !== 'first-boot' || wait.workflowId !== (item.workflowId ?? null)) {
      throw new Error(`no install of this deploy finished at this agent for ${machineId || 'a machine'}: there is no installed system to wait for`);
    }
    if (wait.calledBackAt) {
      waits.remove(wait.token);
      return succeeded(wait, wait.calledBackAt).result;
    }
    const params = (item.payload.params as Record<string, unknown>) ?? {};
    const seconds = Number(params.firstBootSeconds) > 0 ? Number(params.firstBootSeconds) : defaultFirstBootSeconds;
    waits.update(wait.token, { workItemId: item.id, deadline: new Date(Date.now() + seconds * 1000).toISOString() });
    ctx.log(`waiting up to ${seconds} s for the installed OS of ${machineId} to report its first boot (cloud-init phone_home)`);
    return deferred;
  };
}

/** Fails first-boot steps past their deadline, every `intervalMs`; returns the stop. */
export function watchFirstBootDeadlines(waits: MachineWaits, reportFor: ReportFor, intervalMs = 1000): () => void {
  const sweep = () => {
    for (const wait of waits.overdue()) {
      if (!wait.workItemId) continue;
      reportFor(wait.workItemId, 'task.failed', {
        error: `${wait.lastHeard ?? 'the installer finished'}; the installed OS never called back (no cloud-init phone_home by ${wait.deadline})`,
        log: [],
      });
      waits.remove(wait.token);
    }
  };
  const timer = setInterval(sweep, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
