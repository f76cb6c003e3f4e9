/**
 * What a booted installer talks to: `GET /metadata/<token>` returns that machine's data
 * only (JSON, or `?format=shell` lines a busybox /init can source), `POST
 * /callbacks/<token>/<event>` moves its step (log, hwtest-result, commission-complete,
 * install-complete, erase-complete, failed; first-boot from the installed OS, first-boot.ts). Any other token gets 403; a finished step's token stops
 * working. An install-complete whose sum is not the image's expected one fails the step.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SiteDesiredState } from '@sprout/kernel/sdk';
import type { MachineWaits } from '../../machine-waits.ts';
import { send } from './artifacts.ts';
import { resolveImage, type ImageSource } from './image-source.ts';
import { expectFirstBoot, firstBootCalledBack } from '../../first-boot.ts';

export interface CallbackDeps {
  waits: MachineWaits;
  desiredState: () => SiteDesiredState;
  /** Journals a report about the work item the machine's step came with. */
  reportFor: (workItemId: string, kind: string, payload: Record<string, unknown>) => void;
  baseUrl: () => string;
  artifactRoot: string;
  /** Machine id → the deploy workflow whose install this machine completed. */
  /** The machine installed: it boots its disk from now on (kept by the agent's desired-state store, across restarts). */
  markInstalled(machineId: string, workflow: string | null): void;
}

const MAX_BODY = 1024 * 1024;

