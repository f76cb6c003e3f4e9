/** Shortcuts for control-plane tests: a site with a PXE network, machines, waiting on workflows. */
import type { Harness } from './harness.ts';

export async function siteWithNetwork(h: Harness, name: string, octet = 0): Promise<{ site: any; joinToken: string }> {
  const site = await h.request({ method: 'POST', url: '/v1/sites', body: { name } });
  if (site.status !== 201) throw new Error(`site: ${JSON.stringify(site.body)}`);
  const network = await h.request({
    method: 'POST',
    url: '/v1/networks',
    body: {
      site: name,
      name: `${name}-prov`,
      cidr: `198.18.${octet}.0/24`,
      gateway: `198.18.${octet}.1`,
      domain: `${name}.lab.example`,
      pxe: true,
      ranges: [
        { kind: 'dynamic', start: `198.18.${octet}.200`, end: `198.18.${octet}.250` },
        { kind: 'reserved', start: `198.18.${octet}.2`, end: `198.18.${octet}.9` },
      ],
    },
  });
  if (network.status !== 201) throw new Error(`network: ${JSON.stringify(network.body)}`);
  return { site: site.body.site, joinToken: site.body.joinToken.token };
}

let macCounter = 1;
export function nextMac(): string {
  const n = macCounter++;
  return `52:54:00:${((n >> 16) & 255).toString(16).padStart(2, '0')}:${((n >> 8) & 255).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`;
}

export async function createMachine(h: Harness, site: string, hostname: string, extra: Record<string, unknown> = {}): Promise<any> {
  const res = await h.request({
    method: 'POST',
    url: '/v1/machines',
    body: { site, hostname, arch: 'x86_64', bootMode: 'bios', interfaces: [{ mac: nextMac() }], ...extra },
  });
  if (res.status !== 201) throw new Error(`machine: ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Polls a workflow until `done` holds (bounded: 200 polls, 20 s). */
export async function waitForWorkflow(h: Harness, id: string, done: (wf: any) => boolean): Promise<any> {
  let wf: any;
  for (let i = 0; i < 200; i++) {
    wf = await h.kernel.services.workflows.get(id);
    if (done(wf)) return wf;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`workflow ${id} never reached the expected state: ${JSON.stringify(wf, null, 1)}`);
}

export const stepState = (wf: any, name: string) => wf.steps.find((s: any) => s.name === name)?.state;

/** Plays the site agent for the current site step: reports it finished. */
export async function finishSiteStep(h: Harness, workflowId: string, outcome: any = { ok: true }): Promise<string> {
  const wf = await waitForWorkflow(
    h,
    workflowId,
    (w) => w.steps.some((s: any) => s.kind === 'site' && s.state === 'dispatched') || ['succeeded', 'failed', 'cancelled'].includes(w.state),
  );
  const current = wf.steps.find((s: any) => s.kind === 'site' && s.state === 'dispatched');
  if (!current) throw new Error(`no dispatched site step in ${workflowId}: ${wf.state}`);
  const row = await h.kernel.store.db('workflow_steps').where({ workflow_id: workflowId, name: current.name }).first();
  await h.kernel.services.engine.siteStepFinished(row.id, outcome);
  return current.name;
}

/** A machine taken through commissioning, as the agent would report it: ready. */
export async function readyMachine(h: Harness, site: string, hostname: string): Promise<any> {
  const machine = await createMachine(h, site, hostname);
  const commission = (await h.request({ method: 'POST', url: `/v1/machines/${hostname}/commission`, body: { hwtest: false } })).body;
  for (const step of ['check-bmc', 'power-on']) if ((await finishSiteStep(h, commission.id)) !== step) throw new Error(`expected ${step}`);
  await finishSiteStep(h, commission.id, { ok: true, result: { cpus: 2 } });
  await waitForWorkflow(h, commission.id, (wf) => wf.state === 'succeeded');
  return machine;
}
