/**
 * What a booted installer talks to: `GET /metadata/<token>` returns that machine's data
 * only, `POST /callbacks/<token>/<event>` moves its step (log, hwtest-result,
 * commission-complete, install-complete, failed). Any other token gets 403; a finished
 * step's token stops working.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SiteDesiredState } from '@sprout/kernel';
import type { MachineWaits } from '../../machine-waits.ts';
import { send } from './artifacts.ts';

export interface CallbackDeps {
  waits: MachineWaits;
  desiredState: () => SiteDesiredState;
  /** Journals a report about the work item the machine's step came with. */
  reportFor: (workItemId: string, kind: string, payload: Record<string, unknown>) => void;
  baseUrl: () => string;
}

const MAX_BODY = 1024 * 1024;

export function metadata(deps: CallbackDeps, token: string, res: ServerResponse): number {
  const wait = deps.waits.byToken(token);
  if (!wait) return send(res, 403, 'this boot token is not valid (unknown, or its step already ended)');
  const state = deps.desiredState();
  const intent = state.bootIntents?.find((b) => b.machineId === wait.machineId);
  const reservation = state.reservations?.find((r) => r.mac === intent?.mac);
  const network = state.networks?.find((n) => n.id === reservation?.networkId);
  const body = JSON.stringify({
    machine: { id: wait.machineId, hostname: intent?.hostname ?? null, arch: intent?.arch ?? null, bootMode: intent?.bootMode ?? null },
    workflow: wait.workflowId,
    step: wait.step,
    intent: intent?.intent ?? null,
    hwtests: wait.params.hwtestDisabled ? [] : (wait.params.hwtests ?? []),
    image: wait.params.image ? { url: String(wait.params.image), sha256: wait.params.imageSha256 ?? null } : null,
    userData: wait.params.userData ?? null,
    network: reservation && network ? { address: reservation.address, cidr: network.cidr, gateway: network.gateway, dnsServers: network.dnsServers, domain: network.domain } : null,
    callbacks: `${deps.baseUrl()}/callbacks/${token}`,
  });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
  return 200;
}

export async function callback(deps: CallbackDeps, token: string, event: string, req: IncomingMessage, res: ServerResponse): Promise<number> {
  const wait = deps.waits.byToken(token);
  if (!wait) return send(res, 403, 'this boot token is not valid (unknown, or its step already ended)');
  let body: Record<string, unknown>;
  try {
    body = await readJson(req);
  } catch (err) {
    return send(res, 400, (err as Error).message);
  }
  const report = (kind: string, payload: Record<string, unknown>) => deps.reportFor(wait.workItemId, kind, payload);
  switch (event) {
    case 'log': {
      const lines = Array.isArray(body.lines) ? body.lines.map(String).slice(0, 100) : [String(body.line ?? '')];
      report('task.log', { log: lines });
      break;
    }
    case 'hwtest-result': {
      if (typeof body.name !== 'string' || !['passed', 'failed', 'skipped'].includes(String(body.status))) return send(res, 400, 'hwtest-result needs name and status (passed, failed, skipped)');
      report('machine.hwtest-result', { machineId: wait.machineId, workflowId: wait.workflowId, name: body.name, status: body.status, durationMs: Number(body.durationMs ?? 0), output: String(body.output ?? '').slice(-4000), facts: body.facts ?? null });
      break;
    }
    case 'commission-complete':
    case 'tests-complete':
    case 'install-complete':
      report('task.succeeded', { result: { event, ...(body.facts ? { facts: body.facts } : {}), ...(body.sha256 ? { sha256: body.sha256 } : {}) }, log: [`machine reported ${event}`] });
      deps.waits.remove(token);
      break;
    case 'failed':
      report('task.failed', { error: String(body.reason ?? 'the machine reported a failure without a reason'), log: Array.isArray(body.log) ? body.log.map(String).slice(-5) : [], ...(body.failedTests ? { failedTests: body.failedTests } : {}) });
      deps.waits.remove(token);
      break;
    default:
      return send(res, 404, `no callback event ${event}; known: log, hwtest-result, commission-complete, tests-complete, install-complete, failed`);
  }
  return send(res, 202, 'accepted');
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new Error('callback body too large (1 MiB at most)');
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('callback body must be a JSON object');
  return parsed;
}