export async function metadata(deps: CallbackDeps, token: string, format: string | null, res: ServerResponse): Promise<number> {
  const wait = deps.waits.byToken(token);
  if (!wait) return send(res, 403, 'this boot token is not valid (unknown, or its step already ended)');
  const resolved = await resolveImage(wait.params, deps.artifactRoot, deps.baseUrl());
  if ('missing' in resolved) {
    deps.reportFor(wait.workItemId, 'task.failed', { error: resolved.missing, log: [] });
    deps.waits.remove(token);
    return send(res, 409, resolved.missing);
  }
  const state = deps.desiredState();
  const intent = state.bootIntents?.find((b) => b.machineId === wait.machineId);
  const reservation = state.reservations?.find((r) => r.mac === intent?.mac);
  const network = state.networks?.find((n) => n.id === reservation?.networkId);
  const data = {
    machine: { id: wait.machineId, hostname: intent?.hostname ?? null, arch: intent?.arch ?? null, bootMode: intent?.bootMode ?? null },
    workflow: wait.workflowId,
    step: wait.step,
    intent: intent?.intent ?? null,
    hwtests: wait.params.hwtestDisabled ? [] : ((wait.params.hwtests as string[] | undefined) ?? []),
    hwtestDefinitions: wait.params.hwtestDisabled ? [] : hwtestDefinitions(wait.params.hwtestDefinitions),
    image: resolved.image,
    userData: wait.params.userData ?? null,
    network:
      reservation && network
        ? { address: reservation.address, cidr: network.cidr, gateway: network.gateway, dnsServers: network.dnsServers, domain: network.domain }
        : null,
    callbacks: `${deps.baseUrl()}/callbacks/${token}`,
    // Where the installed system's cloud-init finds its data (nocloud.ts); null: the installer writes no seed.
    cloudInit: wait.seedToken ? { seedfrom: `${deps.baseUrl()}/nocloud/${wait.seedToken}/` } : null,
  };
  const shell = format === 'shell';
  const body = shell ? shellVariables(data) : JSON.stringify(data);
  res.writeHead(200, { 'content-type': shell ? 'text/plain; charset=utf-8' : 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
  return 200;
}

/** A hardware test as the installer runs it: a builtin routine it knows by name, or a script run under a timeout. */
export interface HwtestDefinition {
  name: string;
  run: { kind: 'builtin'; routine: string } | { kind: 'script'; script: string };
  timeoutSeconds: number;
}

/** The work item's test definitions (sent by the control plane with the selected names); malformed entries are dropped. */
function hwtestDefinitions(value: unknown): HwtestDefinition[] {
  if (!Array.isArray(value)) return [];
  return value.filter(
    (d): d is HwtestDefinition => typeof d?.name === 'string' && typeof d?.run?.kind === 'string' && Number.isFinite(Number(d?.timeoutSeconds)),
  );
}

/**
 * A script test's variables for the shell metadata, by its position in SPROUT_HWTESTS
 * (test names may hold characters a variable name cannot): SPROUT_HWTEST_SCRIPT_<i> and
 * SPROUT_HWTEST_TIMEOUT_<i>, from 1.
 */
function hwtestScriptVariables(names: string[], definitions: HwtestDefinition[]): Record<string, unknown> {
  const vars: Record<string, unknown> = {};
  names.forEach((name, i) => {
    const definition = definitions.find((d) => d.name === name);
    if (definition?.run.kind !== 'script') return;
    vars[`SPROUT_HWTEST_SCRIPT_${i + 1}`] = definition.run.script;
    vars[`SPROUT_HWTEST_TIMEOUT_${i + 1}`] = Math.max(1, Math.round(definition.timeoutSeconds));
  });
  return vars;
}

/** The metadata as `KEY='value'` lines for an installer without a JSON parser. */
function shellVariables(data: {
  machine: { id: string; hostname: string | null };
  workflow: string | null;
  step: string;
  intent: string | null;
  hwtests: string[];
  hwtestDefinitions: HwtestDefinition[];
  image: ImageSource | null;
  callbacks: string;
  cloudInit: { seedfrom: string } | null;
}): string {
  const quote = (value: unknown) => `'${String(value ?? '').replace(/'/g, `'\\''`)}'`;
  const lines: Record<string, unknown> = {
    SPROUT_MACHINE_ID: data.machine.id,
    SPROUT_HOSTNAME: data.machine.hostname,
    SPROUT_WORKFLOW: data.workflow,
    SPROUT_STEP: data.step,
    SPROUT_INTENT: data.intent,
    SPROUT_HWTESTS: data.hwtests.join(' '),
    ...hwtestScriptVariables(data.hwtests, data.hwtestDefinitions),
    SPROUT_IMAGE_URL: data.image?.url,
    SPROUT_IMAGE_SHA256: data.image?.sha256,
    SPROUT_IMAGE_SIZE: data.image?.size,
    SPROUT_CALLBACKS: data.callbacks,
    SPROUT_NOCLOUD_URL: data.cloudInit?.seedfrom,
  };
  return Object.entries(lines)
    .map(([key, value]) => `${key}=${quote(value)}\n`)
    .join('');
}

export async function callback(deps: CallbackDeps, token: string, event: string, req: IncomingMessage, res: ServerResponse): Promise<number> {
  const wait = deps.waits.byToken(token);
  if (!wait) return send(res, 403, 'this boot token is not valid (unknown, or its step already ended)');
  let body: Record<string, unknown>;
  try {
    body = await readBody(req);
  } catch (err) {
    return send(res, 400, (err as Error).message);
  }
  // Every callback is the machine speaking: the control plane shows how long ago it last did.
  const heardAt = new Date().toISOString();
  const report = (kind: string, payload: Record<string, unknown>) => deps.reportFor(wait.workItemId, kind, { ...payload, machineHeardAt: heardAt });
  switch (event) {
    case 'log': {
      const lines = Array.isArray(body.lines) ? body.lines.map(String).slice(0, 100) : [String(body.line ?? '')];
      report('task.log', { log: lines });
      break;
    }
    case 'hwtest-result': {
      if (typeof body.name !== 'string' || !['passed', 'failed', 'skipped'].includes(String(body.status)))
        return send(res, 400, 'hwtest-result needs name and status (passed, failed, skipped)');
      report('machine.hwtest-result', {
        machineId: wait.machineId,
        workflowId: wait.workflowId,
        name: body.name,
        status: body.status,
        durationMs: Number(body.durationMs ?? 0),
        output: String(body.output ?? '').slice(-4000),
        facts: body.facts ?? null,
      });
      break;
    }
    case 'install-complete': {
      const resolved = await resolveImage(wait.params, deps.artifactRoot, deps.baseUrl());
      const expected = 'image' in resolved ? resolved.image?.sha256 : null;
      const actual = typeof body.sha256 === 'string' ? body.sha256.toLowerCase() : null;
      if (expected && actual && expected !== actual) {
        report('task.failed', {
          error: `image checksum mismatch: expected ${expected}, got ${actual} (reported by the installer with install-complete)`,
          log: [],
        });
        deps.waits.remove(token);
        return send(res, 409, `image checksum mismatch: expected ${expected}, got ${actual}`);
      }
      // The image's format as the installer found it (raw, gzip, xz, bzip2): what it decompressed while writing.
      const format = typeof body.format === 'string' && /^[a-z0-9]{1,16}$/.test(body.format) ? body.format : null;
      const details = [actual ? `image sha256 ${actual}` : '', format ? `format ${format}` : ''].filter(Boolean).join(', ');
      report('task.succeeded', {
        result: { event, ...(actual ? { sha256: actual } : {}), ...(format ? { format } : {}) },
        log: [`machine reported ${event}${details ? ` (${details})` : ''}`],
      });
      deps.markInstalled(wait.machineId, wait.workflowId);
      deps.waits.remove(token);
      expectFirstBoot(deps.waits, wait);
      break;
    }
    case 'commission-complete':
    case 'tests-complete':
      report('task.succeeded', {
        result: { event, ...(body.facts ? { facts: body.facts } : {}), ...(body.sha256 ? { sha256: body.sha256 } : {}) },
        log: [`machine reported ${event}`],
      });
      deps.waits.remove(token);
      break;
    case 'erase-complete': {
      const wiped = wipedDisks(body.wiped);
      if (typeof wiped === 'string') return send(res, 400, wiped);
      const lines = wiped.map((w) => `wiped ${w.disk}: ${w.bytes} bytes (${w.method})`);
      // Audited as `agent.machine.erased`: which disks of which machine were wiped, and how.
      report('machine.erased', { machineId: wait.machineId, workflowId: wait.workflowId, wiped });
      report('task.succeeded', { result: { event, wiped }, log: lines.length ? lines : ['machine reported erase-complete with no disk'] });
      deps.waits.remove(token);
      break;
    }
    case 'first-boot':
      if (wait.step !== 'first-boot') return send(res, 409, `first-boot is the installed OS's call; this token's step is ${wait.step}`);
      firstBootCalledBack(deps.waits, deps.reportFor, wait, body);
      break;
    case 'failed':
      report('task.failed', {
        error: String(body.reason ?? 'the machine reported a failure without a reason'),
        log: Array.isArray(body.log) ? body.log.map(String).slice(-5) : [],
        ...(body.failedTests ? { failedTests: body.failedTests } : {}),
      });
      deps.waits.remove(token);
      break;
    default:
      return send(
        res,
        404,
        `no callback event ${event}; known: log, hwtest-result, commission-complete, tests-complete, install-complete, erase-complete, failed, first-boot`,
      );
  }
  return send(res, 202, 'accepted');
}

/** erase-complete's `wiped`: [{ disk, bytes, method }], at most 256; or what is wrong with it. */
function wipedDisks(value: unknown): { disk: string; bytes: number; method: string }[] | string {
  if (!Array.isArray(value) || value.length > 256) return 'erase-complete needs wiped: [{ disk, bytes, method }] (at most 256 disks)';
  const wiped = [];
  for (const [i, w] of value.entries()) {
    const { disk, bytes, method } = (w ?? {}) as Record<string, unknown>;
    if (
      typeof disk !== 'string' ||
      !/^[\w.-]{1,64}$/.test(disk) ||
      !Number.isSafeInteger(bytes) ||
      (bytes as number) < 0 ||
      typeof method !== 'string' ||
      !/^[\w.+-]{1,32}$/.test(method)
    ) {
      return `erase-complete wiped[${i}] must be { disk: name, bytes: integer, method: name }`;
    }
    wiped.push({ disk, bytes: bytes as number, method });
  }
  return wiped;
}

/** A JSON object, or a form (cloud-init's phone_home posts `hostname=…&instance_id=…`). */
async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new Error('callback body too large (1 MiB at most)');
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  if (/^application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? ''))
    return Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
  const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('callback body must be a JSON object');
  return parsed;
}
